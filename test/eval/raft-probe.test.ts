/** raft train --probe-every 1: a probe per cycle in cycle_<n>/probe.json and training_summary.json; --halt-on-regression stops the run. */
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
import { schemaErrors } from '../../src/pipelines/schemas.js';
import { EventBus } from '../../src/util/events.js';
import type { ProbeBaseline } from '../../src/pipelines/eval/probe.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dataDir = process.env.HALO_FORGE_DATA_DIR ?? join(root, '../shared/datasets');
const scratch = mkdtempSync(join(tmpdir(), 'halo-raft-probe-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

test('raft train --probe-every 1 records probe results per cycle; --halt-on-regression stops on a raised baseline', async (t) => {
  if (!existsSync(join(dataDir, 'gsm8k/test.jsonl'))) {
    t.skip(`no shared datasets at ${dataDir}`);
    return;
  }
  const previous = { data: process.env.HALO_FORGE_DATA_DIR, offline: process.env.HF_HUB_OFFLINE };
  process.env.HALO_FORGE_DATA_DIR = dataDir;
  process.env.HF_HUB_OFFLINE = '1';
  t.after(() => {
    if (previous.data === undefined) delete process.env.HALO_FORGE_DATA_DIR;
    else process.env.HALO_FORGE_DATA_DIR = previous.data;
    if (previous.offline === undefined) delete process.env.HF_HUB_OFFLINE;
    else process.env.HF_HUB_OFFLINE = previous.offline;
  });
  const modelDir = join(scratch, 'tiny');
  writeTinyModel(modelDir, { ...defaultTinyOptions('llama'), hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 128, vocab: 'llama3-32k' });
  const prompts = join(scratch, 'prompts.jsonl');
  writeFileSync(prompts, [{ prompt: 'What is 2 + 3?', answer: '5' }, { prompt: 'What is 7 - 4?', answer: '3' }].map((r) => JSON.stringify(r)).join('\n') + '\n');
  const baseline = join(scratch, 'baseline.json');
  const run = async (output: string, extra: Record<string, string | boolean>) => {
    const cli = { model: modelDir, prompts, verifier: 'math', output, cycles: '2', samplesPerPrompt: '2', maxNewTokens: '8', temperature: '1', rewardThreshold: '0', keepPercent: '1', batchSize: '2', gradientAccumulation: '1', generationBatchSize: '2', saveSteps: '1', learningRate: '0.01', loraRank: '4', loraAlpha: '8', maxSeqLength: '128', device: 'cpu', dtype: 'fp32', probeEvery: '1', probeBaseline: baseline, probeTasks: 'gsm8k,arc_challenge', probeLimit: '2', ...extra };
    const { config, sources } = resolveConfig(raftConfig, { cli });
    return runRaft({ config, sources, argv: [], cwd: scratch, bus: new EventBus('test'), version: '0.0.0-test', verifierWorkers: 1 });
  };
  const result = await run(join(scratch, 'run'), {});
  const probes = result.summary.probe ?? [];
  assert.deepEqual(probes.map((p) => p.cycle), [1, 2]);
  assert.equal(probes[0].baseline_written, true);
  assert.equal(probes[1].baseline_written, false);
  assert.equal(typeof probes[1].values.gsm8k, 'number');
  assert.equal(probes[1].values.arc_challenge, null); // no local arc data: recorded, not fatal
  assert.match(probes[1].errors.arc_challenge ?? '', /arc_challenge/);
  assert.ok(existsSync(join(scratch, 'run', 'cycle_1', 'probe.json')));
  assert.deepEqual(schemaErrors('training_summary', JSON.parse(readFileSync(result.summaryPath, 'utf8'))), []);

  const written = JSON.parse(readFileSync(baseline, 'utf8')) as ProbeBaseline;
  writeFileSync(baseline, JSON.stringify({ ...written, values: { gsm8k: (written.values.gsm8k ?? 0) + 0.2 } }));
  await assert.rejects(run(join(scratch, 'halted'), { haltOnRegression: true }), (error: Error & { code?: string }) => error.code === 'PROBE_REGRESSION' && /gsm8k fell/.test(error.message));
  assert.ok(!existsSync(join(scratch, 'halted', 'cycle_2')), 'the run stopped after cycle 1');
});

test('sft train --probe-every 2 records a probe per 2 optimizer steps in training_summary.json', async (t) => {
  if (!existsSync(join(dataDir, 'gsm8k/test.jsonl'))) {
    t.skip(`no shared datasets at ${dataDir}`);
    return;
  }
  const { sftConfig } = await import('../../src/pipelines/config/commands.js');
  const { runSft } = await import('../../src/pipelines/sft.js');
  const previous = process.env.HALO_FORGE_DATA_DIR;
  process.env.HALO_FORGE_DATA_DIR = dataDir;
  t.after(() => {
    if (previous === undefined) delete process.env.HALO_FORGE_DATA_DIR;
    else process.env.HALO_FORGE_DATA_DIR = previous;
  });
  const modelDir = join(scratch, 'tiny-sft');
  writeTinyModel(modelDir, { ...defaultTinyOptions('llama'), hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 128, vocab: 'llama3-32k', seed: 2 });
  const data = join(scratch, 'sft.jsonl');
  writeFileSync(data, Array.from({ length: 8 }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `What is ${i} + 1?` }, { role: 'assistant', content: `${i + 1}` }] })).join('\n') + '\n');
  const output = join(scratch, 'sft-run');
  const cli = { model: modelDir, data, output, epochs: '1', batchSize: '2', gradientAccumulation: '1', learningRate: '0.005', loraRank: '4', loraAlpha: '8', validationSplit: '0', saveSteps: '10', maxSeqLength: '64', device: 'cpu', dtype: 'fp32', warmupRatio: '0', probeEvery: '2', probeTasks: 'gsm8k', probeLimit: '2' };
  const { config, sources } = resolveConfig(sftConfig, { cli });
  const result = await runSft({ config, sources, argv: [], cwd: scratch, bus: new EventBus('test'), version: '0.0.0-test' });
  assert.deepEqual((result.summary.probe ?? []).map((p) => p.step), [2, 4]);
  assert.equal(result.summary.probe?.[0].baseline_written, true);
  assert.ok(existsSync(join(output, 'probe_baseline.json')));
  assert.deepEqual(schemaErrors('sft_summary', JSON.parse(readFileSync(result.summaryPath, 'utf8'))), []);
});
