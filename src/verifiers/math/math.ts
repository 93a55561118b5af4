/**
 * Math verifier: extracts the final answer, normalises it, and compares with the expected answer
 * numerically (1e-6 relative / absolute) or symbolically (simplify(a - b) = 0, or agreement at
 * seeded random points). Rewards: correct 1.0, wrong + work 0.2, no answer + work 0.2,
 * no answer and no work 0.1, wrong without work 0.0.
 */
import type { MathNode } from 'mathjs';
import { HaloError } from '../../util/errors.js';
import { Rng } from '../../util/rng.js';
import { SyncVerifier } from '../pool.js';
import { result, type Sample, type VerifyResult } from '../types.js';
import { extractAnswer, normalizeAnswer } from './answer.js';
import { evaluateNode, freeVariables, parseExpression, simplifiesToZero } from './restricted.js';

export const MATH_REWARDS = { correct: 1.0, wrongWithWork: 0.2, noAnswerWithWork: 0.2, noAnswerNoWork: 0.1, wrongNoWork: 0.0 } as const;

export interface MathOptions {
  /** Sample field holding the expected answer (default "answer"; text after "####" or in \boxed{} is used when present). */
  answerField?: string;
  tolerance?: number;
  workers?: number;
  seed?: number;
}

/** The values an answer may stand for: "50%" is 50 or 0.5. */
function candidateValues(text: string): { nodes: MathNode[]; percent: boolean } {
  const percent = /%\s*$/.test(text);
  const stripped = text.replace(/%\s*$/, '').trim();
  const node = parseExpression(stripped);
  if (!node) return { nodes: [], percent };
  const nodes = [node];
  if (percent) {
    const scaled = parseExpression(`(${stripped})/100`);
    if (scaled) nodes.push(scaled);
  }
  return { nodes, percent };
}

export function answersEquivalent(predicted: string, expected: string, tolerance = 1e-6, seed = 1234): boolean {
  const a = normalizeAnswer(predicted);
  const b = normalizeAnswer(expected);
  if (a === b && a.length > 0) return true;
  const left = candidateValues(a).nodes;
  const right = candidateValues(b).nodes;
  for (const x of left) {
    for (const y of right) {
      const variables = [...new Set([...freeVariables(x), ...freeVariables(y)])];
      if (variables.length === 0) {
        const u = evaluateNode(x);
        const v = evaluateNode(y);
        if (u !== null && v !== null && closeEnough(u, v, tolerance)) return true;
        continue;
      }
      if (simplifiesToZero(x, y)) return true;
      if (agreeAtRandomPoints(x, y, variables, tolerance, seed)) return true;
    }
  }
  return false;
}

/** Two integers must be equal (a relative tolerance would let 1000000 match 1000001); otherwise 1e-6 relative / absolute. */
function closeEnough(u: number, v: number, tolerance: number): boolean {
  if (Number.isInteger(u) && Number.isInteger(v)) return u === v;
  return Math.abs(u - v) <= tolerance * Math.max(1, Math.abs(v));
}

function agreeAtRandomPoints(x: MathNode, y: MathNode, variables: string[], tolerance: number, seed: number): boolean {
  const rng = new Rng(seed);
  let compared = 0;
  for (let trial = 0; trial < 20 && compared < 8; trial++) {
    const scope: Record<string, number> = {};
    for (const name of variables) scope[name] = 0.5 + rng.next() * 2.5;
    const u = evaluateNode(x, scope);
    const v = evaluateNode(y, scope);
    if (u === null || v === null) continue;
    if (Math.abs(u - v) > tolerance * Math.max(1, Math.abs(v))) return false;
    compared++;
  }
  return compared >= 5;
}

/** Work shown: at least 20 characters and four words of reasoning before the answer (or anywhere, when there is none). */
export function showsWork(completion: string, answerIndex: number | null): boolean {
  const before = (answerIndex === null ? completion : completion.slice(0, answerIndex)).trim();
  return before.length >= 20 && before.split(/\s+/).length >= 4;
}

export function expectedAnswer(sample: Sample, field: string): string {
  const raw = sample[field];
  if (typeof raw === 'number') return String(raw);
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new HaloError('VERIFY_SAMPLE', `math sample has no "${field}" field with the expected answer`, { fix: `add "${field}" to each sample or pass --answer-field` });
  }
  const hashes = /####\s*([^\n]+)/.exec(raw);
  if (hashes) return hashes[1].trim();
  const extracted = /\\boxed/.test(raw) ? extractAnswer(raw) : null;
  return extracted ? extracted.answer : raw.trim();
}

export class MathVerifier extends SyncVerifier {
  readonly name = 'math';

  constructor(private readonly options: MathOptions = {}) {
    super(options.workers);
  }

  verifyNow(sample: Sample): VerifyResult {
    const expected = expectedAnswer(sample, this.options.answerField ?? 'answer');
    const extracted = extractAnswer(sample.completion);
    const work = showsWork(sample.completion, extracted?.index ?? null);
    if (!extracted) {
      const reward = work ? MATH_REWARDS.noAnswerWithWork : MATH_REWARDS.noAnswerNoWork;
      return result(false, reward, work ? 'no final answer found (work shown)' : 'no final answer and no work', { expected, workShown: work });
    }
    const correct = answersEquivalent(extracted.answer, expected, this.options.tolerance ?? 1e-6, this.options.seed ?? 1234);
    const metadata = { expected, predicted: extracted.answer, rule: extracted.rule, workShown: work };
    if (correct) return result(true, MATH_REWARDS.correct, `correct: ${extracted.answer}`, metadata);
    return result(false, work ? MATH_REWARDS.wrongWithWork : MATH_REWARDS.wrongNoWork, `wrong: got ${extracted.answer}, expected ${expected}`, metadata);
  }

  override async verifyBatch(samples: readonly Sample[]): Promise<VerifyResult[]> {
    // Pure computation: the pool would only add scheduling overhead.
    return samples.map((sample) => {
      try {
        return this.verifyNow(sample);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return result(false, 0, `verifier error: ${message}`, { verifierError: true }, message);
      }
    });
  }
}
