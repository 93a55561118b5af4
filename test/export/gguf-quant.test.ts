/**
 * Our GGUF block quantizers and quant mixes against llama.cpp's own (the prebuilt libllama /
 * libggml-base of @node-llama-cpp/linux-x64, reached through a shim compiled at test time):
 * byte-identical tensor data per type, and for whole files the same type and bytes for every tensor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ggmlDequantize, ggmlQuantize } from '../../src/engine/ggml-quant.js';
import { exportHfToGguf } from '../../src/export/gguf/from-hf.js';
import { GgmlType } from '../../src/export/gguf/format.js';
import { quantizationPlan, QUANTIZATION_FILE_TYPE, type GgufQuantization } from '../../src/export/gguf/quant-mix.js';
import { readGguf, readGgufTensorBytes } from '../../src/export/gguf/reader.js';
import { openLlamaCppQuantizer, type LlamaCppQuantizer } from '../../src/export/llama-cpp-quantizer.js';
import { defaultTinyOptions, writeTinyModel, type TinyArch } from '../../src/export/tiny-model.js';
import { registerNativeGgufEncoders } from '../../src/pipelines/export-gguf-encoders.js';
import { Rng } from '../../src/util/rng.js';

const directory = mkdtempSync(join(tmpdir(), 'halo-gguf-quant-'));
test.after(() => rmSync(directory, { recursive: true, force: true }));

let oracle: LlamaCppQuantizer | undefined;
let oracleMissing: string | undefined;
try {
  oracle = openLlamaCppQuantizer();
} catch (error) {
  oracleMissing = (error as Error).message;
}
registerNativeGgufEncoders();

/** Gaussian-ish weights with outliers, an all-zero block, a constant block and tiny values: the quantizers' edge cases. */
function testValues(rows: number, rowLength: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const values = new Float32Array(rows * rowLength);
  for (let i = 0; i < values.length; i++) {
    const u = rng.next() + rng.next() + rng.next() - 1.5;
    values[i] = u * 0.05 * (rng.next() < 0.01 ? 20 : 1);
  }
  values.fill(0, 0, 256); // an all-zero super-block
  values.fill(0.0123, 256, 512); // a constant super-block
  for (let i = 512; i < 768; i++) values[i] *= 1e-6;
  for (let i = 768; i < 800; i++) values[i] = Math.abs(values[i]); // one all-positive block
  return values;
}

const TYPES: [string, number][] = [
  ['F16', GgmlType.F16],
  ['Q8_0', GgmlType.Q8_0],
  ['Q4_0', GgmlType.Q4_0],
  ['Q5_0', GgmlType.Q5_0],
  ['Q5_1', GgmlType.Q5_1],
  ['Q4_K', GgmlType.Q4_K],
  ['Q5_K', GgmlType.Q5_K],
  ['Q6_K', GgmlType.Q6_K],
];

for (const [name, type] of TYPES) {
  test(`${name} blocks are byte-identical to ggml_quantize_chunk`, (t) => {
    if (!oracle) return t.skip(`llama.cpp quantizer unavailable: ${oracleMissing}`);
    const rowLength = 512;
    const values = testValues(64, rowLength, 7 + type);
    const ours = ggmlQuantize(type, values, rowLength);
    const theirs = oracle.quantizeTensor(type, values, rowLength);
    assert.equal(ours.length, theirs.length);
    let firstDiff = -1;
    for (let i = 0; i < ours.length; i++) if (ours[i] !== theirs[i]) { firstDiff = i; break; }
    assert.equal(firstDiff, -1, `first differing byte ${firstDiff}`);
    // and the bytes decode to something close to the input (guards against two identical wrong encoders)
    const back = ggmlDequantize(type, ours, rowLength, values.length);
    let err = 0;
    let norm = 0;
    for (let i = 0; i < values.length; i++) { err += (back[i] - values[i]) ** 2; norm += values[i] ** 2; }
    const relative = Math.sqrt(err / norm);
    t.diagnostic(`${name}: ${ours.length} bytes identical, relative RMS error ${relative.toExponential(2)}`);
    assert.ok(relative < (type === GgmlType.F16 ? 1e-3 : type === GgmlType.Q8_0 ? 0.02 : 0.2), `round trip error ${relative}`);
  });
}

/** Quantizes our F32 GGUF with llama.cpp, writes ours with the same mix, and compares every tensor. */
function compareFiles(t: { diagnostic(message: string): void }, model: string, f32: string, quantization: GgufQuantization, label: string): void {
  const theirsPath = join(directory, `${label}-${quantization}-llama.gguf`);
  const oursPath = join(directory, `${label}-${quantization}-ours.gguf`);
  oracle!.quantizeFile(f32, theirsPath, QUANTIZATION_FILE_TYPE[quantization]);
  exportHfToGguf(model, oursPath, quantizationPlan(quantization));
  const theirs = readGguf(theirsPath);
  const ours = readGguf(oursPath);
  assert.equal(ours.tensors.length, theirs.tensors.length);
  const types = new Map<string, number>();
  for (const tensor of theirs.tensors) {
    const mine = ours.tensors.find((x) => x.name === tensor.name);
    assert.ok(mine, `${tensor.name} is in our file`);
    assert.equal(GgmlType[mine.type], GgmlType[tensor.type], `${quantization} type of ${tensor.name}`);
    assert.deepEqual(mine.ne, tensor.ne);
    assert.ok(readGgufTensorBytes(ours, tensor.name).equals(readGgufTensorBytes(theirs, tensor.name)), `${quantization} bytes of ${tensor.name}`);
    types.set(GgmlType[tensor.type], (types.get(GgmlType[tensor.type]) ?? 0) + 1);
  }
  assert.equal(ours.metadata.get('general.file_type'), QUANTIZATION_FILE_TYPE[quantization]);
  t.diagnostic(`${label} ${quantization}: ${theirs.tensors.length} tensors identical in type and bytes ${JSON.stringify(Object.fromEntries(types))}`);
}

const FILE_QUANTIZATIONS: GgufQuantization[] = ['F16', 'Q8_0', 'Q4_0', 'Q6_K', 'Q4_K_S', 'Q4_K_M'];

for (const arch of ['llama', 'qwen2'] as TinyArch[]) {
  test(`${arch}: every tensor of our F16/Q8_0/Q4_0/Q6_K/Q4_K_S/Q4_K_M files matches llama-quantize (dims multiples of 256)`, (t) => {
    if (!oracle) return t.skip(`llama.cpp quantizer unavailable: ${oracleMissing}`);
    const model = join(directory, `${arch}-256`);
    writeTinyModel(model, { ...defaultTinyOptions(arch), layers: 8, hidden: 256, heads: 4, kvHeads: 2, headDim: 64, intermediate: 512, seed: 5, ...(arch === 'llama' ? { vocab: 'llama3-32k' as const } : {}) });
    const f32 = join(directory, `${arch}-256-f32.gguf`);
    exportHfToGguf(model, f32, 'F32');
    // qwen2's 151k vocabulary makes each file slow: its run covers the mixes, llama's every file type
    for (const quantization of arch === 'llama' ? FILE_QUANTIZATIONS : (['Q4_0', 'Q4_K_S', 'Q4_K_M'] as GgufQuantization[])) compareFiles(t, model, f32, quantization, `${arch}-256`);
  });
}

test('llama with rows not divisible by 256: the Q4_K_M / Q4_K_S fallbacks (Q5_0, Q5_1, Q8_0) match llama-quantize', (t) => {
  if (!oracle) return t.skip(`llama.cpp quantizer unavailable: ${oracleMissing}`);
  const model = join(directory, 'llama-160');
  writeTinyModel(model, { ...defaultTinyOptions('llama'), layers: 4, hidden: 160, heads: 5, kvHeads: 1, headDim: 32, intermediate: 288, seed: 9, vocab: 'llama3-32k' });
  const f32 = join(directory, 'llama-160-f32.gguf');
  exportHfToGguf(model, f32, 'F32');
  for (const quantization of ['Q4_K_S', 'Q4_K_M'] as GgufQuantization[]) compareFiles(t, model, f32, quantization, 'llama-160');
});
