/** Generation: KV-cache decoding agrees with teacher forcing, seeds repeat, prefill is shared, cancel and progress work. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Model } from '../../src/engine/model.js';
import { argmax, logSoftmax, SMALL_VOCAB, smallVocabModelDir, tokens } from './fixtures.js';

let model: Model;

before(async () => {
  model = await Model.load(smallVocabModelDir(), { dtype: 'fp32' });
});
after(() => model.dispose());

const prompts = [tokens(5, SMALL_VOCAB, 1), tokens(17, SMALL_VOCAB, 2), tokens(9, SMALL_VOCAB, 3)];

test('greedy decoding with the KV cache equals argmax of teacher-forced logits, logprobs included', async () => {
  const result = await model.generate(prompts, { maxNewTokens: 12, temperature: 0, stopTokenIds: [] });
  assert.equal(result.sequences.length, 3);
  for (const sequence of result.sequences) {
    assert.equal(sequence.finishReason, 'length');
    assert.equal(sequence.tokens.length, 12);
    const prompt = prompts[sequence.promptIndex];
    const full = [...prompt, ...sequence.tokens];
    const positions = sequence.tokens.map((_, i) => prompt.length - 1 + i);
    const { rows } = await model.logits([full], { positions: [positions] });
    sequence.tokens.forEach((token, i) => {
      const row = logSoftmax(rows[0].subarray(i * SMALL_VOCAB, (i + 1) * SMALL_VOCAB));
      assert.equal(token, argmax(row), `prompt ${sequence.promptIndex} token ${i}`);
      assert.ok(Math.abs(sequence.logprobs[i] - row[token]) < 1e-4, `logprob ${sequence.logprobs[i]} vs ${row[token]}`);
    });
  }
});

test('a prompt decodes the same alone and batched with prompts of other lengths', async () => {
  const alone = await model.generate([prompts[1]], { maxNewTokens: 10, temperature: 0, stopTokenIds: [] });
  const batched = await model.generate([prompts[1], prompts[0], prompts[2]], { maxNewTokens: 10, temperature: 0, stopTokenIds: [] });
  assert.deepEqual(batched.sequences[0].tokens, alone.sequences[0].tokens);
});

test('sampled logprobs at temperature 1 (no filters) are the model log-probs', async () => {
  const result = await model.generate([prompts[0]], { maxNewTokens: 6, temperature: 1, seed: 3, stopTokenIds: [] });
  const sequence = result.sequences[0];
  const full = [...prompts[0], ...sequence.tokens];
  const positions = sequence.tokens.map((_, i) => prompts[0].length - 1 + i);
  const { rows } = await model.logits([full], { positions: [positions] });
  sequence.tokens.forEach((token, i) => {
    const row = logSoftmax(rows[0].subarray(i * SMALL_VOCAB, (i + 1) * SMALL_VOCAB));
    assert.ok(Math.abs(sequence.logprobs[i] - row[token]) < 1e-4, `step ${i}: ${sequence.logprobs[i]} vs ${row[token]}`);
  });
});

test('the same seed repeats exactly; another seed differs', async () => {
  const options = { n: 4, maxNewTokens: 16, temperature: 0.9, topP: 0.95, topK: 50, seed: 1234, stopTokenIds: [] };
  const first = await model.generate(prompts, options);
  const second = await model.generate(prompts, options);
  assert.deepEqual(second.sequences, first.sequences);
  const other = await model.generate(prompts, { ...options, seed: 99 });
  assert.notDeepEqual(other.sequences.map((s) => s.tokens), first.sequences.map((s) => s.tokens));
});

test('n = 8 samples of one prompt run its prefill once', async () => {
  const before = model.prefillCount;
  const result = await model.generate([prompts[1]], { n: 8, maxNewTokens: 8, temperature: 1, seed: 5, stopTokenIds: [] });
  assert.equal(result.prefills, 1);
  assert.equal(model.prefillCount - before, 1);
  assert.equal(result.sequences.length, 8);
  assert.deepEqual(result.sequences.map((s) => s.sampleIndex), [0, 1, 2, 3, 4, 5, 6, 7]);
  const distinct = new Set(result.sequences.map((s) => s.tokens.join(',')));
  assert.ok(distinct.size > 1, 'the 8 samples are not all identical');
});

test('a stop token ends its sequence (included, finish reason stop) while others run on', async () => {
  const greedy = await model.generate([prompts[0], prompts[2]], { maxNewTokens: 8, temperature: 0, stopTokenIds: [] });
  const stop = greedy.sequences[0].tokens[3];
  const firstAt = greedy.sequences[0].tokens.indexOf(stop);
  const result = await model.generate([prompts[0], prompts[2]], { maxNewTokens: 8, temperature: 0, stopTokenIds: [stop] });
  assert.equal(result.sequences[0].finishReason, 'stop');
  assert.deepEqual(result.sequences[0].tokens, greedy.sequences[0].tokens.slice(0, firstAt + 1));
  const other = greedy.sequences[1].tokens;
  const otherStop = other.indexOf(stop);
  assert.deepEqual(result.sequences[1].tokens, otherStop >= 0 ? other.slice(0, otherStop + 1) : other);
});

test('the event loop keeps running during generation and progress arrives', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const progress: number[] = [];
  const started = performance.now();
  // Long enough (~0.5 s on a quiet 2-core machine) for the timer to have to fire during the native call.
  const result = await model.generate(prompts, {
    n: 8,
    maxNewTokens: 256,
    temperature: 1,
    seed: 1,
    stopTokenIds: [],
    onProgress: (p) => progress.push(p.generatedTokens),
  });
  const elapsed = performance.now() - started;
  clearInterval(timer);
  assert.equal(result.generatedTokens, 3 * 8 * 256);
  assert.ok(elapsed > 100, `generation took ${elapsed.toFixed(0)} ms: too short to say anything`);
  assert.ok(ticks >= elapsed / 50, `${ticks} timer ticks in ${elapsed.toFixed(0)} ms`);
  assert.ok(progress.length >= 2, `${progress.length} progress reports`);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i] >= progress[i - 1]);
});

test('an AbortSignal cancels within a decode step', async () => {
  const controller = new AbortController();
  const result = await model.generate(prompts, {
    n: 2,
    maxNewTokens: 2000,
    temperature: 1,
    seed: 2,
    stopTokenIds: [],
    signal: controller.signal,
    onProgress: (p) => {
      if (p.generatedTokens >= 6 * 5) controller.abort();
    },
  });
  for (const sequence of result.sequences) {
    assert.equal(sequence.finishReason, 'cancelled');
    assert.ok(sequence.tokens.length >= 5 && sequence.tokens.length < 2000, `${sequence.tokens.length} tokens`);
  }
  const aborted = await model.generate(prompts, { maxNewTokens: 5, signal: AbortSignal.abort() });
  assert.ok(aborted.sequences.every((s) => s.finishReason === 'cancelled' && s.tokens.length === 0));
});

test('scoreContinuations sums the teacher-forced log-probs and flags greedy continuations', async () => {
  const context = prompts[1];
  const greedy = (await model.generate([context], { maxNewTokens: 4, temperature: 0, stopTokenIds: [] })).sequences[0].tokens;
  const other = tokens(3, SMALL_VOCAB, 11);
  const scores = await model.scoreContinuations([
    { context, continuation: greedy },
    { context: prompts[0], continuation: other },
  ]);
  assert.equal(scores[0].greedy, true);
  const { rows } = await model.logits([[...prompts[0], ...other]]);
  let expected = 0;
  other.forEach((token, i) => {
    const position = prompts[0].length - 1 + i;
    expected += logSoftmax(rows[0].subarray(position * SMALL_VOCAB, (position + 1) * SMALL_VOCAB))[token];
  });
  assert.ok(Math.abs(scores[1].logprob - expected) < 1e-4, `${scores[1].logprob} vs ${expected}`);
  assert.equal(scores[1].tokens, 3);
});
