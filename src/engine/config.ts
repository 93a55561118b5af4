/**
 * Reads a Hugging Face model folder's config.json and generation_config.json into a fully resolved
 * ModelConfig (no defaults left for the native side) and the generation defaults.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HaloError } from '../util/errors.js';
import { SUPPORTED_ARCHITECTURES, type Architecture, type GenerationDefaults, type ModelConfig, type RopeScaling, type WeightQuantization } from './types.js';

type Json = Record<string, unknown>;

function readJson(path: string): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new HaloError('ERR_MODEL_CONFIG', `cannot read ${path}: ${(error as Error).message}`, { fix: 'point the model path at a Hugging Face model folder' });
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Json;
  } catch (error) {
    throw new HaloError('ERR_MODEL_CONFIG', `${path} is not valid JSON: ${(error as Error).message}`, { fix: 'restore the file from the model source' });
  }
}

function positiveInt(config: Json, key: string, path: string, fallback?: number): number {
  const value = config[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new HaloError('ERR_MODEL_CONFIG', `${path}: field "${key}" must be a positive integer (got ${JSON.stringify(config[key])})`, {
      fix: `set "${key}" in ${path}`,
    });
  }
  return value;
}

function positiveNumber(config: Json, key: string, path: string, fallback: number): number {
  const value = config[key] ?? fallback;
  if (typeof value !== 'number' || !(value > 0)) {
    throw new HaloError('ERR_MODEL_CONFIG', `${path}: field "${key}" must be a positive number (got ${JSON.stringify(config[key])})`, { fix: `fix "${key}" in ${path}` });
  }
  return value;
}

function yarnMscale(scale: number, mscale = 1): number {
  return scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;
}

function parseRopeScaling(config: Json, path: string, maxPositions: number): RopeScaling {
  const raw = config.rope_scaling;
  if (raw === undefined || raw === null) return { type: 'none' };
  if (typeof raw !== 'object') throw new HaloError('ERR_MODEL_CONFIG', `${path}: rope_scaling must be an object or null`, { fix: 'fix rope_scaling' });
  const scaling = raw as Json;
  const type = scaling.rope_type ?? scaling.type;
  const factor = positiveNumber(scaling, 'factor', `${path} rope_scaling`, 1);
  switch (type) {
    case 'default':
      return { type: 'none' };
    case 'linear':
      return { type: 'linear', factor };
    case 'llama3':
      return {
        type: 'llama3',
        factor,
        lowFreqFactor: positiveNumber(scaling, 'low_freq_factor', `${path} rope_scaling`, 1),
        highFreqFactor: positiveNumber(scaling, 'high_freq_factor', `${path} rope_scaling`, 4),
        originalMaxPositionEmbeddings: positiveInt(scaling, 'original_max_position_embeddings', `${path} rope_scaling`, 8192),
      };
    case 'yarn': {
      const mscale = typeof scaling.mscale === 'number' ? scaling.mscale : undefined;
      const mscaleAllDim = typeof scaling.mscale_all_dim === 'number' ? scaling.mscale_all_dim : undefined;
      let attentionFactor = typeof scaling.attention_factor === 'number' ? scaling.attention_factor : yarnMscale(factor);
      if (scaling.attention_factor === undefined && mscale !== undefined && mscaleAllDim !== undefined) {
        attentionFactor = yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim);
      }
      return {
        type: 'yarn',
        factor,
        originalMaxPositionEmbeddings: positiveInt(scaling, 'original_max_position_embeddings', `${path} rope_scaling`, maxPositions),
        betaFast: positiveNumber(scaling, 'beta_fast', `${path} rope_scaling`, 32),
        betaSlow: positiveNumber(scaling, 'beta_slow', `${path} rope_scaling`, 1),
        attentionFactor,
      };
    }
    default:
      throw new HaloError('ERR_MODEL_CONFIG', `${path}: rope_scaling type ${JSON.stringify(type)} is not supported`, {
        fix: 'supported rope_scaling types: linear, llama3, yarn (or none)',
      });
  }
}

export const WEIGHT_ONLY_QUANT_METHOD = 'halo-forge-weight-only';

/** quantization_config: ours (weight-only int8 / int4) loads; any other method is refused by name. */
function parseQuantization(config: Json, path: string): WeightQuantization | undefined {
  const raw = config.quantization_config;
  if (raw === undefined || raw === null) return undefined;
  const bad = (message: string): HaloError =>
    new HaloError('ERR_QUANT_FORMAT', `${path}: quantization_config ${message}`, {
      fix: 'use a float checkpoint or a folder written by `halo-forge inference optimize` (restore its config.json if it was edited)',
    });
  if (typeof raw !== 'object' || Array.isArray(raw)) throw bad('must be an object');
  const q = raw as Json;
  if (q.quant_method !== WEIGHT_ONLY_QUANT_METHOD) {
    throw new HaloError('ERR_UNSUPPORTED_QUANTIZATION', `${path}: quantization_config.quant_method ${JSON.stringify(q.quant_method ?? null)} is not supported; the engine loads float weights or "${WEIGHT_ONLY_QUANT_METHOD}"`, {
      fix: 'use the unquantized checkpoint of this model, or quantize it with `halo-forge inference optimize`',
    });
  }
  if (q.bits === 8) {
    if (q.group_size !== -1) throw bad(`.group_size must be -1 (one scale per output row) for bits 8, got ${JSON.stringify(q.group_size)}`);
    return { bits: 8, groupSize: -1 };
  }
  if (q.bits === 4) {
    const group = q.group_size;
    if (typeof group !== 'number' || !Number.isInteger(group) || group <= 0 || group % 16 !== 0) throw bad(`.group_size must be a positive multiple of 16 for bits 4, got ${JSON.stringify(group)}`);
    return { bits: 4, groupSize: group };
  }
  throw bad(`.bits must be 8 or 4, got ${JSON.stringify(q.bits)}`);
}

export function parseModelConfig(config: Json, path: string): ModelConfig {
  const architectures = config.architectures;
  const architecture = Array.isArray(architectures) ? architectures[0] : undefined;
  if (typeof architecture !== 'string' || !SUPPORTED_ARCHITECTURES.includes(architecture as Architecture)) {
    throw new HaloError('ERR_UNKNOWN_ARCHITECTURE', `${path}: architecture ${JSON.stringify(architecture ?? null)} is not supported; supported: ${SUPPORTED_ARCHITECTURES.join(', ')}`, {
      fix: `use a model whose config.json "architectures" is one of ${SUPPORTED_ARCHITECTURES.join(', ')}`,
      details: { architecture, supported: SUPPORTED_ARCHITECTURES },
    });
  }
  const arch = architecture as Architecture;
  const hiddenSize = positiveInt(config, 'hidden_size', path);
  const numHeads = positiveInt(config, 'num_attention_heads', path);
  const numKvHeads = positiveInt(config, 'num_key_value_heads', path, numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new HaloError('ERR_MODEL_CONFIG', `${path}: num_attention_heads (${numHeads}) is not a multiple of num_key_value_heads (${numKvHeads})`, { fix: 'fix the head counts in config.json' });
  }
  const headDim = positiveInt(config, 'head_dim', path, hiddenSize / numHeads);
  const maxPositionEmbeddings = positiveInt(config, 'max_position_embeddings', path, 4096);
  // Qwen2/3 carry sliding_window but only use it with use_sliding_window; Mistral uses it when set.
  const window = typeof config.sliding_window === 'number' ? config.sliding_window : 0;
  const slidingWindow = arch === 'MistralForCausalLM' ? window : arch === 'LlamaForCausalLM' ? 0 : config.use_sliding_window === true ? window : 0;
  const quantization = parseQuantization(config, path);
  return {
    architecture: arch,
    vocabSize: positiveInt(config, 'vocab_size', path),
    hiddenSize,
    intermediateSize: positiveInt(config, 'intermediate_size', path),
    numLayers: positiveInt(config, 'num_hidden_layers', path),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: positiveNumber(config, 'rms_norm_eps', path, 1e-6),
    ropeTheta: positiveNumber(config, 'rope_theta', path, 10000),
    ropeScaling: parseRopeScaling(config, path, maxPositionEmbeddings),
    tieWordEmbeddings: config.tie_word_embeddings === true,
    attentionBias: arch === 'Qwen2ForCausalLM' ? true : config.attention_bias === true,
    qkNorm: arch === 'Qwen3ForCausalLM',
    slidingWindow,
    maxPositionEmbeddings,
    ...(quantization ? { quantization } : {}),
  };
}

function ids(value: unknown): number[] {
  if (typeof value === 'number' && Number.isInteger(value)) return [value];
  if (Array.isArray(value)) return value.filter((item): item is number => typeof item === 'number' && Number.isInteger(item));
  return [];
}

export interface ModelFolder {
  config: ModelConfig;
  generation: GenerationDefaults;
}

/** Reads config.json (required) and generation_config.json (optional) from a model folder. */
export function readModelFolder(dir: string): ModelFolder {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) {
    throw new HaloError('ERR_MODEL_NOT_FOUND', `${configPath} does not exist`, { fix: 'point the model path at a Hugging Face model folder (config.json + *.safetensors)' });
  }
  const raw = readJson(configPath);
  const config = parseModelConfig(raw, configPath);
  const generationPath = join(dir, 'generation_config.json');
  const generationRaw = existsSync(generationPath) ? readJson(generationPath) : {};
  const eos = ids(generationRaw.eos_token_id);
  const generation: GenerationDefaults = { eosTokenIds: eos.length > 0 ? eos : ids(raw.eos_token_id) };
  const bos = ids(generationRaw.bos_token_id ?? raw.bos_token_id);
  if (bos.length > 0) generation.bosTokenId = bos[0];
  if (typeof generationRaw.temperature === 'number') generation.temperature = generationRaw.temperature;
  if (typeof generationRaw.top_k === 'number') generation.topK = generationRaw.top_k;
  if (typeof generationRaw.top_p === 'number') generation.topP = generationRaw.top_p;
  return { config, generation };
}
