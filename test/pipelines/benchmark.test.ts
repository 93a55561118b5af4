import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meanPassAtK, passAtK } from '../../src/pipelines/benchmark/pass-at-k.js';
import { buildBenchmarkResult, compiledFlag } from '../../src/pipelines/benchmark/result.js';
import { schemaErrors } from '../../src/pipelines/schemas.js';

const close = (actual: number, expected: number, message?: string): void => assert.ok(Math.abs(actual - expected) < 1e-12, `${message ?? ''} ${actual} != ${expected}`);

test('pass@k matches hand-computed values for n = 10, c = 3', () => {
  // k=1: 1 - C(7,1)/C(10,1) = 1 - 7/10
  close(passAtK(10, 3, 1), 0.3);
  // k=5: 1 - C(7,5)/C(10,5) = 1 - 21/252 = 11/12
  close(passAtK(10, 3, 5), 11 / 12);
  // k=10: C(7,10) = 0, every 10-subset holds a pass
  close(passAtK(10, 3, 10), 1);
  // k=2: 1 - C(7,2)/C(10,2) = 1 - 21/45
  close(passAtK(10, 3, 2), 24 / 45);
});

test('pass@k edge cases: c = 0, c = n, k > n rejected, bad inputs rejected', () => {
  for (const k of [1, 5, 10]) {
    assert.equal(passAtK(10, 0, k), 0);
    assert.equal(passAtK(10, 10, k), 1);
  }
  assert.throws(() => passAtK(10, 3, 11), /k=11 exceeds the n=10 samples/);
  assert.throws(() => passAtK(10, 11, 1), RangeError);
  assert.throws(() => passAtK(10, -1, 1), RangeError);
  assert.throws(() => passAtK(10, 3, 0), RangeError);
  assert.throws(() => passAtK(0, 0, 1), RangeError);
  assert.throws(() => passAtK(10, 2.5, 1), RangeError);
});

test('the product form agrees with exact binomials where those fit, and stays finite where they do not', () => {
  const binomial = (n: number, k: number): number => {
    let value = 1;
    for (let i = 1; i <= k; i++) value = (value * (n - k + i)) / i;
    return value;
  };
  for (const [n, c, k] of [
    [20, 7, 3],
    [50, 1, 10],
    [30, 29, 2],
    [12, 5, 7],
  ]) {
    close(passAtK(n, c, k), 1 - binomial(n - c, k) / binomial(n, k), `${n},${c},${k}`);
  }
  const big = passAtK(2000, 3, 100);
  assert.ok(Number.isFinite(big) && big > 0 && big < 1);
  close(meanPassAtK([{ n: 10, c: 3 }, { n: 10, c: 0 }], 1), 0.15);
  assert.throws(() => meanPassAtK([], 1), RangeError);
});

test('benchmark result: per-prompt pass@k, rates and tokens/s, valid against its schema', () => {
  const result = buildBenchmarkResult(
    {
      model: 'models/tiny',
      promptsFile: 'p.jsonl',
      verifier: 'gcc',
      k: [1, 2],
      temperature: 0.7,
      topP: 1,
      maxNewTokens: 64,
      seed: 42,
      startedAt: new Date('2026-01-01T00:00:00Z'),
      seconds: 12,
      generatedTokens: 1000,
      generateSeconds: 8,
      verifySeconds: 3,
    },
    [
      { index: 0, id: 'task/0', rewards: [1, 0, 0.5, 1], successes: [true, false, false, true], compiled: [true, false, true, true] },
      { index: 1, id: 'task/1', rewards: [0, 0, 0, 0], successes: [false, false, false, false], compiled: [false, false, false, false] },
    ],
  );
  assert.equal(result.samples, 4);
  close(result.per_prompt[0].pass_at_k['pass@1'], 0.5);
  close(result.per_prompt[0].pass_at_k['pass@2'], 1 - 1 / 6);
  close(result.pass_at_k['pass@1'], 0.25);
  close(result.success_rate ?? -1, 2 / 8);
  close(result.compile_rate ?? -1, 3 / 8);
  close(result.mean_reward ?? -1, (2.5 / 4 + 0) / 2);
  assert.equal(result.tokens_per_second, 125);
  assert.deepEqual(schemaErrors('benchmark_result', result), []);
  assert.ok(schemaErrors('benchmark_result', { ...result, pass_at_k: { 'pass@1': 1.5 } }).length > 0);
  const noCompile = buildBenchmarkResult({ ...{ model: 'm', promptsFile: 'p', verifier: 'math', k: [1], temperature: 0, topP: 1, maxNewTokens: 8, seed: 1, startedAt: new Date(), seconds: 1, generatedTokens: 0, generateSeconds: 0, verifySeconds: 0 } }, [
    { index: 0, id: '0', rewards: [1], successes: [true], compiled: [null] },
  ]);
  assert.equal(noCompile.compile_rate, null);
  assert.equal(noCompile.tokens_per_second, null);
  assert.throws(() => buildBenchmarkResult({ ...noCompile, model: 'm', promptsFile: 'p', verifier: 'v', k: [1], topP: 1, maxNewTokens: 8, startedAt: new Date(), generatedTokens: 0, generateSeconds: 0, verifySeconds: 0 }, [
    { index: 0, id: 'a', rewards: [1, 1], successes: [true, true], compiled: [null, null] },
    { index: 1, id: 'b', rewards: [1], successes: [true], compiled: [null] },
  ]), /prompt b has 1 results, expected 2/);
  assert.equal(compiledFlag({ metadata: { compiled: false } }), false);
  assert.equal(compiledFlag({ error: 'compile error', metadata: { compileMs: 20 } }), false);
  assert.equal(compiledFlag({ metadata: { compileMs: 20 } }), true);
  assert.equal(compiledFlag({ metadata: {} }), null);
});
