/**
 * `npm run -s proof:eval`: on a tiny random model, (1) eval gsm8k,humaneval,mbpp --limit 20 through
 * the native runner (schema-checked, pass@1 from the sandboxed verifiers), (2) batched continuation
 * scores vs summed log-softmax of the logits, (3) `serve` answering an lm-eval loglikelihood request
 * over HTTP, (4) the probe flagging a baseline raised by 0.2. Prints one JSON line.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { defaultTinyOptions, writeTinyModel } from '../src/export/tiny-model.js';
import { ChatTemplate } from '../src/data/chat.js';
import { HaloTokenizer } from '../src/data/tokenizer.js';
import { Model } from '../src/engine/model.js';
import { createNativeRunner, encodePair } from '../src/pipelines/eval/native-runner.js';
import { runLmEval } from '../src/pipelines/eval/run.js';
import { readBaseline, runProbe } from '../src/pipelines/eval/probe.js';
import { OpenAIServer } from '../src/pipelines/serve/openai-server.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dataDir = process.env.HALO_FORGE_DATA_DIR ?? join(root, '../shared/datasets');

function logSoftmaxAt(row: Float32Array, offset: number, vocab: number, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, row[offset + i]);
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(row[offset + i] - max);
  return row[offset + id] - max - Math.log(sum);
}

async function main(): Promise<void> {
  if (!existsSync(join(dataDir, 'gsm8k/test.jsonl'))) {
    console.log(JSON.stringify({ proof: 'eval', ok: false, skipped: `no datasets at ${dataDir} (set HALO_FORGE_DATA_DIR)` }));
    return;
  }
  const scratch = mkdtempSync(join(tmpdir(), 'halo-proof-eval-'));
  const modelDir = join(scratch, 'tiny');
  writeTinyModel(modelDir, { ...defaultTinyOptions('llama'), hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 128, vocab: 'llama3-32k', seed: 11 });
  const tokenizer = HaloTokenizer.fromFolder(modelDir);
  const model = await Model.load(modelDir, { dtype: 'fp32' });
  try {
    const env = { ...process.env, HALO_FORGE_DATA_DIR: dataDir };
    const runner = createNativeRunner({ model, tokenizer, env });
    const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(root, 'schemas/lm_eval_summary.schema.json'), 'utf8')) as object);

    // (1) the acceptance eval
    const { summary, raw } = await runLmEval({ modelName: 'tiny-llama', tasks: 'gsm8k,humaneval,mbpp', limit: 20, maxGenTokens: 32, batchSize: 10, runner, outputDir: join(scratch, 'eval') });
    const schemaValid = validate(summary) === true;
    const verified = (['humaneval', 'mbpp'] as const).map((task) => ((raw[task] as { samples?: { details: string }[] }).samples ?? []).filter((s) => s.details.length > 0).length);

    // (2) continuation scores vs logits
    const context = 'Question: Which of these is a colour?\nAnswer:';
    const queries = ['red', 'seventeen', 'a small wooden table', 'run'].map((choice) => encodePair(tokenizer, context, ` ${choice}`));
    const scores = await model.scoreContinuations(queries);
    let maxScoreDiff = 0;
    for (const [i, query] of queries.entries()) {
      const positions = query.continuation.map((_, j) => query.context.length - 1 + j);
      const { rows, vocabSize } = await model.logits([[...query.context, ...query.continuation]], { positions: [positions] });
      const expected = query.continuation.reduce((sum, id, j) => sum + logSoftmaxAt(rows[0], j * vocabSize, vocabSize, id), 0);
      maxScoreDiff = Math.max(maxScoreDiff, Math.abs(expected - scores[i].logprob));
    }

    // (3) serve: lm-eval local-completions' loglikelihood request
    const server = new OpenAIServer({ model, tokenizer, template: ChatTemplate.resolve(undefined, tokenizer), modelId: 'tiny', eosTokenIds: model.generation.eosTokenIds, port: 0 });
    const { url } = await server.listen();
    const ids = [...queries[0].context, ...queries[0].continuation];
    const response = await fetch(`${url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: [ids], max_tokens: 1, temperature: 0, logprobs: 1, echo: true }) });
    const body = (await response.json()) as { choices: { logprobs: { token_logprobs: number[] } }[] };
    const served = body.choices[0].logprobs.token_logprobs.slice(queries[0].context.length, -1).reduce((a, b) => a + b, 0);
    const badStatus = (await fetch(`${url}/v1/completions`, { method: 'POST', body: '{oops' })).status;
    await server.close();

    // (4) probe: baseline, then the same baseline raised by 0.2
    const baselinePath = join(scratch, 'baseline.json');
    const probeOptions = { modelName: 'tiny', baselinePath, tasks: ['gsm8k'], limit: 5, maxGenTokens: 8, runner };
    await runProbe(probeOptions);
    const unchanged = await runProbe(probeOptions);
    const baseline = readBaseline(baselinePath);
    writeFileSync(baselinePath, JSON.stringify({ ...baseline, values: { gsm8k: (baseline.values.gsm8k ?? 0) + 0.2 } }));
    const raised = await runProbe(probeOptions);

    const ok = schemaValid && summary.n_tasks_completed === 3 && verified[0] === 20 && verified[1] === 20 && maxScoreDiff < 1e-5
      && Math.abs(served - scores[0].logprob) < 1e-4 && badStatus === 400 && unchanged.regressed.length === 0 && raised.regressed.map((r) => r.task).join() === 'gsm8k';
    console.log(JSON.stringify({
      proof: 'eval',
      ok,
      eval: { schema_valid: schemaValid, n_tasks_completed: summary.n_tasks_completed, duration_seconds: Number(summary.duration_seconds.toFixed(1)), results: Object.fromEntries(summary.task_results.map((r) => [r.task, { [r.primary_metric]: r.value, n: r.n_samples }])), verifier_verdicts: { humaneval: verified[0], mbpp: verified[1] } },
      loglik_max_abs_diff: maxScoreDiff,
      serve: { echo_logprob_diff: Math.abs(served - scores[0].logprob), malformed_status: badStatus },
      probe: { unchanged_regressed: unchanged.regressed.length, raised_regressed: raised.regressed.map((r) => r.task) },
    }));
    if (!ok) process.exitCode = 1;
  } finally {
    model.dispose();
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
