/**
 * A Hugging Face decoder (llama, mistral, qwen2, qwen3) as an fp32 ONNX graph with the inputs and
 * outputs transformers.js / optimum use for text generation with a KV cache:
 *   input_ids [batch, sequence_length] int64, attention_mask [batch, past + sequence_length] int64,
 *   position_ids [batch, sequence_length] int64, past_key_values.N.key / .value [batch, kv_heads, past, head_dim]
 *   → logits [batch, sequence_length, vocab], present.N.key / .value [batch, kv_heads, past + sequence_length, head_dim].
 * Precisions (inputs, outputs and arithmetic stay float32 in all of them):
 *  - fp32: every weight as stored in the checkpoint;
 *  - fp16: every weight stored as float16 and Cast to float32 where it is used (onnxruntime's CPU
 *    provider has no float16 kernels for most of these operators; its constant folding turns the Casts
 *    into float32 weights at load, so the file is half the size and the numerics are fp32 on fp16 weights);
 *  - int8: the attention and MLP projections as int8 with a per-output-channel scale behind
 *    DequantizeLinear (embeddings, norms and lm_head stay fp32);
 *  - int4: the projections through com.microsoft MatMulNBits (4-bit codes, blocks of 32 along the input
 *    dimension, a float scale and a 4-bit zero point per block; see block-quant.ts); lm_head through
 *    MatMulNBits with 8-bit codes (as llama.cpp's Q4_K_M keeps the output layer at 6 bits); the embedding
 *    table float16 (Gather, then Cast); norms fp32.
 * Past `externalDataThreshold` bytes of weights (protobuf caps one message at 2 GB) the weights go to
 * `<output>.data` (ONNX external data, 4096-aligned), written atomically together with the model.
 * Standard opset-17 operators otherwise. Grouped-query attention keeps a 5-D [batch, kv_heads, group, ...]
 * layout so that K/V are broadcast, not copied. Masked scores are replaced (not offset) by -1e30, so
 * unmasked scores stay exactly what HF computes.
 */
import { HaloError } from '../../util/errors.js';
import { openHfCheckpoint } from '../hf-checkpoint.js';
import { decoderHyperParams } from '../gguf/arch.js';
import { toFloat16Array, float16BitsToFloat32 } from '../float-convert.js';
import { GraphBuilder, OnnxType } from './builder.js';
import { writeOnnxModel } from './external-data.js';
import { dequantizeBlockwise, quantizeBlockwise } from './block-quant.js';
import { join } from 'node:path';

export interface OnnxExportResult {
  path: string;
  /** bytes on disk: the model file plus its external-data file, if any */
  bytes: number;
  /** `<path>.data` when the weights went to an external-data file */
  externalData?: string;
  arch: string;
  layers: number;
  kvHeads: number;
  headDim: number;
}

export const INT4_BLOCK_SIZE = 32;

export interface OnnxWriteOptions {
  /** total weight bytes above which they go to `<output>.data` (default: external-data.ts EXTERNAL_DATA_THRESHOLD, the 2 GB protobuf limit less room for the graph; tests force it low) */
  externalDataThreshold?: number;
  /** MatMulNBits block size along K for int4 (a power of two >= 16; default 32) */
  int4BlockSize?: number;
  /** bits of lm_head's MatMulNBits codes in int4 files (default 8) */
  int4HeadBits?: 4 | 8;
}

function transpose(values: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) out[c * rows + r] = values[r * columns + c];
  return out;
}

export type OnnxPrecision = 'fp32' | 'fp16' | 'int8' | 'int4';

const EMBEDDING = 'model.embed_tokens.weight';
const PROJECTION = /\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\.weight$/;

/**
 * Symmetric per-output-channel int8 of a transposed weight [in, out]: scale[o] = max|w[:, o]| / 127,
 * q = round(w / scale) (ties away from zero, as onnxruntime's own quantizer does).
 */
function quantizeInt8Columns(values: Float32Array, rows: number, columns: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(columns);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) scale[c] = Math.max(scale[c], Math.abs(values[r * columns + c]));
  for (let c = 0; c < columns; c++) scale[c] = scale[c] > 0 ? scale[c] / 127 : 1;
  const q = new Int8Array(values.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const x = values[r * columns + c] / scale[c];
      q[r * columns + c] = Math.max(-127, Math.min(127, Math.sign(x) * Math.round(Math.abs(x))));
    }
  }
  return { q, scale };
}

let float16Table: Float32Array | undefined;

/** Each value rounded to the nearest float16 (a 65536-entry table: far faster than decoding each half). */
function roundToFloat16(values: Float32Array): Float32Array {
  float16Table ??= Float32Array.from({ length: 65536 }, (_, bits) => float16BitsToFloat32(bits));
  const table = float16Table;
  const bits = toFloat16Array(values);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = table[bits[i]];
  return out;
}

/** The lm_head weight name a decoder uses (the embedding when tied). */
function headWeightName(names: ReadonlySet<string>, tieWordEmbeddings: boolean): string {
  return names.has('lm_head.weight') && !tieWordEmbeddings ? 'lm_head.weight' : 'model.embed_tokens.weight';
}

/**
 * The float32 values (HF layout) that an ONNX file of `precision` effectively holds for checkpoint
 * tensor `name`: what onnxruntime computes with. Our engine run on these is the exact reference for
 * the file (verification's agreement check); `lmHead` marks the tensor lm_head's MatMul uses.
 */
export function onnxStoredTensor(precision: OnnxPrecision, name: string, shape: readonly number[], values: Float32Array, lmHead: boolean, options: OnnxWriteOptions = {}): Float32Array {
  const fp16 = (): Float32Array => roundToFloat16(values);
  if (precision === 'fp16') return fp16();
  if (precision === 'int8' && PROJECTION.test(name)) {
    const transposed = transpose(values, shape[0], shape[1]);
    const { q, scale } = quantizeInt8Columns(transposed, shape[1], shape[0]);
    const out = new Float32Array(values.length);
    for (let o = 0; o < shape[0]; o++) for (let i = 0; i < shape[1]; i++) out[o * shape[1] + i] = Math.fround(q[i * shape[0] + o] * scale[o]);
    return out;
  }
  if (precision === 'int4' && (PROJECTION.test(name) || lmHead)) {
    return dequantizeBlockwise(quantizeBlockwise(values, shape[0], shape[1], options.int4BlockSize ?? INT4_BLOCK_SIZE, lmHead ? (options.int4HeadBits ?? 8) : 4));
  }
  if (precision === 'int4' && name === EMBEDDING) return fp16();
  return values;
}

/** Which checkpoint tensor an ONNX decoder's lm_head uses. */
export function onnxHeadTensor(modelDirectory: string): string {
  const checkpoint = openHfCheckpoint(modelDirectory);
  const p = decoderHyperParams(checkpoint.config, join(modelDirectory, 'config.json'));
  return headWeightName(new Set(checkpoint.tensorNames), p.tieWordEmbeddings);
}

export function exportHfToOnnx(modelDirectory: string, outPath: string, precision: OnnxPrecision = 'fp32', options: OnnxWriteOptions = {}): OnnxExportResult {
  const blockSize = options.int4BlockSize ?? INT4_BLOCK_SIZE;
  if (!(Number.isInteger(blockSize) && blockSize >= 16 && (blockSize & (blockSize - 1)) === 0)) {
    throw new HaloError('ERR_ONNX_OPTION', `int4 block size ${blockSize}: MatMulNBits needs a power of two >= 16`, { fix: 'use 16, 32, 64 or 128 (default 32)' });
  }
  const checkpoint = openHfCheckpoint(modelDirectory);
  const configPath = join(modelDirectory, 'config.json');
  const p = decoderHyperParams(checkpoint.config, configPath);
  const names = new Set(checkpoint.tensorNames);
  const g = new GraphBuilder();
  const { heads, kvHeads, headDim, hidden } = p;
  const group = heads / kvHeads;

  // A float weight as a float32 graph value: fp16 files store float16 bits behind a Cast.
  const floatWeight = (name: string, dims: readonly number[], values: Float32Array): string =>
    precision === 'fp16' ? g.op1('Cast', [g.tensor(name, dims, toFloat16Array(values))], { to: OnnxType.FLOAT }) : g.tensor(name, dims, values);
  // x Wᵀ for W [out, in] (HF layout). MatMul takes it transposed, [in, out]; int8 projections go through
  // DequantizeLinear (per output channel, axis 1); int4 ones (and an 8-bit lm_head) through MatMulNBits.
  const matMulWeight = (x: string, name: string, shape: readonly number[], values: Float32Array, role: 'projection' | 'head'): string => {
    const [out, inner] = shape;
    if (precision === 'int4') {
      const q = quantizeBlockwise(values, out, inner, blockSize, role === 'head' ? (options.int4HeadBits ?? 8) : 4);
      const blob = (blockSize * q.bits) / 8;
      return g.contrib1(
        'MatMulNBits',
        [x, g.tensor(`${name}_Q${q.bits}`, [out, q.kBlocks, blob], q.packed), g.tensor(`${name}_scales`, [out, q.kBlocks], q.scales), g.tensor(`${name}_zero_points`, [out, q.zeroPoints.length / out], q.zeroPoints)],
        { K: inner, N: out, bits: q.bits, block_size: blockSize, accuracy_level: 0 },
      );
    }
    const transposed = transpose(values, out, inner);
    if (precision === 'int8' && role === 'projection') {
      const { q, scale } = quantizeInt8Columns(transposed, inner, out);
      return g.op1('MatMul', [x, g.op1('DequantizeLinear', [g.tensor(`${name}_quantized`, [inner, out], q), g.tensor(`${name}_scale`, [out], scale)], { axis: 1 })]);
    }
    return g.op1('MatMul', [x, floatWeight(name, [inner, out], transposed)]);
  };
  // A Linear layer y = x Wᵀ (+ b).
  const linear = (x: string, hfName: string, role: 'projection' | 'head' = 'projection'): string => {
    let y = matMulWeight(x, `${hfName}.weight`, checkpoint.shape(`${hfName}.weight`), checkpoint.read(`${hfName}.weight`), role);
    if (names.has(`${hfName}.bias`)) y = g.op1('Add', [y, floatWeight(`${hfName}.bias`, checkpoint.shape(`${hfName}.bias`), checkpoint.read(`${hfName}.bias`))]);
    return y;
  };
  // HF RMSNorm: x · rsqrt(mean(x²) + eps) · w, in float32.
  const rmsNorm = (x: string, hfName: string): string => {
    const w = floatWeight(hfName, checkpoint.shape(hfName), checkpoint.read(hfName));
    const meanSquare = g.op1('ReduceMean', [g.op1('Mul', [x, x])], { axes: [-1], keepdims: 1 });
    const inverse = g.op1('Reciprocal', [g.op1('Sqrt', [g.op1('Add', [meanSquare, g.float(p.rmsNormEps)])])]);
    return g.op1('Mul', [w, g.op1('Mul', [x, inverse])]);
  };

  const inputIds = g.input('input_ids', OnnxType.INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', OnnxType.INT64, ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', OnnxType.INT64, ['batch_size', 'sequence_length']);

  // rotary tables from position_ids: cos/sin [batch, 1, seq, head_dim] (HF's default rope, two halves)
  const invFreq = Float32Array.from({ length: headDim / 2 }, (_, i) => 1 / p.ropeTheta ** ((2 * i) / headDim));
  const freqs = g.op1('Mul', [g.op1('Unsqueeze', [g.op1('Cast', [positionIds], { to: OnnxType.FLOAT }), g.ints([-1])]), g.tensor('rope.inv_freq', [headDim / 2], invFreq)]);
  const angles = g.op1('Unsqueeze', [g.op1('Concat', [freqs, freqs], { axis: -1 }), g.ints([1])]);
  const cos = g.op1('Cos', [angles]);
  const sin = g.op1('Sin', [angles]);
  const rotate = (x: string): string => {
    const first = g.op1('Slice', [x, g.ints([0]), g.ints([headDim / 2]), g.ints([-1])]);
    const second = g.op1('Slice', [x, g.ints([headDim / 2]), g.ints([headDim]), g.ints([-1])]);
    const rotated = g.op1('Concat', [g.op1('Neg', [second]), first], { axis: -1 });
    return g.op1('Add', [g.op1('Mul', [x, cos]), g.op1('Mul', [rotated, sin])]);
  };

  // allowed[b, 1, 1, s, t]: key t is not padding and t <= past + s
  const shapeIds = g.op1('Shape', [inputIds]);
  const shapeMask = g.op1('Shape', [attentionMask]);
  const seq = g.op1('Gather', [shapeIds, g.ints([1], true)], { axis: 0 });
  const total = g.op1('Gather', [shapeMask, g.ints([1], true)], { axis: 0 });
  const past = g.op1('Sub', [total, seq]);
  const keyIndex = g.op1('Range', [g.ints([0], true), total, g.ints([1], true)]);
  const queryIndex = g.op1('Range', [past, total, g.ints([1], true)]);
  const causal = g.op1('LessOrEqual', [g.op1('Unsqueeze', [keyIndex, g.ints([0])]), g.op1('Unsqueeze', [queryIndex, g.ints([1])])]);
  const notPadding = g.op1('Unsqueeze', [g.op1('Cast', [attentionMask], { to: OnnxType.BOOL }), g.ints([1, 2, 3])]);
  const allowed = g.op1('And', [causal, notPadding]);
  const masked = g.float(-1e30);
  const scale = g.float(1 / Math.sqrt(headDim));

  const embedShape = checkpoint.shape('model.embed_tokens.weight');
  const embedValues = checkpoint.read('model.embed_tokens.weight');
  // fp16 files, and int4 ones (where the embedding would otherwise be most of the file), keep it as float16
  let h =
    precision === 'fp16' || precision === 'int4'
      ? g.op1('Cast', [g.op1('Gather', [g.tensor('model.embed_tokens.weight', embedShape, toFloat16Array(embedValues)), inputIds], { axis: 0 })], { to: OnnxType.FLOAT })
      : g.op1('Gather', [g.tensor('model.embed_tokens.weight', embedShape, embedValues), inputIds], { axis: 0 });
  for (let layer = 0; layer < p.layers; layer++) {
    const prefix = `model.layers.${layer}`;
    const x = rmsNorm(h, `${prefix}.input_layernorm.weight`);
    const heads4 = (y: string, n: number): string => g.op1('Reshape', [y, g.ints([0, 0, n, headDim])]);
    let q = heads4(linear(x, `${prefix}.self_attn.q_proj`), heads);
    let k = heads4(linear(x, `${prefix}.self_attn.k_proj`), kvHeads);
    const v4 = heads4(linear(x, `${prefix}.self_attn.v_proj`), kvHeads);
    if (names.has(`${prefix}.self_attn.q_norm.weight`)) {
      q = rmsNorm(q, `${prefix}.self_attn.q_norm.weight`);
      k = rmsNorm(k, `${prefix}.self_attn.k_norm.weight`);
    }
    q = rotate(g.op1('Transpose', [q], { perm: [0, 2, 1, 3] }));
    k = rotate(g.op1('Transpose', [k], { perm: [0, 2, 1, 3] }));
    const v = g.op1('Transpose', [v4], { perm: [0, 2, 1, 3] });
    const pastKey = g.input(`past_key_values.${layer}.key`, OnnxType.FLOAT, ['batch_size', kvHeads, 'past_sequence_length', headDim]);
    const pastValue = g.input(`past_key_values.${layer}.value`, OnnxType.FLOAT, ['batch_size', kvHeads, 'past_sequence_length', headDim]);
    const presentKey = g.op1('Concat', [pastKey, k], { axis: 2 }, `present.${layer}.key`);
    const presentValue = g.op1('Concat', [pastValue, v], { axis: 2 }, `present.${layer}.value`);
    g.output(`present.${layer}.key`, OnnxType.FLOAT, ['batch_size', kvHeads, 'total_sequence_length', headDim]);
    g.output(`present.${layer}.value`, OnnxType.FLOAT, ['batch_size', kvHeads, 'total_sequence_length', headDim]);
    // [b, kv, group, s, d] · [b, kv, 1, d, t] → [b, kv, group, s, t]
    const q5 = g.op1('Reshape', [q, g.ints([0, kvHeads, group, -1, headDim])]);
    const kT = g.op1('Unsqueeze', [g.op1('Transpose', [presentKey], { perm: [0, 1, 3, 2] }), g.ints([2])]);
    const scores = g.op1('Mul', [g.op1('MatMul', [q5, kT]), scale]);
    const probabilities = g.op1('Softmax', [g.op1('Where', [allowed, scores, masked])], { axis: -1 });
    const context5 = g.op1('MatMul', [probabilities, g.op1('Unsqueeze', [presentValue, g.ints([2])])]);
    const context = g.op1('Reshape', [g.op1('Transpose', [g.op1('Reshape', [context5, g.ints([0, heads, -1, headDim])])], { perm: [0, 2, 1, 3] }), g.ints([0, 0, heads * headDim])]);
    h = g.op1('Add', [h, linear(context, `${prefix}.self_attn.o_proj`)]);
    const y = rmsNorm(h, `${prefix}.post_attention_layernorm.weight`);
    const gate = linear(y, `${prefix}.mlp.gate_proj`);
    const activated = g.op1('Mul', [g.op1('Mul', [gate, g.op1('Sigmoid', [gate])]), linear(y, `${prefix}.mlp.up_proj`)]);
    h = g.op1('Add', [h, linear(activated, `${prefix}.mlp.down_proj`)]);
  }
  const final = rmsNorm(h, 'model.norm.weight');
  const head = headWeightName(names, p.tieWordEmbeddings);
  if (head === 'lm_head.weight') g.op1('Identity', [linear(final, 'lm_head', 'head')], {}, 'logits');
  else g.op1('Identity', [matMulWeight(final, 'lm_head.weight.tied', embedShape, embedValues, 'head')], {}, 'logits');
  g.output('logits', OnnxType.FLOAT, ['batch_size', 'sequence_length', p.vocabSize]);

  const files = writeOnnxModel(outPath, g.model(p.arch), g.initializerBytes, options.externalDataThreshold);
  return { path: outPath, ...files, arch: p.arch, layers: p.layers, kvHeads, headDim };
}
