/**
 * A Hugging Face decoder (llama, mistral, qwen2, qwen3) as an fp32 ONNX graph with the inputs and
 * outputs transformers.js / optimum use for text generation with a KV cache:
 *   input_ids [batch, sequence_length] int64, attention_mask [batch, past + sequence_length] int64,
 *   position_ids [batch, sequence_length] int64, past_key_values.N.key / .value [batch, kv_heads, past, head_dim]
 *   → logits [batch, sequence_length, vocab], present.N.key / .value [batch, kv_heads, past + sequence_length, head_dim].
 * Standard opset-17 operators only; `int8` stores the attention and MLP projections as int8 with a
 * per-output-channel scale behind DequantizeLinear (embeddings, norms and lm_head stay fp32). Grouped-query attention keeps a 5-D [batch, kv_heads, group, ...]
 * layout so that K/V are broadcast, not copied. Masked scores are replaced (not offset) by -1e30, so
 * unmasked scores stay exactly what HF computes.
 */
import { HaloError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { openHfCheckpoint } from '../hf-checkpoint.js';
import { decoderHyperParams } from '../gguf/arch.js';
import { GraphBuilder, OnnxType } from './builder.js';
import { join } from 'node:path';

export interface OnnxExportResult {
  path: string;
  bytes: number;
  arch: string;
  layers: number;
  kvHeads: number;
  headDim: number;
}

const PROTOBUF_LIMIT = 2 ** 31 - 1;

function transpose(values: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) out[c * rows + r] = values[r * columns + c];
  return out;
}

export type OnnxPrecision = 'fp32' | 'int8';

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

export function exportHfToOnnx(modelDirectory: string, outPath: string, precision: OnnxPrecision = 'fp32'): OnnxExportResult {
  const checkpoint = openHfCheckpoint(modelDirectory);
  const configPath = join(modelDirectory, 'config.json');
  const p = decoderHyperParams(checkpoint.config, configPath);
  const names = new Set(checkpoint.tensorNames);
  const g = new GraphBuilder();
  const { heads, kvHeads, headDim, hidden } = p;
  const group = heads / kvHeads;

  // A Linear layer y = x Wᵀ (+ b): the weight is stored transposed, [in, out], for MatMul; in int8
  // files the decoder projections go through DequantizeLinear (per output channel, axis 1).
  const linear = (x: string, hfName: string, quantize = precision === 'int8'): string => {
    const shape = checkpoint.shape(`${hfName}.weight`);
    const transposed = transpose(checkpoint.read(`${hfName}.weight`), shape[0], shape[1]);
    let w: string;
    if (quantize) {
      const { q, scale } = quantizeInt8Columns(transposed, shape[1], shape[0]);
      w = g.op1('DequantizeLinear', [g.tensor(`${hfName}.weight_quantized`, [shape[1], shape[0]], q), g.tensor(`${hfName}.weight_scale`, [shape[0]], scale)], { axis: 1 });
    } else {
      w = g.tensor(`${hfName}.weight`, [shape[1], shape[0]], transposed);
    }
    let y = g.op1('MatMul', [x, w]);
    if (names.has(`${hfName}.bias`)) y = g.op1('Add', [y, g.tensor(`${hfName}.bias`, [shape[0]], checkpoint.read(`${hfName}.bias`))]);
    return y;
  };
  // HF RMSNorm: x · rsqrt(mean(x²) + eps) · w, in float32.
  const rmsNorm = (x: string, hfName: string): string => {
    const w = g.tensor(hfName, checkpoint.shape(hfName), checkpoint.read(hfName));
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

  let h = g.op1('Gather', [g.tensor('model.embed_tokens.weight', checkpoint.shape('model.embed_tokens.weight'), checkpoint.read('model.embed_tokens.weight')), inputIds], { axis: 0 });
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
  const head = names.has('lm_head.weight') && !p.tieWordEmbeddings ? 'lm_head' : undefined;
  if (head) g.op1('Identity', [linear(final, head, false)], {}, 'logits');
  else {
    const [vocab, width] = checkpoint.shape('model.embed_tokens.weight');
    g.op1('MatMul', [final, g.tensor('lm_head.weight.tied', [width, vocab], transpose(checkpoint.read('model.embed_tokens.weight'), vocab, width))], {}, 'logits');
  }
  g.output('logits', OnnxType.FLOAT, ['batch_size', 'sequence_length', p.vocabSize]);
  if (g.initializerBytes > PROTOBUF_LIMIT - (64 << 20)) {
    throw new HaloError('ERR_ONNX_TOO_LARGE', `${modelDirectory}: ${g.initializerBytes} bytes of fp32 weights exceed the 2 GB protobuf limit of a single ONNX file`, {
      fix: 'external-data ONNX is not implemented yet; export GGUF for models this large',
    });
  }
  const bytes = g.serialize(p.arch);
  writeFileAtomic(outPath, bytes);
  return { path: outPath, bytes: bytes.byteLength, arch: p.arch, layers: p.layers, kvHeads, headDim };
}
