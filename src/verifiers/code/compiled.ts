/**
 * Compiled and run verifiers: gcc, g++, clang, mingw (cross-compile only), rust, go, python,
 * dotnet, pwsh, and `execution` (stdin / expected-stdout cases). Compilation runs in the sandbox too.
 * Ladder: 0 fail, 0.3 compiles with warnings, 0.5 compiles clean, 0.7 runs (exit 0),
 * 1.0 correct output; with cases 0.5 + 0.5 x passed/total. The host compares outputs itself,
 * so a program's exit code or its own claims never count as a pass.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HaloError } from '../../util/errors.js';
import { BaseVerifier } from '../pool.js';
import type { ResourceLimits, RunResult, Sandbox } from '../sandbox.js';
import { result, type Sample, type VerifyResult } from '../types.js';
import { extractCode } from './extract.js';
import { buildPlan, checkToolchain, type LanguageName } from './languages.js';
import { outputMatches, type MatchMode } from './match.js';
import { stdcxxPch } from './pch.js';
import { lastLine } from './python-run.js';

export interface TestCase {
  input: string;
  output: string;
}

export interface CompiledOptions {
  sandbox: Sandbox;
  language: LanguageName;
  /** compile: stop after compiling; run: also run (with cases when the sample has them). */
  mode?: 'compile' | 'run';
  match?: MatchMode;
  timeoutMs?: number;
  compileTimeoutMs?: number;
  workers?: number;
  /** Sample field holding [{input, output}] cases (default "tests"; also reads "test_cases"). */
  casesField?: string;
  /** Sample field holding one expected stdout for a run with empty stdin (default "expected_output"). */
  expectedField?: string;
}

const COMPILE_LIMITS: Partial<ResourceLimits> = { cpuSeconds: 60, addressSpaceBytes: 8 * 1024 ** 3, maxProcesses: 256, maxFileBytes: 256 * 1024 ** 2 };
/** Reward per rung of the ladder (docs/verifiers.md). */
export const LADDER = { fail: 0, warnings: 0.3, clean: 0.5, runs: 0.7, correct: 1.0 } as const;

function readCases(sample: Sample, field: string): TestCase[] | null {
  const raw = sample[field] ?? (field === 'tests' ? sample.test_cases : undefined);
  if (raw === undefined) return null;
  if (!Array.isArray(raw)) throw new HaloError('VERIFY_SAMPLE', `field "${field}" must be a list of {input, output} cases`, { fix: 'write cases as [{"input": "...", "output": "..."}]' });
  return raw.map((entry, index) => {
    const item = entry as { input?: unknown; output?: unknown; stdin?: unknown; expected_output?: unknown };
    const input = item.input ?? item.stdin ?? '';
    const output = item.output ?? item.expected_output;
    if (typeof input !== 'string' || typeof output !== 'string') {
      throw new HaloError('VERIFY_SAMPLE', `case ${index} of field "${field}" needs string "input" and "output"`, { fix: 'write cases as [{"input": "...", "output": "..."}]' });
    }
    return { input, output };
  });
}

export class CompiledVerifier extends BaseVerifier {
  readonly name: string;

  constructor(private readonly options: CompiledOptions, name?: string) {
    super(options.workers);
    checkToolchain(options.language);
    this.name = name ?? options.language;
  }

  async verify(sample: Sample): Promise<VerifyResult> {
    const { sandbox } = this.options;
    const probe = extractCode(sample.completion, this.options.language === 'clang' ? 'cpp' : buildPlan(this.options.language, '').extractAs);
    const plan = buildPlan(this.options.language, probe.code);
    const extracted = plan.extractAs === 'cpp' || plan.extractAs === 'c' ? extractCode(sample.completion, plan.extractAs) : probe;
    const cases = readCases(sample, this.options.casesField ?? 'tests');
    const expectedField = this.options.expectedField ?? 'expected_output';
    const expected = typeof sample[expectedField] === 'string' ? (sample[expectedField] as string) : null;
    const metadata: Record<string, unknown> = { extraction: extracted.rule, language: this.options.language, source: plan.source, sandbox: sandbox.mode };
    const workDir = sandbox.makeWorkDir();
    try {
      writeFileSync(join(workDir, plan.source), extracted.code);
      for (const [name, text] of Object.entries(plan.extraFiles ?? {})) writeFileSync(join(workDir, name), text);
      let compileReward: number = LADDER.clean;
      if (plan.compile && this.options.language === 'cpp' && /#\s*include\s*<bits\/stdc\+\+\.h>/.test(extracted.code)) {
        // Same flags as the compile (minus output and source) so g++ accepts the precompiled header.
        const flags = plan.compile.slice(1, plan.compile.indexOf('-o'));
        const pchDir = await stdcxxPch(plan.compile[0], flags);
        if (pchDir) {
          plan.compile.splice(1, 0, '-I', pchDir);
          plan.readOnlyPaths = [...(plan.readOnlyPaths ?? []), pchDir];
          metadata.precompiledHeader = true;
        }
      }
      if (plan.compile) {
        const build = await sandbox.run({ argv: plan.compile, workDir, env: plan.env, readOnlyPaths: plan.readOnlyPaths, limits: COMPILE_LIMITS, timeoutMs: this.options.compileTimeoutMs ?? 60_000 });
        metadata.compileMs = Math.round(build.wallMs);
        if (build.timedOut || build.exitCode !== 0) {
          return result(false, LADDER.fail, build.timedOut ? 'compilation timed out' : `compilation failed: ${firstError(build.stderr)}`, { ...metadata, compilerOutput: build.stderr.slice(0, 4000) }, 'compile error');
        }
        const warned = plan.warnings && /\bwarning\b/i.test(build.stderr);
        metadata.warnings = warned;
        compileReward = warned ? LADDER.warnings : LADDER.clean;
      }
      const compiledDetails = compileReward === LADDER.warnings ? 'compiles with warnings' : 'compiles clean';
      if (this.options.mode !== 'run' || !plan.run) {
        // Compile-only (and cross-compiled mingw): success means it compiles.
        return result(true, compileReward, compiledDetails, metadata);
      }
      const timeoutMs = this.options.timeoutMs;
      if (cases && cases.length > 0) {
        let passed = 0;
        const failures: string[] = [];
        for (const [index, testCase] of cases.entries()) {
          const run = await sandbox.run({ argv: plan.run, workDir, stdin: testCase.input, env: plan.env, readOnlyPaths: plan.readOnlyPaths, timeoutMs });
          if (caseOk(run, testCase.output, this.options.match ?? 'exact')) passed++;
          else if (failures.length < 3) failures.push(`case ${index}: ${describeRun(run)}`);
        }
        metadata.passed = passed;
        metadata.total = cases.length;
        metadata.failures = failures;
        const reward = passed === 0 ? compileReward : 0.5 + 0.5 * (passed / cases.length);
        return result(passed === cases.length, reward, `${compiledDetails}; ${passed}/${cases.length} cases passed`, metadata);
      }
      const run = await sandbox.run({ argv: plan.run, workDir, stdin: typeof sample.stdin === 'string' ? sample.stdin : '', env: plan.env, readOnlyPaths: plan.readOnlyPaths, timeoutMs });
      metadata.runMs = Math.round(run.wallMs);
      if (run.timedOut || run.exitCode !== 0) return result(false, compileReward, `${compiledDetails}; run failed: ${describeRun(run)}`, metadata);
      if (expected === null) return result(false, LADDER.runs, `${compiledDetails}; runs (no expected output to check)`, metadata);
      const correct = outputMatches(run.stdout, expected, this.options.match ?? 'exact') && !run.stdoutTruncated;
      return result(correct, correct ? LADDER.correct : LADDER.runs, correct ? 'correct output' : 'runs, wrong output', metadata);
    } finally {
      sandbox.removeWorkDir(workDir);
    }
  }
}

function caseOk(run: RunResult, expected: string, mode: MatchMode): boolean {
  return !run.timedOut && run.exitCode === 0 && !run.stdoutTruncated && outputMatches(run.stdout, expected, mode);
}

function describeRun(run: RunResult): string {
  if (run.timedOut) return `timed out after ${Math.round(run.wallMs)} ms`;
  if (run.exitCode !== 0) return `exit ${run.exitCode ?? run.signal}: ${lastLine(run.stderr)}`;
  return `wrong output (${JSON.stringify(run.stdout.slice(0, 80))})`;
}

function firstError(stderr: string): string {
  const line = stderr.split('\n').find((text) => /error/i.test(text)) ?? lastLine(stderr);
  return line.slice(0, 300);
}
