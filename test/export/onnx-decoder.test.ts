/**
 * ONNX fp32 decoders of all four families in onnxruntime-node (graphOptimizationLevel 'basic'):
 * logits within 1e-4 max abs of our engine's, and greedy decoding through the graph's KV-cache
 * inputs / outputs token-identical to our engine's for 32 tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Model } from '../../src/engine/model.js';
import { exportHfToOnnx } from '../../src/export/onnx/decoder.js';
import { openOnnxDecoder } from '../../src/export/onnx/runner.js';
import { exportOnnx } from '../../src/pipelines/export.js';
import { defaultTinyOptions, TINY_ARCHS, writeTinyModel } from '../../src/export/tiny-model.js';
import { Rng } from '../../src/util/rng.js';
import { onnxRuntimeMissing } from '../support/onnxruntime.js';

const directory = mkdtempSync(join(tmpdir(), 'halo-onnx-'));
test.after(() => rmSync(directory, { recursive: true, force: true }));

const ortMissing = await onnxRuntimeMissing();

for (const arch of TINY_ARCHS) {
  test(`${arch}: ONNX fp32 logits within 1e-4 of our engine, greedy 32 tokens identical through the KV cache`, async (t) => {
    if (ortMissing) return t.skip(ortMissing);
    const modelDir = join(directory, arch);
    writeTinyModel(modelDir, { ...defaultTinyOptions(arch), ...(arch === 'qwen2' || arch === 'qwen3' ? {} : { vocab: 'llama3-32k' as const }), seed: 4 });
    const onnx = exportHfToOnnx(modelDir, join(directory, `${arch}.onnx`));
    const session = await openOnnxDecoder(onnx.path, onnx.layers, onnx.kvHeads, onnx.headDim);
    const model = await Model.load(modelDir, { dtype: 'fp32' });
    try {
      const rng = new Rng(8);
      const prompt = Array.from({ length: 12 }, () => 100 + rng.int(30000));
      const ours = (await model.logits([prompt])).rows[0];
      const theirs = await session.logits(prompt);
      assert.equal(theirs.length, ours.length);
      let maxAbs = 0;
      let range = 0;
      for (let i = 0; i < ours.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(ours[i] - theirs[i]));
        range = Math.max(range, Math.abs(ours[i]));
      }
      t.diagnostic(`${arch}: ${onnx.bytes} bytes, max |Δ logit| ${maxAbs.toExponential(2)} (max |logit| ${range.toFixed(3)})`);
      assert.ok(range > 0.1, 'logits are not flat');
      assert.ok(maxAbs <= 1e-4, `max abs diff ${maxAbs}`);
      const greedyOnnx = await session.greedy(prompt, 32);
      const greedyOurs = (await model.generate([prompt], { maxNewTokens: 32, temperature: 0 })).sequences[0].tokens;
      assert.deepEqual(greedyOnnx, greedyOurs);
    } finally {
      model.dispose();
      await session.dispose();
    }
  });
}

test('llama: ONNX int8 (DequantizeLinear projections) keeps logit cosine >= 0.999 vs our fp32 engine in onnxruntime', async (t) => {
  if (ortMissing) return t.skip(ortMissing);
  const modelDir = join(directory, 'llama'); // written by the llama test above
  const fp32 = await exportOnnx({ model: modelDir, output: join(directory, 'llama-fp32.onnx'), verify: false });
  const int8 = await exportOnnx({ model: modelDir, output: join(directory, 'llama-int8.onnx'), precision: 'int8', threads: 2 });
  const v = int8.verify!;
  t.diagnostic(`int8: ${int8.bytes} bytes (fp32 ${fp32.bytes}), mean cosine ${v.meanCosine.toFixed(6)} over ${v.positions} positions, max |Δ logit| ${v.maxAbsDiff.toExponential(2)}`);
  assert.ok(v.passed);
  assert.ok(v.meanCosine >= 0.999 && v.meanCosine < 1 - 1e-9, `cosine ${v.meanCosine}`);
  assert.ok(int8.bytes < fp32.bytes, 'int8 file is smaller');
});
