/**
 * Optional native codecs. The data loaders ask here for a libzstd decompressor; the layers that may
 * load the addon (the CLI, the library entry) register where it comes from, so data/ never imports
 * engine/. Nothing registered, or the addon missing: the loaders use their pure-JS codecs.
 */
/** Decodes a zstd frame of `outputLength` bytes; with `into` (>= outputLength bytes) it decodes there and returns a view of it. */
export type ZstdDecompress = (input: Uint8Array, outputLength: number, into?: Uint8Array) => Uint8Array;

let zstdProvider: (() => ZstdDecompress | undefined) | undefined;
let zstdCached: { value: ZstdDecompress | undefined } | undefined;

/** Registers how to get the native zstd decompressor; it is asked at most once, on first need. */
export function setNativeZstdProvider(provider: (() => ZstdDecompress | undefined) | undefined): void {
  zstdProvider = provider;
  zstdCached = undefined;
}

export function nativeZstd(): ZstdDecompress | undefined {
  zstdCached ??= { value: zstdProvider?.() };
  return zstdCached.value;
}
