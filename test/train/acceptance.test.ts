import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { ggufLoraPeer, memory, merge, overfit, packing, resume } from './scenarios.js';
import { tempDir } from './helpers.js';

const work = tempDir('accept');
after(() => rmSync(work, { recursive: true, force: true }));

test('overfit: 8 samples, LoRA r=16, 100 steps -> loss < 0.05', async () => {
  const figure = await overfit(work);
  console.log(`overfit: loss ${figure.firstLoss.toFixed(4)} -> ${figure.lastLoss.toFixed(5)} after ${figure.steps} steps`);
  assert.ok(figure.lastLoss < 0.05, `final loss ${figure.lastLoss}`);
});

test('packing: packed and right-padded batches of the same samples give the same loss (<= 1e-5)', async () => {
  const figure = await packing(work);
  console.log(`packing: padded ${figure.padded} packed ${figure.packed} diff ${figure.diff.toExponential(2)}`);
  assert.ok(figure.diff <= 1e-5, JSON.stringify(figure));
});

test('the generator samples with the live adapter; the merged HF folder gives the same logits (<= 1e-5)', async () => {
  const figure = await merge(work);
  console.log(`merge: live adapter vs merged max abs diff ${figure.maxAbsDiff.toExponential(2)} (the adapter moved logits by ${figure.adapterEffect.toFixed(4)})`);
  assert.equal(figure.freshAdapterDiff, 0, 'a fresh adapter (B = 0) leaves the model unchanged');
  assert.ok(figure.adapterEffect > 1e-3, `training moved the logits by only ${figure.adapterEffect}`);
  assert.equal(figure.greedyTokens, 4);
  assert.equal(figure.afterDisposeDiff, 0, 'dispose() detaches the adapters');
  for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'model.safetensors.index.json', 'model-00001-of-00003.safetensors']) {
    assert.ok(figure.files.includes(name), `${name} in ${figure.files.join(', ')}`);
  }
  assert.ok(figure.maxAbsDiff <= 1e-5, `merged vs live ${figure.maxAbsDiff}`);
});

test('resume: 20 steps straight == 10 steps, save, load in a new process, 10 steps (identical adapter bytes)', () => {
  const figure = resume(work);
  console.log(`resume: adapter ${figure.adapterBytes} bytes identical ${figure.adapterIdentical}, optimizer state identical ${figure.stateIdentical}; ${figure.lastStep}`);
  assert.ok(figure.reportsIdentical, 'the resumed steps report the same losses and learning rates');
  assert.ok(figure.adapterIdentical, 'adapter bytes differ');
  assert.ok(figure.stateIdentical, 'optimizer state differs');
});

test('memory: vocab 151,936, seq 1024, batch 4 — chunked loss peak <= 40% of unchunked', (t) => {
  if (!existsSync('/proc/self/clear_refs')) return t.skip('needs /proc/self/clear_refs (Linux) to measure the peak resident set');
  const figure = memory(work);
  console.log(`memory: peak above resident — chunked (512 tokens) ${(figure.chunked.aboveKb / 1024).toFixed(0)} MiB, unchunked ${(figure.unchunked.aboveKb / 1024).toFixed(0)} MiB, ratio ${(figure.ratio * 100).toFixed(1)}%`);
  assert.equal(figure.chunked.tokens, 4096);
  assert.ok(Math.abs(figure.chunked.loss - figure.unchunked.loss) < 1e-4, `same loss either way: ${figure.chunked.loss} vs ${figure.unchunked.loss}`);
  assert.ok(figure.ratio <= 0.4, `chunked/unchunked peak ratio ${figure.ratio}`);
});

let peerMissing: string | undefined;
try {
  await import('node-llama-cpp');
} catch (error) {
  peerMissing = `node-llama-cpp is not installed (${(error as Error).message})`;
}

for (const arch of ['llama', 'qwen2'] as const) {
  test(`peer: llama.cpp applies our GGUF LoRA adapter (${arch}) and matches our live-adapter logits`, async (t) => {
    if (peerMissing) return t.skip(peerMissing);
    const figure = await ggufLoraPeer(work, arch);
    console.log(`peer ${arch}: ours vs llama.cpp+adapter max rel diff ${figure.maxRelativeDiff.toExponential(2)} (argmax ${figure.argmaxAgree}/${figure.positions}); without the adapter ${figure.withoutAdapterRelativeDiff.toExponential(2)}`);
    assert.equal(figure.loraTensors, 2 * 7 * 2);
    assert.ok(figure.withoutAdapterRelativeDiff > 1e-2, 'the adapter changes the logits beyond the tolerance');
    assert.ok(figure.maxRelativeDiff <= 1e-3, JSON.stringify(figure));
    assert.equal(figure.argmaxAgree, figure.positions);
  });
}
