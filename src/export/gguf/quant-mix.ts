/**
 * Which ggml type each tensor gets in a llama.cpp file type, as llama-quantize decides it
 * (llama_tensor_get_type in llama.cpp's src/llama-quant.cpp, no importance matrix, no overrides):
 *  - only tensors with >= 2 dims whose name ends in "weight" and is not a norm are quantized;
 *  - output.weight, and token_embd.weight when the output is tied to it, become Q6_K (Q8_0 in a Q8_0
 *    file, or when the row length is not a multiple of the default type's block);
 *  - Q4_K_M: attn_v and ffn_down of the layers `useMoreBits` picks become Q6_K;
 *    Q4_K_S: attn_v of layers 0-3 and ffn_down of the first eighth of layers become Q5_K;
 *    llama-family 70B models (80 layers, GQA) raise attn_v from Q4_K to Q5_K;
 *  - a type whose block does not divide the row falls back (Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0),
 *    and to F16 when even that does not divide it.
 */
import { GGML_BLOCK, GgmlType, LlamaFileType } from './format.js';

export const GGUF_QUANTIZATIONS = ['F32', 'F16', 'Q8_0', 'Q6_K', 'Q4_0', 'Q4_K_S', 'Q4_K_M'] as const;
export type GgufQuantization = (typeof GGUF_QUANTIZATIONS)[number];

export const QUANTIZATION_FILE_TYPE: Readonly<Record<GgufQuantization, LlamaFileType>> = {
  F32: LlamaFileType.ALL_F32,
  F16: LlamaFileType.MOSTLY_F16,
  Q8_0: LlamaFileType.MOSTLY_Q8_0,
  Q6_K: LlamaFileType.MOSTLY_Q6_K,
  Q4_0: LlamaFileType.MOSTLY_Q4_0,
  Q4_K_S: LlamaFileType.MOSTLY_Q4_K_S,
  Q4_K_M: LlamaFileType.MOSTLY_Q4_K_M,
};

const DEFAULT_TYPE: Readonly<Record<GgufQuantization, GgmlType>> = {
  F32: GgmlType.F32,
  F16: GgmlType.F16,
  Q8_0: GgmlType.Q8_0,
  Q6_K: GgmlType.Q6_K,
  Q4_0: GgmlType.Q4_0,
  Q4_K_S: GgmlType.Q4_K,
  Q4_K_M: GgmlType.Q4_K,
};

export function isQuantizedType(type: GgmlType): boolean {
  return type !== GgmlType.F32 && type !== GgmlType.F16 && type !== GgmlType.BF16;
}

export interface MixModel {
  arch: string;
  layers: number;
  heads: number;
  kvHeads: number;
}

export interface MixTensor {
  name: string;
  /** ggml dims, innermost first */
  ne: readonly number[];
  /** the type the tensor has before quantization (F32 for norms and biases) */
  sourceType: GgmlType;
}

function useMoreBits(layer: number, layers: number): boolean {
  return layer < Math.floor(layers / 8) || layer >= Math.floor((7 * layers) / 8) || (layer - Math.floor(layers / 8)) % 3 === 2;
}

function nDims(ne: readonly number[]): number {
  for (let i = ne.length - 1; i >= 1; i--) if (ne[i] > 1) return i + 1;
  return 1;
}

function allowsQuantization(tensor: MixTensor): boolean {
  return nDims(tensor.ne) >= 2 && tensor.name.endsWith('weight') && !tensor.name.includes('_norm.weight');
}

function fallback(type: GgmlType, rowLength: number): GgmlType {
  if (rowLength % GGML_BLOCK[type].elements === 0) return type;
  const next = type === GgmlType.Q4_K ? GgmlType.Q5_0 : type === GgmlType.Q5_K ? GgmlType.Q5_1 : type === GgmlType.Q6_K ? GgmlType.Q8_0 : undefined;
  if (next === undefined) throw new Error(`no fallback for ${GgmlType[type]} with rows of ${rowLength}`);
  return rowLength % GGML_BLOCK[next].elements === 0 ? next : GgmlType.F16;
}

/** The ggml type of every tensor (same order as `tensors`). */
export function chooseTensorTypes(tensors: readonly MixTensor[], quantization: GgufQuantization, model: MixModel): GgmlType[] {
  const defaultType = DEFAULT_TYPE[quantization];
  const tied = !tensors.some((t) => t.name === 'output.weight');
  const is70B = model.arch === 'llama' && model.layers === 80 && model.heads !== model.kvHeads;
  const layerOf = (name: string): number => Number(/^blk\.(\d+)\./.exec(name)?.[1] ?? -1);
  const nAttnV = tensors.filter((t) => t.name.includes('attn_v.weight')).length;
  // llama-quantize walks tensors sorted by layer, then name; its counters follow that order.
  const order = tensors.map((t, i) => i).sort((a, b) => {
    const la = layerOf(tensors[a].name);
    const lb = layerOf(tensors[b].name);
    return la !== lb ? la - lb : tensors[a].name < tensors[b].name ? -1 : tensors[a].name > tensors[b].name ? 1 : 0;
  });
  let iAttnV = 0;
  let iFfnDown = 0;
  const types: GgmlType[] = tensors.map((t) => t.sourceType);
  for (const index of order) {
    const tensor = tensors[index];
    if (!allowsQuantization(tensor)) continue;
    let type = defaultType;
    if (!isQuantizedType(defaultType)) {
      types[index] = type;
      continue;
    }
    const name = tensor.name;
    const rowLength = tensor.ne[0];
    if (name === 'output.weight' || (tied && name === 'token_embd.weight')) {
      if (rowLength % GGML_BLOCK[type].elements !== 0) type = GgmlType.Q8_0;
      else if (type !== GgmlType.Q8_0) type = GgmlType.Q6_K;
    } else if (name === 'token_embd.weight') {
      // keeps the default type
    } else if (name.includes('attn_v.weight')) {
      if (quantization === 'Q4_K_M' && useMoreBits(iAttnV, nAttnV)) type = GgmlType.Q6_K;
      else if (quantization === 'Q4_K_S' && iAttnV < 4) type = GgmlType.Q5_K;
      if (is70B && type === GgmlType.Q4_K) type = GgmlType.Q5_K;
      iAttnV++;
    } else if (name.includes('ffn_down')) {
      if (quantization === 'Q4_K_M' && useMoreBits(iFfnDown, model.layers)) type = GgmlType.Q6_K;
      else if (quantization === 'Q4_K_S' && iFfnDown < Math.floor(model.layers / 8)) type = GgmlType.Q5_K;
      iFfnDown++;
    }
    types[index] = fallback(type, rowLength);
  }
  return types;
}

/** The GgufTypePlan (from-hf.ts) of a quantization: its file type and the per-tensor rule above. */
export function quantizationPlan(quantization: GgufQuantization): { fileType: LlamaFileType; types: (tensors: readonly MixTensor[], params: MixModel) => GgmlType[] } {
  return { fileType: QUANTIZATION_FILE_TYPE[quantization], types: (tensors, params) => chooseTensorTypes(tensors, quantization, params) };
}
