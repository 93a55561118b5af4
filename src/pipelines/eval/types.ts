/** The result shape of an eval run (the seed's lm_eval summary) and the runner contract behind it. */

export type EvalBackend = 'native' | 'hf' | 'vllm' | 'mlx';
export const EVAL_BACKENDS: readonly EvalBackend[] = ['native', 'hf', 'vllm', 'mlx'];

export interface TaskResult {
  task: string;
  primary_metric: string;
  value: number | null;
  n_samples: number;
  all_metrics: Record<string, number>;
  error: string | null;
}

export interface EvalResult {
  model_name: string;
  tasks: string[];
  task_results: TaskResult[];
  n_tasks_completed: number;
  n_tasks_failed: number;
  duration_seconds: number;
  backend: EvalBackend;
}

export interface RunnerOptions {
  limit?: number;
  numFewshot?: number;
  batchSize?: number;
  /** cap on new tokens for generate-until and code tasks (default: the task's max_gen_toks) */
  maxGenTokens?: number;
  onTaskDone?: (task: string) => void;
}

export interface RunnerTaskOutput {
  metrics: Record<string, number>;
  nSamples: number;
}

export interface RunnerOutput {
  /** per task: its metrics (lm-eval keys "metric,filter"), or why it failed */
  results: Record<string, RunnerTaskOutput | { error: string }>;
  /** everything the runner wants kept in lm_eval_raw.json */
  raw: Record<string, unknown>;
}

/** Runs tasks on one model; never throws for one task's failure (that is an { error } entry). */
export type EvalRunner = (tasks: string[], options: RunnerOptions) => Promise<RunnerOutput>;
