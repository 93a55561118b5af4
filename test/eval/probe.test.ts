/** The forgetting probe: baseline written when absent, exit 2 on an injected regression, MidTrainingProbe bookkeeping. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultTinyOptions, writeTinyModel } from '../../src/export/tiny-model.js';
import { MidTrainingProbe, readBaseline, type ProbeBaseline } from '../../src/pipelines/eval/probe.js';
import type { EvalRunner } from '../../src/pipelines/eval/types.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'bin/halo-forge.js');
const dataDir = process.env.HALO_FORGE_DATA_DIR ?? join(root, '../shared/datasets');
const scratch = mkdtempSync(join(tmpdir(), 'halo-probe-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

test('MidTrainingProbe: runs every N cycles, writes the baseline first, then flags drops beyond the tolerance', async () => {
  let score = 0.6;
  const runner: EvalRunner = async (tasks) => ({ results: Object.fromEntries(tasks.map((task) => [task, { metrics: { 'acc,none': score, 'acc_norm,none': score }, nSamples: 10 }])), raw: {} });
  const baselinePath = join(scratch, 'unit-baseline.json');
  const probe = new MidTrainingProbe(2, { modelName: 'm', baselinePath, tasks: ['mmlu', 'arc_challenge'], limit: 10, tolerance: 0.05, runner });
  assert.deepEqual([1, 2, 3, 4].map((cycle) => probe.shouldRun(cycle)), [false, true, false, true]);
  const first = await probe.run(2);
  assert.equal(first.baseline_written, true);
  assert.deepEqual(readBaseline(baselinePath).values, { mmlu: 0.6, arc_challenge: 0.6 });
  score = 0.56; // within tolerance
  assert.deepEqual((await probe.run(4)).regressed, []);
  assert.equal(probe.hasRegression, false);
  score = 0.5;
  const third = await probe.run(6);
  assert.deepEqual(third.regressed.map((r) => r.task), ['mmlu', 'arc_challenge']);
  assert.ok(Math.abs(third.regressed[0].drop - 0.1) < 1e-9);
  assert.equal(probe.hasRegression, true);
  assert.deepEqual(probe.regressedTasks(), ['mmlu', 'arc_challenge']);
  assert.throws(() => new MidTrainingProbe(0, { modelName: 'm', baselinePath, runner }), /--probe-every 0/);
});

test('probe CLI: writes the baseline, exit 0 unchanged, exit 2 listing the task when the baseline is raised by 0.2', (t) => {
  if (!existsSync(join(dataDir, 'gsm8k/test.jsonl'))) {
    t.skip(`no shared datasets at ${dataDir}`);
    return;
  }
  const modelDir = join(scratch, 'tiny');
  writeTinyModel(modelDir, { ...defaultTinyOptions('llama'), hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 128, vocab: 'llama3-32k', seed: 7 });
  const baseline = join(scratch, 'baseline.json');
  const env = { ...process.env, HALO_FORGE_DATA_DIR: dataDir };
  const probe = (): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [bin, 'probe', '--model', modelDir, '--baseline', baseline, '--tasks', 'gsm8k', '--limit', '4', '--max-gen-tokens', '8'], { encoding: 'utf8', env });
  const first = probe();
  assert.equal(first.status, 0, String(first.stderr));
  assert.match(String(first.stderr), /baseline written/);
  const written = JSON.parse(readFileSync(baseline, 'utf8')) as ProbeBaseline;
  assert.equal(typeof written.values.gsm8k, 'number');
  const again = probe();
  assert.equal(again.status, 0, String(again.stderr));
  assert.match(String(again.stderr), /no regression/);
  writeFileSync(baseline, JSON.stringify({ ...written, values: { gsm8k: written.values.gsm8k + 0.2 } }));
  const regressed = probe();
  assert.equal(regressed.status, 2, String(regressed.stderr));
  assert.match(String(regressed.stderr), /REGRESSED gsm8k/);
  assert.deepEqual((JSON.parse(String(regressed.stdout)) as { regressed: { task: string }[] }).regressed.map((r) => r.task), ['gsm8k']);
});
