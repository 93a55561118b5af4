/**
 * Engine vs llama.cpp on tiny models of every family (a lighter cut of `npm run proof:engine`: 3 prompts
 * of 16–40 tokens, logits at every 4th position, 16-token greedy continuations), under the same criteria.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TINY_ARCHS } from '../../src/export/tiny-model.js';
import { PARITY_CRITERIA, parityLine, runArchParity } from '../../bench/support/engine-parity.js';

async function unavailable(): Promise<string | undefined> {
  try {
    await import('node-llama-cpp');
  } catch (error) {
    return `node-llama-cpp is not installed (${(error as Error).message})`;
  }
  try {
    const { loadNative } = await import('../../src/engine/load.js');
    loadNative();
  } catch (error) {
    return `the native addon is not built (${(error as Error).message}); run npm run build`;
  }
  return undefined;
}

const reason = await unavailable();

for (const arch of TINY_ARCHS) {
  test(`engine fp32 matches llama.cpp F32 on tiny ${arch}: logits, argmax, greedy continuations`, async (t) => {
    if (reason) return t.skip(reason);
    const result = await runArchParity(arch, { prompts: 3, minTokens: 16, maxTokens: 40, newTokens: 16, positionStride: 4 });
    t.diagnostic(parityLine(result));
    assert.ok(result.maxRelativeDiff <= PARITY_CRITERIA.maxRelativeDiff, `logit difference ${result.maxRelativeDiff} of range`);
    assert.ok(result.argmaxAgreement >= PARITY_CRITERIA.argmaxAgreement, `argmax agreement ${result.argmaxAgreement}`);
    assert.ok(result.greedyIdentical >= 2, `greedy identical on ${result.greedyIdentical}/3 (first divergences ${result.greedyFirstDivergence})`);
  });
}
