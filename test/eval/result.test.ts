/** Task groups, lm-eval metric helpers, the result shape (JSON schema), outputs and the lm-eval bridge's missing-tool path. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { expandTasks, pickMetric } from '../../src/pipelines/eval/tasks.js';
import { gsm8kExactMatch, gsm8kFlexible, gsm8kStrict, multipleChoiceOutcome, cutAtStops } from '../../src/pipelines/eval/metrics.js';
import { runLmEval } from '../../src/pipelines/eval/run.js';
import { createLmEvalRunner, parseLmEvalResults } from '../../src/pipelines/eval/lm-eval-bridge.js';
import type { EvalRunner } from '../../src/pipelines/eval/types.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'bin/halo-forge.js');
const schema = JSON.parse(readFileSync(join(root, 'schemas/lm_eval_summary.schema.json'), 'utf8')) as object;
export const validateSummary = new Ajv({ allErrors: true, strict: true }).compile(schema);
const scratch = mkdtempSync(join(tmpdir(), 'halo-eval-result-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

test('groups expand in order, de-duplicated; unknown names pass through', () => {
  assert.deepEqual(expandTasks('core,reasoning'), ['mmlu', 'gsm8k', 'hellaswag', 'arc_challenge', 'winogrande', 'truthfulqa_mc2', 'math', 'bbh']);
  assert.deepEqual(expandTasks('code, my_task ,humaneval'), ['humaneval', 'mbpp', 'my_task']);
  assert.deepEqual(expandTasks(['knowledge', 'core']).slice(0, 4), ['mmlu', 'mmlu_pro', 'agieval', 'gsm8k']);
});

test('gsm8k filters and exact_match follow lm-eval', () => {
  const response = 'She has 3 apples, then 5 more, so 8.\n#### 1,234';
  assert.equal(gsm8kStrict(response), '1,234');
  assert.equal(gsm8kFlexible(response), '1,234');
  assert.equal(gsm8kStrict('the answer is 42.'), '[invalid]');
  assert.equal(gsm8kFlexible('the answer is $42.'), '$42.');
  assert.equal(gsm8kExactMatch('$42.', 'Natalia sold 48/2 = 24 clips.\n#### 42'), 1);
  assert.equal(gsm8kExactMatch('1,234', 'so #### 1234'), 1);
  assert.equal(gsm8kExactMatch('[invalid]', '#### 7'), 0);
  assert.equal(cutAtStops('12\nQuestion: next', ['Question:', '</s>']), '12\n');
});

test('acc and acc_norm on a hand-built 4-choice item equal hand-computed values', () => {
  // raw log-likelihoods favour the short wrong choice; per-character normalisation favours the long gold one
  const choices = ['no', 'a much longer answer', 'yes', 'maybe'];
  const lls = [-2.0, -8.0, -3.0, -6.0];
  // per char: -1.0, -0.4, -1.0, -1.2 -> argmax 1
  assert.deepEqual(multipleChoiceOutcome(lls, choices, 1), { acc: 0, accNorm: 1 });
  assert.deepEqual(multipleChoiceOutcome(lls, choices, 0), { acc: 1, accNorm: 0 });
  assert.equal(pickMetric({ 'acc,none': 0.5, 'acc_stderr,none': 0.1, 'acc_norm,none': 0.75 }, 'acc_norm'), 0.75);
});

test('runLmEval with an injected runner: the seed shape, schema-valid, failures per task, files written', async () => {
  const seen: string[][] = [];
  const runner: EvalRunner = async (tasks, options) => {
    seen.push(tasks);
    assert.equal(options.limit, 3);
    return {
      results: { gsm8k: { metrics: { 'exact_match,strict-match': 0.25, 'exact_match,flexible-extract': 0.5 }, nSamples: 3 }, humaneval: { metrics: { 'pass@1,create_test': 1 / 3 }, nSamples: 3 }, mbpp: { error: 'no local data' } },
      raw: { gsm8k: { samples: [] } },
    };
  };
  const output = join(scratch, 'out');
  const { summary } = await runLmEval({ modelName: 'tiny', tasks: 'gsm8k,code', limit: 3, runner, outputDir: output });
  assert.deepEqual(seen, [['gsm8k', 'humaneval', 'mbpp']]);
  assert.ok(validateSummary(summary), JSON.stringify(validateSummary.errors));
  assert.equal(summary.backend, 'native');
  assert.deepEqual(summary.task_results.map((r) => [r.task, r.primary_metric, r.value, r.error === null]), [
    ['gsm8k', 'exact_match', 0.25, true],
    ['humaneval', 'pass@1', 1 / 3, true],
    ['mbpp', 'pass_at_1', null, false],
  ]);
  assert.equal(summary.n_tasks_completed, 2);
  assert.equal(summary.n_tasks_failed, 1);
  assert.deepEqual(JSON.parse(readFileSync(join(output, 'lm_eval_summary.json'), 'utf8')), summary);
  assert.deepEqual(JSON.parse(readFileSync(join(output, 'lm_eval_raw.json'), 'utf8')), { gsm8k: { samples: [] } });
  const bad = { ...summary, task_results: [{ ...summary.task_results[0], value: 'high' }] };
  assert.equal(validateSummary(bad), false);
});

test('lm_eval results JSON parses into metrics (stderr and alias dropped)', () => {
  const parsed = parseLmEvalResults({ results: { arc_challenge: { alias: 'arc_challenge', 'acc,none': 0.4, 'acc_stderr,none': 0.05, 'acc_norm,none': 0.45 } }, 'n-samples': { arc_challenge: { original: 1172, effective: 20 } } }, ['arc_challenge', 'mmlu']);
  assert.deepEqual(parsed.results.arc_challenge, { metrics: { 'acc,none': 0.4, 'acc_norm,none': 0.45 }, nSamples: 20 });
  assert.ok('error' in parsed.results.mmlu!);
});

test('the bridge runs an lm_eval executable and reads the results file it writes', async () => {
  // a stand-in executable with lm_eval's CLI contract (writes <output_path>/<model>/results_<ts>.json)
  const fake = join(scratch, 'lm_eval');
  writeFileSync(fake, `#!/usr/bin/env node
const args = process.argv.slice(2); const at = (f) => args[args.indexOf(f) + 1];
const fs = require('fs'); const dir = at('--output_path') + '/m'; fs.mkdirSync(dir, { recursive: true });
const results = {}; const n = {};
for (const t of at('--tasks').split(',')) { results[t] = { alias: t, 'acc,none': 0.5, 'acc_stderr,none': 0.1 }; n[t] = { original: 100, effective: Number(at('--limit')) }; }
fs.writeFileSync(dir + '/results_2024.json', JSON.stringify({ results, 'n-samples': n, argv: args }));
`);
  chmodSync(fake, 0o755);
  const runner = createLmEvalRunner({ backend: 'hf', model: 'org/model', env: { ...process.env, HALO_FORGE_LM_EVAL: fake } });
  const { summary, raw } = await runLmEval({ modelName: 'org/model', tasks: 'winogrande', limit: 7, backend: 'hf', runner });
  assert.ok(validateSummary(summary));
  assert.deepEqual(summary.task_results[0], { task: 'winogrande', primary_metric: 'acc', value: 0.5, n_samples: 7, all_metrics: { 'acc,none': 0.5 }, error: null });
  const argv = (raw.lm_eval as { argv: string[] }).argv;
  assert.deepEqual(argv.slice(0, 4), ['--model', 'hf', '--model_args', 'pretrained=org/model']);
});

test('eval --backend hf without lm_eval: one-line install hint, no stack trace', () => {
  const run = spawnSync(process.execPath, [bin, 'eval', '--model', 'org/model', '--tasks', 'mmlu', '--backend', 'hf'], { encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent', HALO_FORGE_LM_EVAL: '' } });
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, /lm_eval is not installed: pip install "lm-eval\[hf\]"/);
  assert.doesNotMatch(run.stderr, /\n\s+at /);
  assert.equal(run.stdout, '');
});
