/**
 * The engine's public types: what `Model` and `Generator` take and return. Token ids are plain
 * numbers; logits come back as Float32Array rows of `vocabSize` values.
 */

export type DType = 'fp32' | 'bf16' | 'fp16';
/** `auto`: bf16 on CPUs with AVX-512 BF16 or AMX and on GPUs, fp32 on other CPUs. */
export type DTypeOption = DType | 'auto';

export type Architecture = 'LlamaForCausalLM' | 'MistralForCausalLM' | 'Qwen2ForCausalLM' | 'Qwen3ForCausalLM';
export const SUPPORTED_ARCHITECTURES: readonly Architecture[] = ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM'];

export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number }
  | { type: 'yarn'; factor: number; originalMaxPositionEmbeddings: number; betaFast: number; betaSlow: number; attentionFactor: number };

/** A decoder-only transformer as parsed from config.json (every field resolved; no defaults left to C++). */
export interface ModelConfig {
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2). */
  attentionBias: boolean;
  /** per-head RMSNorm on q and k before RoPE (Qwen3). */
  qkNorm: boolean;
  /** 0 = full attention; otherwise each query sees at most this many keys (itself included). */
  slidingWindow: number;
  maxPositionEmbeddings: number;
  /** Weight-only quantized projections (an `inference optimize` folder); absent for float weights. */
  quantization?: WeightQuantization;
}

/** config.json quantization_config with quant_method "halo-forge-weight-only" (docs/export.md). */
export interface WeightQuantization {
  bits: 8 | 4;
  /** int4: inputs per (scale, min) group; int8: -1 (one scale per output row). */
  groupSize: number;
}

/** What generation_config.json contributes (all optional there). */
export interface GenerationDefaults {
  eosTokenIds: number[];
  bosTokenId?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
}

export interface LoadOptions {
  /** cpu (default), cuda or cuda:N (ROCm GPUs are cuda too). */
  device?: string;
  /** default auto. */
  dtype?: DTypeOption;
}

export interface SamplingOptions {
  /** 0 = greedy (argmax). Default 1. */
  temperature?: number;
  /** 0 = off (default). */
  topK?: number;
  /** 1 = off (default). */
  topP?: number;
  /** 0 = off (default). Drops tokens whose probability is below minP x the top token's. */
  minP?: number;
  /** 1 = off (default). HF semantics over prompt + generated tokens: positive logits / p, negative x p. */
  repetitionPenalty?: number;
}

export interface GenerateOptions extends SamplingOptions {
  /** samples per prompt; they share one prefill of the prompt. Default 1. */
  n?: number;
  /** must be >= 1. */
  maxNewTokens: number;
  /** generation stops after any of these; default: eos ids from generation_config.json (then config.json). */
  stopTokenIds?: number[];
  /** same seed + inputs + device + dtype = same tokens. Default 0. */
  seed?: number;
  signal?: AbortSignal;
  /** called on the main thread as decoding proceeds (at most once per decode step). */
  onProgress?: (progress: GenerateProgress) => void;
}

export interface GenerateProgress {
  /** new tokens sampled so far, all sequences together. */
  generatedTokens: number;
  finishedSequences: number;
  totalSequences: number;
}

export type FinishReason = 'stop' | 'length' | 'cancelled';

export interface GeneratedSequence {
  promptIndex: number;
  /** 0..n-1 within its prompt. */
  sampleIndex: number;
  /** new tokens only; a stop token that ended the sequence is included as the last token. */
  tokens: number[];
  /**
   * log-probability of each sampled token under the distribution it was drawn from (after
   * temperature, top-k, top-p, min-p, repetition penalty); for temperature 0, under the plain softmax.
   */
  logprobs: number[];
  finishReason: FinishReason;
}

export interface GenerateResult {
  /** prompt-major: prompt 0 samples 0..n-1, then prompt 1, ... */
  sequences: GeneratedSequence[];
  /** prompt prefills run by this call (one per prompt, whatever n is). */
  prefills: number;
  generatedTokens: number;
  prefillMs: number;
  /** decode loop wall time, sampling included. */
  decodeMs: number;
  /** the part of decodeMs spent sampling (softmax, filters, draws). */
  sampleMs: number;
  /** from the call's start to the first sampled tokens (prefill included): the time to first token. */
  firstTokenMs: number;
  /** for each later decode step, the ms between its tokens and the previous step's (per-token latency of the batch). */
  stepMs: number[];
}

export interface LogitsOptions {
  /**
   * Per sequence, the positions (0-based indices into that sequence) whose next-token logits to return.
   * Default: every position. Logits at position i predict token i + 1.
   */
  positions?: number[][];
}

/** rows[i] holds positions[i].length x vocabSize float32 values, row-major. */
export interface LogitsResult {
  vocabSize: number;
  rows: Float32Array[];
}

export interface ContinuationQuery {
  context: number[];
  continuation: number[];
}

export interface ContinuationScore {
  /** sum over the continuation tokens of log p(token | everything before it), natural log, fp32 log-softmax. */
  logprob: number;
  /** every continuation token is the argmax at its position. */
  greedy: boolean;
  tokens: number;
}

export interface ModelInfo {
  path: string;
  config: ModelConfig;
  generation: GenerationDefaults;
  device: string;
  dtype: DType;
  parameters: number;
}
