/**
 * Curriculum: which prompts a RAFT cycle samples, in which order.
 *   none         every prompt, in file order;
 *   complexity   every prompt, easiest first by a text heuristic (length, code, constraints);
 *   progressive  the easiest fraction start + (cycle-1) x increment of the complexity order;
 *   adaptive     prompts whose difficulty is near a target that rises after a cycle with a high
 *                success rate (> 0.7) and falls after a low one (< 0.2);
 *   historical   every prompt, highest known success rate first (a previous run's stats, merged
 *                with this run's as it goes).
 * Per-prompt stats (attempts, successes, reward) are updated after every cycle whatever the
 * strategy, persisted in the run directory, and are what `historical` reads from a previous run.
 * Difficulty of a prompt = 1 - its smoothed success rate once it has been tried, else its complexity.
 * Everything is a pure function of (prompts, state), so a resumed run selects the same prompts.
 */
import { createHash } from 'node:crypto';

export type CurriculumStrategy = 'none' | 'complexity' | 'progressive' | 'adaptive' | 'historical';

export interface PromptStats {
  attempts: number;
  successes: number;
  rewardSum: number;
  cyclesSeen: number;
  lastCycle: number;
}

export interface CurriculumState {
  version: 1;
  /** keyed by promptKey(prompt text). */
  prompts: Record<string, PromptStats>;
  /** per finished cycle: the selected prompts' overall success rate. */
  cycles: { cycle: number; successRate: number; selected: number }[];
}

export interface CurriculumOptions {
  strategy: CurriculumStrategy;
  progressiveStart?: number;
  progressiveIncrement?: number;
  easyThreshold?: number;
  hardThreshold?: number;
  /** stats from a previous run (historical). */
  historical?: Record<string, PromptStats>;
}

export interface PromptOutcome {
  promptIndex: number;
  reward: number;
  /** reached the cycle's reward threshold. */
  success: boolean;
}

export function emptyCurriculumState(): CurriculumState {
  return { version: 1, prompts: {}, cycles: [] };
}

/** A stable key for a prompt: the first 16 hex digits of SHA-256 of its text. */
export function promptKey(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

const CONSTRAINT_WORDS = /\b(must|should|exactly|without|at most|at least|efficient|optimi[sz]e|constraint|edge case|handle|return|raise|error|modulo|sorted|unique)\b/g;

/** A 0 (easy) .. 1 (hard) heuristic from the prompt text alone. */
export function estimateComplexity(text: string): number {
  const length = Math.min(1, text.length / 1200);
  const lines = Math.min(1, text.split('\n').length / 40);
  const constraints = Math.min(1, (text.toLowerCase().match(CONSTRAINT_WORDS)?.length ?? 0) / 8);
  const numbers = Math.min(1, (text.match(/\d+/g)?.length ?? 0) / 12);
  const examples = Math.min(1, (text.match(/>>>|example|input:|output:/gi)?.length ?? 0) / 6);
  return 0.35 * length + 0.15 * lines + 0.25 * constraints + 0.15 * numbers + 0.1 * examples;
}

/** Indices of the prompts cycle `cycle` samples, in training order. */
export function selectPrompts(prompts: readonly string[], cycle: number, state: CurriculumState, options: CurriculumOptions): number[] {
  const all = prompts.map((_, index) => index);
  if (prompts.length === 0) return [];
  const complexity = prompts.map(estimateComplexity);
  const byComplexity = [...all].sort((a, b) => complexity[a] - complexity[b] || a - b);
  switch (options.strategy) {
    case 'none':
      return all;
    case 'complexity':
      return byComplexity;
    case 'progressive': {
      const fraction = Math.min(1, (options.progressiveStart ?? 0.2) + (cycle - 1) * (options.progressiveIncrement ?? 0.2));
      const count = Math.max(1, Math.ceil(Math.round(prompts.length * fraction * 1e9) / 1e9));
      return byComplexity.slice(0, count);
    }
    case 'historical': {
      const difficulty = promptDifficulty(prompts, complexity, state, options.historical);
      return [...all].sort((a, b) => difficulty[a] - difficulty[b] || a - b);
    }
    case 'adaptive': {
      const difficulty = promptDifficulty(prompts, complexity, state, undefined);
      const target = adaptiveTarget(state, cycle, options.easyThreshold ?? 0.7, options.hardThreshold ?? 0.2);
      const minimum = Math.max(1, Math.ceil(prompts.length / 4));
      let chosen = all.filter((index) => Math.abs(difficulty[index] - target) <= 0.3 + 1e-12);
      if (chosen.length < minimum) {
        chosen = [...all].sort((a, b) => Math.abs(difficulty[a] - target) - Math.abs(difficulty[b] - target) || a - b).slice(0, minimum);
      }
      return chosen.sort((a, b) => difficulty[a] - difficulty[b] || a - b);
    }
  }
}

/** The adaptive target difficulty for `cycle`, replayed from the finished cycles' success rates. */
export function adaptiveTarget(state: CurriculumState, cycle: number, easyThreshold: number, hardThreshold: number): number {
  let target = 0.5;
  for (const finished of [...state.cycles].sort((a, b) => a.cycle - b.cycle)) {
    if (finished.cycle >= cycle) break;
    if (finished.successRate > easyThreshold) target = Math.min(1, target + 0.15);
    else if (finished.successRate < hardThreshold) target = Math.max(0, target - 0.15);
  }
  return Math.round(target * 1e9) / 1e9;
}

function promptDifficulty(prompts: readonly string[], complexity: readonly number[], state: CurriculumState, historical: Record<string, PromptStats> | undefined): number[] {
  return prompts.map((text, index) => {
    const key = promptKey(text);
    const own = state.prompts[key];
    const previous = historical?.[key];
    const attempts = (own?.attempts ?? 0) + (previous?.attempts ?? 0);
    const successes = (own?.successes ?? 0) + (previous?.successes ?? 0);
    // Laplace-smoothed success rate once tried; the text heuristic before that.
    return attempts === 0 ? complexity[index] : 1 - (successes + 1) / (attempts + 2);
  });
}

/** Folds one cycle's verified outcomes into the per-prompt stats (returns a new state). */
export function updateCurriculumState(state: CurriculumState, prompts: readonly string[], cycle: number, outcomes: readonly PromptOutcome[], selected: number): CurriculumState {
  const next: CurriculumState = { version: 1, prompts: { ...state.prompts }, cycles: state.cycles.filter((entry) => entry.cycle !== cycle) };
  const touched = new Set<string>();
  let successes = 0;
  for (const outcome of outcomes) {
    const text = prompts[outcome.promptIndex];
    if (text === undefined) throw new RangeError(`outcome for prompt ${outcome.promptIndex}, but there are ${prompts.length} prompts`);
    const key = promptKey(text);
    const previous = next.prompts[key] ?? { attempts: 0, successes: 0, rewardSum: 0, cyclesSeen: 0, lastCycle: 0 };
    const firstThisCycle = !touched.has(key);
    touched.add(key);
    next.prompts[key] = {
      attempts: previous.attempts + 1,
      successes: previous.successes + (outcome.success ? 1 : 0),
      rewardSum: previous.rewardSum + outcome.reward,
      cyclesSeen: previous.cyclesSeen + (firstThisCycle ? 1 : 0),
      lastCycle: cycle,
    };
    if (outcome.success) successes += 1;
  }
  next.cycles.push({ cycle, successRate: outcomes.length === 0 ? 0 : successes / outcomes.length, selected });
  next.cycles.sort((a, b) => a.cycle - b.cycle);
  return next;
}
