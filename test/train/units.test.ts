import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainAddon, resolveTrainOptions } from '../../src/engine/trainer.js';
import { buildMicroBatches } from '../../src/engine/batching.js';
import { HaloError } from '../../src/util/errors.js';

test('chunked cross-entropy matches full-logits autograd in float64 (loss and both gradients)', () => {
  for (const chunk of [1, 7, 64, 0]) {
    const check = trainAddon().trainChecks.chunkedLossCheck(50, 16, 1000, chunk, 3);
    console.log(`chunk ${chunk}: loss diff ${check.lossAbsDiff.toExponential(2)} grad_h ${check.gradHiddenMaxDiff.toExponential(2)} grad_W ${check.gradWeightMaxDiff.toExponential(2)}`);
    assert.ok(check.lossAbsDiff < 1e-12, `loss diff ${check.lossAbsDiff}`);
    assert.ok(check.gradHiddenMaxDiff < 1e-12, `grad_h diff ${check.gradHiddenMaxDiff}`);
    assert.ok(check.gradWeightMaxDiff < 1e-12, `grad_W diff ${check.gradWeightMaxDiff}`);
  }
});

test('our AdamW matches libtorch torch::optim::AdamW step for step', () => {
  for (const weightDecay of [0, 0.1]) {
    const check = trainAddon().trainChecks.adamwCheck(25, 1e-2, weightDecay, 5);
    assert.ok(check.maxAbsDiff < 1e-6, `weight decay ${weightDecay}: max abs diff ${check.maxAbsDiff}`);
  }
});

test('learning-rate schedules follow the transformers definitions', () => {
  const lrAt = trainAddon().trainChecks.lrAt;
  assert.equal(lrAt('constant', 1e-3, 0, 10, 7), 1e-3);
  assert.equal(lrAt('constant', 1e-3, 4, 10, 0), 0);
  assert.equal(lrAt('constant', 1e-3, 4, 10, 2), 5e-4);
  assert.equal(lrAt('linear', 1e-3, 0, 10, 5), 5e-4);
  assert.ok(Math.abs(lrAt('linear', 1e-3, 2, 10, 6) - 1e-3 * (1 - 4 / 8)) < 1e-15);
  assert.ok(Math.abs(lrAt('cosine', 1e-3, 0, 10, 5) - 5e-4) < 1e-15);
  assert.ok(Math.abs(lrAt('cosine', 1e-3, 0, 10, 10)) < 1e-15);
  assert.equal(resolveTrainOptions({ schedule: 'cosine', totalSteps: 10, warmupRatio: 0.25 }).warmupSteps, 3);
  assert.throws(() => resolveTrainOptions({ schedule: 'linear' }), (error: unknown) => error instanceof HaloError && error.code === 'ERR_TRAIN_OPTION' && /totalSteps/.test(error.message));
  assert.throws(() => resolveTrainOptions({ targets: ['q_proj', 'qkv'] }), (error: unknown) => error instanceof HaloError && error.code === 'ERR_LORA_TARGET' && /qkv/.test(error.message));
});

test('batching: right-padding and packing lay out targets, segments and positions', () => {
  const samples = [
    { tokens: [5, 6, 7], lossMask: [0, 1, 1] },
    { tokens: [8, 9], lossMask: [0, 1] },
  ];
  const [padded] = buildMicroBatches(samples, 100);
  assert.equal(padded.rows, 2);
  assert.equal(padded.cols, 3);
  assert.deepEqual([...padded.targets], [6, 7, 0, 9, 0, 0]);
  assert.deepEqual([...padded.weights], [1, 1, 0, 1, 0, 0]);
  assert.deepEqual([...padded.segments], [0, 0, 0, 0, 0, -1]);
  const [packed] = buildMicroBatches(samples, 100, { packing: true, rowLength: 8 });
  assert.equal(packed.rows, 1);
  assert.deepEqual([...packed.tokens], [5, 6, 7, 8, 9]);
  assert.deepEqual([...packed.positions], [0, 1, 2, 0, 1]);
  assert.deepEqual([...packed.segments], [0, 0, 0, 1, 1]);
  assert.deepEqual([...packed.weights], [1, 1, 0, 1, 0]);
  assert.throws(() => buildMicroBatches([{ tokens: [1, 2], lossMask: [1] }], 100), { code: 'ERR_TRAIN_BATCH' });
  assert.throws(() => buildMicroBatches([{ tokens: [1, 200], lossMask: [1, 1] }], 100), { code: 'ERR_TOKEN_OUT_OF_RANGE' });
});
