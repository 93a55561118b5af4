/**
 * RAFT's filter step as a pure function: verified samples in, the samples to train on (and why
 * every other sample was rejected) out. Order of decisions per sample:
 *   1. duplicate: the same completion (line endings and trailing whitespace normalised) already
 *      appeared for the same prompt; the lowest sample index is kept;
 *   2. prompt_unsolved / prompt_solved (--drop-unsolved / --drop-solved): no / every sample of the
 *      prompt reaches the threshold, so it carries no ranking signal (Xiong et al. 2025);
 *   3. verification_failed / below_reward_threshold: reward < threshold;
 *   4. dropped_by_keep_percent: ranked by reward (ties: prompt, then sample index), the best
 *      ceil(keep_percent x n) survive, within each prompt (per-prompt best-of-N) or over all (global);
 *   5. min-samples fallback: when fewer than min_samples survive, the best remaining eligible
 *      samples with reward > 0 are added (never a zero-reward sample), lowering the effective threshold.
 */

export interface ScoredSample {
  promptIndex: number;
  sampleIndex: number;
  completion: string;
  reward: number;
  success: boolean;
}

export type FilterMode = 'per-prompt' | 'global';

export interface FilterOptions {
  rewardThreshold: number;
  /** in (0, 1]. */
  keepPercent: number;
  /** 0 or undefined = no fallback. */
  minSamples?: number;
  mode: FilterMode;
  dropUnsolved: boolean;
  dropSolved: boolean;
  dedupe: boolean;
}

export type RejectionReason = 'duplicate' | 'prompt_unsolved' | 'prompt_solved' | 'verification_failed' | 'below_reward_threshold' | 'dropped_by_keep_percent';
export const REJECTION_REASONS: readonly RejectionReason[] = ['duplicate', 'prompt_unsolved', 'prompt_solved', 'verification_failed', 'below_reward_threshold', 'dropped_by_keep_percent'];

export type Decision = { kept: true; viaFallback: boolean } | { kept: false; reason: RejectionReason };

export interface FilterResult<S extends ScoredSample> {
  /** in (promptIndex, sampleIndex) order. */
  kept: S[];
  /** one per input sample, same order as the input. */
  decisions: Decision[];
  /** samples at or above the threshold after dedupe and prompt drops (before keep-percent). */
  aboveThreshold: number;
  configuredThreshold: number;
  /** the lowest reward kept when the min-samples fallback lowered the bar; else the configured one. */
  effectiveThreshold: number;
  thresholdAdjusted: boolean;
  rejectionReasons: Record<RejectionReason, number>;
  /** prompts with at least one kept sample. */
  promptsContributing: number;
}

export function filterSamples<S extends ScoredSample>(samples: readonly S[], options: FilterOptions): FilterResult<S> {
  if (!(options.keepPercent > 0 && options.keepPercent <= 1)) throw new RangeError(`keepPercent must be in (0, 1], got ${options.keepPercent}`);
  const decisions: (Decision | undefined)[] = new Array(samples.length).fill(undefined);
  const byPrompt = groupByPrompt(samples);
  const threshold = options.rewardThreshold;

  if (options.dedupe) {
    for (const indices of byPrompt.values()) {
      const seen = new Set<string>();
      for (const index of [...indices].sort((a, b) => samples[a].sampleIndex - samples[b].sampleIndex)) {
        const key = normaliseCompletion(samples[index].completion);
        if (seen.has(key)) decisions[index] = { kept: false, reason: 'duplicate' };
        else seen.add(key);
      }
    }
  }

  if (options.dropUnsolved || options.dropSolved) {
    for (const indices of byPrompt.values()) {
      // Solved/unsolved is judged on every sample of the prompt, duplicates included.
      const passing = indices.filter((index) => samples[index].reward >= threshold).length;
      const reason: RejectionReason | undefined =
        options.dropUnsolved && passing === 0 ? 'prompt_unsolved' : options.dropSolved && passing === indices.length ? 'prompt_solved' : undefined;
      if (reason === undefined) continue;
      for (const index of indices) decisions[index] ??= { kept: false, reason };
    }
  }

  const candidates: number[] = [];
  for (let index = 0; index < samples.length; index++) {
    if (decisions[index] !== undefined) continue;
    if (samples[index].reward >= threshold) candidates.push(index);
    else decisions[index] = { kept: false, reason: samples[index].success ? 'below_reward_threshold' : 'verification_failed' };
  }

  const byRank = (a: number, b: number): number =>
    samples[b].reward - samples[a].reward || samples[a].promptIndex - samples[b].promptIndex || samples[a].sampleIndex - samples[b].sampleIndex;
  const groups = options.mode === 'global' ? [candidates] : [...groupIndices(candidates, samples).values()];
  for (const group of groups) {
    const ranked = [...group].sort(byRank);
    const keep = Math.ceil(options.keepPercent * ranked.length);
    ranked.forEach((index, rank) => {
      decisions[index] = rank < keep ? { kept: true, viaFallback: false } : { kept: false, reason: 'dropped_by_keep_percent' };
    });
  }

  let keptCount = decisions.filter((decision) => decision?.kept === true).length;
  let effectiveThreshold = threshold;
  let thresholdAdjusted = false;
  const minSamples = options.minSamples ?? 0;
  if (keptCount < minSamples) {
    // Eligible for the fallback: anything not a duplicate and not in a dropped prompt, with reward > 0.
    const pool = samples
      .map((_, index) => index)
      .filter((index) => {
        const decision = decisions[index];
        return decision !== undefined && !decision.kept && isFallbackEligible(decision.reason) && samples[index].reward > 0;
      })
      .sort(byRank);
    for (const index of pool) {
      if (keptCount >= minSamples) break;
      decisions[index] = { kept: true, viaFallback: true };
      keptCount += 1;
      if (samples[index].reward < effectiveThreshold) {
        effectiveThreshold = samples[index].reward;
        thresholdAdjusted = true;
      }
    }
  }

  const finalDecisions = decisions as Decision[];
  const kept = finalDecisions
    .map((decision, index) => (decision.kept ? index : -1))
    .filter((index) => index >= 0)
    .sort((a, b) => samples[a].promptIndex - samples[b].promptIndex || samples[a].sampleIndex - samples[b].sampleIndex)
    .map((index) => samples[index]);
  const rejectionReasons = Object.fromEntries(REJECTION_REASONS.map((reason) => [reason, 0])) as Record<RejectionReason, number>;
  for (const decision of finalDecisions) if (!decision.kept) rejectionReasons[decision.reason] += 1;
  return {
    kept,
    decisions: finalDecisions,
    aboveThreshold: candidates.length,
    configuredThreshold: threshold,
    effectiveThreshold,
    thresholdAdjusted,
    rejectionReasons,
    promptsContributing: new Set(kept.map((sample) => sample.promptIndex)).size,
  };
}

function isFallbackEligible(reason: RejectionReason): boolean {
  return reason === 'dropped_by_keep_percent' || reason === 'below_reward_threshold' || reason === 'verification_failed';
}

/** Identical completions up to line endings and trailing whitespace. */
export function normaliseCompletion(completion: string): string {
  return completion.replace(/\r\n?/g, '\n').replace(/[ \t]+$/gm, '').trimEnd();
}

function groupByPrompt(samples: readonly ScoredSample[]): Map<number, number[]> {
  return groupIndices(
    samples.map((_, index) => index),
    samples,
  );
}

function groupIndices(indices: readonly number[], samples: readonly ScoredSample[]): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (const index of indices) {
    const key = samples[index].promptIndex;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [index]);
    else group.push(index);
  }
  return groups;
}
