/**
 * A tiny llama whose weights are trained, not white noise — for quantization-fidelity measurements
 * (GGUF Q4_K_M / Q4_0, ONNX int4) where random-init weights are the worst case: a random model's logits
 * carry no structure, so 4-bit rounding noise is a large share of them.
 *
 *   const dir = await ensureTrainedTinyModel();          // HF folder (config.json, model.safetensors, tokenizer)
 *   const text = trainedTinyHeldOutSequences(dir, 8, 64); // held-out GSM8K test text as token ids
 *
 * What it is: writeTinyModel's llama (2 layers, hidden 256, heads 4 / kv 2, head dim 64, intermediate 512:
 * every dimension a multiple of 256 so K-quants apply; the llama3-32k tokenizer), fully fine-tuned with
 * our trainer (AdamW, cosine schedule) on GSM8K train text (question + answer) cut into 64-token windows,
 * then saved merged as fp32. `training.json` in the folder records the loss before and after on held-out
 * GSM8K test text.
 * Cost: ~1–2 minutes of CPU on first use; cached under os.tmpdir() keyed by the options (a finished folder
 * carries `training.json`; it is built in a temp folder and renamed into place, so a crash leaves nothing).
 * Data: GSM8K from HALO_FORGE_DATA_DIR or ../shared/datasets; call trainedTinyModelSkipReason() first and
 * skip with its reason when that is absent (ensureTrainedTinyModel throws then).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { HaloTokenizer } from '../../src/data/tokenizer.js';
import { Model } from '../../src/engine/model.js';
import { Trainer, type TrainSample } from '../../src/engine/trainer.js';
import { defaultTinyOptions, writeTinyModel, type TinyModelOptions } from '../../src/export/tiny-model.js';
import { writeJsonAtomic } from '../../src/util/atomic.js';
import { HaloError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

export interface TrainedTinyOptions {
  model: TinyModelOptions;
  /** optimizer updates */
  steps: number;
  /** token windows per update */
  batch: number;
  /** tokens per window */
  window: number;
  lr: number;
  seed: number;
}

export const TRAINED_TINY_DEFAULTS: TrainedTinyOptions = {
  model: { ...defaultTinyOptions('llama'), layers: 2, hidden: 256, heads: 4, kvHeads: 2, headDim: 64, intermediate: 512, seed: 21, vocab: 'llama3-32k' },
  steps: 160,
  batch: 4,
  window: 64,
  lr: 3e-3,
  seed: 7,
};

/** What training.json holds. */
export interface TrainedTinySummary {
  options: TrainedTinyOptions;
  heldOutLossBefore: number;
  heldOutLossAfter: number;
  firstStepLoss: number;
  lastStepLoss: number;
  seconds: number;
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The GSM8K folder, or undefined. */
function gsm8kDir(): string | undefined {
  return [process.env.HALO_FORGE_DATA_DIR, join(repoRoot, '..', 'shared', 'datasets')]
    .filter((path): path is string => path !== undefined)
    .map((path) => join(path, 'gsm8k'))
    .find((path) => existsSync(join(path, 'train.jsonl')) && existsSync(join(path, 'test.jsonl')));
}

/** Why the trained model cannot be built here (null when it can). */
export function trainedTinyModelSkipReason(): string | null {
  return gsm8kDir() === undefined ? 'no GSM8K text (set HALO_FORGE_DATA_DIR or provide ../shared/datasets/gsm8k/{train,test}.jsonl) to train the tiny model on' : null;
}

function gsm8kText(split: 'train' | 'test', limit: number): string {
  const dir = gsm8kDir();
  if (dir === undefined) throw new HaloError('ERR_DATA_MISSING', trainedTinyModelSkipReason() ?? 'no GSM8K', { fix: 'set HALO_FORGE_DATA_DIR to a folder holding gsm8k/train.jsonl and gsm8k/test.jsonl' });
  const lines = readFileSync(join(dir, `${split}.jsonl`), 'utf8').split('\n').filter((line) => line.trim() !== '').slice(0, limit);
  return lines.map((line) => {
    const record = JSON.parse(line) as { question: string; answer: string };
    return `Question: ${record.question}\nAnswer: ${record.answer}\n\n`;
  }).join('');
}

/** Consecutive `length`-token windows of `text`, each starting with BOS. */
function windows(tokenizer: HaloTokenizer, text: string, length: number, bos: number): number[][] {
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  const out: number[][] = [];
  for (let start = 0; start + length - 1 <= ids.length; start += length - 1) out.push([bos, ...ids.slice(start, start + length - 1)]);
  return out;
}

function bosOf(modelDir: string): number {
  const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as { bos_token_id: number };
  return config.bos_token_id;
}

/** `count` held-out windows of `length` tokens (GSM8K test text, never trained on), for teacher-forced comparisons. */
export function trainedTinyHeldOutSequences(modelDir: string, count: number, length: number): number[][] {
  const tokenizer = HaloTokenizer.fromFolder(modelDir);
  const all = windows(tokenizer, gsm8kText('test', 200), length, bosOf(modelDir));
  if (all.length < count) throw new Error(`only ${all.length} held-out windows of ${length} tokens`);
  return all.slice(0, count);
}

async function meanLoss(trainer: Trainer, sequences: number[][]): Promise<number> {
  return trainer.loss(sequences.map((tokens) => ({ tokens, lossMask: tokens.map((_, i) => (i === 0 ? 0 : 1)) })));
}

async function train(directory: string, options: TrainedTinyOptions): Promise<void> {
  const started = Date.now();
  const baseDir = join(directory, 'init');
  writeTinyModel(baseDir, options.model);
  const tokenizer = HaloTokenizer.fromFolder(baseDir);
  const bos = bosOf(baseDir);
  const data = windows(tokenizer, gsm8kText('train', 4000), options.window, bos);
  const heldOut = trainedTinyHeldOutSequences(baseDir, 16, options.window);
  const rng = new Rng(options.seed);
  const model = await Model.load(baseDir, { dtype: 'fp32' });
  try {
    const trainer = Trainer.create(model, { mode: 'full', lr: options.lr, schedule: 'cosine', warmupSteps: 10, totalSteps: options.steps, checkpointing: false, seed: options.seed });
    try {
      const heldOutLossBefore = await meanLoss(trainer, heldOut);
      let firstStepLoss = NaN;
      let lastStepLoss = NaN;
      for (let step = 0; step < options.steps; step++) {
        const samples: TrainSample[] = Array.from({ length: options.batch }, () => {
          const tokens = data[rng.int(data.length)];
          return { tokens, lossMask: tokens.map((_, i) => (i === 0 ? 0 : 1)) };
        });
        const result = await trainer.trainStep(samples);
        if (step === 0) firstStepLoss = result.loss;
        lastStepLoss = result.loss;
      }
      const heldOutLossAfter = await meanLoss(trainer, heldOut);
      trainer.saveMerged(join(directory, 'model'), { sourceDir: baseDir });
      const summary: TrainedTinySummary = { options, heldOutLossBefore, heldOutLossAfter, firstStepLoss, lastStepLoss, seconds: (Date.now() - started) / 1000 };
      writeJsonAtomic(join(directory, 'model', 'training.json'), summary);
    } finally {
      trainer.dispose();
    }
  } finally {
    model.dispose();
  }
}

/**
 * The trained model's folder, trained on first use (then cached). Throws ERR_DATA_MISSING without GSM8K:
 * check trainedTinyModelSkipReason() first.
 */
export async function ensureTrainedTinyModel(options: TrainedTinyOptions = TRAINED_TINY_DEFAULTS): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify(options)).digest('hex').slice(0, 16);
  const cache = join(tmpdir(), 'halo-forge-fixtures');
  const directory = join(cache, `trained-llama-${key}`);
  const modelDir = join(directory, 'model');
  if (existsSync(join(modelDir, 'training.json'))) return modelDir;
  mkdirSync(cache, { recursive: true });
  const work = mkdtempSync(join(cache, `trained-llama-${key}.tmp-`));
  try {
    await train(work, options);
    rmSync(join(work, 'init'), { recursive: true, force: true });
    try {
      renameSync(work, directory);
    } catch (error) {
      // another process finished first: use its folder
      if (!existsSync(join(modelDir, 'training.json'))) throw error;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return modelDir;
}

/** training.json of a folder from ensureTrainedTinyModel. */
export function trainedTinySummary(modelDir: string): TrainedTinySummary {
  return JSON.parse(readFileSync(join(modelDir, 'training.json'), 'utf8')) as TrainedTinySummary;
}
