/**
 * Child process for the parquet check: streams a parquet file and prints one JSON line
 * {rows, chars, seconds, peakExtraBytes, codec}. argv: FILE [js|native]. The baseline RSS is taken
 * after the codec is loaded (the addon maps libtorch, which is not memory the read uses); the peak
 * is the kernel's high-water mark (getrusage maxRSS), so a peak inside a synchronous decode counts.
 */
import { readParquet } from '../../src/data/loaders/parquet.js';
import { nativeZstd, setNativeZstdProvider } from '../../src/util/codecs.js';
import { loadNativeZstd } from '../../src/engine/zstd.js';

const path = process.argv[2]!;
const codec = process.argv[3] === 'native' ? 'native' : 'js';
if (codec === 'native') {
  setNativeZstdProvider(loadNativeZstd);
  if (nativeZstd() === undefined) {
    process.stdout.write(`${JSON.stringify({ error: 'the addon has no zstdDecompress (run npm run build:native)' })}\n`);
    process.exit(2);
  }
}
const maxRss = (): number => process.resourceUsage().maxRSS * 1024;
const baseline = process.memoryUsage().rss;
if (maxRss() > baseline + (8 << 20)) {
  // start-up (module loading, the addon's own init) peaked above today's RSS: that peak is not the read's
  process.stderr.write(`note: start-up peak ${maxRss()} > baseline ${baseline}\n`);
}
const start = performance.now();
let rows = 0;
let chars = 0;
for await (const { record } of readParquet(path, { zstd: codec })) {
  rows++;
  chars += (record as { text: string }).text.length;
}
const seconds = (performance.now() - start) / 1000;
process.stdout.write(`${JSON.stringify({ rows, chars, seconds, peakExtraBytes: maxRss() - baseline, codec })}\n`);
