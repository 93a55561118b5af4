/**
 * Modality benchmarks on the shared generation path (any `Generator`): prompts rendered with the
 * chat template, one completion each, graded by the preset's verifier.
 *   reasoning: accuracy = exact match of the extracted final answer with the reference (after
 *              normalisation; integers must be equal, other numbers within 1e-6).
 *   agentic:   call accuracy (right functions and arguments) over samples that expect a call,
 *              function accuracy (right function names), irrelevance accuracy (no call where none
 *              is expected), and overall accuracy over all samples.
 */
import type { ChatTemplate } from '../data/chat.js';
import type { OutputRecord } from '../data/convert.js';
import type { HaloTokenizer } from '../data/tokenizer.js';
import type { Generator } from '../engine/generator.js';
import { completionText, generateAll } from '../pipelines/generate.js';
import { encodePrompt, toPromptRecord } from '../pipelines/prompts.js';
import type { EventBus } from '../util/events.js';
import { createVerifier } from '../verifiers/registry.js';
import { readExpectedCalls, TOOL_REWARDS } from '../verifiers/tools/tools.js';
import type { VerifyResult } from '../verifiers/types.js';
import type { ModalityPreset } from './preset.js';

export interface BenchmarkSettings {
  model: string;
  dataset: string;
  split: string;
  maxNewTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  generationBatchSize: number;
  systemPrompt?: string;
}

export interface SampleOutcome {
  id: string;
  success: boolean;
  reward: number;
  details: string;
  /** reasoning: expected / predicted answers; agentic: whether a call was expected. */
  expected?: string;
  predicted?: string | null;
  expects_call?: boolean;
}

export interface ModalityBenchmarkResult {
  contract_version: 1;
  modality: 'reasoning' | 'agentic';
  model: string;
  dataset: string;
  split: string;
  verifier: string;
  generator: string;
  samples: number;
  metrics: Record<string, number | null>;
  counts: Record<string, number>;
  generation: { max_new_tokens: number; temperature: number; top_p: number; seed: number; generated_tokens: number; seconds: number; tokens_per_second: number | null };
  started_at: string;
  seconds: number;
  results: SampleOutcome[];
}

export interface ScoreInput {
  preset: ModalityPreset;
  /** prompt records after the preset's toPrompts. */
  records: readonly OutputRecord[];
  generator: Generator;
  tokenizer: HaloTokenizer;
  template: ChatTemplate;
  settings: BenchmarkSettings;
  bus?: EventBus;
  signal?: AbortSignal;
}

const ratio = (part: number, whole: number): number | null => (whole === 0 ? null : part / whole);

export async function scoreModality(input: ScoreInput): Promise<ModalityBenchmarkResult> {
  const { preset, settings, tokenizer, template } = input;
  const startedAt = new Date();
  const prompts = input.records.map((record, index) => toPromptRecord(record, index, `${settings.dataset}:${index + 1}`));
  const promptIds = prompts.map((prompt) => encodePrompt(tokenizer, template, prompt, settings.systemPrompt));
  const completions: string[] = new Array<string>(prompts.length).fill('');
  const generation = await generateAll(
    input.generator,
    {
      promptIds,
      n: 1,
      maxNewTokens: settings.maxNewTokens,
      temperature: settings.temperature,
      topP: settings.topP,
      seed: settings.seed,
      batchSize: settings.generationBatchSize,
      ...(input.signal === undefined ? {} : { signal: input.signal }),
    },
    {
      onSample: (sample) => {
        completions[sample.promptPosition] = completionText(tokenizer, sample);
      },
      onProgress: (progress) => input.bus?.emit({ type: 'generate_progress', phase: 'generate', ...progress }),
    },
  );
  const verifier = await createVerifier(preset.verifier);
  let results: VerifyResult[];
  try {
    results = await verifier.verifyBatch(prompts.map((prompt, index) => ({ ...prompt.record, completion: completions[index] })));
  } finally {
    await verifier.close?.();
  }
  input.bus?.emit({ type: 'verify_progress', phase: 'verify', done: results.length, total: results.length, passed: results.filter((r) => r.success).length, samplesPerSecond: 0 });
  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  const scored = preset.modality === 'reasoning' ? reasoningMetrics(prompts.map((p) => p.id), results) : agenticMetrics(input.records, prompts.map((p) => p.id), results);
  return {
    contract_version: 1,
    modality: preset.modality,
    model: settings.model,
    dataset: settings.dataset,
    split: settings.split,
    verifier: preset.verifier,
    generator: input.generator.description,
    samples: prompts.length,
    metrics: scored.metrics,
    counts: scored.counts,
    generation: {
      max_new_tokens: settings.maxNewTokens,
      temperature: settings.temperature,
      top_p: settings.topP,
      seed: settings.seed,
      generated_tokens: generation.generatedTokens,
      seconds: generation.seconds,
      tokens_per_second: generation.seconds > 0 ? generation.generatedTokens / generation.seconds : null,
    },
    started_at: startedAt.toISOString(),
    seconds,
    results: scored.results,
  };
}

function reasoningMetrics(ids: string[], results: VerifyResult[]): Pick<ModalityBenchmarkResult, 'metrics' | 'counts' | 'results'> {
  const outcomes: SampleOutcome[] = results.map((result, index) => ({
    id: ids[index],
    success: result.success,
    reward: result.reward,
    details: result.details,
    expected: String(result.metadata.expected ?? ''),
    predicted: typeof result.metadata.predicted === 'string' ? result.metadata.predicted : null,
  }));
  const correct = outcomes.filter((outcome) => outcome.success).length;
  const answered = outcomes.filter((outcome) => outcome.predicted !== null).length;
  return {
    metrics: { accuracy: ratio(correct, outcomes.length), answer_rate: ratio(answered, outcomes.length), mean_reward: ratio(outcomes.reduce((sum, o) => sum + o.reward, 0), outcomes.length) },
    counts: { total: outcomes.length, correct, answered },
    results: outcomes,
  };
}

function agenticMetrics(records: readonly OutputRecord[], ids: string[], results: VerifyResult[]): Pick<ModalityBenchmarkResult, 'metrics' | 'counts' | 'results'> {
  const outcomes: SampleOutcome[] = results.map((result, index) => {
    const record = records[index];
    const raw = record.expected_calls ?? record.ground_truth;
    const expectsCall = raw !== undefined && raw !== null && readExpectedCalls(raw).length > 0;
    return { id: ids[index], success: result.success, reward: result.reward, details: result.details, expects_call: expectsCall };
  });
  const calls = outcomes.filter((outcome) => outcome.expects_call === true);
  const irrelevant = outcomes.filter((outcome) => outcome.expects_call === false);
  const callCorrect = calls.filter((outcome) => outcome.success).length;
  const functionCorrect = calls.filter((outcome) => outcome.reward >= TOOL_REWARDS.wrongArguments).length;
  const irrelevanceCorrect = irrelevant.filter((outcome) => outcome.success).length;
  return {
    metrics: {
      call_accuracy: ratio(callCorrect, calls.length),
      function_accuracy: ratio(functionCorrect, calls.length),
      irrelevance_accuracy: ratio(irrelevanceCorrect, irrelevant.length),
      overall_accuracy: ratio(callCorrect + irrelevanceCorrect, outcomes.length),
    },
    counts: { total: outcomes.length, call_samples: calls.length, call_correct: callCorrect, function_correct: functionCorrect, irrelevance_samples: irrelevant.length, irrelevance_correct: irrelevanceCorrect },
    results: outcomes,
  };
}
