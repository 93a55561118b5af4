/**
 * ONNX fp16 / int4 exports and external data, in onnxruntime-node:
 *  - MatMulNBits packing: one MatMulNBits node on our packed codes, scales and zero points gives, to
 *    float32 rounding, A · dequantize(B)ᵀ computed here — quantization error plays no part, so this pins
 *    the layout (nibble order, block padding, zero-point packing) on its own;
 *  - fp16 and int4 decoders agree with our engine on the weights they store (max |Δ logit| <= 1e-4,
 *    greedy identical), keep their fidelity vs the fp32 source (fp16 cosine >= 0.999; int4 >= 0.98 on a
 *    trained model), and are smaller than fp32 by the expected ratio;
 *  - weights in an external-data file load from the model's path with logits identical to the embedded
 *    file, and a failed write leaves neither file behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, TensorProto_DataLocation } from 'onnx-buf';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportHfToOnnx } from '../../src/export/onnx/decoder.js';
import { dequantizeBlockwise, quantizeBlockwise } from '../../src/export/onnx/block-quant.js';
import { GraphBuilder, OnnxType } from '../../src/export/onnx/builder.js';
import { openOnnxDecoder } from '../../src/export/onnx/runner.js';
import { exportOnnx } from '../../src/pipelines/export.js';
import { defaultTinyOptions, writeTinyModel } from '../../src/export/tiny-model.js';
import { Rng } from '../../src/util/rng.js';
import { ensureTrainedTinyModel, trainedTinyHeldOutSequences, trainedTinyModelSkipReason } from '../support/trained-tiny-model.js';
import { onnxRuntimeMissing } from '../support/onnxruntime.js';

const directory = mkdtempSync(join(tmpdir(), 'halo-onnx-precision-'));
test.after(() => rmSync(directory, { recursive: true, force: true }));

const ortMissing = await onnxRuntimeMissing();

function gaussian(rng: Rng, count: number, std: number): Float32Array {
  return Float32Array.from({ length: count }, () => {
    const u = 1 - rng.next();
    return std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
  });
}

const tiedLlama = join(directory, 'llama-tied');
const llama = join(directory, 'llama');
writeTinyModel(llama, { ...defaultTinyOptions('llama'), vocab: 'llama3-32k', seed: 11 });
writeTinyModel(tiedLlama, { ...defaultTinyOptions('llama'), vocab: 'llama3-32k', tieWordEmbeddings: true, seed: 12 });

for (const [bits, blockSize, k] of [[4, 32, 80], [4, 16, 64], [8, 32, 96]] as const) {
  test(`MatMulNBits ${bits}-bit, block ${blockSize}, K ${k}: onnxruntime on our packed weights equals A · dequantize(B)ᵀ`, async (t) => {
    if (ortMissing) return t.skip(ortMissing);
    const ort = await import('onnxruntime-node');
    const rng = new Rng(bits * 100 + blockSize + k);
    const m = 5;
    const n = 24;
    const weight = gaussian(rng, n * k, 0.05);
    const input = gaussian(rng, m * k, 1);
    const q = quantizeBlockwise(weight, n, k, blockSize, bits);
    const dequantized = dequantizeBlockwise(q);
    // the codes are a real rounding: every weight moved, by at most half a step of its block
    let moved = 0;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < k; c++) {
        const step = q.scales[r * q.kBlocks + Math.floor(c / blockSize)];
        const error = Math.abs(weight[r * k + c] - dequantized[r * k + c]);
        assert.ok(error <= step / 2 + 1e-7, `weight (${r}, ${c}) off by ${error}, step ${step}`);
        if (error > 0) moved++;
      }
    }
    assert.ok(moved > (n * k) / 2, `only ${moved} of ${n * k} weights changed: not a ${bits}-bit rounding`);

    const g = new GraphBuilder();
    const a = g.input('A', OnnxType.FLOAT, [m, k]);
    const blob = (blockSize * bits) / 8;
    const y = g.contrib1('MatMulNBits', [a, g.tensor('B', [n, q.kBlocks, blob], q.packed), g.tensor('scales', [n, q.kBlocks], q.scales), g.tensor('zero_points', [n, q.zeroPoints.length / n], q.zeroPoints)], {
      K: k,
      N: n,
      bits,
      block_size: blockSize,
      accuracy_level: 0,
    });
    g.op1('Identity', [y], {}, 'Y');
    g.output('Y', OnnxType.FLOAT, [m, n]);
    const session = await ort.InferenceSession.create(g.serialize('matmul_nbits'), { graphOptimizationLevel: 'basic', intraOpNumThreads: 1 });
    const theirs = (await session.run({ A: new ort.Tensor('float32', input, [m, k]) })).Y.data as Float32Array;
    await session.release();
    let maxDiff = 0;
    let maxQuantizationEffect = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let exact = 0;
        let unquantized = 0;
        for (let c = 0; c < k; c++) {
          exact += input[i * k + c] * dequantized[j * k + c];
          unquantized += input[i * k + c] * weight[j * k + c];
        }
        maxDiff = Math.max(maxDiff, Math.abs(theirs[i * n + j] - exact));
        maxQuantizationEffect = Math.max(maxQuantizationEffect, Math.abs(exact - unquantized));
      }
    }
    t.diagnostic(`max |onnxruntime - A·dequant(B)ᵀ| ${maxDiff.toExponential(2)}; quantization itself moves outputs by up to ${maxQuantizationEffect.toExponential(2)}`);
    assert.ok(maxDiff <= 2e-6, `max diff ${maxDiff}`);
    assert.ok(maxQuantizationEffect > 100 * maxDiff, 'the check is far tighter than the quantization error');
  });
}

for (const [name, modelDir] of [['llama', llama], ['llama (tied embeddings)', tiedLlama]] as const) {
  test(`${name}: ONNX fp16 and int4 agree with our engine on their stored weights; fp16 cosine >= 0.999; sizes`, async (t) => {
    if (ortMissing) return t.skip(ortMissing);
    const fp32 = exportHfToOnnx(modelDir, join(directory, 'fp32.onnx'));
    const fp16 = await exportOnnx({ model: modelDir, output: join(directory, 'fp16.onnx'), precision: 'fp16', threads: 2 });
    const int4 = await exportOnnx({ model: modelDir, output: join(directory, 'int4.onnx'), precision: 'int4', threads: 2 });
    for (const result of [fp16, int4]) {
      const v = result.verify!;
      t.diagnostic(
        `${result.precision}: ${result.bytes} bytes (${(result.bytes / fp32.bytes).toFixed(3)} x fp32); vs stored weights max |Δ| ${v.agreement.maxAbsDiff.toExponential(2)}, greedy ${v.agreement.greedyIdentical ? 'identical' : 'differ'}; ` +
          `vs fp32 source: cosine ${v.meanCosine.toFixed(6)}, max |Δ| ${v.maxAbsDiff.toExponential(2)} over ${v.positions} positions`,
      );
      assert.ok(v.passed);
      assert.ok(v.agreement.maxAbsDiff <= 1e-4 && v.agreement.greedyIdentical);
      // the precision really changed the weights
      assert.ok(v.maxAbsDiff > 10 * v.agreement.maxAbsDiff, `source diff ${v.maxAbsDiff} vs stored diff ${v.agreement.maxAbsDiff}`);
    }
    assert.ok(fp16.verify!.meanCosine >= 0.999);
    const fp16Ratio = fp16.bytes / fp32.bytes;
    assert.ok(fp16Ratio > 0.49 && fp16Ratio < 0.51, `fp16 / fp32 ${fp16Ratio}`);
    // random-init weights: 4-bit rounding costs more than on trained ones (below), but stays well correlated
    assert.ok(int4.verify!.meanCosine > 0.9, `int4 cosine ${int4.verify!.meanCosine}`);
    assert.ok(int4.bytes / fp32.bytes < 0.45, `int4 / fp32 ${int4.bytes / fp32.bytes}`);
  });
}

test('trained llama: ONNX int4 (MatMulNBits) logit cosine >= 0.98 vs our fp32 engine over 512 held-out positions', async (t) => {
  if (ortMissing) return t.skip(ortMissing);
  const reason = trainedTinyModelSkipReason();
  if (reason) return t.skip(reason);
  const modelDir = await ensureTrainedTinyModel();
  const sequences = trainedTinyHeldOutSequences(modelDir, 8, 64);
  const fp32 = exportHfToOnnx(modelDir, join(directory, 'trained-fp32.onnx'));
  const int4 = await exportOnnx({ model: modelDir, output: join(directory, 'trained-int4.onnx'), precision: 'int4', sequences, threads: 2 });
  const v = int4.verify!;
  t.diagnostic(`trained int4: cosine ${v.meanCosine.toFixed(6)}, argmax ${(v.argmaxAgreement * 100).toFixed(1)}% over ${v.positions} positions, max |Δ| ${v.maxAbsDiff.toExponential(2)}, ${(int4.bytes / fp32.bytes).toFixed(3)} x fp32; vs stored weights max |Δ| ${v.agreement.maxAbsDiff.toExponential(2)}`);
  assert.equal(v.positions, 512);
  assert.ok(v.passed && v.fidelityMet);
  assert.ok(v.meanCosine >= 0.98 && v.meanCosine < 1 - 1e-7, `cosine ${v.meanCosine}`);
  assert.ok(v.argmaxAgreement >= 0.9, `argmax agreement ${v.argmaxAgreement}`);
});

test('external data: weights in <output>.data (4096-aligned) load from the model path with logits identical to the embedded file', async (t) => {
  if (ortMissing) return t.skip(ortMissing);
  const embedded = exportHfToOnnx(llama, join(directory, 'embedded.onnx'), 'int4');
  const externalDir = join(directory, 'external');
  mkdirSync(externalDir);
  const external = exportHfToOnnx(llama, join(externalDir, 'model.onnx'), 'int4', { externalDataThreshold: 0 });
  assert.equal(embedded.externalData, undefined);
  assert.equal(external.externalData, join(externalDir, 'model.onnx.data'));
  const modelBytes = statSync(external.path).size;
  const dataBytes = statSync(external.externalData!).size;
  t.diagnostic(`embedded ${embedded.bytes} bytes; external: model ${modelBytes} + data ${dataBytes} bytes`);
  assert.ok(modelBytes < 64 * 1024, `the model file keeps only the graph and small constants (${modelBytes} bytes)`);
  assert.equal(modelBytes + dataBytes, external.bytes);
  assert.ok(dataBytes >= embedded.bytes - modelBytes);
  const stored = fromBinary(ModelProtoSchema, readFileSync(external.path));
  const moved = stored.graph!.initializer.filter((tensor) => tensor.dataLocation === TensorProto_DataLocation.EXTERNAL);
  assert.ok(moved.length > 10);
  for (const tensor of moved) {
    const entry = Object.fromEntries(tensor.externalData.map((e) => [e.key, e.value]));
    assert.equal(entry.location, 'model.onnx.data');
    assert.equal(Number(entry.offset) % 4096, 0, `${tensor.name} at offset ${entry.offset}`);
    assert.ok(Number(entry.offset) + Number(entry.length) <= dataBytes);
    assert.equal(tensor.rawData.byteLength, 0);
  }
  const rng = new Rng(3);
  const prompt = Array.from({ length: 10 }, () => 100 + rng.int(30000));
  const logits = async (path: string) => {
    const session = await openOnnxDecoder(path, embedded.layers, embedded.kvHeads, embedded.headDim);
    try {
      return await session.logits(prompt);
    } finally {
      await session.dispose();
    }
  };
  const a = await logits(embedded.path);
  const b = await logits(external.path);
  assert.deepEqual(b, a);
  // the pipeline verifies an external-data file like any other
  const verified = await exportOnnx({ model: llama, output: join(externalDir, 'verified.onnx'), precision: 'fp16', externalDataThreshold: 0, threads: 2 });
  assert.ok(verified.verify?.passed && verified.externalData === join(externalDir, 'verified.onnx.data'));
  // exporting again without external data removes the stale side file
  exportHfToOnnx(llama, join(externalDir, 'model.onnx'), 'int4');
  assert.ok(!existsSync(join(externalDir, 'model.onnx.data')));
});

test('external data: a failed write leaves neither the model nor its .data file', () => {
  const dir = join(directory, 'failing');
  mkdirSync(dir);
  // a directory where the side file must go makes its rename fail after both temp files were written
  mkdirSync(join(dir, 'model.onnx.data'));
  assert.throws(() => exportHfToOnnx(llama, join(dir, 'model.onnx'), 'fp16', { externalDataThreshold: 0 }));
  assert.deepEqual(readdirSync(dir), ['model.onnx.data']);
  assert.ok(statSync(join(dir, 'model.onnx.data')).isDirectory());
});

test('int4 block size must be a power of two >= 16', () => {
  assert.throws(() => exportHfToOnnx(llama, join(directory, 'bad.onnx'), 'int4', { int4BlockSize: 24 }), (error: Error & { code?: string }) => error.code === 'ERR_ONNX_OPTION');
});
