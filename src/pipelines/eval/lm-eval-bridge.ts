/**
 * The lm-eval bridge (--backend hf|vllm): runs lm-evaluation-harness's `lm_eval` CLI on the model
 * and reads back the results JSON it writes under --output_path. When `lm_eval` is not installed
 * the run stops with one line saying how to install it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { HaloError } from '../../util/errors.js';
import type { EvalBackend, EvalRunner, RunnerOutput } from './types.js';

/** lm_eval --model for each bridged backend. */
const LM_EVAL_MODELS: Partial<Record<EvalBackend, string>> = { hf: 'hf', vllm: 'vllm' };

export const LM_EVAL_INSTALL_HINT = 'lm_eval is not installed: pip install "lm-eval[hf]" (add vllm for --backend vllm), or use --backend native';

/** The lm_eval executable on PATH (or $HALO_FORGE_LM_EVAL), undefined when absent. */
export function findLmEval(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.HALO_FORGE_LM_EVAL) return existsSync(env.HALO_FORGE_LM_EVAL) ? env.HALO_FORGE_LM_EVAL : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'lm_eval');
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function requireLmEval(backend: EvalBackend, env: NodeJS.ProcessEnv = process.env): string {
  if (LM_EVAL_MODELS[backend] === undefined) {
    throw new HaloError('EVAL_BACKEND', `--backend ${backend}: not bridged to lm_eval in this version`, { fix: 'use --backend native, hf or vllm' });
  }
  const executable = findLmEval(env);
  if (executable === undefined) throw new HaloError('LM_EVAL_MISSING', LM_EVAL_INSTALL_HINT);
  return executable;
}

/** Every results_*.json below a folder, newest last. */
function resultFiles(directory: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/^results.*\.json$/.test(entry.name)) found.push(path);
    }
  };
  walk(directory);
  return found.sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
}

/** lm_eval's results JSON -> per-task metrics ("metric,filter" keys, stderr and alias dropped). */
export function parseLmEvalResults(json: unknown, tasks: readonly string[]): RunnerOutput {
  const root = (json ?? {}) as { results?: Record<string, Record<string, unknown>>; 'n-samples'?: Record<string, { effective?: number; original?: number }> };
  const output: RunnerOutput = { results: {}, raw: { lm_eval: json } };
  for (const task of tasks) {
    const entry = root.results?.[task];
    if (entry === undefined) {
      output.results[task] = { error: `lm_eval reported no results for ${task}` };
      continue;
    }
    const metrics: Record<string, number> = {};
    for (const [key, value] of Object.entries(entry)) {
      if (key === 'alias' || key.includes('_stderr') || typeof value !== 'number' || !Number.isFinite(value)) continue;
      metrics[key] = value;
    }
    const counts = root['n-samples']?.[task];
    output.results[task] = { metrics, nSamples: counts?.effective ?? counts?.original ?? 0 };
  }
  return output;
}

export interface LmEvalBridgeOptions {
  backend: EvalBackend;
  model: string;
  env?: NodeJS.ProcessEnv;
  /** lines of lm_eval's output, as they come */
  onLog?: (line: string) => void;
}

export function createLmEvalRunner(options: LmEvalBridgeOptions): EvalRunner {
  const env = options.env ?? process.env;
  const executable = requireLmEval(options.backend, env);
  return async (tasks, runOptions) => {
    const outputDir = mkdtempSync(join(tmpdir(), 'halo-lm-eval-'));
    try {
      const args = ['--model', LM_EVAL_MODELS[options.backend]!, '--model_args', `pretrained=${options.model}`, '--tasks', tasks.join(','), '--output_path', outputDir];
      if (runOptions.limit !== undefined) args.push('--limit', String(runOptions.limit));
      if (runOptions.numFewshot !== undefined) args.push('--num_fewshot', String(runOptions.numFewshot));
      if (runOptions.batchSize !== undefined) args.push('--batch_size', String(runOptions.batchSize));
      const code = await new Promise<number>((resolvePromise, reject) => {
        const child = spawn(executable, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
        const forward = (chunk: Buffer): void => {
          for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') options.onLog?.(line);
        };
        child.stdout.on('data', forward);
        child.stderr.on('data', forward);
        child.on('error', reject);
        child.on('close', (exitCode) => resolvePromise(exitCode ?? 1));
      });
      const files = resultFiles(outputDir);
      if (files.length === 0) {
        const message = `lm_eval exited with code ${code} and wrote no results`;
        return { results: Object.fromEntries(tasks.map((task) => [task, { error: message }])), raw: { exit_code: code } };
      }
      return parseLmEvalResults(JSON.parse(readFileSync(files[files.length - 1], 'utf8')), tasks);
    } finally {
      rmSync(outputDir, { recursive: true, force: true });
    }
  };
}
