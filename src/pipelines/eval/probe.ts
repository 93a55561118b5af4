/**
 * The forgetting probe: a short eval (a few tasks, a small --limit) compared with a baseline file.
 * A task regresses when its value drops below baseline - tolerance. `MidTrainingProbe` runs it
 * every N cycles (or epochs) of a training run and remembers whether anything regressed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeJsonAtomic } from '../../util/atomic.js';
import { HaloError } from '../../util/errors.js';
import { runLmEval } from './run.js';
import type { EvalResult, EvalRunner } from './types.js';

export const DEFAULT_PROBE_TASKS = ['mmlu', 'arc_challenge', 'gsm8k', 'hellaswag'];
export const DEFAULT_PROBE_LIMIT = 100;
export const DEFAULT_PROBE_TOLERANCE = 0.05;

export interface ProbeBaseline {
  model_name: string;
  limit: number;
  created_at: string;
  /** task -> primary metric value */
  values: Record<string, number>;
}

export interface Regression {
  task: string;
  baseline: number;
  current: number;
  drop: number;
}

export interface ProbeOutcome {
  cycle?: number;
  values: Record<string, number | null>;
  errors: Record<string, string>;
  regressed: Regression[];
  baseline_written: boolean;
  duration_seconds: number;
}

/** A baseline file: our probe baseline, or an lm_eval_summary.json (its task_results become the values). */
export function readBaseline(path: string): ProbeBaseline {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new HaloError('PROBE_BASELINE', `--baseline ${path}: not readable JSON (${error instanceof Error ? error.message : String(error)})`, { fix: 'delete the file to write a fresh baseline, or point --baseline at a valid one' });
  }
  const root = json as Partial<ProbeBaseline> & Partial<EvalResult>;
  if (root.values && typeof root.values === 'object') {
    for (const [task, value] of Object.entries(root.values)) {
      if (typeof value !== 'number') throw new HaloError('PROBE_BASELINE', `--baseline ${path}: values.${task} is not a number`, { fix: 'give every task a numeric value' });
    }
    return { model_name: String(root.model_name ?? ''), limit: Number(root.limit ?? 0), created_at: String(root.created_at ?? ''), values: root.values };
  }
  if (Array.isArray(root.task_results)) {
    const values: Record<string, number> = {};
    for (const result of root.task_results) if (typeof result.value === 'number') values[result.task] = result.value;
    return { model_name: String(root.model_name ?? ''), limit: 0, created_at: '', values };
  }
  throw new HaloError('PROBE_BASELINE', `--baseline ${path}: has neither "values" nor "task_results"`, { fix: 'delete the file to write a fresh baseline from this model' });
}

export function baselineFrom(summary: EvalResult, limit: number): ProbeBaseline {
  const values: Record<string, number> = {};
  for (const result of summary.task_results) if (result.value !== null) values[result.task] = result.value;
  return { model_name: summary.model_name, limit, created_at: new Date().toISOString(), values };
}

/** Tasks whose value fell by more than `tolerance` below the baseline (tasks absent on either side are not compared). */
export function findRegressions(baseline: ProbeBaseline, summary: EvalResult, tolerance: number): Regression[] {
  const out: Regression[] = [];
  for (const result of summary.task_results) {
    const before = baseline.values[result.task];
    if (before === undefined || result.value === null) continue;
    const drop = before - result.value;
    if (drop > tolerance + 1e-12) out.push({ task: result.task, baseline: before, current: result.value, drop });
  }
  return out;
}

export interface ProbeOptions {
  modelName: string;
  baselinePath: string;
  tasks?: readonly string[];
  limit?: number;
  tolerance?: number;
  runner: EvalRunner;
  batchSize?: number;
  maxGenTokens?: number;
}

/** One probe: evaluates, writes the baseline when absent, else compares with it. */
export async function runProbe(options: ProbeOptions, cycle?: number): Promise<ProbeOutcome> {
  const limit = options.limit ?? DEFAULT_PROBE_LIMIT;
  const { summary } = await runLmEval({
    modelName: options.modelName,
    tasks: options.tasks ?? DEFAULT_PROBE_TASKS,
    limit,
    runner: options.runner,
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    ...(options.maxGenTokens === undefined ? {} : { maxGenTokens: options.maxGenTokens }),
  });
  const values: Record<string, number | null> = {};
  const errors: Record<string, string> = {};
  for (const result of summary.task_results) {
    values[result.task] = result.value;
    if (result.error !== null) errors[result.task] = result.error;
  }
  const outcome: ProbeOutcome = { ...(cycle === undefined ? {} : { cycle }), values, errors, regressed: [], baseline_written: false, duration_seconds: summary.duration_seconds };
  if (!existsSync(options.baselinePath)) {
    writeJsonAtomic(options.baselinePath, baselineFrom(summary, limit));
    outcome.baseline_written = true;
    return outcome;
  }
  outcome.regressed = findRegressions(readBaseline(options.baselinePath), summary, options.tolerance ?? DEFAULT_PROBE_TOLERANCE);
  return outcome;
}

/** Runs the probe every `every` cycles of a training run; `hasRegression` after any probe found one. */
export class MidTrainingProbe {
  readonly records: ProbeOutcome[] = [];

  constructor(
    private readonly every: number,
    private readonly options: ProbeOptions,
  ) {
    if (!Number.isInteger(every) || every < 1) throw new HaloError('PROBE_EVERY', `--probe-every ${every}: must be an integer >= 1`, { fix: 'pass --probe-every 1 to probe after every cycle' });
  }

  /** cycles count from 1; cycle c is probed when c is a multiple of `every`. */
  shouldRun(cycle: number): boolean {
    return cycle >= 1 && cycle % this.every === 0;
  }

  async run(cycle: number): Promise<ProbeOutcome> {
    const outcome = await runProbe(this.options, cycle);
    this.records.push(outcome);
    return outcome;
  }

  get hasRegression(): boolean {
    return this.records.some((record) => record.regressed.length > 0);
  }

  /** Names of every task that regressed in any probe so far, in first-seen order. */
  regressedTasks(): string[] {
    const names: string[] = [];
    for (const record of this.records) for (const regression of record.regressed) if (!names.includes(regression.task)) names.push(regression.task);
    return names;
  }
}
