/**
 * `inference optimize`: a Hugging Face folder (or a LoRA adapter / run directory, merged onto its base) → a weight-only int8 / int4 folder (or plain fp16) that our
 * engine loads and runs with native quantized linear layers, plus a quality report (optimize_report.json,
 * written into the folder): perplexity of original vs optimized on held-out text, top-1 agreement and
 * centred logit cosine over every teacher-forced position, weights bytes before / after, and batch-1
 * decode tokens/s of both. The folder is built under a temporary name beside the output and renamed into
 * place only once the report is written, so the output is either absent, the old one, or complete.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { HaloTokenizer } from '../data/tokenizer.js';
import { WEIGHT_ONLY_QUANT_METHOD } from '../engine/config.js';
import { Model } from '../engine/model.js';
import { readAdapterConfig } from '../engine/peft.js';
import { Trainer } from '../engine/trainer.js';
import { safetensorsFiles } from '../engine/weights.js';
import { quantizeWeight, weightKernelsSimd } from '../engine/weight-quant.js';
import { openHfCheckpoint, type HfCheckpoint } from '../export/hf-checkpoint.js';
import { openLoraMerger } from '../export/peft-merge.js';
import { DTYPE_BYTES, writeSafetensors, type SafetensorsDtype } from '../export/safetensors.js';
import { DEFAULT_INT4_GROUP_SIZE, isQuantizedProjection, OPTIMIZE_PRECISIONS, optimizedConfig, optimizedTensors, type OptimizePrecision } from '../export/weight-only.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { HaloError } from '../util/errors.js';
import { resolveModelSource } from './model-source.js';
import { BUILT_IN_HELD_OUT_TEXT, compareModels, decodeSpeed, heldOutWindows, readHeldOutText, type QualityStats } from './optimize-quality.js';

/** Expected mean centred-logit cosine vs the original (the Export issue's figures for int8 / int4); reported, not gated. */
export const OPTIMIZE_COSINE_TARGET: Readonly<Record<OptimizePrecision, number>> = { fp16: 0.9999, int8: 0.999, int4: 0.98 };
export const REPORT_FILE = 'optimize_report.json';
const COPIED_FILES = ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'tokenizer.model', 'chat_template.jinja'];

export type EvalDType = 'fp32' | 'bf16' | 'auto';

export interface OptimizeOptions {
  model: string;
  output: string;
  precision: OptimizePrecision;
  /** held-out text for the report (JSONL or plain text); default: a built-in paragraph */
  calibrationData?: string;
  /** int4 inputs per group, a multiple of 16 (default 32) */
  groupSize?: number;
  /** replace a non-empty output folder */
  force?: boolean;
  /** engine dtype for the report's comparison and speed runs (default fp32) */
  dtype?: EvalDType;
  /** teacher-forced tokens of held-out text (default 512), in windows of `window` (default 128) */
  evalTokens?: number;
  window?: number;
  /** greedy decode tokens per speed run (default 64) and runs (median, default 3); 0 tokens skips the speed runs */
  decodeTokens?: number;
  decodeRepeats?: number;
  onEvent?: (event: OptimizeEvent) => void;
}

export type OptimizeEvent =
  | { type: 'optimize_start'; source: string; output: string; precision: OptimizePrecision; groupSize: number | null }
  | { type: 'optimize_written'; bytes: number; tensors: number; quantizedTensors: number; seconds: number }
  | { type: 'evaluate_start'; positions: number; text: string }
  | { type: 'optimize_done'; report: OptimizeReport };

export interface SpeedReport {
  dtype: string;
  decodeTokens: number;
  kernels: 'avx2' | 'portable';
  original: number;
  optimized: number;
  speedup: number;
  greedyIdenticalTokens: number;
}

export interface OptimizeReport {
  /** the base model folder */
  source: string;
  /** the LoRA adapter merged into it, when --model named one (or a run directory) */
  adapter: string | null;
  output: string;
  precision: OptimizePrecision;
  format: string;
  bits: number | null;
  groupSize: number | null;
  quantizedTensors: number;
  /** weights files; `projections`: the q/k/v/o/gate/up/down tensors alone (what quantization shrinks) */
  size: { sourceBytes: number; outputBytes: number; ratio: number; projections: { sourceBytes: number; outputBytes: number; ratio: number } };
  quality: QualityStats & { text: string; dtype: string; cosineTarget: number; cosineTargetMet: boolean };
  speed: SpeedReport | null;
  seconds: { write: number; evaluate: number };
}

/** Bytes of the projection tensors in the source and in the output (levels + scales + mins). */
function projectionBytes(checkpoint: HfCheckpoint, precision: OptimizePrecision, groupSize: number): { sourceBytes: number; outputBytes: number; ratio: number } {
  let sourceBytes = 0;
  let outputBytes = 0;
  for (const name of checkpoint.tensorNames.filter(isQuantizedProjection)) {
    const [rows, cols] = checkpoint.shape(name);
    sourceBytes += rows * cols * (DTYPE_BYTES[checkpoint.dtype(name) as SafetensorsDtype] ?? 4);
    outputBytes += precision === 'fp16' ? rows * cols * 2 : precision === 'int8' ? rows * cols + rows * 4 : rows * cols / 2 + 2 * rows * (cols / groupSize) * 2;
  }
  return { sourceBytes, outputBytes, ratio: outputBytes / sourceBytes };
}

function fileBytes(files: readonly string[]): number {
  return files.reduce((sum, file) => sum + statSync(file).size, 0);
}

function positiveInteger(value: number, flag: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new HaloError('ERR_CLI_ARG', `${flag} ${value}: must be a positive integer`, { fix: `pass ${flag} N with N >= 1` });
  return value;
}

/** Refuses what would clobber data: the source itself, or a non-empty folder / a file without --force. */
function checkOutput(output: string, sources: readonly string[], force: boolean): void {
  if (sources.some((dir) => resolve(output) === resolve(dir))) {
    throw new HaloError('ERR_OUTPUT_IS_SOURCE', `--output ${output} is the source model folder`, { fix: 'write the optimized model to a new folder' });
  }
  if (!existsSync(output)) return;
  if (!statSync(output).isDirectory()) throw new HaloError('ERR_OUTPUT_EXISTS', `--output ${output} exists and is a file`, { fix: 'pick a folder path that does not exist yet' });
  if (readdirSync(output).length > 0 && !force) {
    throw new HaloError('ERR_OUTPUT_EXISTS', `--output ${output} exists and is not empty`, { fix: 'pick a new folder, or pass --force to replace it' });
  }
}

/** Swaps the finished temporary folder into place; an old output is moved aside first and removed last. */
function publish(temporary: string, output: string): void {
  const aside = `${temporary}.old`;
  const hadOld = existsSync(output);
  if (hadOld) renameSync(output, aside);
  try {
    renameSync(temporary, output);
  } catch (error) {
    if (hadOld) renameSync(aside, output);
    throw error;
  }
  if (hadOld) rmSync(aside, { recursive: true, force: true });
}

export async function optimizeModel(options: OptimizeOptions): Promise<OptimizeReport> {
  if (!OPTIMIZE_PRECISIONS.includes(options.precision)) {
    throw new HaloError('ERR_OPTIMIZE_PRECISION', `--target-precision ${String(options.precision)} is not supported`, { fix: `use one of ${OPTIMIZE_PRECISIONS.join(', ')}` });
  }
  const precision = options.precision;
  const groupSize = options.groupSize ?? DEFAULT_INT4_GROUP_SIZE;
  if (precision === 'int4' && (!Number.isInteger(groupSize) || groupSize <= 0 || groupSize % 16 !== 0)) {
    throw new HaloError('ERR_OPTIMIZE_GROUP_SIZE', `--group-size ${groupSize}: must be a positive multiple of 16`, { fix: 'use 32 (default), 64 or 128' });
  }
  const evalTokens = positiveInteger(options.evalTokens ?? 512, '--eval-tokens');
  const window = positiveInteger(options.window ?? 128, '--window');
  if (window < 3) throw new HaloError('ERR_CLI_ARG', `window ${window}: must be at least 3 tokens (BOS and two text tokens)`, { fix: 'use a window of 3 or more tokens (default 128)' });
  const decodeTokens = options.decodeTokens ?? 64;
  if (!Number.isInteger(decodeTokens) || decodeTokens < 0) throw new HaloError('ERR_CLI_ARG', `--decode-tokens ${decodeTokens}: must be an integer >= 0`, { fix: 'pass --decode-tokens N (0 skips the speed runs)' });
  const decodeRepeats = positiveInteger(options.decodeRepeats ?? 3, '--decode-repeats');
  const dtype = options.dtype ?? 'fp32';

  const source = resolveModelSource(options.model);
  const sourceDir = source.baseDir;
  const adapterDir = source.adapterDir;
  const output = resolve(options.output);
  checkOutput(output, adapterDir === undefined ? [sourceDir] : [sourceDir, adapterDir], options.force === true);
  // Read the held-out text before the long part, so a bad file fails fast.
  const text = options.calibrationData === undefined ? BUILT_IN_HELD_OUT_TEXT : readHeldOutText(options.calibrationData, evalTokens * 32);
  const textName = options.calibrationData === undefined ? 'built-in' : resolve(options.calibrationData);

  const base = openHfCheckpoint(sourceDir);
  if (base.config.quantization_config !== undefined) {
    throw new HaloError('ERR_OPTIMIZE_QUANTIZED', `--model ${options.model}: ${sourceDir} is already quantized (config.json has quantization_config)`, {
      fix: 'optimize the original float model folder instead',
    });
  }
  // An adapter (or a run directory's) is merged onto its base weight by weight: W + scale · B·A in fp32.
  const merger = adapterDir === undefined ? undefined : openLoraMerger(adapterDir, readAdapterConfig(adapterDir));
  const checkpoint: HfCheckpoint = merger === undefined ? base : { ...base, read: (name) => merger.read(name, base.read) };
  const reportGroup = precision === 'int4' ? groupSize : precision === 'int8' ? -1 : null;
  options.onEvent?.({ type: 'optimize_start', source: source.description, output, precision, groupSize: reportGroup });
  mkdirSync(dirname(output), { recursive: true });
  const temporary = join(dirname(output), `.${basename(output)}.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(temporary);
  try {
    const writeStart = performance.now();
    const tensors = optimizedTensors(checkpoint, precision, groupSize, (values, rows, cols, bits, group) => quantizeWeight(values, rows, cols, bits, group));
    writeSafetensors(join(temporary, 'model.safetensors'), tensors, { format: 'pt', 'halo-forge': `inference optimize ${precision}` });
    writeJsonAtomic(join(temporary, 'config.json'), optimizedConfig(checkpoint.config, precision, groupSize, WEIGHT_ONLY_QUANT_METHOD));
    for (const file of COPIED_FILES) if (existsSync(join(sourceDir, file))) copyFileSync(join(sourceDir, file), join(temporary, file));
    const quantizedTensors = precision === 'fp16' ? 0 : checkpoint.tensorNames.filter(isQuantizedProjection).length;
    const outputBytes = fileBytes([join(temporary, 'model.safetensors')]);
    const writeSeconds = (performance.now() - writeStart) / 1000;
    options.onEvent?.({ type: 'optimize_written', bytes: outputBytes, tensors: tensors.length, quantizedTensors, seconds: writeSeconds });

    const evaluateStart = performance.now();
    const original = await Model.load(sourceDir, { dtype });
    // the adapter, read live by the engine (not merged), is the reference the merged + quantized folder is held to
    let adapter: Trainer | undefined;
    let optimized: Model | undefined;
    let quality: QualityStats;
    let speed: SpeedReport | null = null;
    try {
      if (adapterDir !== undefined) adapter = Trainer.fromAdapter(original, adapterDir);
      optimized = await Model.load(temporary, { dtype });
      const tokenizer = HaloTokenizer.fromFolder(sourceDir);
      const windows = heldOutWindows(tokenizer.encode(text, { addSpecialTokens: false, specialTokens: 'literal' }), original.generation.bosTokenId, evalTokens, window);
      if (windows.length === 0) throw new HaloError('ERR_CALIBRATION_DATA', `--calibration-data ${textName}: the text is too short (fewer than 2 tokens)`, { fix: 'pass a longer text' });
      options.onEvent?.({ type: 'evaluate_start', positions: windows.reduce((sum, w) => sum + w.length, 0), text: textName });
      quality = await compareModels(original, optimized, windows);
      if (decodeTokens > 0) {
        const prompt = windows[0].slice(0, Math.min(16, windows[0].length));
        const before = await decodeSpeed(original, prompt, decodeTokens, decodeRepeats);
        const after = await decodeSpeed(optimized, prompt, decodeTokens, decodeRepeats);
        let same = 0;
        while (same < before.tokens.length && before.tokens[same] === after.tokens[same]) same++;
        speed = {
          dtype: original.dtype,
          decodeTokens,
          kernels: weightKernelsSimd() ? 'avx2' : 'portable',
          original: before.tokensPerSecond,
          optimized: after.tokensPerSecond,
          speedup: after.tokensPerSecond / before.tokensPerSecond,
          greedyIdenticalTokens: same,
        };
      }
    } finally {
      adapter?.dispose();
      original.dispose();
      optimized?.dispose();
    }
    const sourceBytes = fileBytes([...safetensorsFiles(sourceDir), ...(adapterDir === undefined ? [] : [join(adapterDir, 'adapter_model.safetensors')])]);
    const report: OptimizeReport = {
      source: sourceDir,
      adapter: adapterDir ?? null,
      output,
      precision,
      format: precision === 'fp16' ? 'safetensors-fp16' : WEIGHT_ONLY_QUANT_METHOD,
      bits: precision === 'int8' ? 8 : precision === 'int4' ? 4 : null,
      groupSize: reportGroup,
      quantizedTensors,
      size: { sourceBytes, outputBytes, ratio: outputBytes / sourceBytes, projections: projectionBytes(checkpoint, precision, groupSize) },
      quality: { ...quality, text: textName, dtype: original.dtype, cosineTarget: OPTIMIZE_COSINE_TARGET[precision], cosineTargetMet: quality.logitCosine.mean >= OPTIMIZE_COSINE_TARGET[precision] },
      speed,
      seconds: { write: writeSeconds, evaluate: (performance.now() - evaluateStart) / 1000 },
    };
    writeJsonAtomic(join(temporary, REPORT_FILE), report);
    publish(temporary, output);
    options.onEvent?.({ type: 'optimize_done', report });
    return report;
  } catch (error) {
    rmSync(temporary, { recursive: true, force: true });
    throw error;
  }
}
