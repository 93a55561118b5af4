/** `halo-forge eval` (lm-eval suites, native or bridged) and `halo-forge probe` (forgetting check against a baseline). */
import { Command, Option } from 'commander';
import { HaloError } from '../util/errors.js';
import { openEvalRunner } from '../pipelines/eval/open.js';
import { runLmEval } from '../pipelines/eval/run.js';
import { expandTasks, primaryMetricOf, TASK_GROUPS } from '../pipelines/eval/tasks.js';
import { TASK_DEFS } from '../pipelines/eval/task-defs.js';
import { DEFAULT_PROBE_LIMIT, DEFAULT_PROBE_TASKS, DEFAULT_PROBE_TOLERANCE, runProbe } from '../pipelines/eval/probe.js';
import { EVAL_BACKENDS, type EvalBackend } from '../pipelines/eval/types.js';

function positiveInt(flag: string, value: string | undefined, allowZero = false): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new HaloError('CLI_BAD_NUMBER', `${flag} ${value}: must be an integer >= ${allowZero ? 0 : 1}`, { fix: `pass e.g. ${flag} ${allowZero ? 0 : 8}` });
  return n;
}

function listTasks(): string {
  const lines = ['groups:'];
  for (const [group, tasks] of Object.entries(TASK_GROUPS)) lines.push(`  ${group.padEnd(22)} ${tasks.join(', ')}`);
  lines.push('native runner tasks (other names need --backend hf|vllm):');
  for (const [name, task] of Object.entries(TASK_DEFS)) lines.push(`  ${name.padEnd(22)} ${task.kind}, ${primaryMetricOf(name)}, ${task.defaultFewshot}-shot`);
  return `${lines.join('\n')}\n`;
}

interface EvalFlags {
  model?: string;
  tasks: string;
  limit?: string;
  backend: EvalBackend;
  output?: string;
  listTasks?: boolean;
  batchSize?: string;
  numFewshot?: string;
  maxGenTokens?: string;
  device: string;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('run lm-evaluation-harness suites on a model; prints the summary JSON (and writes lm_eval_summary.json + lm_eval_raw.json with --output)')
    .option('--model <path>', 'model folder, hub id in the local cache, adapter folder or run directory (required unless --list-tasks)')
    .option('--tasks <list>', 'comma-separated groups (core, reasoning, code, instruction_following, knowledge) and/or task names (default core)', 'core')
    .option('--limit <n>', 'evaluate the first N documents of each task (default: all)')
    .addOption(new Option('--backend <name>', 'native: our engine; hf / vllm: the lm_eval CLI (default native)').choices([...EVAL_BACKENDS]).default('native'))
    .option('--output <dir>', 'write lm_eval_summary.json and lm_eval_raw.json here (default: stdout only)')
    .option('--list-tasks', 'list groups and native tasks, then exit (default off)')
    .option('--batch-size <n>', 'sequences per engine call (default 8)')
    .option('--num-fewshot <n>', "few-shot examples per prompt (default: each task's lm-eval default)")
    .option('--max-gen-tokens <n>', "cap on generated tokens for generate-until and code tasks (default: the task's max_gen_toks)")
    .option('--device <device>', 'cpu, cuda, cuda:N or auto (default cpu)', 'cpu')
    .action(async (flags: EvalFlags) => {
      if (flags.listTasks) {
        process.stdout.write(listTasks());
        return;
      }
      if (flags.model === undefined) throw new HaloError('CLI_MISSING_OPTION', 'eval: --model is required', { fix: 'pass --model <folder>' });
      const limit = positiveInt('--limit', flags.limit);
      const batchSize = positiveInt('--batch-size', flags.batchSize);
      const numFewshot = positiveInt('--num-fewshot', flags.numFewshot, true);
      const maxGenTokens = positiveInt('--max-gen-tokens', flags.maxGenTokens);
      const opened = await openEvalRunner({ model: flags.model, backend: flags.backend, device: flags.device, onLog: (line) => process.stderr.write(`lm_eval: ${line}\n`) });
      try {
        const { summary } = await runLmEval({
          modelName: flags.model,
          tasks: expandTasks(flags.tasks),
          backend: flags.backend,
          runner: opened.runner,
          ...(limit === undefined ? {} : { limit }),
          ...(batchSize === undefined ? {} : { batchSize }),
          ...(numFewshot === undefined ? {} : { numFewshot }),
          ...(maxGenTokens === undefined ? {} : { maxGenTokens }),
          ...(flags.output === undefined ? {} : { outputDir: flags.output }),
          onTaskDone: (task) => process.stderr.write(`eval: ${task} done\n`),
        });
        for (const result of summary.task_results) {
          process.stderr.write(result.error === null ? `eval: ${result.task} ${result.primary_metric} ${result.value?.toFixed(4)} (n=${result.n_samples})\n` : `eval: ${result.task} FAILED: ${result.error}\n`);
        }
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      } finally {
        opened.close();
      }
    });
}

interface ProbeFlags {
  model: string;
  baseline: string;
  limit: string;
  tolerance: string;
  tasks: string;
  batchSize?: string;
  maxGenTokens?: string;
  device: string;
}

export function registerProbe(program: Command): void {
  program
    .command('probe')
    .description('forgetting check: a short eval compared with a baseline file; writes the baseline when absent; exit 2 when a task regressed')
    .requiredOption('--model <path>', 'model folder, adapter folder or run directory (required)')
    .requiredOption('--baseline <file>', 'baseline JSON (written from this model when absent; an lm_eval_summary.json also works) (required)')
    .option('--limit <n>', `documents per task (default ${DEFAULT_PROBE_LIMIT})`, String(DEFAULT_PROBE_LIMIT))
    .option('--tolerance <x>', `largest allowed drop below the baseline (default ${DEFAULT_PROBE_TOLERANCE})`, String(DEFAULT_PROBE_TOLERANCE))
    .option('--tasks <list>', `tasks or groups (default ${DEFAULT_PROBE_TASKS.join(',')})`, DEFAULT_PROBE_TASKS.join(','))
    .option('--batch-size <n>', 'sequences per engine call (default 8)')
    .option('--max-gen-tokens <n>', "cap on generated tokens (default: the task's max_gen_toks)")
    .option('--device <device>', 'cpu, cuda, cuda:N or auto (default cpu)', 'cpu')
    .action(async (flags: ProbeFlags) => {
      const limit = positiveInt('--limit', flags.limit)!;
      const tolerance = Number(flags.tolerance);
      if (!(tolerance >= 0)) throw new HaloError('CLI_BAD_NUMBER', `--tolerance ${flags.tolerance}: must be a number >= 0`, { fix: 'pass e.g. --tolerance 0.05' });
      const batchSize = positiveInt('--batch-size', flags.batchSize);
      const maxGenTokens = positiveInt('--max-gen-tokens', flags.maxGenTokens);
      const opened = await openEvalRunner({ model: flags.model, backend: 'native', device: flags.device });
      try {
        const outcome = await runProbe({
          modelName: flags.model,
          baselinePath: flags.baseline,
          tasks: expandTasks(flags.tasks),
          limit,
          tolerance,
          runner: opened.runner,
          ...(batchSize === undefined ? {} : { batchSize }),
          ...(maxGenTokens === undefined ? {} : { maxGenTokens }),
        });
        process.stdout.write(`${JSON.stringify(outcome)}\n`);
        for (const [task, error] of Object.entries(outcome.errors)) process.stderr.write(`probe: ${task} not measured: ${error}\n`);
        if (outcome.baseline_written) process.stderr.write(`probe: baseline written to ${flags.baseline}\n`);
        else if (outcome.regressed.length > 0) {
          process.stderr.write(`probe: REGRESSED ${outcome.regressed.map((r) => `${r.task} (${r.baseline.toFixed(4)} -> ${r.current.toFixed(4)})`).join(', ')}\n`);
          process.exitCode = 2;
        } else process.stderr.write('probe: no regression\n');
      } finally {
        opened.close();
      }
    });
}
