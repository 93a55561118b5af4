/**
 * Child process for the parquet check: streams a parquet file and prints one JSON line
 * {rows, chars, seconds, peakExtraBytes, peakSource, codecLoadBytes, codec}. argv: FILE [js|native].
 * The baseline RSS is taken after the codec is loaded (the addon maps libtorch: memory paid once
 * per process, whatever is read, reported apart as codecLoadBytes). The peak is the kernel's
 * high-water mark of this process image (VmHWM, reset to the baseline just before the read), so a
 * peak inside a synchronous decode counts. Not getrusage's maxRSS: Linux carries that over from
 * the forked copy of the parent across exec, so a child of a large test process would report the
 * parent's size as its own peak. Where /proc is missing, maxRSS is the fallback (it only adds).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readParquet } from '../../src/data/loaders/parquet.js';
import { nativeZstd, setNativeZstdProvider } from '../../src/util/codecs.js';
import { loadNativeZstd } from '../../src/engine/zstd.js';

const path = process.argv[2]!;
const codec = process.argv[3] === 'native' ? 'native' : 'js';
const beforeCodec = process.memoryUsage().rss;
if (codec === 'native') {
  setNativeZstdProvider(loadNativeZstd);
  if (nativeZstd() === undefined) {
    process.stdout.write(`${JSON.stringify({ error: 'the addon has no zstdDecompress (run npm run build:native)' })}\n`);
    process.exit(2);
  }
}
function statusBytes(field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1] ?? NaN) * 1024;
}
const hasProc = existsSync('/proc/self/status') && existsSync('/proc/self/clear_refs');
const baseline = hasProc ? statusBytes('VmRSS') : process.memoryUsage().rss;
if (hasProc) writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
const peak = (): number => (hasProc ? statusBytes('VmHWM') : process.resourceUsage().maxRSS * 1024);
const start = performance.now();
let rows = 0;
let chars = 0;
for await (const { record } of readParquet(path, { zstd: codec })) {
  rows++;
  chars += (record as { text: string }).text.length;
}
const seconds = (performance.now() - start) / 1000;
process.stdout.write(`${JSON.stringify({ rows, chars, seconds, peakExtraBytes: peak() - baseline, peakSource: hasProc ? 'VmHWM' : 'maxRSS', codecLoadBytes: baseline - beforeCodec, codec })}\n`);
