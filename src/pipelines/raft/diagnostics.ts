/**
 * Yield diagnostics (how many samples survived each stage and why the rest did not) per cycle and
 * for the whole run, and the effectiveness verdict of a training run. Field names follow the
 * seed's training-summary contract (snake_case, contract_version 1).
 */
import type { FilterResult, RejectionReason, ScoredSample } from './filter.js';
import { REJECTION_REASONS } from './filter.js';

export type YieldStatus = 'healthy' | 'low_yield' | 'no_signal';

export interface YieldDiagnostics {
  stage_counts: { generated: number; verified: number; filtered: number; kept: number; dropped: number };
  rates: { verification_rate: number | null; success_rate: number | null; pass_rate: number | null; keep_rate: number | null };
  thresholds: { configured_reward_threshold: number | null; effective_reward_threshold: number | null; keep_percent: number | null; threshold_adjusted: boolean };
  minimums: { minimum_samples_target: number; minimum_samples_met: boolean; shortfall_count: number };
  rejection_reasons: Record<RejectionReason, number>;
  reward_distribution: Record<RewardBucket, number>;
  status: YieldStatus;
  summary: string;
  dominant_rejection_reason: RejectionReason | null;
}

export type RewardBucket = 'lt_0_2' | '0_2_to_0_5' | '0_5_to_0_8' | '0_8_plus';
const BUCKETS: readonly RewardBucket[] = ['lt_0_2', '0_2_to_0_5', '0_5_to_0_8', '0_8_plus'];

export function rewardDistribution(rewards: Iterable<number>): Record<RewardBucket, number> {
  const counts = Object.fromEntries(BUCKETS.map((bucket) => [bucket, 0])) as Record<RewardBucket, number>;
  for (const reward of rewards) {
    if (!Number.isFinite(reward)) continue;
    counts[reward < 0.2 ? 'lt_0_2' : reward < 0.5 ? '0_2_to_0_5' : reward < 0.8 ? '0_5_to_0_8' : '0_8_plus'] += 1;
  }
  return counts;
}

export interface CycleYieldInput<S extends ScoredSample> {
  generated: number;
  /** every verified sample (the filter's input). */
  verified: readonly S[];
  filter: FilterResult<S>;
  keepPercent: number;
  minSamples?: number;
}

export function cycleYieldDiagnostics<S extends ScoredSample>(input: CycleYieldInput<S>): YieldDiagnostics {
  const verified = input.verified.length;
  const successes = input.verified.filter((sample) => sample.success).length;
  return buildYieldDiagnostics({
    stageCounts: { generated: input.generated, verified, filtered: input.filter.aboveThreshold, kept: input.filter.kept.length },
    successes,
    thresholds: {
      configured_reward_threshold: input.filter.configuredThreshold,
      effective_reward_threshold: input.filter.effectiveThreshold,
      keep_percent: input.keepPercent,
      threshold_adjusted: input.filter.thresholdAdjusted,
    },
    minimumTarget: input.minSamples ?? 0,
    rejectionReasons: input.filter.rejectionReasons,
    rewardDistribution: rewardDistribution(input.verified.map((sample) => sample.reward)),
  });
}

/** Sums cycles into the run-level diagnostics (thresholds: the first configured, the last effective). */
export function aggregateYieldDiagnostics(cycles: readonly YieldDiagnostics[]): YieldDiagnostics {
  const sum = (pick: (diagnostics: YieldDiagnostics) => number): number => cycles.reduce((total, diagnostics) => total + pick(diagnostics), 0);
  const reasons = Object.fromEntries(REJECTION_REASONS.map((reason) => [reason, sum((d) => d.rejection_reasons[reason] ?? 0)])) as Record<RejectionReason, number>;
  const distribution = Object.fromEntries(BUCKETS.map((bucket) => [bucket, sum((d) => d.reward_distribution[bucket] ?? 0)])) as Record<RewardBucket, number>;
  const verified = sum((d) => d.stage_counts.verified);
  const successes = sum((d) => Math.round((d.rates.success_rate ?? 0) * d.stage_counts.verified));
  return buildYieldDiagnostics({
    stageCounts: { generated: sum((d) => d.stage_counts.generated), verified, filtered: sum((d) => d.stage_counts.filtered), kept: sum((d) => d.stage_counts.kept) },
    successes,
    thresholds: {
      configured_reward_threshold: cycles[0]?.thresholds.configured_reward_threshold ?? null,
      effective_reward_threshold: cycles.at(-1)?.thresholds.effective_reward_threshold ?? null,
      keep_percent: cycles.at(-1)?.thresholds.keep_percent ?? null,
      threshold_adjusted: cycles.some((d) => d.thresholds.threshold_adjusted),
    },
    minimumTarget: Math.max(0, ...cycles.map((d) => d.minimums.minimum_samples_target)),
    minimumMetOverride: cycles.length === 0 ? false : cycles.every((d) => d.minimums.minimum_samples_met),
    rejectionReasons: reasons,
    rewardDistribution: distribution,
  });
}

interface BuildInput {
  stageCounts: { generated: number; verified: number; filtered: number; kept: number };
  successes: number;
  thresholds: YieldDiagnostics['thresholds'];
  minimumTarget: number;
  minimumMetOverride?: boolean;
  rejectionReasons: Record<RejectionReason, number>;
  rewardDistribution: Record<RewardBucket, number>;
}

function buildYieldDiagnostics(input: BuildInput): YieldDiagnostics {
  const { generated, verified, filtered, kept } = input.stageCounts;
  const ratio = (numerator: number, denominator: number): number | null => (denominator > 0 ? numerator / denominator : null);
  const rates = {
    verification_rate: ratio(verified, generated),
    success_rate: ratio(input.successes, verified),
    pass_rate: ratio(filtered, verified),
    keep_rate: ratio(kept, generated),
  };
  const minimumMet = input.minimumMetOverride ?? kept >= input.minimumTarget;
  const shortfall = Math.max(0, input.minimumTarget - kept);
  let dominant: RejectionReason | null = null;
  for (const reason of REJECTION_REASONS) {
    const count = input.rejectionReasons[reason] ?? 0;
    if (count > 0 && (dominant === null || count > input.rejectionReasons[dominant])) dominant = reason;
  }
  const { status, summary } = yieldStatus(generated, kept, minimumMet, shortfall, rates, dominant);
  return {
    stage_counts: { generated, verified, filtered, kept, dropped: Math.max(0, verified - kept) },
    rates,
    thresholds: input.thresholds,
    minimums: { minimum_samples_target: input.minimumTarget, minimum_samples_met: minimumMet, shortfall_count: shortfall },
    rejection_reasons: input.rejectionReasons,
    reward_distribution: input.rewardDistribution,
    status,
    summary,
    dominant_rejection_reason: dominant,
  };
}

function yieldStatus(
  generated: number,
  kept: number,
  minimumMet: boolean,
  shortfall: number,
  rates: YieldDiagnostics['rates'],
  dominant: RejectionReason | null,
): { status: YieldStatus; summary: string } {
  if (generated === 0) return { status: 'no_signal', summary: 'no samples were generated' };
  if (kept === 0) {
    const why = dominant === null ? 'nothing passed the filter' : `mostly ${dominant.replace(/_/g, ' ')}`;
    return { status: 'no_signal', summary: `no sample was kept for training (${why}); lower --reward-threshold, set --min-samples, or use an easier prompt set` };
  }
  if (!minimumMet) return { status: 'low_yield', summary: `kept ${kept} samples, ${shortfall} short of --min-samples` };
  if (rates.keep_rate !== null && rates.keep_rate < 0.05) {
    return { status: 'low_yield', summary: `only ${(rates.keep_rate * 100).toFixed(1)}% of samples were kept${dominant === null ? '' : `, mostly ${dominant.replace(/_/g, ' ')}`}` };
  }
  return { status: 'healthy', summary: `kept ${kept} of ${generated} samples (${((rates.keep_rate ?? 0) * 100).toFixed(1)}%)` };
}

export interface EffectivenessInput {
  samplesSeen: number;
  samplesKept: number;
  minimumSamplesKept: number;
  optimizerSteps: number;
  skippedBatchesNonFinite: number;
  initialTrainLoss: number | null;
  finalTrainLoss: number | null;
  finalModelWritten: boolean;
  trainingSummaryWritten: boolean;
  /** a held-out metric before and after (e.g. pass@1); absent when no evaluation ran. */
  evaluation?: { metric: string; baseline: number; final: number; higherIsBetter?: boolean; tolerance?: number };
  evaluationRequired?: boolean;
}

export type Verdict = 'pass' | 'warn' | 'fail';

export interface Effectiveness {
  data_yield: { samples_seen: number; samples_kept: number; keep_rate: number | null; minimum_samples_kept: number; min_samples_met: boolean };
  update_quality: { optimizer_steps: number; weights_updated: boolean; initial_train_loss: number | null; final_train_loss: number | null; loss_delta: number | null; skipped_batches_non_finite: number };
  checkpoint_quality: { final_model_written: boolean; training_summary_written: boolean };
  evaluation: { status: 'available' | 'not_available'; metric_name: string | null; baseline_value: number | null; final_value: number | null; delta: number | null; regressed: boolean };
  verdict: Verdict;
  reasons: string[];
}

/** pass: weights moved on enough data and nothing regressed; warn: no evaluation to tell; fail: otherwise. */
export function effectiveness(input: EffectivenessInput): Effectiveness {
  const lossDelta = input.initialTrainLoss !== null && input.finalTrainLoss !== null ? input.finalTrainLoss - input.initialTrainLoss : null;
  const evaluation = input.evaluation;
  const higherIsBetter = evaluation?.higherIsBetter ?? true;
  const tolerance = evaluation?.tolerance ?? 0;
  const delta = evaluation === undefined ? null : evaluation.final - evaluation.baseline;
  const regressed = delta !== null && (higherIsBetter ? delta < -tolerance : delta > tolerance);
  const reasons: string[] = [];
  if (input.optimizerSteps <= 0) reasons.push('no_optimizer_steps');
  if (input.samplesKept < Math.max(1, input.minimumSamplesKept)) reasons.push('samples_kept_below_minimum');
  if (input.finalTrainLoss !== null && !Number.isFinite(input.finalTrainLoss)) reasons.push('non_finite_loss');
  if (!input.finalModelWritten) reasons.push('final_model_missing');
  if (!input.trainingSummaryWritten) reasons.push('training_summary_missing');
  if (regressed) reasons.push('evaluation_regressed');
  if (input.evaluationRequired && evaluation === undefined) reasons.push('evaluation_unavailable');
  let verdict: Verdict = reasons.length > 0 ? 'fail' : 'pass';
  if (verdict === 'pass' && evaluation === undefined) {
    verdict = 'warn';
    reasons.push('evaluation_not_available');
  }
  return {
    data_yield: {
      samples_seen: input.samplesSeen,
      samples_kept: input.samplesKept,
      keep_rate: input.samplesSeen > 0 ? input.samplesKept / input.samplesSeen : null,
      minimum_samples_kept: input.minimumSamplesKept,
      min_samples_met: input.samplesKept >= input.minimumSamplesKept,
    },
    update_quality: {
      optimizer_steps: input.optimizerSteps,
      weights_updated: input.optimizerSteps > 0,
      initial_train_loss: input.initialTrainLoss,
      final_train_loss: input.finalTrainLoss,
      loss_delta: lossDelta,
      skipped_batches_non_finite: input.skippedBatchesNonFinite,
    },
    checkpoint_quality: { final_model_written: input.finalModelWritten, training_summary_written: input.trainingSummaryWritten },
    evaluation: {
      status: evaluation === undefined ? 'not_available' : 'available',
      metric_name: evaluation?.metric ?? null,
      baseline_value: evaluation?.baseline ?? null,
      final_value: evaluation?.final ?? null,
      delta,
      regressed,
    },
    verdict,
    reasons,
  };
}
