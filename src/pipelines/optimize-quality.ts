/**
 * The quality report of `inference optimize`: the original and the optimized model, both in our engine
 * at the same dtype, teacher-forced over held-out text (perplexity, top-1 agreement, centred logit
 * cosine at every position), then greedy batch-1 decode speed of each.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Model } from '../engine/model.js';
import { HaloError } from '../util/errors.js';

/** Held-out text when no --calibration-data is given: mixed prose, code and arithmetic, written for this report. */
export const BUILT_IN_HELD_OUT_TEXT = [
  'The lighthouse keeper climbed the spiral stairs every evening at dusk, counting the steps out of habit: one hundred and twelve.',
  'At the top he wiped the salt from the lens, trimmed the wick and watched the beam sweep across the harbour, where fishing boats',
  'rocked against their moorings and gulls argued over the remains of the day\'s catch. Nobody had asked him to keep a logbook, but',
  'he wrote in it anyway: the wind direction, the height of the swell, the names of the ships that passed close enough to read.',
  '',
  'def moving_average(values, window):',
  '    """Return the mean of each run of `window` consecutive values."""',
  '    if window <= 0:',
  '        raise ValueError("window must be positive")',
  '    totals = [0]',
  '    for value in values:',
  '        totals.append(totals[-1] + value)',
  '    return [(totals[i + window] - totals[i]) / window for i in range(len(values) - window + 1)]',
  '',
  'Question: A train leaves at 9:40 and the journey takes 2 hours and 35 minutes. When does it arrive?',
  'Answer: 9:40 plus 2 hours is 11:40, and 35 more minutes gives 12:15. The train arrives at 12:15.',
  '',
  'In spring the river rose over its banks and the lower fields turned into a shallow lake. Farmers moved their sheep to the hills,',
  'children sailed paper boats between the fence posts, and the old stone bridge, built more than two centuries ago, held firm again.',
].join('\n');

/**
 * Reads held-out text: JSONL (per line a "text", a "messages" array, or a "prompt" / "question" with an
 * optional "completion" / "response" / "answer") or plain text; stops once `maxChars` are collected.
 */
export function readHeldOutText(path: string, maxChars = Infinity): string {
  if (!existsSync(path)) throw new HaloError('ERR_CALIBRATION_DATA', `--calibration-data ${path}: no such file`, { fix: 'pass a JSONL file (text, messages or prompt fields) or a plain text file' });
  const raw = readFileSync(path, 'utf8');
  if (!/\.jsonl$/i.test(path)) {
    if (raw.trim() === '') throw new HaloError('ERR_CALIBRATION_DATA', `--calibration-data ${path}: the file is empty`, { fix: 'pass a file with some text in it' });
    return raw.slice(0, maxChars);
  }
  const texts: string[] = [];
  let chars = 0;
  raw.split('\n').forEach((line, index) => {
    if (line.trim() === '' || chars >= maxChars) return;
    const where = `${path}:${index + 1}`;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new HaloError('ERR_CALIBRATION_DATA', `${where}: not valid JSON (${(error as Error).message})`, { fix: 'write one JSON object per line' });
    }
    texts.push(recordText(record, where));
    chars += texts[texts.length - 1].length + 2;
  });
  if (texts.length === 0) throw new HaloError('ERR_CALIBRATION_DATA', `--calibration-data ${path}: no records`, { fix: 'add at least one JSON line with a text, messages or prompt field' });
  return texts.join('\n\n');
}

function recordText(record: unknown, where: string): string {
  const fail = (): never => {
    throw new HaloError('ERR_CALIBRATION_DATA', `${where}: a record needs a string "text", a "messages" array of {role, content}, or a string "prompt" or "question"`, { fix: 'fix or drop that line' });
  };
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return fail();
  const r = record as Record<string, unknown>;
  if (typeof r.text === 'string') return r.text;
  if (Array.isArray(r.messages)) {
    const parts = r.messages.map((message) => (typeof message === 'object' && message !== null && typeof (message as { content?: unknown }).content === 'string' ? (message as { content: string }).content : fail()));
    return parts.join('\n');
  }
  const prompt = typeof r.prompt === 'string' ? r.prompt : typeof r.question === 'string' ? r.question : undefined;
  if (prompt !== undefined) {
    const answer = [r.completion, r.response, r.answer].find((value): value is string => typeof value === 'string');
    return answer === undefined ? prompt : `${prompt}\n${answer}`;
  }
  return fail();
}

/** Token windows for teacher forcing: at most `maxTokens` in all, `window` per sequence, each led by BOS when the model has one. */
export function heldOutWindows(tokens: readonly number[], bos: number | undefined, maxTokens: number, window: number): number[][] {
  const body = window - (bos === undefined ? 0 : 1);
  const windows: number[][] = [];
  let used = 0;
  for (let start = 0; start < tokens.length && used < maxTokens; start += body) {
    const piece = tokens.slice(start, start + Math.min(body, maxTokens - used));
    if (piece.length < 2) break;
    windows.push(bos === undefined ? piece : [bos, ...piece]);
    used += piece.length;
  }
  return windows;
}

interface RowStats {
  nll: number;
  argmax: number;
  target: number;
}

/** log-sum-exp, argmax and the target's negative log-likelihood of one logits row. */
function rowStats(row: Float32Array, target: number): RowStats {
  let max = -Infinity;
  let argmax = 0;
  for (let i = 0; i < row.length; i++) if (row[i] > max) (max = row[i]), (argmax = i);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  const logZ = max + Math.log(sum);
  return { nll: target >= 0 ? logZ - row[target] : 0, argmax, target };
}

/** Cosine of two logit rows after centring each (softmax-invariant), in float64. */
export function centredLogitCosine(a: Float32Array, b: Float32Array): number {
  const n = a.length;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < n; i++) (sa += a[i]), (sb += b[i]);
  const ma = sa / n;
  const mb = sb / n;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i] - ma;
    const y = b[i] - mb;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? (na === nb ? 1 : 0) : dot / Math.sqrt(na * nb);
}

export interface QualityStats {
  tokens: number;
  positions: number;
  perplexity: { original: number; optimized: number; relativeIncrease: number };
  top1Agreement: number;
  logitCosine: { mean: number; min: number };
}

/** Both models over the same windows, one window at a time (a window's logits are positions × vocab floats). */
export async function compareModels(original: Model, optimized: Model, windows: readonly number[][]): Promise<QualityStats> {
  const vocab = original.config.vocabSize;
  let positions = 0;
  let scored = 0;
  let nllOriginal = 0;
  let nllOptimized = 0;
  let agree = 0;
  let cosineSum = 0;
  let cosineMin = 1;
  for (const window of windows) {
    const [a] = (await original.logits([window])).rows;
    const [b] = (await optimized.logits([window])).rows;
    for (let p = 0; p < window.length; p++) {
      const rowA = a.subarray(p * vocab, (p + 1) * vocab);
      const rowB = b.subarray(p * vocab, (p + 1) * vocab);
      const target = p + 1 < window.length ? window[p + 1] : -1;
      const sa = rowStats(rowA, target);
      const sb = rowStats(rowB, target);
      if (target >= 0) (nllOriginal += sa.nll), (nllOptimized += sb.nll), scored++;
      if (sa.argmax === sb.argmax) agree++;
      const cosine = centredLogitCosine(rowA, rowB);
      cosineSum += cosine;
      cosineMin = Math.min(cosineMin, cosine);
      positions++;
    }
  }
  const pplOriginal = Math.exp(nllOriginal / scored);
  const pplOptimized = Math.exp(nllOptimized / scored);
  return {
    tokens: windows.reduce((sum, w) => sum + w.length, 0),
    positions,
    perplexity: { original: pplOriginal, optimized: pplOptimized, relativeIncrease: pplOptimized / pplOriginal - 1 },
    top1Agreement: agree / positions,
    logitCosine: { mean: cosineSum / positions, min: cosineMin },
  };
}

export interface DecodeSpeed {
  tokensPerSecond: number;
  tokens: number[];
}

/**
 * Greedy batch-1 decode of `tokens` new tokens (no stop ids, so every run has the same length):
 * one warm-up run, then the median of `repeats` runs' decode-loop rate (prefill excluded).
 */
export async function decodeSpeed(model: Model, prompt: number[], tokens: number, repeats: number): Promise<DecodeSpeed> {
  const run = (maxNewTokens: number) => model.generate([prompt], { maxNewTokens, temperature: 0, n: 1, stopTokenIds: [] });
  await run(Math.min(4, tokens));
  const rates: number[] = [];
  let generated: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const result = await run(tokens);
    rates.push(result.generatedTokens / (result.decodeMs / 1000));
    generated = result.sequences[0].tokens;
  }
  rates.sort((x, y) => x - y);
  return { tokensPerSecond: rates[Math.floor(rates.length / 2)], tokens: generated };
}
