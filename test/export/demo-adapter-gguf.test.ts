/**
 * The Export issue's demo criterion: the demo's final RAFT adapter, merged onto its base and exported to
 * an F32 GGUF, greedy-decodes every held-out prompt in llama.cpp (node-llama-cpp) to the same tokens as
 * our engine running the base with the adapter live. The full-scale demo with one RAFT cycle (the fast
 * demo's model answers every prompt with the stop token at once, which would prove nothing);
 * proof:export runs the default three cycles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HaloTokenizer } from '../../src/data/tokenizer.js';
import { exportHfToGguf } from '../../src/export/gguf/from-hf.js';
import { readGguf } from '../../src/export/gguf/reader.js';
import { openLlamaCppPeer } from '../../src/export/llama-cpp-peer.js';
import { writeDemoModel } from '../../src/pipelines/demo/model.js';
import { compareDemoAdapterGreedy } from '../support/demo-adapter-gguf.js';

let peerMissing: string | undefined;
try {
  await import('node-llama-cpp');
} catch (error) {
  peerMissing = `node-llama-cpp is not installed (${(error as Error).message})`;
}

test('a RAFT adapter from the demo, exported merged to F32 GGUF, gives llama.cpp our greedy continuations on every held-out prompt', async (t) => {
  if (peerMissing) return t.skip(peerMissing);
  const result = await compareDemoAdapterGreedy({ fast: false, cycles: 1, seed: 42, maxNewTokens: 16 });
  t.diagnostic(
    `demo pass@1 ${result.demo.baseline_pass1} -> ${result.demo.final_pass1}; identical ${result.identical}/${result.prompts}, tokenizer identical ${result.tokenizerIdentical}/${result.prompts} ` +
      `(${result.visibleTokens} tokens before the stop, ${result.stopped} stopped); export agreement max relative diff ${result.verify?.agreement.maxRelativeDiff.toExponential(2)}; ` +
      `seconds ${JSON.stringify(result.seconds)}`,
  );
  assert.equal(result.verify?.passed, true, 'the export verified');
  assert.ok(result.demo.final_pass1 > 0, 'the adapter answers some held-out prompts right (a trained adapter, not a constant one)');
  assert.ok(result.visibleTokens >= result.prompts, `the continuations are not just the stop token: ${result.visibleTokens} tokens over ${result.prompts} prompts`);
  assert.equal(result.identical, result.prompts, `mismatches: ${JSON.stringify(result.mismatches)}`);
  assert.equal(result.tokenizerIdentical, result.prompts, "llama.cpp tokenizes every held-out question like our tokenizer (the GGUF's character vocabulary)");
});

test("the demo model's character vocabulary is written in GGUF's byte-level alphabet and llama.cpp tokenizes like the HF tokenizer", async (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'halo-demo-vocab-'));
  try {
    const model = join(scratch, 'model');
    writeDemoModel(model, { seed: 3, hidden: 64 });
    const gguf = join(scratch, 'demo.gguf');
    exportHfToGguf(model, gguf, 'F32');
    const metadata = readGguf(gguf).metadata;
    assert.equal(metadata.get('tokenizer.ggml.pre'), 'default');
    const tokens = metadata.get('tokenizer.ggml.tokens') as string[];
    const tokenizer = HaloTokenizer.fromFolder(model);
    assert.equal(tokens[tokenizer.encode(' ', { addSpecialTokens: false })[0]], '\u0120', "' ' is 'Ġ'");
    assert.equal(tokens[tokenizer.encode('\n', { addSpecialTokens: false })[0]], '\u010a', "'\\n' is 'Ċ'");
    assert.equal(tokens[tokenizer.encode('7', { addSpecialTokens: false })[0]], '7');
    if (peerMissing) return t.skip(peerMissing);
    const peer = await openLlamaCppPeer(gguf, { contextSize: 64, threads: 1 });
    try {
      for (const text of ['Q: 347+8=?\nA: 355', 'Q: 12 * 4 = ?\nA: 48.', 'The Answer: 7']) {
        assert.deepEqual(peer.tokenize(text), tokenizer.encode(text, { addSpecialTokens: false }), JSON.stringify(text));
      }
    } finally {
      await peer.dispose();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
