/**
 * `npm run -s proof:data`: the acceptance checks, one count line each, then one JSON line.
 * Runs the data test suites (tokenizer vectors, templates, masks, prepare/validate/offline,
 * generate against a mock API server, hub download + resume against a mock hub), times the
 * offline failure, and measures parquet
 * throughput / memory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeRun, runParquetBench } from '../test/data/parquet-bench.js';
import { zstdAvailable } from '../test/data/parquet-fixture.js';
import { llamaCppVocabVectors, bundledTokenizer } from '../test/data/helpers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const summary: Record<string, unknown> = {};

const vectors = llamaCppVocabVectors('ggml-vocab-qwen2.gguf');
if (typeof vectors === 'string') summary.qwen2_vectors = vectors;
else {
  const tokenizer = bundledTokenizer('qwen3');
  const passed = vectors.inputs.filter((input, i) => JSON.stringify(tokenizer.encode(input)) === JSON.stringify(vectors.outputs[i])).length;
  summary.qwen2_vectors = `${passed}/${vectors.inputs.length}`;
}
process.stdout.write(`qwen2 tokenizer vectors: ${String(summary.qwen2_vectors)}\n`);

const suites: Array<[string, string]> = [
  ['templates_and_masks', 'data/chat'],
  ['prepare_validate_offline', 'data/prepare'],
  ['generate_mock_api', 'data/generate'],
  ['hub_download_resume', 'data/hub-download'],
];
for (const [name, filter] of suites) {
  const run = spawnSync(process.execPath, [join(root, 'scripts/run-tests.js'), filter], { cwd: root, encoding: 'utf8' });
  const pass = Number(/# pass (\d+)/.exec(run.stdout)?.[1] ?? 0);
  const fail = Number(/# fail (\d+)/.exec(run.stdout)?.[1] ?? 0);
  const skipped = Number(/# skipped (\d+)/.exec(run.stdout)?.[1] ?? 0);
  summary[name] = { pass, fail, skipped };
  process.stdout.write(`${name}: ${pass} passed, ${fail} failed, ${skipped} skipped\n`);
}

{
  const home = mkdtempSync(join(tmpdir(), 'halo-proof-offline-'));
  const output = join(home, 'gsm8k.jsonl');
  const env: NodeJS.ProcessEnv = { ...process.env, HF_HUB_OFFLINE: '1', HF_HOME: home, HALO_FORGE_DATA_DIR: '' };
  delete env.HF_HUB_CACHE;
  const started = performance.now();
  const run = spawnSync(process.execPath, [join(root, 'bin/halo-forge.js'), 'data', 'prepare', '--dataset', 'gsm8k', '--output', output], { env, encoding: 'utf8', timeout: 10_000 });
  const seconds = (performance.now() - started) / 1000;
  const ok = run.status === 1 && /DATA_OFFLINE_MISSING/.test(run.stderr) && !existsSync(output) && seconds < 2;
  summary.offline_empty_cache = { seconds: Number(seconds.toFixed(2)), exit: run.status, ok };
  process.stdout.write(`offline, empty cache: data prepare --dataset gsm8k failed in ${seconds.toFixed(2)} s (target < 2 s) with ${/error \[(\w+)\]/.exec(run.stderr)?.[1] ?? 'no error code'}, ${ok ? 'ok' : 'NOT ok'}\n`);
  rmSync(home, { recursive: true, force: true });
}

if (zstdAvailable()) {
  const dir = mkdtempSync(join(tmpdir(), 'halo-proof-parquet-'));
  try {
    const result = runParquetBench(dir);
    process.stdout.write(`parquet: ${(result.fileBytes / 1e6).toFixed(1)} MB zstd, ${result.rowGroups} row groups of ${(result.largestRowGroupBytes / 1e6).toFixed(1)} MB, ~1 MB pages\n`);
    for (const run of result.runs) {
      const meets = run.mbPerSecond >= 40 && run.memoryRatio < 3;
      process.stdout.write(`parquet ${describeRun(run, result.largestRowGroupBytes)} (targets >= 40 MB/s, < 3x: ${meets ? 'met' : 'not met'})\n`);
    }
    const acceptance = result.runs.find((run) => run.codec === 'native' && run.v8Flags.length === 0);
    process.stdout.write(`parquet acceptance (native codec, V8 defaults): ${acceptance === undefined ? 'not measured (no native codec)' : acceptance.mbPerSecond >= 40 && acceptance.memoryRatio < 3 ? 'met' : 'NOT met'}\n`);
    for (const reason of result.skipped) process.stdout.write(`parquet reader skipped: ${reason}\n`);
    summary.parquet = {
      fileBytes: result.fileBytes,
      largestRowGroupBytes: result.largestRowGroupBytes,
      runs: result.runs.map((run) => ({ ...run, mbPerSecond: Number(run.mbPerSecond.toFixed(1)), memoryRatio: Number(run.memoryRatio.toFixed(2)), met: run.mbPerSecond >= 40 && run.memoryRatio < 3 })),
      met: acceptance !== undefined && acceptance.mbPerSecond >= 40 && acceptance.memoryRatio < 3,
      skipped: result.skipped,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  summary.parquet = 'skipped: zstd command not installed';
  process.stdout.write('parquet: skipped (zstd command not installed)\n');
}
process.stdout.write(`${JSON.stringify(summary)}\n`);
