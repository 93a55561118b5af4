/**
 * Reward shaping: the reward threshold and keep-percent each RAFT cycle filters with.
 *   fixed      the configured values every cycle;
 *   warmup     lenient (threshold 0.1, keep 0.8) for the first `warmupCycles`, then the configured values;
 *   annealing  linear from lenient in cycle 1 to the configured values in the last cycle;
 *   adaptive   starts lenient; after each cycle, too few kept samples or a pass rate under half the
 *              target loosens (threshold - step, keep + step), a pass rate over 1.5x the target tightens.
 * A pure function of the cycle history, so a resumed run recomputes exactly the same thresholds.
 */

export type RewardShaping = 'fixed' | 'warmup' | 'annealing' | 'adaptive';

export interface ShapingOptions {
  strategy: RewardShaping;
  rewardThreshold: number;
  keepPercent: number;
  warmupCycles?: number;
  lenientThreshold?: number;
  lenientKeepPercent?: number;
  /** adaptive: the pass rate (share of samples at/above threshold) aimed for. */
  targetPassRate?: number;
  /** adaptive: how far one cycle moves the threshold. */
  step?: number;
  /** adaptive: loosen when fewer samples than this were kept (default 1). */
  minKept?: number;
}

export interface CycleOutcome {
  cycle: number;
  /** samples at or above that cycle's threshold / samples verified. */
  passRate: number;
  kept: number;
}

export interface CycleThresholds {
  rewardThreshold: number;
  keepPercent: number;
}

export function shapedThresholds(options: ShapingOptions, cycle: number, totalCycles: number, history: readonly CycleOutcome[] = []): CycleThresholds {
  const lenient = { rewardThreshold: Math.min(options.lenientThreshold ?? 0.1, options.rewardThreshold), keepPercent: Math.max(options.lenientKeepPercent ?? 0.8, options.keepPercent) };
  const configured = { rewardThreshold: options.rewardThreshold, keepPercent: options.keepPercent };
  switch (options.strategy) {
    case 'fixed':
      return configured;
    case 'warmup':
      return cycle <= (options.warmupCycles ?? 1) ? lenient : configured;
    case 'annealing': {
      const progress = totalCycles <= 1 ? 1 : Math.min(1, (cycle - 1) / (totalCycles - 1));
      return {
        rewardThreshold: tidy(lenient.rewardThreshold + progress * (configured.rewardThreshold - lenient.rewardThreshold)),
        keepPercent: tidy(lenient.keepPercent + progress * (configured.keepPercent - lenient.keepPercent)),
      };
    }
    case 'adaptive': {
      const target = options.targetPassRate ?? 0.3;
      const step = options.step ?? 0.1;
      const minKept = options.minKept ?? 1;
      let current = { ...lenient };
      const byCycle = new Map(history.map((outcome) => [outcome.cycle, outcome]));
      for (let previous = 1; previous < cycle; previous++) {
        const outcome = byCycle.get(previous);
        if (outcome === undefined) continue;
        if (outcome.kept < minKept || outcome.passRate < target * 0.5) {
          current = { rewardThreshold: tidy(Math.max(0.1, current.rewardThreshold - step)), keepPercent: tidy(Math.min(1, current.keepPercent + step)) };
        } else if (outcome.passRate > target * 1.5) {
          current = { rewardThreshold: tidy(Math.min(1, current.rewardThreshold + step)), keepPercent: tidy(Math.max(0.2, current.keepPercent - step / 2)) };
        }
      }
      return current;
    }
  }
}

/** Drops float noise (0.30000000000000004 -> 0.3) so thresholds read cleanly in the artifacts. */
function tidy(value: number): number {
  return Math.round(value * 1e9) / 1e9;
}
