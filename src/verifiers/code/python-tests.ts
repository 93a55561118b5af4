/**
 * Python verifiers that run tests through the nonce-checked harness: humaneval (prompt + completion
 * + test + check(entry_point), the problem looked up by task_id), mbpp (solution + test_solution()).
 * Reward: 0 when the program does not load or the run dies; otherwise 0.5 + 0.5 x passed/total.
 */
import { readFileSync } from 'node:fs';
import { HaloError } from '../../util/errors.js';
import { BaseVerifier } from '../pool.js';
import type { Sandbox } from '../sandbox.js';
import { fieldString, result, type Sample, type VerifyResult } from '../types.js';
import { extractCode } from './extract.js';
import { runPythonHarness, type HarnessOutcome } from './python-run.js';

export function testReward(outcome: HarnessOutcome): VerifyResult {
  const metadata = { passed: outcome.passed, total: outcome.total, wallMs: Math.round(outcome.run.wallMs), sandbox: outcome.run.mode };
  if (!outcome.completed) return result(false, 0, outcome.problem ?? 'no evidence', metadata, outcome.problem);
  if (outcome.total === 0) return result(false, 0, 'the tests hold no assert', metadata, 'no test cases');
  const success = outcome.passed === outcome.total;
  const reward = 0.5 + 0.5 * (outcome.passed / outcome.total);
  const details = success ? `all ${outcome.total} test cases passed` : `${outcome.passed}/${outcome.total} test cases passed; ${outcome.failures[0] ?? ''}`;
  return result(success, reward, details, { ...metadata, failures: outcome.failures });
}

interface HumanEvalProblem {
  task_id: string;
  prompt: string;
  test: string;
  entry_point: string;
}

export interface HumanEvalOptions {
  sandbox: Sandbox;
  /** HumanEval.jsonl: problems are looked up by the sample's task_id (trusted over the sample's own fields). */
  problemsFile?: string;
  timeoutMs?: number;
  workers?: number;
}

export class HumanEvalVerifier extends BaseVerifier {
  readonly name = 'humaneval';
  private readonly problems = new Map<string, HumanEvalProblem>();

  constructor(private readonly options: HumanEvalOptions) {
    super(options.workers);
    if (options.problemsFile) {
      readFileSync(options.problemsFile, 'utf8').split('\n').forEach((line, index) => {
        if (!line.trim()) return;
        let row: HumanEvalProblem;
        try {
          row = JSON.parse(line) as HumanEvalProblem;
        } catch {
          throw new HaloError('VERIFY_PROBLEMS', `${options.problemsFile}:${index + 1} is not valid JSON`, { fix: 'pass HumanEval.jsonl (one problem per line)' });
        }
        this.problems.set(row.task_id, row);
      });
    }
  }

  private problemFor(sample: Sample): HumanEvalProblem {
    const taskId = fieldString(sample, 'task_id');
    if (taskId && this.problems.has(taskId)) return this.problems.get(taskId)!;
    const prompt = fieldString(sample, 'prompt');
    const test = fieldString(sample, 'test');
    const entry = fieldString(sample, 'entry_point');
    if (prompt === undefined || test === undefined || entry === undefined) {
      throw new HaloError('VERIFY_SAMPLE', `humaneval sample ${taskId ?? '(no task_id)'} has no prompt/test/entry_point and its task_id is not in the problems file`, {
        fix: 'include the HumanEval record fields in the sample or pass --problems HumanEval.jsonl',
      });
    }
    return { task_id: taskId ?? '', prompt, test, entry_point: entry };
  }

  async verify(sample: Sample): Promise<VerifyResult> {
    const problem = this.problemFor(sample);
    const extracted = extractCode(sample.completion, 'python');
    // A completion that defines the entry point is a whole function; otherwise it continues the prompt's body.
    const definesEntry = new RegExp(`^\\s*def\\s+${problem.entry_point}\\s*\\(`, 'm').test(extracted.code);
    const program = definesEntry ? `${problem.prompt}\n    pass\n\n${extracted.code}` : `${problem.prompt}${extracted.rule === 'whole-completion' ? sample.completion : extracted.code}`;
    const outcome = await runPythonHarness(this.options.sandbox, { program, tests: problem.test, testFunction: 'check', testArgs: [problem.entry_point], timeoutMs: this.options.timeoutMs });
    const verdict = testReward(outcome);
    verdict.metadata.extraction = definesEntry ? extracted.rule : `${extracted.rule}+prompt-body`;
    verdict.metadata.task_id = problem.task_id;
    return verdict;
  }
}

export interface MbppOptions {
  sandbox: Sandbox;
  timeoutMs?: number;
  workers?: number;
  /** Field holding the `def test_solution():` asserts (default "tests"). */
  testsField?: string;
}

export class MbppVerifier extends BaseVerifier {
  readonly name = 'mbpp';

  constructor(private readonly options: MbppOptions) {
    super(options.workers);
  }

  async verify(sample: Sample): Promise<VerifyResult> {
    const field = this.options.testsField ?? 'tests';
    let tests = sample[field];
    if (Array.isArray(tests)) tests = `def test_solution():\n${tests.map((line) => `    ${String(line)}`).join('\n')}\n`;
    if (typeof tests !== 'string') {
      throw new HaloError('VERIFY_SAMPLE', `mbpp sample ${String(sample.task_id ?? '')} has no "${field}" field (a def test_solution() of asserts, or a list of assert lines)`, { fix: `add the tests to each sample or point --tests-field at them` });
    }
    const extracted = extractCode(sample.completion, 'python');
    const testFunction = /^def\s+(test_\w*)\s*\(/m.exec(tests)?.[1] ?? 'test_solution';
    const outcome = await runPythonHarness(this.options.sandbox, { program: extracted.code, tests, testFunction, testArgs: [], timeoutMs: this.options.timeoutMs });
    const verdict = testReward(outcome);
    verdict.metadata.extraction = extracted.rule;
    return verdict;
  }
}

export interface PythonTestsOptions {
  sandbox: Sandbox;
  timeoutMs?: number;
  workers?: number;
  testsField?: string;
}

/**
 * Generic Python verifier: the sample's tests are pytest-style `def test_*()` functions (no
 * fixtures) and/or unittest.TestCase classes; each test function or method is one case, run by the
 * harness after the candidate's code is loaded into the same namespace.
 */
export class PythonTestsVerifier extends BaseVerifier {
  readonly name = 'python';

  constructor(private readonly options: PythonTestsOptions) {
    super(options.workers);
  }

  async verify(sample: Sample): Promise<VerifyResult> {
    const field = this.options.testsField ?? 'tests';
    const tests = sample[field];
    if (typeof tests !== 'string') throw new HaloError('VERIFY_SAMPLE', `python sample has no "${field}" string with test functions`, { fix: 'put pytest-style def test_*() functions or unittest.TestCase classes in the tests field' });
    const calls: string[] = [];
    for (const match of tests.matchAll(/^def\s+(test\w*)\s*\(\s*\)/gm)) calls.push(`    ${match[1]}()`);
    for (const cls of tests.matchAll(/^class\s+(\w+)\s*\([^)]*TestCase[^)]*\)\s*:([\s\S]*?)(?=^\S|$(?![\s\S]))/gm)) {
      for (const method of cls[2].matchAll(/^\s+def\s+(test\w*)\s*\(\s*self\s*\)/gm)) calls.push(`    ${cls[1]}(${JSON.stringify(method[1])}).debug()`);
    }
    if (calls.length === 0) return result(false, 0, 'the tests define no test functions', {}, 'no tests');
    const runner = `${tests}\n\ndef __halo_run_tests():\n${calls.join('\n')}\n`;
    const extracted = extractCode(sample.completion, 'python');
    const outcome = await runPythonHarness(this.options.sandbox, { program: extracted.code, tests: runner, testFunction: '__halo_run_tests', testArgs: [], everyStatementIsCase: true, timeoutMs: this.options.timeoutMs });
    const verdict = testReward(outcome);
    verdict.metadata.extraction = extracted.rule;
    return verdict;
  }
}
