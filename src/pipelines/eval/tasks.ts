/**
 * Eval task names: the seed's suites (groups), de-duplicated in order, and the primary-metric hint
 * table that picks the one number a task_result reports.
 */

export const TASK_GROUPS: Readonly<Record<string, readonly string[]>> = {
  core: ['mmlu', 'gsm8k', 'hellaswag', 'arc_challenge', 'winogrande', 'truthfulqa_mc2'],
  reasoning: ['gsm8k', 'math', 'arc_challenge', 'bbh'],
  code: ['humaneval', 'mbpp'],
  instruction_following: ['ifeval', 'mt_bench'],
  knowledge: ['mmlu', 'mmlu_pro', 'agieval'],
};

/** Metric name (lm-eval's, without the ",filter" suffix) each task reports as its value. */
export const PRIMARY_METRICS: Readonly<Record<string, string>> = {
  mmlu: 'acc',
  mmlu_pro: 'exact_match',
  gsm8k: 'exact_match',
  math: 'exact_match',
  hellaswag: 'acc_norm',
  arc_challenge: 'acc_norm',
  arc_easy: 'acc_norm',
  winogrande: 'acc',
  truthfulqa_mc2: 'acc',
  bbh: 'exact_match',
  humaneval: 'pass@1',
  mbpp: 'pass_at_1',
  ifeval: 'prompt_level_strict_acc',
  mt_bench: 'score',
  agieval: 'acc',
};

export const DEFAULT_PRIMARY_METRIC = 'acc';

/** "core,humaneval" or ["core", "humaneval"] -> task names; groups expand, duplicates drop, order kept. */
export function expandTasks(spec: string | readonly string[]): string[] {
  const names = (typeof spec === 'string' ? spec.split(',') : spec).map((name) => name.trim()).filter((name) => name.length > 0);
  const out: string[] = [];
  for (const name of names) {
    for (const task of TASK_GROUPS[name] ?? [name]) if (!out.includes(task)) out.push(task);
  }
  return out;
}

export function primaryMetricOf(task: string): string {
  return PRIMARY_METRICS[task] ?? DEFAULT_PRIMARY_METRIC;
}

/**
 * The value of a metric in an lm-eval metrics map whose keys are "name,filter" (or a bare name):
 * the first key whose name part matches, stderr keys skipped. Undefined when absent.
 */
export function pickMetric(metrics: Readonly<Record<string, unknown>>, metric: string): number | undefined {
  for (const [key, value] of Object.entries(metrics)) {
    const name = key.split(',')[0];
    if (name === metric && typeof value === 'number' && Number.isFinite(value)) return value;
  }
  return undefined;
}
