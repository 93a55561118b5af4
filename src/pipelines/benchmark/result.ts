/**
 * The JSON result of `benchmark run` (schemas/benchmark_result.schema.json): pass@k per k,
 * per-prompt outcomes, success and compile rates, tokens/s.
 */
import { meanPassAtK, passAtK } from './pass-at-k.js';

export interface PromptOutcomes {
  index: number;
  /** the prompt record's id (task_id, …) or its index. */
  id: string;
  rewards: number[];
  successes: boolean[];
  /**
   * per sample: did it compile / parse (a verifier's metadata.compiled); null where the verifier
   * has no compile stage.
   */
  compiled: (boolean | null)[];
}

export interface PromptResult {
  index: number;
  id: string;
  samples: number;
  successes: number;
  compiled: number | null;
  mean_reward: number;
  pass_at_k: Record<string, number>;
  rewards: number[];
}

export interface BenchmarkRun {
  model: string;
  promptsFile: string;
  verifier: string;
  k: readonly number[];
  temperature: number;
  topP: number;
  maxNewTokens: number;
  seed: number;
  startedAt: Date;
  seconds: number;
  generatedTokens: number;
  generateSeconds: number;
  verifySeconds: number;
}

export interface BenchmarkResult {
  contract_version: 1;
  model: string;
  prompts_file: string;
  verifier: string;
  samples: number;
  k: number[];
  temperature: number;
  top_p: number;
  max_new_tokens: number;
  seed: number;
  started_at: string;
  seconds: number;
  prompts: number;
  pass_at_k: Record<string, number>;
  success_rate: number | null;
  compile_rate: number | null;
  mean_reward: number | null;
  generated_tokens: number;
  generate_seconds: number;
  tokens_per_second: number | null;
  verify_seconds: number;
  per_prompt: PromptResult[];
}

export function buildBenchmarkResult(run: BenchmarkRun, outcomes: readonly PromptOutcomes[]): BenchmarkResult {
  if (outcomes.length === 0) throw new RangeError('benchmark: no prompts were evaluated');
  const samples = outcomes[0].successes.length;
  for (const outcome of outcomes) {
    if (outcome.successes.length !== samples || outcome.rewards.length !== samples || outcome.compiled.length !== samples) {
      throw new RangeError(`benchmark: prompt ${outcome.id} has ${outcome.successes.length} results, expected ${samples} per prompt`);
    }
  }
  const perPrompt = outcomes.map((outcome): PromptResult => {
    const successes = outcome.successes.filter(Boolean).length;
    const knownCompiled = outcome.compiled.filter((value): value is boolean => value !== null);
    return {
      index: outcome.index,
      id: outcome.id,
      samples,
      successes,
      compiled: knownCompiled.length === 0 ? null : knownCompiled.filter(Boolean).length,
      mean_reward: outcome.rewards.reduce((a, b) => a + b, 0) / samples,
      pass_at_k: Object.fromEntries(run.k.map((k) => [`pass@${k}`, passAtK(samples, successes, k)])),
      rewards: [...outcome.rewards],
    };
  });
  const counts = perPrompt.map((prompt) => ({ n: prompt.samples, c: prompt.successes }));
  const total = samples * perPrompt.length;
  const compiledPrompts = perPrompt.filter((prompt) => prompt.compiled !== null);
  return {
    contract_version: 1,
    model: run.model,
    prompts_file: run.promptsFile,
    verifier: run.verifier,
    samples,
    k: [...run.k],
    temperature: run.temperature,
    top_p: run.topP,
    max_new_tokens: run.maxNewTokens,
    seed: run.seed,
    started_at: run.startedAt.toISOString(),
    seconds: run.seconds,
    prompts: perPrompt.length,
    pass_at_k: Object.fromEntries(run.k.map((k) => [`pass@${k}`, meanPassAtK(counts, k)])),
    success_rate: perPrompt.reduce((sum, prompt) => sum + prompt.successes, 0) / total,
    compile_rate: compiledPrompts.length === 0 ? null : compiledPrompts.reduce((sum, prompt) => sum + (prompt.compiled ?? 0), 0) / (compiledPrompts.length * samples),
    mean_reward: perPrompt.reduce((sum, prompt) => sum + prompt.mean_reward, 0) / perPrompt.length,
    generated_tokens: run.generatedTokens,
    generate_seconds: run.generateSeconds,
    tokens_per_second: run.generateSeconds > 0 ? run.generatedTokens / run.generateSeconds : null,
    verify_seconds: run.verifySeconds,
    per_prompt: perPrompt,
  };
}

/**
 * Did the sample compile? `metadata.compiled` when the verifier states it; otherwise a compiled-
 * language verifier's result (it records compileMs once it ran the compiler and reports the error
 * "compile error" when that failed); null for verifiers without a compile stage.
 */
export function compiledFlag(verdict: { error?: string; metadata: Record<string, unknown> }): boolean | null {
  const stated = verdict.metadata.compiled;
  if (typeof stated === 'boolean') return stated;
  if (verdict.error === 'compile error') return false;
  if (typeof verdict.metadata.compileMs === 'number') return true;
  return null;
}
