/** `halo-forge verify`: run a verifier over a samples JSONL; prints pass rate, reward histogram and samples/s. */
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { HaloError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { defaultWorkers, mapOrdered, verifySafely } from '../verifiers/pool.js';
import { createVerifier, VERIFIER_NAMES } from '../verifiers/registry.js';
import type { Sample, VerifyResult } from '../verifiers/types.js';
import type { LanguageName } from '../verifiers/code/languages.js';
import type { MatchMode } from '../verifiers/code/match.js';
import type { SandboxMode } from '../verifiers/sandbox.js';

interface VerifyCliOptions {
  verifier: string;
  input: string;
  output?: string;
  workers: string;
  sandbox: string;
  timeout: string;
  mode?: 'compile' | 'run';
  match?: string;
  language?: string;
  problems?: string;
  testsField?: string;
  answerField?: string;
  verifierCmd?: string;
  successRegex?: string;
  rewardRegex?: string;
  mount: string[];
  verifierModule?: string;
}

function readSamples(path: string): Sample[] {
  if (!existsSync(path)) throw new HaloError('VERIFY_INPUT', `--input ${path} does not exist`, { fix: 'pass a JSONL file with one sample (prompt record + "completion") per line' });
  const samples: Sample[] = [];
  readFileSync(path, 'utf8').split('\n').forEach((line, index) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new HaloError('VERIFY_INPUT', `${path}:${index + 1} is not valid JSON (${(error as Error).message})`, { fix: 'write one JSON object per line' });
    }
    if (value === null || typeof value !== 'object' || typeof (value as { completion?: unknown }).completion !== 'string') {
      throw new HaloError('VERIFY_INPUT', `${path}:${index + 1} has no string field "completion"`, { fix: 'each sample is the prompt record plus the model output in "completion"' });
    }
    samples.push(value as Sample);
  });
  return samples;
}

function positiveInt(value: string, flag: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new HaloError('VERIFY_OPTION', `${flag} ${value} is not a positive integer`, { fix: `e.g. ${flag} 4` });
  return parsed;
}

export function histogram(results: VerifyResult[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const value of results) counts.set(value.reward, (counts.get(value.reward) ?? 0) + 1);
  return new Map([...counts.entries()].sort((a, b) => a[0] - b[0]));
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('score samples with a verifier (sandboxed for code): pass rate, reward histogram, samples/s')
    .requiredOption('--verifier <name>', `verifier: ${VERIFIER_NAMES.join(', ')}, or chain:a,b / weighted:a=0.7,b=0.3 (required)`)
    .requiredOption('--input <file>', 'samples JSONL: the prompt record fields plus "completion" (required)')
    .option('--output <file>', 'write one result per line here, in input order (default: not written)')
    .option('--workers <n>', 'concurrent verifications (default: number of cores)', String(defaultWorkers()))
    .option('--sandbox <mode>', 'bwrap (bubblewrap isolation) or none (no isolation; warns every run) (default: bwrap)', 'bwrap')
    .option('--timeout <ms>', 'wall timeout per program run in ms (default: 10000)', '10000')
    .option('--mode <mode>', 'compiled verifiers: compile or run (default: compile; execution: run)')
    .option('--match <mode>', 'output comparison for cases: exact, contains, regex, numeric (default: exact)')
    .option('--language <lang>', 'execution / command verifier language: python, c, cpp, rust, go, ... (default: python)')
    .option('--problems <file>', 'humaneval: HumanEval.jsonl to look problems up by task_id (default: use the sample fields)')
    .option('--tests-field <field>', 'sample field with the tests or cases (default: tests)')
    .option('--answer-field <field>', 'math: sample field with the expected answer (default: answer)')
    .option('--verifier-cmd <template>', 'command verifier: shell command with {file} (default: none)')
    .option('--success-regex <regex>', 'command verifier: stdout regex meaning success (default: none)')
    .option('--reward-regex <regex>', 'command verifier: regex whose first group is the reward (default: 1.0 on success)')
    .option('--mount <dir>', 'command verifier: host folder visible read-only in the sandbox; repeatable (default: none)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--verifier-module <file>', 'module verifier: JS module exporting verify(sample) (default: none)')
    .action(async (options: VerifyCliOptions) => {
      const samples = readSamples(options.input);
      const workers = positiveInt(options.workers, '--workers');
      const verifier = await createVerifier(options.verifier, {
        sandboxMode: options.sandbox as SandboxMode,
        onWarning: (message) => process.stderr.write(`${message}\n`),
        workers,
        timeoutMs: positiveInt(options.timeout, '--timeout'),
        mode: options.mode,
        match: options.match as MatchMode | undefined,
        language: options.language as LanguageName | undefined,
        problemsFile: options.problems,
        testsField: options.testsField,
        answerField: options.answerField,
        command: options.verifierCmd,
        successRegex: options.successRegex,
        rewardRegex: options.rewardRegex,
        mounts: options.mount,
        modulePath: options.verifierModule,
      });
      const started = performance.now();
      const results: VerifyResult[] = [];
      for await (const value of mapOrdered(samples, (sample) => verifySafely(verifier, sample), workers)) {
        results.push(value);
        if (process.stderr.isTTY) process.stderr.write(`\rverified ${results.length}/${samples.length}`);
      }
      if (process.stderr.isTTY) process.stderr.write('\n');
      const seconds = (performance.now() - started) / 1000;
      await verifier.close?.();
      if (options.output) writeFileAtomic(options.output, results.map((value) => JSON.stringify(value)).join('\n') + (results.length ? '\n' : ''));
      const passed = results.filter((value) => value.success).length;
      const mean = results.reduce((sum, value) => sum + value.reward, 0) / Math.max(1, results.length);
      process.stdout.write(`verifier ${verifier.name}: ${passed}/${results.length} passed (${((100 * passed) / Math.max(1, results.length)).toFixed(1)} %), mean reward ${mean.toFixed(3)}\n`);
      process.stdout.write('reward histogram:\n');
      for (const [reward, count] of histogram(results)) process.stdout.write(`  ${reward.toFixed(2).padStart(5)}  ${String(count).padStart(6)}  ${'#'.repeat(Math.max(1, Math.round((40 * count) / results.length)))}\n`);
      process.stdout.write(`${(results.length / Math.max(seconds, 1e-9)).toFixed(1)} samples/s (${workers} workers, ${seconds.toFixed(2)} s)\n`);
    });
}
