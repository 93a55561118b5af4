/**
 * The native eval runner: lm-eval's three request types on our engine. Multiple choice by
 * continuation log-likelihood (acc, acc_norm), generate-until with the task's filters
 * (exact_match), and code tasks graded by our sandboxed verifiers (pass@1, greedy, one sample).
 * Each task fails on its own: its error is recorded and the next task runs.
 */
import type { HaloTokenizer } from '../../data/tokenizer.js';
import type { ContinuationQuery, ContinuationScore, GenerateOptions, GenerateResult } from '../../engine/types.js';
import { createVerifier } from '../../verifiers/registry.js';
import { verifyInOrder } from '../verify.js';
import { cutAtStops, mean, multipleChoiceOutcome, gsm8kExactMatch } from './metrics.js';
import { loadDocs, TASK_DEFS, type CodeTask, type Doc, type GenerateUntilTask, type MultipleChoiceTask, type TaskDef } from './task-defs.js';
import type { EvalRunner, RunnerOptions, RunnerOutput, RunnerTaskOutput } from './types.js';

/** What the runner needs from a loaded model: the engine's Model satisfies it. */
export interface EvalModel {
  scoreContinuations(queries: ContinuationQuery[]): Promise<ContinuationScore[]>;
  generate(prompts: number[][], options: GenerateOptions): Promise<GenerateResult>;
}

export interface NativeRunnerDeps {
  model: EvalModel;
  tokenizer: HaloTokenizer;
  env?: NodeJS.ProcessEnv;
  /** verifier pool size for code tasks */
  verifierWorkers?: number;
}

/**
 * lm-eval's _encode_pair: trailing spaces of the context move to the continuation, the pair is
 * encoded whole and the continuation is what follows the context's tokens. No BOS (lm-eval's HF
 * default for causal models); an empty context is the eos token.
 */
export function encodePair(tokenizer: HaloTokenizer, context: string, continuation: string): ContinuationQuery {
  const spaces = context.length - context.trimEnd().length;
  if (spaces > 0) {
    continuation = context.slice(context.length - spaces) + continuation;
    context = context.slice(0, context.length - spaces);
  }
  const whole = tokenizer.encode(context + continuation, { specialTokens: 'literal' });
  const contextIds = tokenizer.encode(context, { specialTokens: 'literal' });
  let continuationIds = whole.slice(contextIds.length);
  let contextOut = contextIds;
  if (continuationIds.length === 0) continuationIds = tokenizer.encode(continuation, { specialTokens: 'literal' });
  if (contextOut.length === 0) {
    const prefix = tokenizer.eosId ?? tokenizer.bosId ?? 0;
    contextOut = [prefix];
  }
  return { context: contextOut, continuation: continuationIds };
}

/** lm-eval's few-shot context: description + (example text + delimiter + target + fewshot delimiter) x k + the doc's text. */
export function buildContext(task: TaskDef, doc: Doc, shots: readonly Doc[]): string {
  const description = task.description?.(doc) ?? '';
  const examples = shots.map((shot) => `${task.docToText(shot)}${task.targetDelimiter}${task.docToTargetText(shot)}${task.fewshotDelimiter}`).join('');
  return `${description}${examples}${task.docToText(doc)}`;
}

export function createNativeRunner(deps: NativeRunnerDeps): EvalRunner {
  return async (tasks, options) => {
    const output: RunnerOutput = { results: {}, raw: {} };
    for (const name of tasks) {
      const started = performance.now();
      try {
        const task = TASK_DEFS[name];
        if (task === undefined) {
          throw new Error(`task "${name}" is not supported by the native runner (it knows ${Object.keys(TASK_DEFS).join(', ')}); run it with --backend hf through lm-eval`);
        }
        const result = await runTask(task, deps, options);
        output.results[name] = { metrics: result.metrics, nSamples: result.nSamples };
        output.raw[name] = { samples: result.samples, seconds: (performance.now() - started) / 1000 };
      } catch (error) {
        const text = error instanceof Error ? error.message : String(error);
        const message = text.includes(name) ? text : `${name}: ${text}`;
        output.results[name] = { error: message };
        output.raw[name] = { error: message };
      }
      options.onTaskDone?.(name);
    }
    return output;
  };
}

interface TaskRun extends RunnerTaskOutput {
  samples: unknown[];
}

async function runTask(task: TaskDef, deps: NativeRunnerDeps, options: RunnerOptions): Promise<TaskRun> {
  const env = deps.env ?? process.env;
  const docs = await loadDocs(task, task.split, options.limit, env);
  if (docs.length === 0) throw new Error(`${task.name}: split ${task.split} holds no documents`);
  const k = options.numFewshot ?? task.defaultFewshot;
  let shots: Doc[] = [];
  if (k > 0) {
    if (task.fewshotSplit === undefined) throw new Error(`${task.name} has no few-shot split; pass --num-fewshot 0`);
    shots = await loadDocs(task, task.fewshotSplit, k, env);
  }
  switch (task.kind) {
    case 'multiple_choice':
      return runMultipleChoice(task, docs, shots, deps, options);
    case 'generate_until':
      return runGenerateUntil(task, docs, shots, deps, options);
    case 'code':
      return runCode(task, docs, shots, deps, options);
  }
}

async function runMultipleChoice(task: MultipleChoiceTask, docs: Doc[], shots: Doc[], deps: NativeRunnerDeps, options: RunnerOptions): Promise<TaskRun> {
  const queries: ContinuationQuery[] = [];
  const perDoc: { choices: string[]; gold: number; first: number }[] = [];
  for (const doc of docs) {
    const choices = task.docToChoices(doc);
    const gold = task.docToGold(doc);
    if (choices.length === 0 || !(gold >= 0 && gold < choices.length)) throw new Error(`${task.name}: a document has ${choices.length} choices and gold index ${gold}`);
    const context = buildContext(task, doc, shots);
    perDoc.push({ choices, gold, first: queries.length });
    for (const choice of choices) queries.push(encodePair(deps.tokenizer, context, `${task.targetDelimiter}${choice}`));
  }
  const scores = await scoreInBatches(deps.model, queries, Math.max(1, options.batchSize ?? 8));
  const accs: number[] = [];
  const norms: number[] = [];
  const samples = perDoc.map((entry, i) => {
    const lls = scores.slice(entry.first, entry.first + entry.choices.length).map((score) => score.logprob);
    const outcome = multipleChoiceOutcome(lls, entry.choices, entry.gold);
    accs.push(outcome.acc);
    norms.push(outcome.accNorm);
    return { doc_index: i, gold: entry.gold, loglikelihoods: lls, acc: outcome.acc, acc_norm: outcome.accNorm };
  });
  return { metrics: { 'acc,none': mean(accs), 'acc_norm,none': mean(norms) }, nSamples: docs.length, samples };
}

async function scoreInBatches(model: EvalModel, queries: ContinuationQuery[], batchSize: number): Promise<ContinuationScore[]> {
  const out: ContinuationScore[] = [];
  for (let first = 0; first < queries.length; first += batchSize) out.push(...(await model.scoreContinuations(queries.slice(first, first + batchSize))));
  return out;
}

/** Greedy generations cut at the task's stop strings. */
async function generateTexts(task: GenerateUntilTask | CodeTask, prompts: string[], deps: NativeRunnerDeps, options: RunnerOptions): Promise<string[]> {
  const batchSize = Math.max(1, options.batchSize ?? 8);
  const maxNewTokens = Math.max(1, options.maxGenTokens ?? task.maxGenTokens);
  const texts: string[] = [];
  for (let first = 0; first < prompts.length; first += batchSize) {
    const ids = prompts.slice(first, first + batchSize).map((prompt) => deps.tokenizer.encode(prompt, { specialTokens: 'literal' }));
    const result = await deps.model.generate(ids, { maxNewTokens, temperature: 0, n: 1, seed: 0 });
    const ordered = [...result.sequences].sort((a, b) => a.promptIndex - b.promptIndex);
    for (const sequence of ordered) {
      const body = sequence.finishReason === 'stop' ? sequence.tokens.slice(0, -1) : sequence.tokens;
      texts.push(cutAtStops(body.length === 0 ? '' : deps.tokenizer.decode(body, { skipSpecialTokens: true }), task.until));
    }
  }
  return texts;
}

async function runGenerateUntil(task: GenerateUntilTask, docs: Doc[], shots: Doc[], deps: NativeRunnerDeps, options: RunnerOptions): Promise<TaskRun> {
  const prompts = docs.map((doc) => buildContext(task, doc, shots));
  const responses = await generateTexts(task, prompts, deps, options);
  const perFilter: Record<string, number[]> = Object.fromEntries(Object.keys(task.filters).map((filter) => [filter, []]));
  const samples = docs.map((doc, i) => {
    const reference = task.docToReference(doc);
    const filtered: Record<string, string> = {};
    for (const [filter, extract] of Object.entries(task.filters)) {
      filtered[filter] = extract(responses[i]);
      perFilter[filter].push(gsm8kExactMatch(filtered[filter], reference));
    }
    return { doc_index: i, response: responses[i], filtered, reference };
  });
  const metrics: Record<string, number> = {};
  for (const [filter, values] of Object.entries(perFilter)) metrics[`exact_match,${filter}`] = mean(values);
  return { metrics, nSamples: docs.length, samples };
}

async function runCode(task: CodeTask, docs: Doc[], shots: Doc[], deps: NativeRunnerDeps, options: RunnerOptions): Promise<TaskRun> {
  const prompts = docs.map((doc) => buildContext(task, doc, shots));
  const completions = await generateTexts(task, prompts, deps, options);
  const verifier = await createVerifier(task.verifier, {});
  try {
    const successes: boolean[] = [];
    const details: string[] = [];
    await verifyInOrder(
      verifier,
      docs.map((doc, i) => task.toSample(doc, completions[i])),
      { onResult: (result) => { successes.push(result.success); details.push(result.details); } },
      deps.verifierWorkers === undefined ? {} : { workers: deps.verifierWorkers },
    );
    const samples = docs.map((doc, i) => ({ doc_index: i, task_id: doc.task_id, completion: completions[i], passed: successes[i], details: details[i] }));
    return { metrics: { [task.metricKey]: mean(successes.map((ok) => (ok ? 1 : 0))) }, nSamples: docs.length, samples };
  } finally {
    await verifier.close?.();
  }
}
