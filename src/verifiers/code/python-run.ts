/** Runs a Python program plus tests through the nonce-checked harness inside the sandbox. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { RunResult, Sandbox } from '../sandbox.js';
import { EVIDENCE_FILE, PYTHON_HARNESS } from './python-harness.js';

export interface HarnessOutcome {
  /** The program loaded and the harness finished every case with the right nonce. */
  completed: boolean;
  passed: number;
  total: number;
  failures: string[];
  run: RunResult;
  /** Why there is no valid evidence, when completed is false. */
  problem?: string;
}

export interface HarnessInput {
  program: string;
  tests: string;
  testFunction: string;
  /** Names (in the program's namespace) bound to the test function's parameters, e.g. [entry_point]. */
  testArgs: string[];
  /** Count every statement of the test function as a case (a call per test function), not only asserts. */
  everyStatementIsCase?: boolean;
  timeoutMs?: number;
}

export const PYTHON = 'python3';

export async function runPythonHarness(sandbox: Sandbox, input: HarnessInput): Promise<HarnessOutcome> {
  const workDir = sandbox.makeWorkDir();
  try {
    writeFileSync(join(workDir, 'harness.py'), PYTHON_HARNESS);
    const nonce = randomBytes(16).toString('hex');
    const payload = JSON.stringify({ program: input.program, tests: input.tests, test_function: input.testFunction, test_args: input.testArgs, every_statement_is_case: input.everyStatementIsCase ?? false });
    const run = await sandbox.run({ argv: [PYTHON, '-I', '-B', 'harness.py'], workDir, stdin: `${nonce}\n${payload}`, timeoutMs: input.timeoutMs, limits: { addressSpaceBytes: 1024 ** 3 } });
    const evidence = readEvidence(join(workDir, EVIDENCE_FILE));
    const base = { run, passed: 0, total: 0, failures: [] as string[] };
    if (run.timedOut) return { ...base, completed: false, problem: `timed out after ${Math.round(run.wallMs)} ms` };
    if (!evidence) return { ...base, completed: false, problem: `no harness evidence (exit ${run.exitCode ?? run.signal}): ${lastLine(run.stderr)}` };
    if (evidence.nonce !== nonce) return { ...base, completed: false, problem: 'harness evidence carries the wrong nonce (forged)' };
    if (run.exitCode !== 0) return { ...base, completed: false, problem: `process exited ${run.exitCode ?? run.signal} after the harness finished` };
    const passed = typeof evidence.passed === 'number' ? evidence.passed : 0;
    const total = typeof evidence.total === 'number' ? evidence.total : 0;
    const failures = Array.isArray(evidence.failures) ? evidence.failures.map(String) : [];
    return { completed: true, passed, total, failures, run };
  } finally {
    sandbox.removeWorkDir(workDir);
  }
}

interface Evidence {
  nonce?: unknown;
  passed?: unknown;
  total?: unknown;
  failures?: unknown;
}

function readEvidence(path: string): Evidence | null {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return parsed !== null && typeof parsed === 'object' ? (parsed as Evidence) : null;
  } catch {
    return null;
  }
}

export function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}
