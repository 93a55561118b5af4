/**
 * `inference export --format gguf`: a Hugging Face folder, hub id, PEFT adapter (merged onto its base)
 * or run directory → one GGUF file (F32, F16, Q8_0, Q6_K, Q4_0, Q4_K_S, Q4_K_M), written streaming and
 * atomically, then verified: the file is loaded in llama.cpp (node-llama-cpp) and its teacher-forced
 * logits on built-in prompts are compared with our engine's (fp32, CPU) on
 *  - the weights the file stores (each tensor decoded back to float32): `agreement`, the gate. It proves
 *    names, layout, metadata and block bytes; only llama.cpp's own activation rounding separates them;
 *  - the source weights (merged adapter included): `fidelity`, what the quantization costs.
 * Below the gate's tolerance the file is renamed to `<output>.unverified` and the export fails.
 */
import { copyFileSync, existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HaloTokenizer } from '../data/tokenizer.js';
import { ggmlDequantize, ggmlQuantize } from '../engine/ggml-quant.js';
import { Model } from '../engine/model.js';
import { decoderHyperParams, mapTensors } from '../export/gguf/arch.js';
import { GgmlType } from '../export/gguf/format.js';
import { exportHfToGguf } from '../export/gguf/from-hf.js';
import { exportLoraAdapterToGguf } from '../export/gguf/lora-adapter.js';
import type { OnnxPrecision } from '../export/onnx/decoder.js';
import { openOnnxDecoder } from '../export/onnx/runner.js';
import { quantizationPlan, type GgufQuantization } from '../export/gguf/quant-mix.js';
import { readGguf } from '../export/gguf/reader.js';
import { openHfCheckpoint } from '../export/hf-checkpoint.js';
import { openLlamaCppPeer } from '../export/llama-cpp-peer.js';
import { compareLogitRows } from '../export/logit-parity.js';
import { openLoraMerger, type LoraMerger } from '../export/peft-merge.js';
import { writeSafetensors } from '../export/safetensors.js';
import { readAdapterConfig } from '../engine/peft.js';
import { HaloError } from '../util/errors.js';
import { registerNativeGgufEncoders } from './export-gguf-encoders.js';
import { resolveModelSource } from './model-source.js';

/**
 * Expected fidelity (mean centred-logit cosine vs the fp32 source) per format, as the Export issue states
 * it for trained models. Reported, not gated: on random-init tiny models 4-bit formats land below it
 * with llama-quantize's own bytes (measured 0.96 for Q4_K_M), because random weights carry no structure
 * that survives 4-bit rounding better than noise.
 */
export const GGUF_FIDELITY_TARGET: Readonly<Record<GgufQuantization, number>> = {
  F32: 0.99999,
  F16: 0.9995,
  Q8_0: 0.999,
  Q6_K: 0.995,
  Q4_K_M: 0.98,
  Q4_K_S: 0.98,
  Q4_0: 0.98,
};
/** The gate: llama.cpp on the file vs our engine on the same stored weights (mean cosine). */
export const GGUF_AGREEMENT_MIN_COSINE = 0.999;
/** The engine's llama.cpp parity bound (bench/support/engine-parity.ts), applied to F32 files. */
export const F32_MAX_RELATIVE_DIFF = 1e-3;

export const VERIFY_PROMPTS: readonly string[] = [
  'The quick brown fox jumps over the lazy dog. Then it runs into the forest and',
  'def fibonacci(n):\n    if n < 2:\n        return n\n    return',
  'Question: What is 12 * 7? Answer: Let us think step by step.',
];

export type ExportEvent =
  | { type: 'export_start'; source: string; output: string; quantization: GgufQuantization; mergedTargets: number }
  | { type: 'export_written'; output: string; bytes: number; tensors: number; tensorTypes: Record<string, number> }
  | { type: 'verify_start'; prompts: number; positions: number }
  | { type: 'verify_result'; report: GgufVerifyReport };

export interface GgufExportOptions {
  model: string;
  output: string;
  quantization: GgufQuantization;
  /** default true */
  verify?: boolean;
  /** prompts for verification (default VERIFY_PROMPTS) */
  prompts?: readonly string[];
  /** token id sequences for verification, in place of `prompts` */
  sequences?: readonly number[][];
  threads?: number;
  onEvent?: (event: ExportEvent) => void;
}

export interface LogitComparison {
  positions: number;
  meanCosine: number;
  minCosine: number;
  maxRelativeDiff: number;
  argmaxAgreement: number;
}

export interface GgufVerifyReport {
  quantization: GgufQuantization;
  /** llama.cpp vs our engine on the weights stored in the file (the gate) */
  agreement: LogitComparison;
  /** llama.cpp vs our engine on the source weights */
  fidelity: LogitComparison;
  fidelityTarget: number;
  fidelityMet: boolean;
  passed: boolean;
}

export interface GgufExportResult {
  output: string;
  bytes: number;
  arch: string;
  tensorTypes: Record<string, number>;
  verify?: GgufVerifyReport;
}

function logSoftmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const logZ = max + Math.log(sum);
  return Float64Array.from(row, (v) => v - logZ);
}

/** Cosine of two log-probability rows after centring each (the softmax-invariant part of the logits). -inf from an underflowed probability is clamped to the row's smallest finite value. */
export function centredCosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const clean = (row: ArrayLike<number>): Float64Array => {
    let min = Infinity;
    for (let i = 0; i < row.length; i++) if (Number.isFinite(row[i]) && row[i] < min) min = row[i];
    const out = Float64Array.from({ length: row.length }, (_, i) => (Number.isFinite(row[i]) ? row[i] : min));
    const mean = out.reduce((s, v) => s + v, 0) / out.length;
    for (let i = 0; i < out.length; i++) out[i] -= mean;
    return out;
  };
  const x = clean(a);
  const y = clean(b);
  let dot = 0;
  let nx = 0;
  let ny = 0;
  for (let i = 0; i < x.length; i++) {
    dot += x[i] * y[i];
    nx += x[i] * x[i];
    ny += y[i] * y[i];
  }
  return dot / Math.sqrt(nx * ny);
}

/** Our engine's log-probabilities for every position of each sequence (fp32, CPU). */
async function engineLogProbs(modelDir: string, sequences: readonly number[][]): Promise<Float64Array[][]> {
  const model = await Model.load(modelDir, { dtype: 'fp32' });
  try {
    const result = await model.logits(sequences.map((s) => [...s]));
    return result.rows.map((flat, index) => Array.from({ length: sequences[index].length }, (_, p) => logSoftmax(flat.subarray(p * result.vocabSize, (p + 1) * result.vocabSize))));
  } finally {
    model.dispose();
  }
}

/** llama.cpp's log-probabilities for every position of each sequence. */
async function llamaCppLogProbs(ggufPath: string, sequences: readonly number[][], threads?: number, lora?: string): Promise<Float32Array[][]> {
  const longest = Math.max(...sequences.map((s) => s.length));
  const peer = await openLlamaCppPeer(ggufPath, { contextSize: Math.max(64, Math.ceil((longest + 8) / 64) * 64), threads, ...(lora ? { lora } : {}) });
  const rows: Float32Array[][] = [];
  try {
    for (const sequence of sequences) rows.push(await peer.logProbs(sequence));
  } finally {
    await peer.dispose();
  }
  return rows;
}

export function compareLogProbs(ours: readonly ArrayLike<number>[], theirs: readonly ArrayLike<number>[]): LogitComparison {
  const cosines = ours.map((row, i) => centredCosine(row, theirs[i]));
  const stats = compareLogitRows(ours, theirs);
  return {
    positions: ours.length,
    meanCosine: cosines.reduce((s, c) => s + c, 0) / cosines.length,
    minCosine: Math.min(...cosines),
    maxRelativeDiff: stats.maxRelativeDiff,
    argmaxAgreement: stats.argmaxAgree / stats.positions,
  };
}

/** F32 files must meet the engine's llama.cpp parity bound; quantized ones the agreement cosine. */
export function agreementPasses(quantization: GgufQuantization, agreement: LogitComparison): boolean {
  return quantization === 'F32'
    ? agreement.maxRelativeDiff <= F32_MAX_RELATIVE_DIFF && agreement.argmaxAgreement >= 0.995
    : agreement.meanCosine >= GGUF_AGREEMENT_MIN_COSINE;
}

/**
 * Compares a GGUF in llama.cpp with our engine on `sequences` (teacher forced, every position):
 * `storedDir` holds the weights the file stores (decoded to fp32), `sourceDir` the source weights.
 */
export async function verifyGguf(ggufPath: string, storedDir: string, sourceDir: string, quantization: GgufQuantization, sequences: readonly number[][], threads?: number): Promise<GgufVerifyReport> {
  const theirs = (await llamaCppLogProbs(ggufPath, sequences, threads)).flat();
  const stored = (await engineLogProbs(storedDir, sequences)).flat();
  const source = storedDir === sourceDir ? stored : (await engineLogProbs(sourceDir, sequences)).flat();
  const agreement = compareLogProbs(stored, theirs);
  const fidelity = compareLogProbs(source, theirs);
  const fidelityTarget = GGUF_FIDELITY_TARGET[quantization];
  return { quantization, agreement, fidelity, fidelityTarget, fidelityMet: fidelity.meanCosine >= fidelityTarget, passed: agreementPasses(quantization, agreement) };
}

/**
 * A temporary HF folder holding what the GGUF stores, decoded back to float32 in HF layout. Blocks run
 * along rows and llama's q/k permutation moves whole rows, so decode(encode(W)) in HF order is the
 * file's tensor with the permutation undone.
 */
function writeStoredWeightsFolder(baseDir: string, ggufPath: string, read: (hfName: string) => Float32Array): string {
  const checkpoint = openHfCheckpoint(baseDir);
  const params = decoderHyperParams(checkpoint.config, join(baseDir, 'config.json'));
  const mappings = mapTensors(params, checkpoint.tensorNames, baseDir);
  const types = new Map(readGguf(ggufPath).tensors.map((t) => [t.name, t.type]));
  const typeOf = new Map(mappings.map((m) => [m.hfName, types.get(m.ggufName)]));
  const dir = mkdtempSync(join(tmpdir(), 'halo-export-stored-'));
  for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json']) {
    if (existsSync(join(baseDir, file))) copyFileSync(join(baseDir, file), join(dir, file));
  }
  writeSafetensors(
    join(dir, 'model.safetensors'),
    checkpoint.tensorNames
      .filter((name) => typeOf.has(name))
      .map((name) => ({
        name,
        shape: checkpoint.shape(name),
        dtype: 'F32' as const,
        values: () => {
          const values = read(name);
          const type = typeOf.get(name);
          if (type === undefined || type === GgmlType.F32) return values;
          const shape = checkpoint.shape(name);
          const rowLength = shape[shape.length - 1];
          return ggmlDequantize(type, ggmlQuantize(type, values, rowLength), rowLength, values.length);
        },
      })),
  );
  return dir;
}

/** A temporary HF folder with the merged weights (the source side of verification for an adapter). */
function writeMergedFolder(baseDir: string, merger: LoraMerger): string {
  const dir = mkdtempSync(join(tmpdir(), 'halo-export-merged-'));
  for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json']) {
    if (existsSync(join(baseDir, file))) copyFileSync(join(baseDir, file), join(dir, file));
  }
  const checkpoint = openHfCheckpoint(baseDir);
  writeSafetensors(
    join(dir, 'model.safetensors'),
    checkpoint.tensorNames.map((name) => ({ name, shape: checkpoint.shape(name), dtype: 'F32' as const, values: () => merger.read(name, checkpoint.read) })),
  );
  return dir;
}

/** Built-in prompts as token ids of the model's own tokenizer (ids past the embedding are dropped). */
export function verifySequences(modelDir: string, vocabSize: number, prompts: readonly string[] = VERIFY_PROMPTS): number[][] {
  const tokenizer = HaloTokenizer.fromFolder(modelDir);
  return prompts.map((text) => tokenizer.encode(text, { addSpecialTokens: true }).filter((id) => id < vocabSize)).filter((s) => s.length >= 2);
}

export async function exportGguf(options: GgufExportOptions): Promise<GgufExportResult> {
  registerNativeGgufEncoders();
  const source = resolveModelSource(options.model);
  let merger: LoraMerger | undefined;
  if (source.adapterDir) {
    const settings = readAdapterConfig(source.adapterDir);
    merger = openLoraMerger(source.adapterDir, settings);
  }
  options.onEvent?.({ type: 'export_start', source: source.description, output: options.output, quantization: options.quantization, mergedTargets: merger?.targets ?? 0 });
  const plan = quantizationPlan(options.quantization);
  const written = exportHfToGguf(source.baseDir, options.output, { ...plan, ...(merger ? { read: merger.read } : {}) });
  const contents = readGguf(options.output);
  const tensorTypes: Record<string, number> = {};
  const typeNames = ['F32', 'F16', 'Q4_0', 'Q4_1', '', '', 'Q5_0', 'Q5_1', 'Q8_0', 'Q8_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K'];
  for (const tensor of contents.tensors) {
    const name = typeNames[tensor.type] || String(tensor.type);
    tensorTypes[name] = (tensorTypes[name] ?? 0) + 1;
  }
  options.onEvent?.({ type: 'export_written', output: options.output, bytes: written.bytes, tensors: written.tensors, tensorTypes });
  const result: GgufExportResult = { output: options.output, bytes: written.bytes, arch: written.arch, tensorTypes };
  if (options.verify === false) return result;

  const sourceDir = merger ? writeMergedFolder(source.baseDir, merger) : source.baseDir;
  const checkpoint = openHfCheckpoint(source.baseDir);
  const read = (name: string): Float32Array => (merger ? merger.read(name, checkpoint.read) : checkpoint.read(name));
  const storedDir = options.quantization === 'F32' ? sourceDir : writeStoredWeightsFolder(source.baseDir, options.output, read);
  try {
    const vocabSize = Number(checkpoint.config.vocab_size);
    const sequences = options.sequences ?? verifySequences(source.baseDir, vocabSize, options.prompts);
    options.onEvent?.({ type: 'verify_start', prompts: sequences.length, positions: sequences.reduce((s, q) => s + q.length, 0) });
    const report = await verifyGguf(options.output, storedDir, sourceDir, options.quantization, sequences, options.threads);
    options.onEvent?.({ type: 'verify_result', report });
    result.verify = report;
    if (!report.passed) {
      const kept = `${options.output}.unverified`;
      renameSync(options.output, kept);
      const a = report.agreement;
      throw new HaloError('ERR_EXPORT_VERIFY', `${options.output}: llama.cpp's logits disagree with our engine on the stored weights (mean cosine ${a.meanCosine.toFixed(6)}, max relative diff ${a.maxRelativeDiff.toExponential(2)}; ${options.quantization} needs ${options.quantization === 'F32' ? `relative diff <= ${F32_MAX_RELATIVE_DIFF}` : `cosine >= ${GGUF_AGREEMENT_MIN_COSINE}`}); the file was kept as ${kept}`, {
        fix: 'report this as a bug with the model folder; --no-verify skips the check',
        details: { ...report },
      });
    }
    return result;
  } finally {
    for (const dir of new Set([sourceDir, storedDir])) if (dir !== source.baseDir) rmSync(dir, { recursive: true, force: true });
  }
}

export interface GgufLoraExportOptions {
  /** a PEFT adapter folder (or a run directory whose model is one) */
  model: string;
  output: string;
  /** default true */
  verify?: boolean;
  prompts?: readonly string[];
  sequences?: readonly number[][];
  threads?: number;
}

export interface GgufLoraExportResult {
  output: string;
  bytes: number;
  tensors: number;
  alpha: number;
  /** llama.cpp (base F32 GGUF + this adapter) vs our engine on the merged weights */
  verify?: LogitComparison & { passed: boolean };
}

/** `--format gguf-lora`: the adapter alone as a llama.cpp LoRA GGUF, verified on an F32 GGUF of its base. */
export async function exportGgufLora(options: GgufLoraExportOptions): Promise<GgufLoraExportResult> {
  const source = resolveModelSource(options.model);
  if (!source.adapterDir) {
    throw new HaloError('ERR_MODEL_ARG', `--format gguf-lora needs an adapter, but --model ${options.model} is ${source.description}`, {
      fix: 'point --model at a PEFT adapter folder (adapter_config.json + adapter_model.safetensors), or use --format gguf for a full model',
    });
  }
  const written = exportLoraAdapterToGguf(source.adapterDir, source.baseDir, options.output);
  const result: GgufLoraExportResult = { output: options.output, bytes: written.bytes, tensors: written.tensors, alpha: written.alpha };
  if (options.verify === false) return result;
  const merger = openLoraMerger(source.adapterDir, readAdapterConfig(source.adapterDir));
  const mergedDir = writeMergedFolder(source.baseDir, merger);
  const baseGguf = join(mergedDir, 'base-f32.gguf');
  try {
    exportHfToGguf(source.baseDir, baseGguf, 'F32');
    const checkpoint = openHfCheckpoint(source.baseDir);
    const sequences = options.sequences ?? verifySequences(source.baseDir, Number(checkpoint.config.vocab_size), options.prompts);
    const theirs = (await llamaCppLogProbs(baseGguf, sequences, options.threads, options.output)).flat();
    const ours = (await engineLogProbs(mergedDir, sequences)).flat();
    const comparison = compareLogProbs(ours, theirs);
    result.verify = { ...comparison, passed: agreementPasses('F32', comparison) };
    if (!result.verify.passed) {
      const kept = `${options.output}.unverified`;
      renameSync(options.output, kept);
      throw new HaloError('ERR_EXPORT_VERIFY', `${options.output}: llama.cpp with this LoRA disagrees with our engine on the merged model (max relative diff ${comparison.maxRelativeDiff.toExponential(2)}, needs <= ${F32_MAX_RELATIVE_DIFF}); the file was kept as ${kept}`, {
        fix: 'report this as a bug with the adapter; --no-verify skips the check',
        details: { ...result.verify },
      });
    }
    return result;
  } finally {
    rmSync(mergedDir, { recursive: true, force: true });
  }
}

export interface OnnxExportOptions {
  model: string;
  output: string;
  /** default fp32 */
  precision?: OnnxPrecision;
  /** default true */
  verify?: boolean;
  threads?: number;
  prompts?: readonly string[];
  /** token id sequences for verification, in place of `prompts` */
  sequences?: readonly number[][];
  /** weights past this many bytes go to `<output>.data` (default: the 2 GB protobuf limit less room for the graph; tests force it low) */
  externalDataThreshold?: number;
  /** MatMulNBits block size along the input dimension for int4 (default 32) */
  int4BlockSize?: number;
}

/** onnxruntime's logits against our engine's (fp32, CPU) over every position of the verification sequences. */
export interface OnnxLogitComparison {
  maxAbsDiff: number;
  meanCosine: number;
  positions: number;
  /** share of positions whose top token is the same */
  argmaxAgreement: number;
  /** greedy continuation of the first sequence through the KV cache, token-identical */
  greedyIdentical: boolean;
}

export interface OnnxExportResult {
  output: string;
  /** the model file plus its external-data file */
  bytes: number;
  /** `<output>.data`, when the weights went to an external-data file */
  externalData?: string;
  arch: string;
  precision: OnnxPrecision;
  /**
   * onnxruntime-node (basic optimizations). The top-level figures compare with our engine on the fp32
   * source (fidelity); `agreement` with our engine on the weights the file stores (fp16-rounded,
   * dequantized int8 / int4), which only summation order separates from onnxruntime.
   */
  verify?: OnnxLogitComparison & { greedyTokens: number; agreement: OnnxLogitComparison; fidelityTarget: number; fidelityMet: boolean; passed: boolean };
}

/** ONNX verification: logits within this max abs difference of our engine's, and greedy tokens identical. */
export const ONNX_FP32_MAX_ABS_DIFF = 1e-4;
export const ONNX_INT8_MIN_COSINE = 0.999;
export const ONNX_GREEDY_TOKENS = 32;
/**
 * Mean centred-logit cosine vs the fp32 source each precision should keep (the Export issue's figures).
 * fp16 and int8 are gated on it; int4 is reported, not gated: on random-init tiny models 4-bit rounding
 * lands near 0.95 (their logits carry no structure that survives it), on trained ones above 0.999.
 */
export const ONNX_FIDELITY_TARGET: Readonly<Record<OnnxPrecision, number>> = { fp32: 0.99999, fp16: 0.999, int8: ONNX_INT8_MIN_COSINE, int4: 0.98 };

interface OnnxRun {
  logits: Float32Array[];
  greedy: number[];
}

/** Our engine (fp32, CPU) on `modelDir`: logits of each sequence, greedy continuation of the first. */
async function engineOnnxReference(modelDir: string, sequences: readonly number[][]): Promise<OnnxRun> {
  const model = await Model.load(modelDir, { dtype: 'fp32' });
  try {
    const logits: Float32Array[] = [];
    for (const sequence of sequences) logits.push((await model.logits([[...sequence]])).rows[0]);
    const greedy = (await model.generate([[...sequences[0]]], { maxNewTokens: ONNX_GREEDY_TOKENS, temperature: 0 })).sequences[0].tokens;
    return { logits, greedy };
  } finally {
    model.dispose();
  }
}

function compareOnnxRuns(sequences: readonly number[][], ours: OnnxRun, theirs: OnnxRun): OnnxLogitComparison {
  let maxAbsDiff = 0;
  let cosineSum = 0;
  let positions = 0;
  let sameArgmax = 0;
  const argmax = (row: Float32Array): number => {
    let best = 0;
    for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
    return best;
  };
  sequences.forEach((sequence, index) => {
    const mine = ours.logits[index];
    const other = theirs.logits[index];
    for (let i = 0; i < mine.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(mine[i] - other[i]));
    const vocab = mine.length / sequence.length;
    for (let p = 0; p < sequence.length; p++) {
      const a = mine.subarray(p * vocab, (p + 1) * vocab);
      const b = other.subarray(p * vocab, (p + 1) * vocab);
      cosineSum += centredCosine(a, b);
      if (argmax(a) === argmax(b)) sameArgmax++;
    }
    positions += sequence.length;
  });
  const greedyIdentical = ours.greedy.length === theirs.greedy.length && ours.greedy.every((token, i) => token === theirs.greedy[i]);
  return { maxAbsDiff, meanCosine: cosineSum / positions, positions, argmaxAgreement: sameArgmax / positions, greedyIdentical };
}

/** fp32: within ONNX_FP32_MAX_ABS_DIFF of the source with identical greedy tokens. Others: the same against the stored weights, and fp16 / int8 also their fidelity target. */
export function onnxVerifyPasses(precision: OnnxPrecision, agreement: OnnxLogitComparison, fidelity: OnnxLogitComparison): boolean {
  const agrees = agreement.maxAbsDiff <= ONNX_FP32_MAX_ABS_DIFF && agreement.greedyIdentical;
  return precision === 'int4' || precision === 'fp32' ? agrees : agrees && fidelity.meanCosine >= ONNX_FIDELITY_TARGET[precision];
}

/** `--format onnx`: a decoder graph (fp32, fp16, int8 or int4 weights) with KV-cache inputs / outputs, verified in onnxruntime-node. */
export async function exportOnnx(options: OnnxExportOptions): Promise<OnnxExportResult> {
  const precision = options.precision ?? 'fp32';
  const source = resolveModelSource(options.model);
  const mergedDir = source.adapterDir ? writeMergedFolder(source.baseDir, openLoraMerger(source.adapterDir, readAdapterConfig(source.adapterDir))) : undefined;
  const modelDir = mergedDir ?? source.baseDir;
  let storedDir: string | undefined;
  try {
    // onnx-buf (and @bufbuild/protobuf under it) is a dev dependency: load it only for ONNX exports
    const { exportHfToOnnx } = await import('../export/onnx/decoder.js').catch((error: unknown) => {
      throw new HaloError('ERR_PEER_MISSING', `the ONNX writer needs the onnx-buf package (${(error as Error).message})`, { fix: 'npm install onnx-buf', cause: error });
    });
    const writeOptions = { externalDataThreshold: options.externalDataThreshold, int4BlockSize: options.int4BlockSize };
    const written = exportHfToOnnx(modelDir, options.output, precision, writeOptions);
    const result: OnnxExportResult = { output: options.output, bytes: written.bytes, ...(written.externalData ? { externalData: written.externalData } : {}), arch: written.arch, precision };
    if (options.verify === false) return result;
    const sequences = options.sequences ?? verifySequences(source.baseDir, Number(openHfCheckpoint(source.baseDir).config.vocab_size), options.prompts);
    const session = await openOnnxDecoder(options.output, written.layers, written.kvHeads, written.headDim, options.threads ?? 2);
    let theirs: OnnxRun;
    try {
      const logits: Float32Array[] = [];
      for (const sequence of sequences) logits.push(await session.logits(sequence));
      theirs = { logits, greedy: await session.greedy(sequences[0], ONNX_GREEDY_TOKENS) };
    } finally {
      await session.dispose();
    }
    const fidelity = compareOnnxRuns(sequences, await engineOnnxReference(modelDir, sequences), theirs);
    if (precision !== 'fp32') {
      const { writeOnnxStoredWeightsFolder } = await import('../export/onnx/stored-weights.js');
      storedDir = writeOnnxStoredWeightsFolder(modelDir, precision, writeOptions);
    }
    const agreement = storedDir ? compareOnnxRuns(sequences, await engineOnnxReference(storedDir, sequences), theirs) : fidelity;
    const fidelityTarget = ONNX_FIDELITY_TARGET[precision];
    const passed = onnxVerifyPasses(precision, agreement, fidelity);
    result.verify = { ...fidelity, greedyTokens: ONNX_GREEDY_TOKENS, agreement, fidelityTarget, fidelityMet: fidelity.meanCosine >= fidelityTarget, passed };
    if (!passed) {
      const kept = `${options.output}.unverified`;
      renameSync(options.output, kept);
      const needs = `max |Δ| <= ${ONNX_FP32_MAX_ABS_DIFF} and identical greedy tokens${precision === 'fp16' || precision === 'int8' ? `, and cosine >= ${fidelityTarget} vs the source` : ''}`;
      throw new HaloError('ERR_EXPORT_VERIFY', `${options.output}: onnxruntime disagrees with our engine on the weights the file stores (max |Δ logit| ${agreement.maxAbsDiff.toExponential(2)}, greedy ${ONNX_GREEDY_TOKENS} tokens ${agreement.greedyIdentical ? 'identical' : 'differ'}; vs the source: mean cosine ${fidelity.meanCosine.toFixed(6)}); ${precision} needs ${needs}; the file was kept as ${kept}${written.externalData ? ` (its weights stay in ${written.externalData})` : ''}`, {
        fix: 'report this as a bug with the model folder; --no-verify skips the check',
        details: { ...result.verify },
      });
    }
    return result;
  } finally {
    for (const dir of [mergedDir, storedDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
