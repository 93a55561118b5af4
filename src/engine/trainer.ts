/**
 * Training a loaded Model in place: LoRA adapters (the generator samples through them live, nothing is
 * merged) or every weight (full fine-tuning, for small models). One `step()` is one optimizer update,
 * run on a native worker thread. Adapters save and load in PEFT's format; the trainer state (weights,
 * AdamW moments, step, RNG, the caller's data position) saves and resumes bit for bit on CPU.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../util/atomic.js';
import { HaloError, isCodedError } from '../util/errors.js';
import { writeSafetensors, type TensorSource } from '../export/safetensors.js';
import { buildMicroBatches, type BatchingOptions, type TrainSample } from './batching.js';
import { loadNative } from './load.js';
import type { Model } from './model.js';
import type { NativeMicroBatch, NativeNamedTensor, NativeStepReport, NativeTrainAddon, NativeTrainer, NativeTrainOptions } from './native-train-types.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, adapterConfigJson, readAdapterConfig, resolveTargets, type LoraTarget } from './peft.js';

export type { TrainSample, BatchingOptions } from './batching.js';

export interface TrainerOptions {
  /** lora (default) or full (every weight; small models). */
  mode?: 'lora' | 'full';
  /** LoRA rank, default 8. */
  rank?: number;
  /** LoRA alpha, default 16. */
  alpha?: number;
  /** LoRA dropout, default 0. */
  dropout?: number;
  /** scale by alpha / sqrt(r) instead of alpha / r (default false). */
  useRslora?: boolean;
  /** 'all-linear' (default) or a subset of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj. */
  targets?: 'all-linear' | string[];
  /** peak learning rate, default 1e-4. */
  lr?: number;
  /** constant (default), linear or cosine decay to 0 over totalSteps. */
  schedule?: 'constant' | 'linear' | 'cosine';
  /** linear warmup from 0 over this many updates (default 0); or give warmupRatio of totalSteps. */
  warmupSteps?: number;
  warmupRatio?: number;
  /** updates the schedule spans; required for linear and cosine and for warmupRatio. */
  totalSteps?: number;
  /** AdamW: default 0 weight decay, betas 0.9 / 0.999, eps 1e-8. */
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** global gradient-norm clip, default 1.0; 0 = off. */
  maxGradNorm?: number;
  /** recompute each decoder layer in the backward pass (default true). */
  checkpointing?: boolean;
  /** tokens per loss chunk (default 512); 0 = the whole batch at once. */
  lossChunkTokens?: number;
  /** LoRA init and dropout seed, default 0. */
  seed?: number;
}

export interface StepResult extends NativeStepReport {
  tokensPerSecond: number;
}

export interface SaveMergedOptions {
  /** where config.json and the tokenizer files come from; default the model's own folder. */
  sourceDir?: string;
  /** a new shard starts past this many bytes (default 2 GiB); more than one shard writes an index. */
  maxShardBytes?: number;
}

const STATE_TENSORS = 'trainer_state.safetensors';
const STATE_JSON = 'trainer_state.json';
const STATE_FORMAT = 'halo-forge-trainer-state/1';
const COPIED_FILES = ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'tokenizer.model', 'chat_template.jinja'];

function option(name: string, value: number, ok: (v: number) => boolean, rule: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
    throw new HaloError('ERR_TRAIN_OPTION', `trainer option ${name} = ${String(value)}: must be ${rule}`, { fix: `pass ${name} ${rule}` });
  }
  return value;
}

export function resolveTrainOptions(options: TrainerOptions): NativeTrainOptions {
  const mode = options.mode ?? 'lora';
  if (mode !== 'lora' && mode !== 'full') throw new HaloError('ERR_TRAIN_OPTION', `trainer option mode = ${String(mode)}: must be lora or full`, { fix: 'pass mode lora or full' });
  const schedule = options.schedule ?? 'constant';
  if (!['constant', 'linear', 'cosine'].includes(schedule)) {
    throw new HaloError('ERR_TRAIN_OPTION', `trainer option schedule = ${String(schedule)}: must be constant, linear or cosine`, { fix: 'pass schedule constant, linear or cosine' });
  }
  const totalSteps = options.totalSteps ?? 0;
  option('totalSteps', totalSteps, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
  if (schedule !== 'constant' && totalSteps < 1) throw new HaloError('ERR_TRAIN_OPTION', `trainer option schedule = ${schedule} needs totalSteps >= 1`, { fix: 'pass totalSteps (the number of optimizer updates)' });
  let warmupSteps = options.warmupSteps ?? 0;
  if (options.warmupRatio !== undefined) {
    option('warmupRatio', options.warmupRatio, (v) => v >= 0 && v <= 1, 'in [0, 1]');
    if (options.warmupSteps !== undefined) throw new HaloError('ERR_TRAIN_OPTION', 'trainer options warmupSteps and warmupRatio are both set', { fix: 'pass one of them' });
    if (totalSteps < 1) throw new HaloError('ERR_TRAIN_OPTION', 'trainer option warmupRatio needs totalSteps >= 1', { fix: 'pass totalSteps' });
    warmupSteps = Math.ceil(options.warmupRatio * totalSteps);
  }
  return {
    fullFinetune: mode === 'full',
    rank: option('rank', options.rank ?? 8, (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1'),
    alpha: option('alpha', options.alpha ?? 16, (v) => v > 0, '> 0'),
    dropout: option('dropout', options.dropout ?? 0, (v) => v >= 0 && v < 1, 'in [0, 1)'),
    useRslora: options.useRslora ?? false,
    targets: resolveTargets(options.targets, 'trainer option targets'),
    lr: option('lr', options.lr ?? 1e-4, (v) => v >= 0, '>= 0'),
    schedule,
    warmupSteps: option('warmupSteps', warmupSteps, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0'),
    totalSteps,
    beta1: option('beta1', options.beta1 ?? 0.9, (v) => v >= 0 && v < 1, 'in [0, 1)'),
    beta2: option('beta2', options.beta2 ?? 0.999, (v) => v >= 0 && v < 1, 'in [0, 1)'),
    eps: option('eps', options.eps ?? 1e-8, (v) => v > 0, '> 0'),
    weightDecay: option('weightDecay', options.weightDecay ?? 0, (v) => v >= 0, '>= 0'),
    maxGradNorm: option('maxGradNorm', options.maxGradNorm ?? 1.0, (v) => v >= 0, '>= 0'),
    checkpointing: options.checkpointing ?? true,
    lossChunkTokens: option('lossChunkTokens', options.lossChunkTokens ?? 512, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0'),
    seed: option('seed', options.seed ?? 0, (v) => Number.isSafeInteger(v) && v >= 0, 'a non-negative integer'),
  };
}

export function trainAddon(): NativeTrainAddon {
  return loadNative().addon as unknown as NativeTrainAddon;
}

function translate(error: unknown): unknown {
  if (isCodedError(error) && error.code === 'ERR_QUANTIZED_MODEL') {
    return new HaloError(error.code, error.message, { fix: 'train (or attach the adapter) on the original float model folder, then run `inference optimize` on the result', cause: error });
  }
  if (isCodedError(error) && error.code.startsWith('ERR_') && !['ERR_TORCH', 'ERR_NATIVE'].includes(error.code)) {
    return new HaloError(error.code, error.message, { fix: 'check the adapter / state files and the trainer options', cause: error });
  }
  return error;
}

function f32Sources(tensors: readonly NativeNamedTensor[]): TensorSource[] {
  return tensors.map((tensor) => ({ name: tensor.name, shape: tensor.shape, dtype: 'F32', values: () => tensor.data }));
}

export class Trainer {
  readonly model: Model;
  readonly options: NativeTrainOptions;
  private native: NativeTrainer | null;
  private busy = false;

  private constructor(model: Model, options: NativeTrainOptions, native: NativeTrainer) {
    this.model = model;
    this.options = options;
    this.native = native;
  }

  /** Attaches fresh adapters (B = 0: the model is unchanged until the first update) or readies full fine-tuning. */
  static create(model: Model, options: TrainerOptions = {}): Trainer {
    const resolved = resolveTrainOptions(options);
    try {
      return new Trainer(model, resolved, new (trainAddon().NativeTrainer)(model.nativeHandle('train'), resolved));
    } catch (error) {
      throw translate(error);
    }
  }

  /** A trainer whose LoRA settings come from a PEFT adapter folder, with that adapter's weights loaded. */
  static fromAdapter(model: Model, dir: string, options: Omit<TrainerOptions, 'mode' | 'rank' | 'alpha' | 'dropout' | 'useRslora' | 'targets'> = {}): Trainer {
    const settings = readAdapterConfig(dir);
    const trainer = Trainer.create(model, { ...options, rank: settings.rank, alpha: settings.alpha, dropout: settings.dropout, useRslora: settings.useRslora, targets: settings.targets });
    try {
      trainer.loadAdapter(dir);
    } catch (error) {
      trainer.dispose();
      throw error;
    }
    return trainer;
  }

  get step(): number {
    return this.live('step').stepCount();
  }

  /** One optimizer update over `samples` (split into micro-batches; the loss is the mean over every counted token). */
  async trainStep(samples: readonly TrainSample[], batching: BatchingOptions = {}): Promise<StepResult> {
    return this.trainStepOn(buildMicroBatches(samples, this.model.config.vocabSize, batching));
  }

  async trainStepOn(batches: NativeMicroBatch[]): Promise<StepResult> {
    const report = await this.exclusive('trainStep', (native) => native.step(batches));
    return { ...report, tokensPerSecond: report.seconds > 0 ? report.tokens / report.seconds : 0 };
  }

  /** Mean loss over the counted tokens, no update. */
  async loss(samples: readonly TrainSample[], batching: BatchingOptions = {}): Promise<number> {
    const batches = buildMicroBatches(samples, this.model.config.vocabSize, batching);
    return this.exclusive('loss', (native) => native.loss(batches));
  }

  /** The trainable tensors under their export names (PEFT keys for LoRA, HF names for full fine-tuning). */
  trainableTensors(): NativeNamedTensor[] {
    return this.live('trainableTensors').trainable();
  }

  /** Writes adapter_config.json + adapter_model.safetensors (PEFT format). */
  saveAdapter(dir: string, baseModelNameOrPath: string = this.model.path): void {
    if (this.options.fullFinetune) throw new HaloError('ERR_TRAIN_MODE', 'saveAdapter: this trainer fine-tunes every weight; there is no adapter', { fix: 'use saveMerged to write the full model' });
    mkdirSync(dir, { recursive: true });
    writeSafetensors(join(dir, ADAPTER_WEIGHTS), f32Sources(this.trainableTensors()));
    const settings = { rank: this.options.rank, alpha: this.options.alpha, dropout: this.options.dropout, useRslora: this.options.useRslora, targets: this.options.targets as LoraTarget[] };
    writeJsonAtomic(join(dir, ADAPTER_CONFIG), adapterConfigJson(settings, baseModelNameOrPath));
  }

  /** Loads a PEFT adapter's weights into this trainer's adapters (its rank and targets must match). */
  loadAdapter(dir: string): void {
    const settings = readAdapterConfig(dir);
    const mismatch = (field: string, theirs: unknown, ours: unknown): never => {
      throw new HaloError('ERR_ADAPTER', `${join(dir, ADAPTER_CONFIG)}: ${field} is ${JSON.stringify(theirs)} but this trainer uses ${JSON.stringify(ours)}`, {
        fix: 'create the trainer with Trainer.fromAdapter, or with matching LoRA options',
      });
    };
    if (settings.rank !== this.options.rank) mismatch('r', settings.rank, this.options.rank);
    if ([...settings.targets].sort().join(',') !== [...this.options.targets].sort().join(',')) mismatch('target_modules', settings.targets, this.options.targets);
    const file = join(dir, ADAPTER_WEIGHTS);
    if (!existsSync(file)) throw new HaloError('ERR_ADAPTER', `${file} does not exist`, { fix: 'the adapter folder needs adapter_model.safetensors' });
    try {
      this.live('loadAdapter').loadTrainable(file, true);
    } catch (error) {
      throw translate(error);
    }
  }

  /** Trainer state for an exact resume; `dataPosition` is the caller's (e.g. epoch and index), returned by loadState. */
  saveState(dir: string, dataPosition: unknown = null): void {
    const native = this.live('saveState');
    mkdirSync(dir, { recursive: true });
    writeSafetensors(join(dir, STATE_TENSORS), f32Sources(native.stateTensors()));
    writeJsonAtomic(join(dir, STATE_JSON), {
      format: STATE_FORMAT,
      step: native.stepCount(),
      rngState: Buffer.from(native.rngState()).toString('base64'),
      options: this.options,
      dataPosition,
    });
  }

  loadState(dir: string): unknown {
    const path = join(dir, STATE_JSON);
    if (!existsSync(path)) throw new HaloError('ERR_TRAINER_STATE', `${path} does not exist`, { fix: 'point at a folder written by Trainer.saveState' });
    let state: { format?: unknown; step?: unknown; rngState?: unknown; options?: Partial<NativeTrainOptions>; dataPosition?: unknown };
    try {
      state = JSON.parse(readFileSync(path, 'utf8')) as typeof state;
    } catch (error) {
      throw new HaloError('ERR_TRAINER_STATE', `${path} is not valid JSON: ${(error as Error).message}`, { fix: 'restore the state folder or start over' });
    }
    if (state.format !== STATE_FORMAT) throw new HaloError('ERR_TRAINER_STATE', `${path}: format ${JSON.stringify(state.format)} is not ${STATE_FORMAT}`, { fix: 'point at a folder written by Trainer.saveState' });
    if (typeof state.step !== 'number' || typeof state.rngState !== 'string') throw new HaloError('ERR_TRAINER_STATE', `${path}: step or rngState is missing`, { fix: 'restore the state folder or start over' });
    for (const key of ['fullFinetune', 'rank', 'targets'] as const) {
      if (JSON.stringify(state.options?.[key]) !== JSON.stringify(this.options[key])) {
        throw new HaloError('ERR_TRAINER_STATE', `${path}: options.${key} is ${JSON.stringify(state.options?.[key])} but this trainer uses ${JSON.stringify(this.options[key])}`, {
          fix: 'resume with the same trainer options the state was saved with',
        });
      }
    }
    try {
      this.live('loadState').loadState(join(dir, STATE_TENSORS), state.step, new Uint8Array(Buffer.from(state.rngState, 'base64')));
    } catch (error) {
      throw translate(error);
    }
    return state.dataPosition ?? null;
  }

  /** The model with every adapter merged in, as a Hugging Face folder (fp32 safetensors, sharded past maxShardBytes). */
  saveMerged(outDir: string, options: SaveMergedOptions = {}): void {
    const sourceDir = options.sourceDir ?? this.model.path;
    const maxShardBytes = options.maxShardBytes ?? 2 * 1024 ** 3;
    const tensors = this.live('saveMerged').mergedWeights();
    mkdirSync(outDir, { recursive: true });
    const shards: NativeNamedTensor[][] = [[]];
    let shardBytes = 0;
    for (const tensor of tensors) {
      const bytes = tensor.data.byteLength;
      if (shardBytes > 0 && shardBytes + bytes > maxShardBytes) {
        shards.push([]);
        shardBytes = 0;
      }
      shards[shards.length - 1].push(tensor);
      shardBytes += bytes;
    }
    const configPath = join(sourceDir, 'config.json');
    if (!existsSync(configPath)) throw new HaloError('ERR_EXPORT', `${configPath} does not exist`, { fix: 'pass sourceDir: the base model folder' });
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    writeJsonAtomic(join(outDir, 'config.json'), { ...config, torch_dtype: 'float32' });
    for (const name of COPIED_FILES) if (existsSync(join(sourceDir, name))) copyFileSync(join(sourceDir, name), join(outDir, name));
    if (shards.length === 1) {
      writeSafetensors(join(outDir, 'model.safetensors'), f32Sources(shards[0]));
      return;
    }
    const weightMap: Record<string, string> = {};
    let totalSize = 0;
    shards.forEach((shard, i) => {
      const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
      writeSafetensors(join(outDir, file), f32Sources(shard));
      for (const tensor of shard) {
        weightMap[tensor.name] = file;
        totalSize += tensor.data.byteLength;
      }
    });
    writeJsonAtomic(join(outDir, 'model.safetensors.index.json'), { metadata: { total_size: totalSize }, weight_map: weightMap });
  }

  /** Removes the adapters from the model (it generates as the base again) and frees the optimizer. */
  dispose(): void {
    this.native?.dispose();
    this.native = null;
  }

  private live(op: string): NativeTrainer {
    if (!this.native) throw new HaloError('ERR_DISPOSED', `${op}: the trainer was disposed`, { fix: 'create a new Trainer' });
    if (this.busy) throw new HaloError('ERR_TRAINER_BUSY', `${op}: a training step is still running`, { fix: 'await the running step first' });
    return this.native;
  }

  private async exclusive<T>(op: string, run: (native: NativeTrainer) => Promise<T>): Promise<T> {
    const native = this.live(op);
    this.busy = true;
    try {
      return await run(native);
    } catch (error) {
      throw translate(error);
    } finally {
      this.busy = false;
    }
  }
}
