/**
 * Our GGUF files in llama.cpp (node-llama-cpp, CPU, F32 KV cache): every architecture loads and
 * generates, and its teacher-forced log-probabilities match a float64 reference forward of the HF
 * checkpoint — which proves the tensor names, the llama q/k permutation, the rope and norm metadata.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportHfToGguf } from '../../src/export/gguf/from-hf.js';
import { defaultTinyOptions, TINY_ARCHS, writeTinyModel } from '../../src/export/tiny-model.js';
import { openLlamaCppPeer } from '../../src/export/llama-cpp-peer.js';
import { loadReferenceModel } from '../support/reference-decoder.js';
import { Rng } from '../../src/util/rng.js';
import { compareLogitRows } from '../../src/export/logit-parity.js';

const directory = mkdtempSync(join(tmpdir(), 'halo-gguf-peer-'));
test.after(() => rmSync(directory, { recursive: true, force: true }));

let peerMissing: string | undefined;
try {
  await import('node-llama-cpp');
} catch (error) {
  peerMissing = `node-llama-cpp is not installed (${(error as Error).message})`;
}

for (const arch of TINY_ARCHS) {
  test(`llama.cpp loads our ${arch} GGUF F32, generates, and matches a float64 reference forward`, async (t) => {
    if (peerMissing) return t.skip(peerMissing);
    const model = join(directory, arch);
    writeTinyModel(model, { ...defaultTinyOptions(arch), hidden: 64, headDim: arch === 'qwen3' ? 32 : 16, intermediate: 96, seed: 3 });
    const gguf = join(directory, `${arch}.gguf`);
    exportHfToGguf(model, gguf, 'F32');
    const peer = await openLlamaCppPeer(gguf, { contextSize: 128, threads: 2 });
    try {
      assert.equal(peer.kvCacheType, 'F32');
      const reference = loadReferenceModel(model);
      assert.equal(peer.vocabSize, reference.vocabSize);
      const rng = new Rng(11);
      const prompt = Array.from({ length: 12 }, () => rng.int(30000) + 100);
      const stats = compareLogitRows(reference.logProbs(prompt), await peer.logProbs(prompt));
      t.diagnostic(`${arch}: max |Δ logit| ${stats.maxAbsDiff.toExponential(2)}, relative ${stats.maxRelativeDiff.toExponential(2)}, argmax ${stats.argmaxAgree}/${stats.positions}`);
      assert.ok(stats.minRange > 0.5, 'logits are not flat');
      assert.ok(stats.maxRelativeDiff <= 2e-5, `logits agree: ${JSON.stringify(stats)}`);
      assert.equal(stats.argmaxAgree, prompt.length);

      const continuation = await peer.greedy(prompt, 8);
      assert.equal(continuation.length, 8);
      t.diagnostic(`${arch}: greedy continuation ${JSON.stringify(continuation)}`);
      // Not asserted here: node-llama-cpp 3.21.1 decoding two parallel sequences of one context was seen
      // (intermittently) to give sequence 0 other tokens than a one-sequence context — a peer issue that
      // bench:generate's llama.cpp RAFT figure (throughput only) is read with; see docs/export.md.
      const rows = reference.logProbs([...prompt, ...continuation]);
      continuation.forEach((token, i) => {
        const row = rows[prompt.length - 1 + i];
        let best = 0;
        for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
        assert.equal(token, best, `greedy token ${i} is the reference argmax`);
      });
    } finally {
      await peer.dispose();
    }
  });
}

test('llama.cpp loads our F16 GGUF and stays within F16 rounding of the reference', async (t) => {
  if (peerMissing) return t.skip(peerMissing);
  const model = join(directory, 'qwen3-f16');
  writeTinyModel(model, { ...defaultTinyOptions('qwen3'), hidden: 64, headDim: 32, intermediate: 96, seed: 4 });
  const gguf = join(directory, 'qwen3.f16.gguf');
  exportHfToGguf(model, gguf, 'F16');
  const peer = await openLlamaCppPeer(gguf, { contextSize: 64, threads: 2, kvCacheType: 'F16' });
  try {
    const prompt = [9707, 1879, 11, 279, 3974, 13876, 38835, 34208];
    const stats = compareLogitRows(loadReferenceModel(model).logProbs(prompt), await peer.logProbs(prompt));
    t.diagnostic(`qwen3 F16: max |Δ logit| ${stats.maxAbsDiff.toExponential(2)}, relative ${stats.maxRelativeDiff.toExponential(2)}`);
    assert.ok(stats.maxRelativeDiff <= 5e-3, JSON.stringify(stats));
    assert.ok(stats.maxRelativeDiff > 1e-5, 'F16 rounding is visible (the file really holds F16 weights)');
    assert.equal((await peer.greedy(prompt, 4)).length, 4);
  } finally {
    await peer.dispose();
  }
});
