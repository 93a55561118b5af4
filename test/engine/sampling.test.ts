/** 20,000 draws of one token fit the distribution computed from model.logits (chi-square p > 0.01). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Model } from '../../src/engine/model.js';
import { chiSquareTest, gammaQ } from './chi-square.js';
import { SMALL_VOCAB, smallVocabModelDir, tokens } from './fixtures.js';

let model: Model;
before(async () => {
  model = await Model.load(smallVocabModelDir(), { dtype: 'fp32' });
});
after(() => model.dispose());

/**
 * The sampling distribution written out independently: repetition penalty (Hugging Face: a seen
 * token's positive logit is divided by it, a negative one multiplied), temperature, top-k, top-p,
 * min-p, renormalise.
 */
function expectedDistribution(
  logits: Float32Array,
  temperature: number,
  topK: number,
  topP: number,
  minP: number,
  penalty = 1,
  seen: ReadonlySet<number> = new Set(),
): number[] {
  const penalised = Array.from(logits, (value, i) => (seen.has(i) ? (value > 0 ? value / penalty : value * penalty) : value));
  const scaled = penalised.map((value) => value / temperature);
  const order = scaled.map((_, i) => i).sort((a, b) => scaled[b] - scaled[a]);
  const kept = new Array<boolean>(scaled.length).fill(true);
  if (topK > 0) order.slice(topK).forEach((i) => (kept[i] = false));
  const max = scaled[order[0]];
  let z = 0;
  for (let i = 0; i < scaled.length; i++) if (kept[i]) z += Math.exp(scaled[i] - max);
  const p = scaled.map((value, i) => (kept[i] ? Math.exp(value - max) / z : 0));
  let before = 0;
  for (const i of order) {
    if (before >= topP) kept[i] = false;
    before += p[i];
  }
  const top = p[order[0]];
  for (let i = 0; i < p.length; i++) if (p[i] < minP * top) kept[i] = false;
  const mass = p.reduce((sum, value, i) => sum + (kept[i] ? value : 0), 0);
  return p.map((value, i) => (kept[i] ? value / mass : 0));
}

interface DrawOptions {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  seed: number;
  repetitionPenalty?: number;
}

const drawPrompt = tokens(11, SMALL_VOCAB, 42);

async function promptLogits(): Promise<Float32Array> {
  const { rows } = await model.logits([drawPrompt], { positions: [[drawPrompt.length - 1]] });
  return rows[0];
}

async function drawAndTest(options: DrawOptions): Promise<void> {
  const prompt = drawPrompt;
  const draws = 20_000;
  const result = await model.generate([prompt], { n: draws, maxNewTokens: 1, stopTokenIds: [], ...options });
  assert.equal(result.prefills, 1);
  const counts = new Array<number>(SMALL_VOCAB).fill(0);
  for (const sequence of result.sequences) counts[sequence.tokens[0]]++;
  const logits = await promptLogits();
  const expected = expectedDistribution(logits, options.temperature, options.topK, options.topP, options.minP, options.repetitionPenalty, new Set(prompt));
  const outside = counts.reduce((sum, count, i) => sum + (expected[i] === 0 ? count : 0), 0);
  assert.equal(outside, 0, 'no draw falls outside the filtered support');
  const support = expected.filter((p) => p > 0).length;
  assert.ok(support > 10, `support of ${support} tokens is too small to test`);
  const fit = chiSquareTest(counts, expected, draws);
  assert.ok(fit.bins > 10, `only ${fit.bins} bins`);
  assert.ok(fit.pValue > 0.01, `chi-square ${fit.statistic.toFixed(1)} on ${fit.degreesOfFreedom} df: p = ${fit.pValue}`);
  // the logprob reported with each draw is the log of its probability under that same distribution
  for (const sequence of result.sequences.slice(0, 50)) {
    assert.ok(Math.abs(Math.exp(sequence.logprobs[0]) - expected[sequence.tokens[0]]) < 1e-4);
  }
}

test('chi-square p-value is right on known points', () => {
  assert.ok(Math.abs(gammaQ(0.5, 3.841 / 2) - 0.05) < 1e-3);
  assert.ok(Math.abs(gammaQ(5, 18.307 / 2) - 0.05) < 1e-3);
  assert.ok(Math.abs(gammaQ(50, 124.342 / 2) - 0.05) < 1e-3);
});

test('temperature 0.7 / top-p 0.9: 20,000 draws fit the distribution from the logits', async () => {
  await drawAndTest({ temperature: 0.7, topK: 0, topP: 0.9, minP: 0, seed: 17 });
});

test('temperature 1.3 / top-k 40 / min-p 0.2: 20,000 draws fit', async () => {
  await drawAndTest({ temperature: 1.3, topK: 40, topP: 1, minP: 0.2, seed: 18 });
});

test('the device-generic (tensor) sampler fits too: temperature 0.7 / top-p 0.9, and top-k / min-p', async () => {
  process.env.HALO_FORGE_TENSOR_SAMPLER = '1';
  try {
    await drawAndTest({ temperature: 0.7, topK: 0, topP: 0.9, minP: 0, seed: 19 });
    await drawAndTest({ temperature: 1.3, topK: 40, topP: 1, minP: 0.2, seed: 20 });
  } finally {
    delete process.env.HALO_FORGE_TENSOR_SAMPLER;
  }
});

/** How many tokens the filtered distribution keeps. */
function keptCount(distribution: number[]): number {
  return distribution.filter((p) => p > 0).length;
}

/** Draws on the CPU path, then on the device-generic (tensor) path with the next seed. */
async function drawAndTestBothPaths(options: DrawOptions): Promise<void> {
  await drawAndTest(options);
  process.env.HALO_FORGE_TENSOR_SAMPLER = '1';
  try {
    await drawAndTest({ ...options, seed: options.seed + 1 });
  } finally {
    delete process.env.HALO_FORGE_TENSOR_SAMPLER;
  }
}

// The three filters keep prefixes of the same ranking, so the shortest one decides; what can bind
// together is top-p computed on the top-k-renormalised distribution (first case), and min-p
// cutting inside both (second case).
test('top-k + top-p + min-p together: 20,000 draws fit on the CPU and the tensor path', async () => {
  const logits = await promptLogits();
  const kept = (o: DrawOptions) => keptCount(expectedDistribution(logits, o.temperature, o.topK, o.topP, o.minP));
  const renormalised = { temperature: 0.2, topK: 40, topP: 0.9, minP: 0.05, seed: 21 };
  assert.ok(kept({ ...renormalised, topK: 0 }) > kept(renormalised), 'top-p runs on the top-k-renormalised distribution');
  assert.ok(kept({ ...renormalised, topP: 1 }) > kept(renormalised), 'top-p cuts inside top-k');
  await drawAndTestBothPaths(renormalised);
  const minPCuts = { temperature: 0.2, topK: 40, topP: 0.95, minP: 0.2, seed: 34 };
  assert.ok(kept({ ...minPCuts, minP: 0 }) > kept(minPCuts), 'min-p cuts inside top-k and top-p');
  await drawAndTestBothPaths(minPCuts);
  // k <= vocab / 16 takes the CPU path's heap selection of the k-th largest logit (above, nth_element)
  await drawAndTestBothPaths({ temperature: 1, topK: 12, topP: 1, minP: 0, seed: 51 });
});

test('a repetition penalty on the prompt tokens: 20,000 draws fit on the CPU and the tensor path', async () => {
  const options = { temperature: 0.3, topK: 0, topP: 0.95, minP: 0, repetitionPenalty: 1.8, seed: 41 };
  const logits = await promptLogits();
  const seen = new Set(drawPrompt);
  assert.ok(drawPrompt.some((token) => logits[token] > 0) && drawPrompt.some((token) => logits[token] < 0), 'both branches of the penalty run');
  const seenMass = (distribution: number[]) => [...seen].reduce((sum, token) => sum + distribution[token], 0);
  const penalised = seenMass(expectedDistribution(logits, options.temperature, 0, options.topP, 0, options.repetitionPenalty, seen));
  const plain = seenMass(expectedDistribution(logits, options.temperature, 0, options.topP, 0));
  assert.ok(penalised < 0.8 * plain, `the penalty moves mass off the prompt tokens: ${penalised} vs ${plain}`);
  await drawAndTestBothPaths(options);
});

test('a wrong distribution is rejected (the test can fail)', async () => {
  const prompt = tokens(11, SMALL_VOCAB, 42);
  const result = await model.generate([prompt], { n: 20_000, maxNewTokens: 1, stopTokenIds: [], temperature: 0.7, topP: 0.9, seed: 17 });
  const counts = new Array<number>(SMALL_VOCAB).fill(0);
  for (const sequence of result.sequences) counts[sequence.tokens[0]]++;
  const { rows } = await model.logits([prompt], { positions: [[prompt.length - 1]] });
  const wrongTemperature = expectedDistribution(rows[0], 1.0, 0, 0.9, 0);
  const support = counts.map((count, i) => (wrongTemperature[i] > 0 ? count : 0));
  const fit = chiSquareTest(support, wrongTemperature, support.reduce((a, b) => a + b, 0));
  assert.ok(fit.pValue < 0.01, `p = ${fit.pValue} against temperature 1.0`);
});
