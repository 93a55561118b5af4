/**
 * `inference benchmark` on a tiny llama in both engines (our engine on the HF folder, llama.cpp on its
 * F32 GGUF): the report matches its JSON schema, latencies come from real per-token clocks (positive,
 * p95 >= p50, one step time per token after the first), every prompt generates exactly --max-tokens,
 * the --output file is the printed report; the wrong kind of --model for an engine is a coded error
 * with a fix; and the native loop's per-step timestamps themselves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Model } from '../../src/engine/model.js';
import { intraOpThreads } from '../../src/engine/runtime.js';
import { exportHfToGguf } from '../../src/export/gguf/from-hf.js';
import { defaultTinyOptions, writeTinyModel } from '../../src/export/tiny-model.js';
import { latencyStats, percentile, runInferenceBenchmark, type InferenceBenchmarkReport } from '../../src/pipelines/inference-benchmark.js';
import { schemaErrors } from '../../src/pipelines/schemas.js';
import { isCodedError } from '../../src/util/errors.js';

const scratch = mkdtempSync(join(tmpdir(), 'halo-inference-bench-'));
test.after(() => rmSync(scratch, { recursive: true, force: true }));
const bin = fileURLToPath(new URL('../../../bin/halo-forge.js', import.meta.url));

const modelDir = join(scratch, 'tiny-llama');
writeTinyModel(modelDir, { ...defaultTinyOptions('llama'), hidden: 64, headDim: 16, intermediate: 128, vocab: 'llama3-32k', seed: 9 });
const gguf = join(scratch, 'tiny-llama.f32.gguf');
exportHfToGguf(modelDir, gguf, 'F32');

let peerMissing: string | undefined;
try {
  await import('node-llama-cpp');
} catch (error) {
  peerMissing = `node-llama-cpp is not installed (${(error as Error).message})`;
}

const NUM_PROMPTS = 3;
const MAX_TOKENS = 8;

function checkReport(report: InferenceBenchmarkReport, engine: string): void {
  assert.deepEqual(schemaErrors('inference_benchmark', report), []);
  assert.equal(report.engine, engine);
  assert.equal(report.runs.length, NUM_PROMPTS);
  assert.equal(report.generated_tokens, NUM_PROMPTS * MAX_TOKENS, 'no stop: every prompt generates exactly --max-tokens');
  for (const run of report.runs) {
    assert.equal(run.generated_tokens, MAX_TOKENS);
    assert.equal(run.stopped, false);
    assert.ok(run.ttft_ms > 0 && run.total_ms >= run.ttft_ms, JSON.stringify(run));
  }
  for (const stats of [report.ttft_ms, report.per_token_ms]) {
    assert.ok(stats.min > 0, `latencies are positive: ${JSON.stringify(stats)}`);
    assert.ok(stats.p95 >= stats.p50 && stats.p50 >= stats.min && stats.max >= stats.p95, JSON.stringify(stats));
  }
  assert.ok(report.decode_tokens_per_second > 0 && report.tokens_per_second > 0);
  assert.ok(report.tokens_per_second <= report.decode_tokens_per_second * 1.0001, 'the overall rate includes prefill, so it is not above the decode rate');
  assert.ok(report.memory !== null && report.memory.baseline_rss_bytes > 0 && report.memory.peak_rss_bytes >= report.memory.baseline_rss_bytes && report.memory.samples > 0);
  assert.equal(report.memory.gpu_peak_used_bytes, null, 'CPU run: no GPU figure');
}

test('native engine: schema-valid report, per-token latencies from the native loop, exact token counts, --output is the report', async (t) => {
  const output = join(scratch, 'native.json');
  const threadsBefore = intraOpThreads();
  const report = await runInferenceBenchmark({ model: modelDir, engine: 'native', numPrompts: NUM_PROMPTS, maxTokens: MAX_TOKENS, warmup: 1, measureMemory: true, dtype: 'fp32', threads: 1, output });
  assert.equal(report.threads, 1, '--threads sets the intra-op threads for the run');
  assert.equal(intraOpThreads(), threadsBefore, 'and restores them after');
  t.diagnostic(`native: ttft p50 ${report.ttft_ms.p50.toFixed(2)} ms, per token p50 ${report.per_token_ms.p50.toFixed(3)} / p95 ${report.per_token_ms.p95.toFixed(3)} ms, ${report.decode_tokens_per_second.toFixed(0)} tok/s, peak RSS ${(report.memory?.peak_rss_bytes ?? 0) / 2 ** 20} MiB`);
  checkReport(report, 'native');
  assert.equal(report.dtype, 'fp32');
  assert.deepEqual(JSON.parse(readFileSync(output, 'utf8')), report);
});

test('llama.cpp engine on the same model as GGUF: the same report shape and counts', async (t) => {
  if (peerMissing) return t.skip(peerMissing);
  // one thread: llama.cpp's spinning thread pool crawls on an oversubscribed CI box
  const report = await runInferenceBenchmark({ model: gguf, engine: 'llama.cpp', numPrompts: NUM_PROMPTS, maxTokens: MAX_TOKENS, warmup: 1, measureMemory: true, threads: 1 });
  t.diagnostic(`llama.cpp: ttft p50 ${report.ttft_ms.p50.toFixed(2)} ms, per token p50 ${report.per_token_ms.p50.toFixed(3)} / p95 ${report.per_token_ms.p95.toFixed(3)} ms, ${report.decode_tokens_per_second.toFixed(0)} tok/s`);
  checkReport(report, 'llama.cpp');
  assert.equal(report.threads, 1);
});

test('the wrong kind of --model for the engine is a coded error with a fix', async (t) => {
  const expectCoded = async (options: Parameters<typeof runInferenceBenchmark>[0], code: string, fix: RegExp): Promise<void> => {
    await assert.rejects(runInferenceBenchmark({ numPrompts: 1, maxTokens: 2, warmup: 0, ...options }), (error: unknown) => {
      assert.ok(isCodedError(error), String(error));
      assert.equal(error.code, code, error.message);
      assert.match((error as { fix?: string }).fix ?? '', fix);
      return true;
    });
  };
  await expectCoded({ model: gguf, engine: 'native' }, 'ERR_BENCHMARK_ENGINE', /--engine llama\.cpp/);
  await expectCoded({ model: modelDir, engine: 'llama.cpp' }, 'ERR_BENCHMARK_ENGINE', /inference export .*--format gguf/);
  const notGguf = join(scratch, 'weights.bin');
  writeFileSync(notGguf, 'not a gguf file');
  if (!peerMissing) await expectCoded({ model: notGguf, engine: 'llama.cpp' }, 'ERR_BENCHMARK_ENGINE', /\.gguf/);
  await expectCoded({ model: join(scratch, 'missing.gguf'), engine: 'llama.cpp' }, 'ERR_MODEL_ARG', /GGUF/);
  await expectCoded({ model: modelDir, engine: 'native', maxTokens: 0 } as never, 'ERR_CLI_ARG', /--max-tokens/);
  t.diagnostic('GGUF with --engine native, folder with --engine llama.cpp, a non-GGUF file, a missing file and --max-tokens 0 all refused');
});

test('CLI: prints the JSON report on stdout; a GGUF with --engine native exits non-zero naming the flag and the fix', () => {
  const ok = spawnSync(process.execPath, [bin, 'inference', 'benchmark', '--model', modelDir, '--num-prompts', '1', '--max-tokens', '4', '--warmup', '0', '--dtype', 'fp32'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(ok.status, 0, ok.stderr);
  const report = JSON.parse(ok.stdout) as InferenceBenchmarkReport;
  assert.deepEqual(schemaErrors('inference_benchmark', report), []);
  assert.equal(report.generated_tokens, 4);
  assert.equal(report.memory, null, 'memory only with --measure-memory');
  const bad = spawnSync(process.execPath, [bin, 'inference', 'benchmark', '--model', gguf, '--engine', 'native'], { encoding: 'utf8', timeout: 120_000 });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /ERR_BENCHMARK_ENGINE/);
  assert.match(bad.stderr, /--engine llama\.cpp/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace for a user mistake');
});

test('native generate reports the time to first token and one step time per later decode step', async () => {
  const model = await Model.load(modelDir, { dtype: 'fp32' });
  try {
    const prompts = [[1, 2, 3, 4], [5, 6]];
    const result = await model.generate(prompts, { maxNewTokens: 6, temperature: 0, stopTokenIds: [] });
    assert.ok(result.firstTokenMs > 0);
    assert.ok(result.firstTokenMs >= result.prefillMs, 'the first token comes after the prefill');
    assert.equal(result.stepMs.length, 5, 'one entry per decode step after the first');
    assert.ok(result.stepMs.every((ms) => ms > 0));
    const total = result.firstTokenMs + result.stepMs.reduce((s, v) => s + v, 0);
    assert.ok(total <= result.prefillMs + result.decodeMs + 1, `step times add up to no more than the call (${total} vs ${result.prefillMs + result.decodeMs})`);
  } finally {
    model.dispose();
  }
});

test('latency statistics: nearest-rank percentiles', () => {
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95), 10);
  assert.equal(percentile([7], 95), 7);
  assert.deepEqual(latencyStats([3, 1, 2]), { mean: 2, p50: 2, p95: 3, min: 1, max: 3 });
});
