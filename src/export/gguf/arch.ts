/**
 * Per-architecture GGUF conventions, as llama.cpp's convert_hf_to_gguf.py applies them:
 * which llama.cpp architecture an HF `architectures` entry becomes (Mistral runs as llama), the
 * hyper-parameter keys, the HF → GGUF tensor name map, and llama's q/k row permutation (HF stores
 * rotary pairs as two halves per head, llama.cpp's llama rope expects them interleaved; qwen2/qwen3
 * use llama.cpp's NEOX rope and need no permutation).
 */
import { HaloError } from '../../util/errors.js';
import { gguf, type GgufValue } from './format.js';

export type GgufArch = 'llama' | 'qwen2' | 'qwen3';

export const HF_TO_GGUF_ARCH: Readonly<Record<string, GgufArch>> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'llama',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
};

export interface DecoderHyperParams {
  hfArchitecture: string;
  arch: GgufArch;
  layers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Whether config.json states head_dim (the converter writes key/value_length only then). */
  explicitHeadDim: boolean;
  contextLength: number;
  rmsNormEps: number;
  ropeTheta: number;
  vocabSize: number;
  tieWordEmbeddings: boolean;
}

function field(config: Record<string, unknown>, key: string, configPath: string): number {
  const value = config[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new HaloError('ERR_MODEL_CONFIG', `${configPath}: field ${key} is missing or not a number`, { fix: `set ${key} in config.json` });
  }
  return value;
}

export function decoderHyperParams(config: Record<string, unknown>, configPath: string): DecoderHyperParams {
  const architectures = config.architectures;
  const hfArchitecture = Array.isArray(architectures) && typeof architectures[0] === 'string' ? architectures[0] : String(architectures);
  const arch = HF_TO_GGUF_ARCH[hfArchitecture];
  if (!arch) {
    throw new HaloError('ERR_UNSUPPORTED_ARCH', `${configPath}: architectures ${JSON.stringify(architectures)} is not supported for GGUF export`, {
      fix: `supported: ${Object.keys(HF_TO_GGUF_ARCH).join(', ')}`,
    });
  }
  const ropeScaling = config.rope_scaling as { rope_type?: string; type?: string } | null | undefined;
  if (ropeScaling) {
    throw new HaloError('ERR_UNSUPPORTED_CONFIG', `${configPath}: rope_scaling ${JSON.stringify(ropeScaling)} is not handled by the GGUF writer yet`, {
      fix: 'export a model without rope_scaling, or extend src/export/gguf/arch.ts',
    });
  }
  const hidden = field(config, 'hidden_size', configPath);
  const heads = field(config, 'num_attention_heads', configPath);
  const explicitHeadDim = typeof config.head_dim === 'number';
  return {
    hfArchitecture,
    arch,
    layers: field(config, 'num_hidden_layers', configPath),
    hidden,
    intermediate: field(config, 'intermediate_size', configPath),
    heads,
    kvHeads: typeof config.num_key_value_heads === 'number' ? config.num_key_value_heads : heads,
    headDim: explicitHeadDim ? (config.head_dim as number) : hidden / heads,
    explicitHeadDim,
    contextLength: field(config, 'max_position_embeddings', configPath),
    rmsNormEps: field(config, 'rms_norm_eps', configPath),
    ropeTheta: typeof config.rope_theta === 'number' ? config.rope_theta : 10000,
    vocabSize: field(config, 'vocab_size', configPath),
    tieWordEmbeddings: config.tie_word_embeddings === true,
  };
}

/** The `<arch>.*` hyper-parameter keys, as the converter writes them. */
export function archMetadata(params: DecoderHyperParams): [string, GgufValue][] {
  const a = params.arch;
  const entries: [string, GgufValue][] = [
    [`${a}.block_count`, gguf.u32(params.layers)],
    [`${a}.context_length`, gguf.u32(params.contextLength)],
    [`${a}.embedding_length`, gguf.u32(params.hidden)],
    [`${a}.feed_forward_length`, gguf.u32(params.intermediate)],
    [`${a}.attention.head_count`, gguf.u32(params.heads)],
    [`${a}.attention.head_count_kv`, gguf.u32(params.kvHeads)],
    [`${a}.rope.freq_base`, gguf.f32(params.ropeTheta)],
    [`${a}.attention.layer_norm_rms_epsilon`, gguf.f32(params.rmsNormEps)],
  ];
  if (params.explicitHeadDim) {
    entries.push([`${a}.attention.key_length`, gguf.u32(params.headDim)], [`${a}.attention.value_length`, gguf.u32(params.headDim)]);
  }
  if (a === 'llama') {
    entries.push([`${a}.vocab_size`, gguf.u32(params.vocabSize)], [`${a}.rope.dimension_count`, gguf.u32(params.headDim)]);
  }
  return entries;
}

export interface TensorMapping {
  hfName: string;
  ggufName: string;
  /** Permute rows for llama's interleaved rope: the number of heads the rows split into. */
  permuteHeads?: number;
}

const LAYER_MAP: readonly [string, string][] = [
  ['input_layernorm.weight', 'attn_norm.weight'],
  ['self_attn.q_proj.weight', 'attn_q.weight'],
  ['self_attn.q_proj.bias', 'attn_q.bias'],
  ['self_attn.k_proj.weight', 'attn_k.weight'],
  ['self_attn.k_proj.bias', 'attn_k.bias'],
  ['self_attn.v_proj.weight', 'attn_v.weight'],
  ['self_attn.v_proj.bias', 'attn_v.bias'],
  ['self_attn.o_proj.weight', 'attn_output.weight'],
  ['self_attn.q_norm.weight', 'attn_q_norm.weight'],
  ['self_attn.k_norm.weight', 'attn_k_norm.weight'],
  ['post_attention_layernorm.weight', 'ffn_norm.weight'],
  ['mlp.gate_proj.weight', 'ffn_gate.weight'],
  ['mlp.up_proj.weight', 'ffn_up.weight'],
  ['mlp.down_proj.weight', 'ffn_down.weight'],
];

/** Maps the checkpoint's tensor names; an unknown tensor is an error (a silently dropped weight is a wrong model). */
export function mapTensors(params: DecoderHyperParams, hfNames: readonly string[], where: string): TensorMapping[] {
  const mappings: TensorMapping[] = [];
  for (const hfName of hfNames) {
    if (hfName.endsWith('.rotary_emb.inv_freq')) continue;
    let ggufName: string | undefined;
    let permuteHeads: number | undefined;
    if (hfName === 'model.embed_tokens.weight') ggufName = 'token_embd.weight';
    else if (hfName === 'model.norm.weight') ggufName = 'output_norm.weight';
    else if (hfName === 'lm_head.weight') ggufName = params.tieWordEmbeddings ? undefined : 'output.weight';
    else {
      const match = /^model\.layers\.(\d+)\.(.+)$/.exec(hfName);
      const entry = match ? LAYER_MAP.find(([suffix]) => suffix === match[2]) : undefined;
      if (match && entry) {
        ggufName = `blk.${match[1]}.${entry[1]}`;
        if (params.arch === 'llama' && /q_proj\.(weight|bias)$/.test(hfName)) permuteHeads = params.heads;
        if (params.arch === 'llama' && /k_proj\.(weight|bias)$/.test(hfName)) permuteHeads = params.kvHeads;
      }
    }
    if (ggufName === undefined) {
      if (hfName === 'lm_head.weight') continue; // tied: llama.cpp reuses token_embd
      throw new HaloError('ERR_GGUF_UNKNOWN_TENSOR', `${where}: tensor ${hfName} has no GGUF name for ${params.hfArchitecture}`, {
        fix: 'the checkpoint has weights this exporter does not know; check the architecture',
      });
    }
    mappings.push({ hfName, ggufName, permuteHeads });
  }
  return mappings;
}

/**
 * llama.cpp's llama rope rotates adjacent pairs; HF's rotates (i, i + d/2). Per head, row j·(d/2) + i
 * of the HF weight moves to row 2i + j.
 */
export function permuteRotaryRows(values: Float32Array, rows: number, heads: number): Float32Array {
  const columns = values.length / rows;
  const headDim = rows / heads;
  const half = headDim / 2;
  const out = new Float32Array(values.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < 2; j++) {
      for (let i = 0; i < half; i++) {
        const from = (h * headDim + j * half + i) * columns;
        const to = (h * headDim + 2 * i + j) * columns;
        out.set(values.subarray(from, from + columns), to);
      }
    }
  }
  return out;
}
