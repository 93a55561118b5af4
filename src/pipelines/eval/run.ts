/**
 * runLmEval: expands the task list, runs it through a runner (native engine, the lm-eval bridge,
 * or any injected one) and folds the runner's per-task metrics into the seed's result shape.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { writeJsonAtomic } from '../../util/atomic.js';
import { expandTasks, pickMetric, primaryMetricOf } from './tasks.js';
import type { EvalBackend, EvalResult, EvalRunner, RunnerOptions, RunnerOutput, TaskResult } from './types.js';

export interface RunLmEvalOptions extends Omit<RunnerOptions, 'onTaskDone'> {
  modelName: string;
  /** task names and/or group names, as a list or comma-separated */
  tasks: string | readonly string[];
  backend?: EvalBackend;
  runner: EvalRunner;
  /** when set, lm_eval_summary.json and lm_eval_raw.json are written there */
  outputDir?: string;
  onTaskDone?: (task: string) => void;
}

export interface LmEvalRun {
  summary: EvalResult;
  raw: RunnerOutput['raw'];
}

export function toTaskResult(task: string, outcome: RunnerOutput['results'][string] | undefined): TaskResult {
  const primary = primaryMetricOf(task);
  if (outcome === undefined) return { task, primary_metric: primary, value: null, n_samples: 0, all_metrics: {}, error: 'the runner returned no result for this task' };
  if ('error' in outcome) return { task, primary_metric: primary, value: null, n_samples: 0, all_metrics: {}, error: outcome.error };
  const value = pickMetric(outcome.metrics, primary);
  return {
    task,
    primary_metric: primary,
    value: value ?? null,
    n_samples: outcome.nSamples,
    all_metrics: outcome.metrics,
    error: value === undefined ? `metric "${primary}" missing from the task's results (have: ${Object.keys(outcome.metrics).join(', ') || 'none'})` : null,
  };
}

export async function runLmEval(options: RunLmEvalOptions): Promise<LmEvalRun> {
  const started = performance.now();
  const tasks = expandTasks(options.tasks);
  const runnerOptions: RunnerOptions = {
    ...(options.limit === undefined ? {} : { limit: options.limit }),
    ...(options.numFewshot === undefined ? {} : { numFewshot: options.numFewshot }),
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    ...(options.maxGenTokens === undefined ? {} : { maxGenTokens: options.maxGenTokens }),
    ...(options.onTaskDone === undefined ? {} : { onTaskDone: options.onTaskDone }),
  };
  const output = await options.runner(tasks, runnerOptions);
  const taskResults = tasks.map((task) => toTaskResult(task, output.results[task]));
  const failed = taskResults.filter((result) => result.error !== null).length;
  const summary: EvalResult = {
    model_name: options.modelName,
    tasks,
    task_results: taskResults,
    n_tasks_completed: taskResults.length - failed,
    n_tasks_failed: failed,
    duration_seconds: (performance.now() - started) / 1000,
    backend: options.backend ?? 'native',
  };
  if (options.outputDir !== undefined) writeEvalOutputs(options.outputDir, summary, output.raw);
  return { summary, raw: output.raw };
}

export function writeEvalOutputs(directory: string, summary: EvalResult, raw: unknown): { summaryPath: string; rawPath: string } {
  mkdirSync(directory, { recursive: true });
  const summaryPath = join(directory, 'lm_eval_summary.json');
  const rawPath = join(directory, 'lm_eval_raw.json');
  writeJsonAtomic(rawPath, raw);
  writeJsonAtomic(summaryPath, summary);
  return { summaryPath, rawPath };
}
