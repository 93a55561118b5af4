/**
 * The parquet acceptance check, shared by the test and `npm run proof:data`: write a ~100 MB zstd
 * parquet file, then read it in a fresh child process (parquet-read-child.js) that reports its
 * throughput and peak memory.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeZstdParquet, type RowGroupData } from './parquet-fixture.js';

const LETTERS = 'abcdefghijklmnopqrstuvwxyz    ';

function randomText(length: number): string {
  const bytes = randomBytes(length);
  for (let i = 0; i < length; i++) bytes[i] = LETTERS.charCodeAt(bytes[i]! % LETTERS.length);
  return bytes.toString('latin1');
}

function* groups(count: number, rowsPerGroup: number, rowChars: number): Generator<RowGroupData> {
  let id = 0n;
  for (let g = 0; g < count; g++) {
    const ids: bigint[] = [];
    const texts: string[] = [];
    for (let r = 0; r < rowsPerGroup; r++) {
      ids.push(id++);
      texts.push(randomText(rowChars));
    }
    yield { ids, texts };
  }
}

export interface ParquetReadRun {
  codec: 'js' | 'native';
  /** V8 flags the reader child ran with ([] = defaults) */
  v8Flags: string[];
  seconds: number;
  mbPerSecond: number;
  /** high-water RSS above the baseline taken once the codec was loaded */
  peakExtraBytes: number;
  /** where the peak came from: VmHWM (Linux, reset at the baseline) or getrusage maxRSS */
  peakSource: string;
  memoryRatio: number;
  /** RSS that loading the codec added before the baseline (the addon maps libtorch), not part of the read */
  codecLoadBytes: number;
}

export interface ParquetBenchResult {
  fileBytes: number;
  rows: number;
  rowGroups: number;
  largestRowGroupBytes: number;
  runs: ParquetReadRun[];
  /** why a reader configuration did not run (e.g. the addon is not built) */
  skipped: string[];
}

export interface ParquetReaderConfig {
  codec: 'js' | 'native';
  v8Flags: string[];
}

/** Native libzstd and the pure-JS codec, both with V8's defaults: the way `halo-forge data prepare` runs. */
export const DEFAULT_READERS: ParquetReaderConfig[] = [
  { codec: 'native', v8Flags: [] },
  { codec: 'js', v8Flags: [] },
];

/** Writes the file (targetBytes compressed, roughly) and reads it back in one child process per reader. */
export function runParquetBench(directory: string, readers: ParquetReaderConfig[] = DEFAULT_READERS, targetBytes = 100e6): ParquetBenchResult {
  const path = join(directory, 'bench.parquet');
  const rowChars = 2000;
  const rowsPerGroup = 8000;
  const compressedPerGroup = rowsPerGroup * rowChars * 0.62; // zstd -3 on this alphabet: ~0.62 of raw
  const pageRows = 500; // ~1 MB pages, the size pyarrow writes
  const groupCount = Math.max(1, Math.round(targetBytes / compressedPerGroup));
  const written = writeZstdParquet(path, groups(groupCount, rowsPerGroup, rowChars), pageRows);
  const largest = Math.max(...written.rowGroups.map((g) => g.uncompressed));
  const child = join(dirname(fileURLToPath(import.meta.url)), 'parquet-read-child.js');
  const runs: ParquetReadRun[] = [];
  const skipped: string[] = [];
  for (const reader of readers) {
    const run = spawnSync(process.execPath, [...reader.v8Flags, child, path, reader.codec], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const last = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { rows?: number; chars?: number; seconds?: number; peakExtraBytes?: number; peakSource?: string; codecLoadBytes?: number; error?: string };
    if (run.status === 2 && last.error) {
      skipped.push(`${reader.codec}: ${last.error}`);
      continue;
    }
    if (run.status !== 0 || last.seconds === undefined || last.peakExtraBytes === undefined) throw new Error(`parquet reader child failed: ${run.stderr}`);
    if (last.rows !== groupCount * rowsPerGroup || last.chars !== groupCount * rowsPerGroup * rowChars) {
      throw new Error(`parquet reader child read ${last.rows} rows / ${last.chars} chars, expected ${groupCount * rowsPerGroup} / ${groupCount * rowsPerGroup * rowChars}`);
    }
    runs.push({
      codec: reader.codec,
      v8Flags: reader.v8Flags,
      seconds: last.seconds,
      mbPerSecond: written.bytes / 1e6 / last.seconds,
      peakExtraBytes: last.peakExtraBytes,
      peakSource: last.peakSource ?? 'unknown',
      memoryRatio: last.peakExtraBytes / largest,
      codecLoadBytes: last.codecLoadBytes ?? 0,
    });
  }
  return { fileBytes: written.bytes, rows: groupCount * rowsPerGroup, rowGroups: written.rowGroups.length, largestRowGroupBytes: largest, runs, skipped };
}

export function describeRun(run: ParquetReadRun, largestRowGroupBytes: number): string {
  const flags = run.v8Flags.length > 0 ? ` [node ${run.v8Flags.join(' ')}]` : ' [V8 defaults]';
  const load = run.codecLoadBytes > 1e6 ? `; loading the codec added +${(run.codecLoadBytes / 1e6).toFixed(0)} MB RSS before the baseline` : '';
  return `${run.codec} zstd${flags}: ${run.mbPerSecond.toFixed(1)} MB/s, peak RSS +${(run.peakExtraBytes / 1e6).toFixed(1)} MB (${run.peakSource}) = ${run.memoryRatio.toFixed(2)}x the largest row group (${(largestRowGroupBytes / 1e6).toFixed(1)} MB)${load}`;
}
