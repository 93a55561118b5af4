/**
 * The native runner on a tiny random model: continuation scores against the logits, acc / acc_norm
 * through the engine against hand-computed values, and the acceptance run
 * `gsm8k,humaneval,mbpp --limit 20` on ../shared/datasets with pass@1 from our verifiers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { defaultTinyOptions, writeTinyModel } from '../../src/export/tiny-model.js';
import { HaloTokenizer } from '../../src/data/tokenizer.js';
import { Model } from '../../src/engine/model.js';
import { createNativeRunner, encodePair } from '../../src/pipelines/eval/native-runner.js';
import { multipleChoiceOutcome } from '../../src/pipelines/eval/metrics.js';
import { runLmEval } from '../../src/pipelines/eval/run.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const validateSummary = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(root, 'schemas/lm_eval_summary.schema.json'), 'utf8')) as object);
const dataDir = process.env.HALO_FORGE_DATA_DIR ?? join(root, '../shared/datasets');
const scratch = mkdtempSync(join(tmpdir(), 'halo-eval-native-'));
const modelDir = join(scratch, 'tiny');
writeTinyModel(modelDir, { ...defaultTinyOptions('llama'), hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 128, vocab: 'llama3-32k', seed: 5 });
const tokenizer = HaloTokenizer.fromFolder(modelDir);
const model = await Model.load(modelDir, { dtype: 'fp32' });
process.on('exit', () => {
  model.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

function logSoftmaxAt(row: Float32Array, offset: number, vocab: number, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, row[offset + i]);
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(row[offset + i] - max);
  return row[offset + id] - max - Math.log(sum);
}

/** Sum of per-token log-probabilities of the continuation, from one logits call per query. */
async function referenceScore(context: number[], continuation: number[]): Promise<number> {
  const sequence = [...context, ...continuation];
  const positions = continuation.map((_, i) => context.length - 1 + i);
  const { rows, vocabSize } = await model.logits([sequence], { positions: [positions] });
  return continuation.reduce((sum, id, i) => sum + logSoftmaxAt(rows[0], i * vocabSize, vocabSize, id), 0);
}

const context = 'Question: Which of these is a colour?\nAnswer:';
const choices = ['red', 'seventeen', 'a small wooden table', 'run'];

test('batched continuation scores equal the summed per-token log-probs from the logits (1e-5)', async () => {
  const queries = choices.map((choice) => encodePair(tokenizer, context, ` ${choice}`));
  assert.ok(queries.every((q) => q.continuation.length >= 1));
  const scores = await model.scoreContinuations(queries);
  for (const [i, query] of queries.entries()) {
    const expected = await referenceScore(query.context, query.continuation);
    assert.ok(Math.abs(scores[i].logprob - expected) < 1e-5, `choice ${i}: ${scores[i].logprob} vs ${expected}`);
  }
});

test('acc / acc_norm through the engine match hand-computed values on a 4-choice item', async () => {
  const lls: number[] = [];
  for (const choice of choices) {
    const query = encodePair(tokenizer, context, ` ${choice}`);
    lls.push(await referenceScore(query.context, query.continuation));
  }
  const byRaw = lls.indexOf(Math.max(...lls));
  const perChar = lls.map((ll, i) => ll / choices[i].length);
  const byNorm = perChar.indexOf(Math.max(...perChar));
  const scores = (await model.scoreContinuations(choices.map((choice) => encodePair(tokenizer, context, ` ${choice}`)))).map((s) => s.logprob);
  for (let gold = 0; gold < 4; gold++) {
    assert.deepEqual(multipleChoiceOutcome(scores, choices, gold), { acc: gold === byRaw ? 1 : 0, accNorm: gold === byNorm ? 1 : 0 }, `gold ${gold}`);
  }
});

test('a task without local data fails on its own, recorded in task_results[].error', async () => {
  const emptyCache = join(scratch, 'hf-empty');
  const runner = createNativeRunner({ model, tokenizer, env: { ...process.env, HALO_FORGE_DATA_DIR: '', HF_HOME: emptyCache, HF_HUB_CACHE: join(emptyCache, 'hub'), HF_HUB_OFFLINE: '1' } });
  const { summary } = await runLmEval({ modelName: modelDir, tasks: 'arc_challenge,not_a_task', limit: 2, runner });
  assert.ok(validateSummary(summary), JSON.stringify(validateSummary.errors));
  assert.equal(summary.n_tasks_failed, 2);
  assert.match(summary.task_results[0].error ?? '', /arc_challenge.*not in the Hugging Face cache/);
  assert.match(summary.task_results[1].error ?? '', /not supported by the native runner/);
});

test('eval gsm8k,humaneval,mbpp --limit 20 on a tiny model: the seed shape, pass@1 from our verifiers', async (t) => {
  if (!existsSync(join(dataDir, 'gsm8k/test.jsonl')) || !existsSync(join(dataDir, 'humaneval/HumanEval.jsonl'))) {
    t.skip(`no shared datasets at ${dataDir}`);
    return;
  }
  const runner = createNativeRunner({ model, tokenizer, env: { ...process.env, HALO_FORGE_DATA_DIR: dataDir } });
  const output = join(scratch, 'eval-out');
  const { summary, raw } = await runLmEval({ modelName: modelDir, tasks: 'gsm8k,humaneval,mbpp', limit: 20, maxGenTokens: 24, batchSize: 10, runner, outputDir: output });
  assert.ok(validateSummary(summary), JSON.stringify(validateSummary.errors));
  assert.deepEqual(summary.tasks, ['gsm8k', 'humaneval', 'mbpp']);
  assert.equal(summary.n_tasks_completed, 3, JSON.stringify(summary.task_results.map((r) => r.error)));
  for (const result of summary.task_results) assert.equal(result.n_samples, 20);
  assert.deepEqual(Object.keys(summary.task_results[0].all_metrics), ['exact_match,strict-match', 'exact_match,flexible-extract']);
  assert.deepEqual(Object.keys(summary.task_results[1].all_metrics), ['pass@1,create_test']);
  // every code sample went through the sandboxed verifier: its verdict details are recorded
  const humaneval = (raw.humaneval as { samples: { passed: boolean; details: string }[] }).samples;
  assert.equal(humaneval.length, 20);
  assert.ok(humaneval.every((s) => typeof s.passed === 'boolean' && s.details.length > 0));
  assert.equal(summary.task_results[1].value, humaneval.filter((s) => s.passed).length / 20);
  assert.ok(existsSync(join(output, 'lm_eval_summary.json')) && existsSync(join(output, 'lm_eval_raw.json')));
});

test('code-task samples are well-formed: reference solutions pass through the same path (pass@1 = 1)', async (t) => {
  if (!existsSync(join(dataDir, 'humaneval/HumanEval.jsonl')) || !existsSync(join(dataDir, 'mbpp/mbpp_train_solutions.jsonl'))) {
    t.skip(`no shared datasets at ${dataDir}`);
    return;
  }
  const env = { ...process.env, HALO_FORGE_DATA_DIR: dataDir };
  const { TASK_DEFS, loadDocs } = await import('../../src/pipelines/eval/task-defs.js');
  const { createVerifier } = await import('../../src/verifiers/registry.js');
  for (const [name, split, field] of [['humaneval', 'test', 'canonical_solution'], ['mbpp', 'train', 'solution']] as const) {
    const task = TASK_DEFS[name];
    assert.equal(task.kind, 'code');
    if (task.kind !== 'code') return;
    const docs = await loadDocs(task, split, 5, env);
    assert.equal(docs.length, 5);
    const verifier = await createVerifier(task.verifier, {});
    try {
      const results = await verifier.verifyBatch(docs.map((doc) => task.toSample(doc, String(doc[field]))));
      assert.deepEqual(results.map((r) => r.success), [true, true, true, true, true], `${name}: ${results.map((r) => r.details).join(' | ')}`);
      const wrong = await verifier.verify(task.toSample(docs[0], '    return None\n'));
      assert.equal(wrong.success, false);
    } finally {
      await verifier.close?.();
    }
  }
  // mbpp's 3-shot prompt carries the train solutions as lm-eval's [BEGIN] ... [DONE] examples
  const { buildContext } = await import('../../src/pipelines/eval/native-runner.js');
  const mbpp = TASK_DEFS.mbpp;
  const shots = await loadDocs(mbpp, 'train', 3, env);
  const [doc] = await loadDocs(mbpp, 'test', 1, env);
  const prompt = buildContext(mbpp, doc, shots);
  assert.equal(prompt.split('[DONE]').length - 1, 3);
  assert.ok(prompt.endsWith('[BEGIN]\n'));
  assert.match(prompt, /^You are an expert Python programmer, and here is your task: Write a function to find the longest chain/);
});
