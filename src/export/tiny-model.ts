/**
 * Random-init Hugging Face model folders for tests and benchmarks: the real config.json keys of each
 * architecture, fp32 weights under the HF tensor names, a real tokenizer and chat template.
 * Same options + seed → byte-identical files: each tensor draws from its own Rng seeded from
 * (seed, tensor name), so neither file order nor the set of other tensors changes its values.
 */
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../util/rng.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { HaloError } from '../util/errors.js';
import { writeSafetensors, type TensorSource } from './safetensors.js';
import { loadTokenizerAssets, VOCAB_NAMES, type TokenizerAssets, type VocabName } from './tokenizer-assets.js';

export type TinyArch = 'llama' | 'mistral' | 'qwen2' | 'qwen3';
export const TINY_ARCHS: readonly TinyArch[] = ['llama', 'mistral', 'qwen2', 'qwen3'];

export interface TinyModelOptions {
  arch: TinyArch;
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  /** Per-head width; defaults to hidden / heads (Qwen3 decouples it; its tiny default is 2 × that). */
  headDim: number;
  intermediate: number;
  seed: number;
  vocab: VocabName;
  tieWordEmbeddings: boolean;
}

/** Embedding and lm_head init std (the HF initializer_range). */
export const WEIGHT_STD = 0.02;
/**
 * Attention and MLP projections use a wider init, so the layers (not the current token's embedding)
 * dominate the residual stream: at 0.02 a tied model's greedy continuation just repeats the last
 * token, which would make continuation parity tests say little.
 */
export const PROJECTION_STD = 0.05;
/** Norm weights are 1 + NORM_NOISE·N(0,1) and biases BIAS_STD·N(0,1): large enough that a wrong norm or bias shows in the logits. */
export const NORM_NOISE = 0.1;
export const BIAS_STD = 0.1;

/** Defaults per architecture: >= 2 layers, GQA (heads / kv heads = 2), the family's real tokenizer. */
export function defaultTinyOptions(arch: TinyArch): TinyModelOptions {
  const base = { arch, layers: 2, hidden: 128, heads: 4, kvHeads: 2, headDim: 32, intermediate: 256, seed: 0 };
  switch (arch) {
    case 'llama':
    case 'mistral':
      return { ...base, vocab: 'llama3', tieWordEmbeddings: false };
    case 'qwen2':
      return { ...base, vocab: 'qwen2', tieWordEmbeddings: true };
    case 'qwen3':
      return { ...base, headDim: 64, vocab: 'qwen2', tieWordEmbeddings: true };
  }
}

/** The ~100M-parameter llama-shape benchmark model of the Engine issue (tied embeddings: 100.2M parameters). */
export function bench100mOptions(seed = 0): TinyModelOptions {
  return { arch: 'llama', layers: 12, hidden: 768, heads: 12, kvHeads: 4, headDim: 64, intermediate: 2048, seed, vocab: 'llama3-32k', tieWordEmbeddings: true };
}

export function validateTinyOptions(options: TinyModelOptions): void {
  const fail = (flag: string, message: string, fix: string): never => {
    throw new HaloError('ERR_TINY_MODEL_OPTION', `--${flag}: ${message}`, { fix });
  };
  if (!TINY_ARCHS.includes(options.arch)) fail('arch', `unknown architecture "${options.arch}"`, `use one of ${TINY_ARCHS.join(', ')}`);
  if (!VOCAB_NAMES.includes(options.vocab)) fail('vocab', `unknown vocabulary "${options.vocab}"`, `use one of ${VOCAB_NAMES.join(', ')}`);
  const positive: [string, number][] = [
    ['layers', options.layers],
    ['hidden', options.hidden],
    ['heads', options.heads],
    ['kv-heads', options.kvHeads],
    ['head-dim', options.headDim],
    ['intermediate', options.intermediate],
  ];
  for (const [flag, value] of positive) if (!Number.isInteger(value) || value <= 0) fail(flag, `must be a positive integer, got ${value}`, `pass --${flag} N with N >= 1`);
  if (options.headDim % 2 !== 0) fail('head-dim', `must be even for rotary embeddings, got ${options.headDim}`, 'pick an even head dimension');
  if (options.heads % options.kvHeads !== 0) fail('kv-heads', `${options.kvHeads} does not divide --heads ${options.heads}`, 'pick kv heads that divide the head count');
  if (!Number.isInteger(options.seed) || options.seed < 0) fail('seed', `must be a non-negative integer, got ${options.seed}`, 'pass --seed N');
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

/** n samples of mean + std·N(0,1) by Box–Muller from an Rng seeded by (seed, name). */
function normalValues(seed: number, name: string, count: number, mean: number, std: number): Float32Array {
  const rng = new Rng((seed * 0x9e3779b1 + fnv1a(name)) >>> 0);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u1 = 1 - rng.next();
    const u2 = rng.next();
    const radius = Math.sqrt(-2 * Math.log(u1));
    out[i] = mean + std * radius * Math.cos(2 * Math.PI * u2);
    if (i + 1 < count) out[i + 1] = mean + std * radius * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

function tensor(options: TinyModelOptions, name: string, shape: number[], kind: 'embedding' | 'weight' | 'norm' | 'bias'): TensorSource {
  const count = shape.reduce((a, b) => a * b, 1);
  const [mean, std] = kind === 'embedding' ? [0, WEIGHT_STD] : kind === 'weight' ? [0, PROJECTION_STD] : kind === 'norm' ? [1, NORM_NOISE] : [0, BIAS_STD];
  return { name, shape, dtype: 'F32', values: () => normalValues(options.seed, name, count, mean, std) };
}

/** The HF tensor list of the model, in a fixed order. */
export function tinyModelTensors(options: TinyModelOptions, vocabSize: number): TensorSource[] {
  const { hidden, heads, kvHeads, headDim, intermediate } = options;
  const tensors: TensorSource[] = [tensor(options, 'model.embed_tokens.weight', [vocabSize, hidden], 'embedding')];
  for (let layer = 0; layer < options.layers; layer++) {
    const p = `model.layers.${layer}`;
    tensors.push(
      tensor(options, `${p}.input_layernorm.weight`, [hidden], 'norm'),
      tensor(options, `${p}.self_attn.q_proj.weight`, [heads * headDim, hidden], 'weight'),
      tensor(options, `${p}.self_attn.k_proj.weight`, [kvHeads * headDim, hidden], 'weight'),
      tensor(options, `${p}.self_attn.v_proj.weight`, [kvHeads * headDim, hidden], 'weight'),
      tensor(options, `${p}.self_attn.o_proj.weight`, [hidden, heads * headDim], 'weight'),
    );
    if (options.arch === 'qwen2') {
      tensors.push(
        tensor(options, `${p}.self_attn.q_proj.bias`, [heads * headDim], 'bias'),
        tensor(options, `${p}.self_attn.k_proj.bias`, [kvHeads * headDim], 'bias'),
        tensor(options, `${p}.self_attn.v_proj.bias`, [kvHeads * headDim], 'bias'),
      );
    }
    if (options.arch === 'qwen3') {
      tensors.push(tensor(options, `${p}.self_attn.q_norm.weight`, [headDim], 'norm'), tensor(options, `${p}.self_attn.k_norm.weight`, [headDim], 'norm'));
    }
    tensors.push(
      tensor(options, `${p}.post_attention_layernorm.weight`, [hidden], 'norm'),
      tensor(options, `${p}.mlp.gate_proj.weight`, [intermediate, hidden], 'weight'),
      tensor(options, `${p}.mlp.up_proj.weight`, [intermediate, hidden], 'weight'),
      tensor(options, `${p}.mlp.down_proj.weight`, [hidden, intermediate], 'weight'),
    );
  }
  tensors.push(tensor(options, 'model.norm.weight', [hidden], 'norm'));
  if (!options.tieWordEmbeddings) tensors.push(tensor(options, 'lm_head.weight', [vocabSize, hidden], 'embedding'));
  return tensors;
}

const TRANSFORMERS_VERSION = '4.51.0';

/** config.json with the keys each family's released checkpoints carry. */
export function tinyModelConfig(options: TinyModelOptions, tokenizer: TokenizerAssets): Record<string, unknown> {
  const shared = {
    attention_dropout: 0.0,
    bos_token_id: tokenizer.bosTokenId,
    eos_token_id: tokenizer.eosTokenId,
    head_dim: options.headDim,
    hidden_act: 'silu',
    hidden_size: options.hidden,
    initializer_range: WEIGHT_STD,
    intermediate_size: options.intermediate,
    num_attention_heads: options.heads,
    num_hidden_layers: options.layers,
    num_key_value_heads: options.kvHeads,
  };
  const tail = {
    tie_word_embeddings: options.tieWordEmbeddings,
    torch_dtype: 'float32',
    transformers_version: TRANSFORMERS_VERSION,
    use_cache: true,
    vocab_size: tokenizer.vocabSize,
  };
  switch (options.arch) {
    case 'llama':
      return {
        architectures: ['LlamaForCausalLM'],
        attention_bias: false,
        ...shared,
        max_position_embeddings: 8192,
        mlp_bias: false,
        model_type: 'llama',
        pretraining_tp: 1,
        rms_norm_eps: 1e-5,
        rope_scaling: null,
        rope_theta: 500000.0,
        ...tail,
      };
    case 'mistral':
      return {
        architectures: ['MistralForCausalLM'],
        ...shared,
        max_position_embeddings: 32768,
        model_type: 'mistral',
        rms_norm_eps: 1e-5,
        rope_theta: 10000.0,
        // Longer than any test sequence: llama.cpp runs Mistral as plain llama and ignores the window.
        sliding_window: 4096,
        ...tail,
      };
    case 'qwen2':
      return {
        architectures: ['Qwen2ForCausalLM'],
        ...shared,
        max_position_embeddings: 32768,
        max_window_layers: options.layers,
        model_type: 'qwen2',
        rms_norm_eps: 1e-6,
        rope_scaling: null,
        rope_theta: 1000000.0,
        sliding_window: 32768,
        ...tail,
        use_sliding_window: false,
      };
    case 'qwen3':
      return {
        architectures: ['Qwen3ForCausalLM'],
        attention_bias: false,
        ...shared,
        max_position_embeddings: 40960,
        max_window_layers: options.layers,
        model_type: 'qwen3',
        rms_norm_eps: 1e-6,
        rope_scaling: null,
        rope_theta: 1000000.0,
        sliding_window: null,
        ...tail,
        use_sliding_window: false,
      };
  }
}

function generationConfig(tokenizer: TokenizerAssets): Record<string, unknown> {
  const config: Record<string, unknown> = {
    bos_token_id: tokenizer.bosTokenId,
    eos_token_id: tokenizer.stopTokenIds,
  };
  if (tokenizer.padTokenId !== undefined) config.pad_token_id = tokenizer.padTokenId;
  config.transformers_version = TRANSFORMERS_VERSION;
  return config;
}

export interface TinyModelSummary {
  directory: string;
  parameters: number;
  files: string[];
  options: TinyModelOptions;
}

/** Writes the folder (each file atomically) and returns what was written. */
export function writeTinyModel(directory: string, options: TinyModelOptions): TinyModelSummary {
  validateTinyOptions(options);
  try {
    if (!statSync(directory).isDirectory()) {
      throw new HaloError('ERR_TINY_MODEL_OUT', `--out ${directory} exists and is not a directory`, { fix: 'pick a directory path' });
    }
  } catch (error) {
    if (error instanceof HaloError) throw error;
    mkdirSync(directory, { recursive: true });
  }
  const tokenizer = loadTokenizerAssets(options.vocab);
  const tensors = tinyModelTensors(options, tokenizer.vocabSize);
  writeSafetensors(join(directory, 'model.safetensors'), tensors);
  writeJsonAtomic(join(directory, 'config.json'), tinyModelConfig(options, tokenizer));
  writeJsonAtomic(join(directory, 'generation_config.json'), generationConfig(tokenizer));
  writeFileAtomic(join(directory, 'tokenizer.json'), tokenizer.tokenizerJson);
  writeJsonAtomic(join(directory, 'tokenizer_config.json'), tokenizer.tokenizerConfig);
  const parameters = tensors.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);
  return {
    directory,
    parameters,
    files: ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'],
    options,
  };
}
