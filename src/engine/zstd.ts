/** The addon's libzstd decompressor, or undefined when the addon (or a build with zstd.cc) is absent. */
import type { ZstdDecompress } from '../util/codecs.js';
import { loadNative } from './load.js';

export function loadNativeZstd(): ZstdDecompress | undefined {
  try {
    const { addon } = loadNative();
    const decompress = addon.zstdDecompress;
    return decompress === undefined ? undefined : (input, outputLength, into) => decompress.call(addon, input, outputLength, into);
  } catch {
    return undefined; // no addon: the caller falls back to its pure-JS codec
  }
}
