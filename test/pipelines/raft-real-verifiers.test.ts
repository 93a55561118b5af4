/**
 * One RAFT cycle on a tiny qwen2 model through the real verifiers on real public data:
 * `humaneval` over 8 HumanEval prompts and `gcc` over 8 Codeforces prompts (../shared/datasets).
 * A random model rarely writes passing code, so the point here is the plumbing: every sample is
 * verified by the real sandboxed verifier and every artifact validates against its schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultTinyOptions, writeTinyModel } from '../../src/export/tiny-model.js';
import { raftConfig } from '../../src/pipelines/config/commands.js';
import { resolveConfig } from '../../src/pipelines/config/resolve.js';
import { runRaft } from '../../src/pipelines/raft/loop.js';
import { runPaths, type VerifiedRecord } from '../../src/pipelines/raft/artifacts.js';
import { schemaErrors } from '../../src/pipelines/schemas.js';
import { EventBus } from '../../src/util/events.js';
import { readJsonl } from '../../src/util/jsonl.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const dataDir = [process.env.HALO_FORGE_DATA_DIR, join(repoRoot, '../shared/datasets')].find((path): path is string => path !== undefined && existsSync(path));
const scratch = mkdtempSync(join(tmpdir(), 'halo-raft-real-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

let modelDir: string | undefined;
function tinyQwen2(): string {
  if (modelDir === undefined) {
    modelDir = join(scratch, 'tiny-qwen2');
    writeTinyModel(modelDir, defaultTinyOptions('qwen2'));
  }
  return modelDir;
}

function firstRecords(file: string, count: number, target: string): string {
  const lines = readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '').slice(0, count);
  writeFileSync(target, `${lines.join('\n')}\n`);
  return target;
}

async function oneCycle(verifier: string, prompts: string, output: string): Promise<VerifiedRecord[]> {
  const { config, sources } = resolveConfig(raftConfig, {
    cli: { model: tinyQwen2(), prompts, verifier, output, cycles: '1', samplesPerPrompt: '2', maxNewTokens: '24', generationBatchSize: '8', rewardThreshold: '0.5', minSamples: '2', batchSize: '2', gradientAccumulation: '1', loraRank: '4', loraAlpha: '8', maxSeqLength: '1024', device: 'cpu', dtype: 'fp32' },
  });
  const result = await runRaft({ config, sources, argv: [], cwd: scratch, bus: new EventBus('real'), version: '0.0.0-test' });
  const paths = runPaths(result.runDir);
  assert.deepEqual(schemaErrors('training_summary', result.summary), []);
  for (const [schema, path] of [
    ['checkpoint_state', paths.checkpointState(1)],
    ['cycle_summary', paths.cycleSummary(1)],
    ['launch_context', paths.launchContext],
    ['latest_checkpoint', paths.latestCheckpoint],
    ['training_summary', paths.trainingSummary],
  ] as const) {
    assert.deepEqual(schemaErrors(schema, JSON.parse(readFileSync(path, 'utf8'))), [], path);
  }
  for (const record of readJsonl(paths.samples(1))) assert.deepEqual(schemaErrors('sample_record', record), []);
  const verified = readJsonl<VerifiedRecord>(paths.verified(1));
  assert.equal(verified.length, 16);
  for (const record of verified) assert.deepEqual(schemaErrors('verified_record', record), []);
  for (const event of readJsonl(paths.events)) assert.deepEqual(schemaErrors('event', event), []);
  assert.ok(existsSync(join(paths.finalModel, 'adapter_model.safetensors')));
  return verified;
}

test('raft train, one cycle, --verifier humaneval over 8 HumanEval prompts', async (t) => {
  if (dataDir === undefined) return t.skip('no ../shared/datasets (set HALO_FORGE_DATA_DIR)');
  const prompts = firstRecords(join(dataDir, 'humaneval', 'HumanEval.jsonl'), 8, join(scratch, 'humaneval8.jsonl'));
  const verified = await oneCycle('humaneval', prompts, join(scratch, 'run-humaneval'));
  // the real harness ran: each result names its task and how the code was assembled
  assert.ok(verified.every((record) => typeof record.metadata.task_id === 'string' && typeof record.metadata.extraction === 'string'), JSON.stringify(verified[0]));
  assert.ok(verified.every((record) => record.details.length > 0));
});

test('raft train, one cycle, --verifier gcc over 8 Codeforces prompts', async (t) => {
  if (dataDir === undefined) return t.skip('no ../shared/datasets (set HALO_FORGE_DATA_DIR)');
  const prompts = firstRecords(join(dataDir, 'codeforces_cpp', 'codeforces_cpp_500.jsonl'), 8, join(scratch, 'codeforces8.jsonl'));
  const verified = await oneCycle('gcc', prompts, join(scratch, 'run-gcc'));
  // random text does not compile: the compiler ran and said so
  assert.ok(verified.some((record) => /compil/.test(record.details)), JSON.stringify(verified[0]));
});
