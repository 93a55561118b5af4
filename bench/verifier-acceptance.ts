/**
 * The verifier acceptance runs on the real datasets in ../shared/datasets (or HALO_FORGE_DATA_DIR):
 * shared by test/verifiers and `npm run -s proof:verifiers`. Each returns counts plus failures.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CompiledVerifier } from '../src/verifiers/code/compiled.js';
import { HumanEvalVerifier, MbppVerifier } from '../src/verifiers/code/python-tests.js';
import { MathVerifier } from '../src/verifiers/math/math.js';
import type { Sandbox } from '../src/verifiers/sandbox.js';
import { formatHermesCall } from '../src/verifiers/tools/parse.js';
import { ToolCallVerifier } from '../src/verifiers/tools/tools.js';
import type { Sample, VerifyResult } from '../src/verifiers/types.js';

/** The datasets folder, or null (callers skip with a notice). dist/bench/x.js -> repo root is ../.. */
export function datasetsDir(): string | null {
  const fromEnv = process.env.HALO_FORGE_DATA_DIR;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [resolve(here, '../../../shared/datasets'), resolve(here, '../../shared/datasets')]) if (existsSync(candidate)) return candidate;
  return null;
}

export function readJsonl<T>(path: string): T[] {
  return readFileSync(path, 'utf8').split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as T);
}

export interface Failure {
  id: string;
  reason: string;
}

export interface Count {
  passed: number;
  total: number;
  failures: Failure[];
  seconds: number;
}

function tally(results: VerifyResult[], ids: string[], ok: (result: VerifyResult) => boolean, started: number): Count {
  const failures = results.flatMap((value, index) => (ok(value) ? [] : [{ id: ids[index], reason: value.details.slice(0, 200) }]));
  return { passed: results.length - failures.length, total: results.length, failures, seconds: (performance.now() - started) / 1000 };
}

interface HumanEvalRow { task_id: string; prompt: string; canonical_solution: string; test: string; entry_point: string }

export async function humanEval(dir: string, sandbox: Sandbox, completion: 'canonical' | 'return-none', workers?: number): Promise<Count> {
  const rows = readJsonl<HumanEvalRow>(join(dir, 'humaneval/HumanEval.jsonl'));
  const verifier = new HumanEvalVerifier({ sandbox, problemsFile: join(dir, 'humaneval/HumanEval.jsonl'), workers });
  const started = performance.now();
  const samples = rows.map((row) => ({ task_id: row.task_id, completion: completion === 'canonical' ? row.canonical_solution : '    return None\n' }));
  return tally(await verifier.verifyBatch(samples), rows.map((row) => row.task_id), (value) => value.success, started);
}

interface MbppTests { task_id: number; tests: string; entry_point: string }
interface MbppSolution { task_id: number; solution: string }

export async function mbppTrain(dir: string, sandbox: Sandbox, workers?: number): Promise<Count> {
  const tests = new Map(readJsonl<MbppTests>(join(dir, 'mbpp/mbpp_train_full.jsonl')).map((row) => [row.task_id, row]));
  const solutions = readJsonl<MbppSolution>(join(dir, 'mbpp/mbpp_train_solutions.jsonl')).filter((row) => tests.has(row.task_id));
  const verifier = new MbppVerifier({ sandbox, workers });
  const started = performance.now();
  const samples: Sample[] = solutions.map((row) => ({ ...tests.get(row.task_id)!, completion: row.solution }));
  return tally(await verifier.verifyBatch(samples), solutions.map((row) => String(row.task_id)), (value) => value.success, started);
}

interface CodeforcesRow { title: string; response: string }

/** limit: a deterministic subset (every k-th row) for the test suite; undefined = all 500. */
export function codeforcesSamples(dir: string, limit?: number): { ids: string[]; samples: Sample[] } {
  const rows = readJsonl<CodeforcesRow>(join(dir, 'codeforces_cpp/codeforces_cpp_500.jsonl'));
  const step = limit ? Math.max(1, Math.floor(rows.length / limit)) : 1;
  const chosen = rows.map((row, index) => ({ row, index })).filter(({ index }) => index % step === 0).slice(0, limit ?? rows.length);
  return { ids: chosen.map(({ row, index }) => `${index}:${row.title}`), samples: chosen.map(({ row }) => ({ completion: row.response })) };
}

export async function codeforcesCompile(dir: string, sandbox: Sandbox, limit?: number, workers?: number): Promise<Count> {
  const { ids, samples } = codeforcesSamples(dir, limit);
  const verifier = new CompiledVerifier({ sandbox, language: 'cpp', mode: 'compile', workers });
  const started = performance.now();
  return tally(await verifier.verifyBatch(samples), ids, (value) => value.reward >= 0.5, started);
}

interface Gsm8kRow { question: string; answer: string }

export async function gsm8k(dir: string, variant: 'own' | 'plus-one'): Promise<Count> {
  const rows = readJsonl<Gsm8kRow>(join(dir, 'gsm8k/test.jsonl'));
  const samples = rows.map((row) => {
    if (variant === 'own') return { ...row, completion: row.answer };
    const final = /####\s*([^\n]+)$/.exec(row.answer)![1];
    const bumped = Number(final.replace(/,/g, '')) + 1;
    return { ...row, completion: row.answer.replace(/####\s*[^\n]+$/, `#### ${bumped}`) };
  });
  const started = performance.now();
  const results = await new MathVerifier().verifyBatch(samples);
  return tally(results, rows.map((_, index) => `test:${index}`), (value) => value.success, started);
}

interface BfclQuestion { id: string; function: { name: string; parameters: { required?: string[] } }[] }
interface BfclAnswer { id: string; ground_truth: Record<string, Record<string, unknown[]>>[] }

/** Nested BFCL values hold lists of acceptable values per key: take the first (omit when it is ""). */
function firstAcceptable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(firstAcceptable);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown[]>).flatMap(([key, options]) => (options[0] === '' ? [] : [[key, firstAcceptable(options[0])]])));
  }
  return value;
}

export type BfclVariant = 'ground-truth' | 'wrong-function' | 'missing-required';

/** Hermes-formatted ground truth: per argument its first acceptable value ("" = omit, unless the schema requires it: then the first real value). */
export async function bfcl(dir: string, variant: BfclVariant): Promise<Count & { rewards: number[] }> {
  const questions = readJsonl<BfclQuestion>(join(dir, 'bfcl/simple_python.json'));
  const answers = new Map(readJsonl<BfclAnswer>(join(dir, 'bfcl/simple_python_answers.json')).map((row) => [row.id, row]));
  const samples: Sample[] = [];
  const ids: string[] = [];
  for (const question of questions) {
    const truth = answers.get(question.id)!.ground_truth;
    const name = Object.keys(truth[0])[0];
    const required = new Set(question.function[0].parameters.required ?? []);
    const args: Record<string, unknown> = {};
    for (const [key, options] of Object.entries(truth[0][name])) {
      const first = options[0] === '' && required.has(key) ? options.find((option) => option !== '') : options[0];
      if (first !== '' && first !== undefined) args[key] = firstAcceptable(first);
    }
    if (variant === 'missing-required') {
      const drop = [...required].find((key) => key in args);
      if (drop === undefined) continue;
      delete args[drop];
    }
    const callName = variant === 'wrong-function' ? `${name}_other` : name;
    samples.push({ ...question, ground_truth: truth, completion: formatHermesCall({ name: callName, arguments: args }) });
    ids.push(question.id);
  }
  const want = variant === 'ground-truth' ? 1.0 : variant === 'wrong-function' ? 0.25 : 0.5;
  const started = performance.now();
  const results = await new ToolCallVerifier().verifyBatch(samples);
  return { ...tally(results, ids, (value) => value.reward === want, started), rewards: results.map((value) => value.reward) };
}
