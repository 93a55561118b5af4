/**
 * Crash safety through the real CLI: `raft train` is SIGKILLed at five points (during generation,
 * verification, training, a checkpoint write, between cycles), rerun with the same command, and must
 * end with an adapter byte-identical to an uninterrupted run; no JSON artifact may ever be truncated.
 * Also `benchmark run` on the finished run directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultTinyOptions, writeTinyModel } from '../../src/export/tiny-model.js';
import { schemaErrors } from '../../src/pipelines/schemas.js';

const bin = fileURLToPath(new URL('../../../bin/halo-forge.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'halo-crash-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

const modelDir = join(scratch, 'tiny-llama');
writeTinyModel(modelDir, { ...defaultTinyOptions('llama'), hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 128, vocab: 'llama3-32k', seed: 3 });
const promptsFile = join(scratch, 'prompts.jsonl');
writeFileSync(promptsFile, ['What is 1 + 1?', 'What is 4 + 4?', 'What is 6 - 1?'].map((prompt, index) => JSON.stringify({ prompt, answer: String([2, 8, 5][index]) })).join('\n') + '\n');
const configFile = join(scratch, 'raft.yaml');
writeFileSync(
  configFile,
  [
    'cycles: 2',
    'samples_per_prompt: 3',
    'max_new_tokens: 10',
    'temperature: 1.0',
    'reward_threshold: 0.1',
    'keep_percent: 1.0',
    'batch_size: 2',
    'gradient_accumulation: 2',
    'generation_batch_size: 2',
    'save_steps: 1',
    'learning_rate: 0.01',
    'lora_rank: 4',
    'lora_alpha: 8',
    'max_seq_length: 256',
    'device: cpu',
    'dtype: fp32',
    'samples_per_prompt: 3',
  ]
    .filter((line, index, all) => all.indexOf(line) === index)
    .join('\n') + '\n',
);

function cli(args: string[], crashAt?: string): SpawnSyncReturns<string> {
  const env = { ...process.env };
  delete env.HALO_FORGE_CRASH_AT;
  if (crashAt !== undefined) env.HALO_FORGE_CRASH_AT = crashAt;
  return spawnSync(process.execPath, [bin, ...args], { cwd: scratch, env, encoding: 'utf8', timeout: 180_000 });
}

const raftArgs = (output: string): string[] => ['raft', 'train', '--config', configFile, '--model', modelDir, '--prompts', promptsFile, '--verifier', 'math', '--output', output, '--quiet'];
const adapter = (run: string): Buffer => readFileSync(join(run, 'final_model', 'adapter_model.safetensors'));

/** Every .json file parses and every .jsonl line is complete JSON (the last one may be cut only in a crashed run's stream). */
function assertNoTruncatedJson(directory: string): void {
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) assertNoTruncatedJson(path);
    else if (entry.name.endsWith('.json')) assert.doesNotThrow(() => JSON.parse(readFileSync(path, 'utf8')), `${path} is not complete JSON`);
    else if (entry.name.endsWith('.jsonl')) {
      const lines = readFileSync(path, 'utf8').split('\n');
      assert.equal(lines.at(-1), '', `${path} ends mid-line`);
      for (const line of lines.slice(0, -1)) assert.doesNotThrow(() => JSON.parse(line), `${path}: ${line.slice(0, 60)}`);
    }
  }
}

let reference: Buffer;

test('uninterrupted raft train through the CLI (YAML config + flags)', () => {
  const run = join(scratch, 'reference');
  const result = cli(raftArgs(run));
  assert.equal(result.status, 0, result.stderr + result.stdout);
  assert.match(result.stdout, /raft: 2 cycles, verdict (pass|warn)/);
  assert.equal(result.stderr, '', '--quiet prints nothing on success');
  const launch = JSON.parse(readFileSync(join(run, 'launch_context.json'), 'utf8')) as { sources: Record<string, string>; config: Record<string, unknown> };
  assert.equal(launch.sources.samples_per_prompt, 'config');
  assert.equal(launch.sources.model, 'cli');
  assert.equal(launch.sources.top_p, 'default');
  reference = adapter(run);
  assertNoTruncatedJson(run);
});

for (const point of ['generate:2:4', 'verify:2:3', 'train:2:1', 'checkpoint:2', 'cycle-end:1']) {
  test(`SIGKILL at ${point}, rerun: byte-identical adapter, no truncated JSON`, () => {
    const run = join(scratch, `crash-${point.replace(/:/g, '-')}`);
    const killed = cli(raftArgs(run), point);
    assert.equal(killed.signal, 'SIGKILL', `expected the run to die at ${point}: status ${killed.status}, ${killed.stderr}`);
    assert.equal(existsSync(join(run, 'training_summary.json')), false);
    const resumed = cli(raftArgs(run));
    assert.equal(resumed.status, 0, resumed.stderr + resumed.stdout);
    assert.ok(adapter(run).equals(reference), `adapter after a kill at ${point} differs from the uninterrupted run`);
    assertNoTruncatedJson(run);
    const summary = JSON.parse(readFileSync(join(run, 'training_summary.json'), 'utf8')) as { resume: { resumed: boolean } };
    assert.equal(summary.resume.resumed, true);
  });
}

test('benchmark run on the run directory: pass@k JSON, valid against its schema', () => {
  const output = join(scratch, 'bench.json');
  const result = cli(['benchmark', 'run', '--model', join(scratch, 'reference'), '--prompts', promptsFile, '--verifier', 'math', '--samples', '4', '--k', '1,2,4', '--max-new-tokens', '8', '--device', 'cpu', '--dtype', 'fp32', '--output', output, '--quiet']);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /benchmark: 3 prompts x 4: pass@1/);
  const json = JSON.parse(readFileSync(output, 'utf8')) as { per_prompt: unknown[]; pass_at_k: Record<string, number> };
  assert.deepEqual(schemaErrors('benchmark_result', json), []);
  assert.equal(json.per_prompt.length, 3);
  assert.ok(json.pass_at_k['pass@4'] >= json.pass_at_k['pass@1']);
  const stdoutMode = cli(['benchmark', 'run', '--model', join(scratch, 'reference', 'cycle_1', 'model'), '--prompts', promptsFile, '--verifier', 'math', '--samples', '2', '--k', '1', '--max-new-tokens', '4', '--device', 'cpu', '--dtype', 'fp32', '--quiet']);
  assert.equal(stdoutMode.status, 0, stdoutMode.stderr);
  assert.deepEqual(schemaErrors('benchmark_result', JSON.parse(stdoutMode.stdout)), []);
  const bad = cli(['benchmark', 'run', '--model', modelDir, '--prompts', promptsFile, '--verifier', 'math', '--samples', '2']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /error \[ERR_CONFIG_INVALID\]: benchmark run: --k 5,10 exceeds --samples 2/);
  assert.ok(statSync(output).size > 0);
});
