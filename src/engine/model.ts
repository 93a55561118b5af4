/**
 * A loaded decoder-only model (Llama / Mistral / Qwen2 / Qwen3) on one device. Generation, logits and
 * scoring run on a native worker thread; the event loop stays free.
 */
import { resolve } from 'node:path';
import { HaloError, isCodedError } from '../util/errors.js';
import { readModelFolder } from './config.js';
import { resolveDType } from './dtype.js';
import { loadNative } from './load.js';
import type { NativeModel } from './native-types.js';
import { resolveDevice } from './runtime.js';
import type {
  ContinuationQuery,
  ContinuationScore,
  DType,
  GenerateOptions,
  GenerateResult,
  GenerationDefaults,
  LoadOptions,
  LogitsOptions,
  LogitsResult,
  ModelConfig,
  ModelInfo,
} from './types.js';
import { safetensorsFiles } from './weights.js';

const NATIVE_FIXES: Record<string, string> = {
  ERR_SAFETENSORS: 'the weights file is truncated or corrupt: download or export it again',
  ERR_MISSING_TENSOR: 'the checkpoint does not match config.json (wrong architecture or an incomplete export)',
  ERR_SHAPE_MISMATCH: 'config.json and the weights disagree: use the config.json that came with these weights',
  ERR_TOKEN_OUT_OF_RANGE: 'token ids must come from this model\'s tokenizer',
  ERR_QUANT_FORMAT: 'the quantized folder is damaged or was edited: write it again with `halo-forge inference optimize`',
};

/** Native errors keep their code; user-caused ones become HaloErrors with a fix. */
function translate(error: unknown): unknown {
  if (isCodedError(error) && NATIVE_FIXES[error.code]) {
    return new HaloError(error.code, error.message, { fix: NATIVE_FIXES[error.code], cause: error });
  }
  if (isCodedError(error) && error.code === 'ERR_INVALID_ARG') return new HaloError(error.code, error.message, { fix: 'check the arguments', cause: error });
  return error;
}

function invalid(message: string, fix: string): HaloError {
  return new HaloError('ERR_INVALID_ARG', message, { fix });
}

function checkNumber(name: string, value: number, ok: (v: number) => boolean, rule: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) throw invalid(`${name} = ${String(value)}: must be ${rule}`, `pass ${name} ${rule}`);
}

export class Model {
  readonly path: string;
  readonly config: ModelConfig;
  readonly generation: GenerationDefaults;
  readonly device: string;
  readonly dtype: DType;
  private native: NativeModel | null;

  private constructor(path: string, config: ModelConfig, generation: GenerationDefaults, device: string, dtype: DType, native: NativeModel) {
    this.path = path;
    this.config = config;
    this.generation = generation;
    this.device = device;
    this.dtype = dtype;
    this.native = native;
  }

  /** Loads a Hugging Face folder (config.json + model.safetensors or sharded safetensors). */
  static async load(path: string, options: LoadOptions = {}): Promise<Model> {
    const dir = resolve(path);
    const { config, generation } = readModelFolder(dir);
    const files = safetensorsFiles(dir);
    const device = options.device ?? 'cpu';
    const { type, index } = resolveDevice(device);
    const deviceName = type === 'cpu' ? 'cpu' : `cuda:${index}`;
    const dtype = resolveDType(options.dtype ?? 'auto', type);
    if (dtype === 'fp16' && type === 'cpu') {
      throw new HaloError('ERR_INVALID_DTYPE', 'dtype fp16 asked for on the CPU, where libtorch has no fp16 matmul', {
        fix: 'use --dtype bf16 or fp32 on the CPU (auto picks the faster one), or fp16 on a GPU',
      });
    }
    const addon = loadNative().addon;
    let native: NativeModel;
    try {
      native = new addon.NativeModel(config, files, deviceName, dtype);
    } catch (error) {
      throw translate(error);
    }
    return new Model(dir, config, generation, deviceName, dtype, native);
  }

  get info(): ModelInfo {
    return { path: this.path, config: this.config, generation: this.generation, device: this.device, dtype: this.dtype, parameters: this.live('info').parameterCount() };
  }

  /** Prompt prefills run by this model so far (a prompt with n samples counts once). */
  get prefillCount(): number {
    return this.live('prefillCount').prefillCount();
  }

  /** Samples `n` continuations of every prompt in one native call. */
  async generate(prompts: number[][], options: GenerateOptions): Promise<GenerateResult> {
    const native = this.live('generate');
    if (!Array.isArray(prompts) || prompts.length === 0) throw invalid('prompts must be a non-empty array of token-id arrays', 'pass at least one prompt');
    prompts.forEach((prompt, i) => {
      if (!Array.isArray(prompt) || prompt.length === 0) throw invalid(`prompts[${i}] is empty`, 'every prompt needs at least one token (e.g. BOS)');
    });
    this.checkTokens(prompts, 'prompts');
    const n = options.n ?? 1;
    checkNumber('maxNewTokens', options.maxNewTokens, (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1');
    checkNumber('n', n, (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1');
    const temperature = options.temperature ?? 1;
    checkNumber('temperature', temperature, (v) => v >= 0, '>= 0');
    const topK = options.topK ?? 0;
    checkNumber('topK', topK, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
    const topP = options.topP ?? 1;
    checkNumber('topP', topP, (v) => v > 0 && v <= 1, 'in (0, 1]');
    const minP = options.minP ?? 0;
    checkNumber('minP', minP, (v) => v >= 0 && v < 1, 'in [0, 1)');
    const repetitionPenalty = options.repetitionPenalty ?? 1;
    checkNumber('repetitionPenalty', repetitionPenalty, (v) => v > 0, '> 0');
    const seed = options.seed ?? 0;
    checkNumber('seed', seed, (v) => Number.isSafeInteger(v) && v >= 0, 'a non-negative integer');
    const stopTokenIds = options.stopTokenIds ?? this.generation.eosTokenIds;
    this.checkTokens([stopTokenIds], 'stopTokenIds');

    const handle = native.generate(
      { prompts, n, maxNewTokens: options.maxNewTokens, temperature, topK, topP, minP, repetitionPenalty, stopTokenIds, seed },
      options.onProgress,
    );
    const signal = options.signal;
    const onAbort = (): void => handle.cancel();
    if (signal) {
      if (signal.aborted) handle.cancel();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    try {
      return await handle.promise;
    } catch (error) {
      throw translate(error);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Next-token logits at chosen positions (default: all) of each sequence, fp32. */
  async logits(sequences: number[][], options: LogitsOptions = {}): Promise<LogitsResult> {
    const native = this.live('logits');
    this.checkTokens(sequences, 'sequences');
    const positions = options.positions ?? sequences.map((sequence) => sequence.map((_, i) => i));
    if (positions.length !== sequences.length) throw invalid('options.positions must hold one list per sequence', 'pass positions[i] for every sequence i');
    try {
      return { vocabSize: this.config.vocabSize, rows: await native.logits(sequences, positions) };
    } catch (error) {
      throw translate(error);
    }
  }

  /** Summed log-probabilities of each continuation given its context, batched. */
  async scoreContinuations(queries: ContinuationQuery[]): Promise<ContinuationScore[]> {
    const native = this.live('scoreContinuations');
    this.checkTokens(queries.map((query) => query.context), 'context');
    this.checkTokens(queries.map((query) => query.continuation), 'continuation');
    try {
      const scores = await native.score(queries.map((query) => query.context), queries.map((query) => query.continuation));
      return scores.map((score, i) => ({ ...score, tokens: queries[i].continuation.length }));
    } catch (error) {
      throw translate(error);
    }
  }

  /** Frees the weights now (a generation still running keeps them until it ends). */
  dispose(): void {
    this.native?.dispose();
    this.native = null;
  }

  get disposed(): boolean {
    return this.native === null;
  }

  /** @internal The native model, for engine/trainer.ts (which attaches adapters to it in place). */
  nativeHandle(op: string): NativeModel {
    return this.live(op);
  }

  private live(op: string): NativeModel {
    if (!this.native) throw new HaloError('ERR_DISPOSED', `${op}: the model at ${this.path} was disposed`, { fix: 'load the model again with Model.load' });
    return this.native;
  }

  private checkTokens(lists: number[][], what: string): void {
    const vocab = this.config.vocabSize;
    lists.forEach((list, i) => {
      if (!Array.isArray(list)) throw invalid(`${what}[${i}] must be an array of token ids`, 'pass token ids as number[]');
      list.forEach((id, j) => {
        if (!Number.isInteger(id) || id < 0 || id >= vocab) {
          throw new HaloError('ERR_TOKEN_OUT_OF_RANGE', `${what}[${i}][${j}] = ${String(id)} is outside the vocabulary [0, ${vocab})`, {
            fix: NATIVE_FIXES.ERR_TOKEN_OUT_OF_RANGE,
            details: { index: i, position: j, id, vocabSize: vocab },
          });
        }
      });
    });
  }
}
