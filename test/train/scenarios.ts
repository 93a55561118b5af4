/**
 * The training acceptance scenarios, each returning its figures: the tests assert on them and
 * `npm run -s proof:train` prints them as one JSON line. Every scenario builds its own tiny model in
 * `work` (a temp dir the caller removes).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Model } from '../../src/engine/model.js';
import { buildMicroBatches } from '../../src/engine/batching.js';
import { resolveTrainOptions, Trainer, trainAddon, type TrainerOptions } from '../../src/engine/trainer.js';
import { exportHfToGguf } from '../../src/export/gguf/from-hf.js';
import { exportLoraAdapterToGguf } from '../../src/export/gguf/lora-adapter.js';
import { openLlamaCppPeer } from '../../src/export/llama-cpp-peer.js';
import { compareLogitRows } from '../../src/export/logit-parity.js';
import { randomSamples, scaleTensor, writeSmallModel } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));

export function maxAbsDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let worst = 0;
  a.forEach((row, i) => row.forEach((value, j) => (worst = Math.max(worst, Math.abs(value - b[i][j])))));
  return worst;
}

export interface GradCheckFigure {
  label: string;
  maxRelError: number;
  maxAbsError: number;
  checked: number;
  tensors: number;
}

/** Float64 copy of a tiny qwen2 (biases, tied embedding): analytic vs central finite differences. */
export async function gradientCheck(work: string, label: string, options: TrainerOptions, packing: boolean): Promise<GradCheckFigure> {
  const dir = writeSmallModel(join(work, `grad-${label.replace(/\W+/g, '-')}`), { arch: 'qwen2', tieWordEmbeddings: true });
  const model = await Model.load(dir, { dtype: 'fp32' });
  try {
    const samples = randomSamples(3, 11, model.config.vocabSize, 6, 10, 2);
    const batches = buildMicroBatches(samples, model.config.vocabSize, { packing, rowLength: 32, microBatchRows: 2 });
    const result = trainAddon().trainChecks.gradCheck(model.nativeHandle('gradCheck'), resolveTrainOptions(options), batches, 2, 1e-5, 7);
    return { label, ...result };
  } finally {
    model.dispose();
  }
}

/** 8 samples, LoRA r = 16, 100 steps on a random tiny llama whose final norm is scaled x16 (see scaleTensor). */
export async function overfit(work: string): Promise<{ firstLoss: number; lastLoss: number; steps: number }> {
  const dir = writeSmallModel(join(work, 'overfit'), { seed: 5 });
  scaleTensor(dir, 'model.norm.weight', 16);
  const model = await Model.load(dir, { dtype: 'fp32' });
  const trainer = Trainer.create(model, { rank: 16, alpha: 32, lr: 1e-2, seed: 1 });
  try {
    const samples = randomSamples(8, 21, model.config.vocabSize);
    const firstLoss = (await trainer.trainStep(samples)).loss;
    let lastLoss = firstLoss;
    for (let step = 1; step < 100; step++) lastLoss = (await trainer.trainStep(samples)).loss;
    return { firstLoss, lastLoss, steps: 100 };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/** The same samples right-padded (2 micro-batches) and packed into rows of 48: mean losses. */
export async function packing(work: string): Promise<{ padded: number; packed: number; diff: number }> {
  const model = await Model.load(writeSmallModel(join(work, 'packing'), { arch: 'mistral' }), { dtype: 'fp32' });
  const trainer = Trainer.create(model, { rank: 4, seed: 2, lr: 1e-2 });
  try {
    const samples = randomSamples(6, 5, model.config.vocabSize, 5, 20, 3);
    await trainer.trainStep(samples, { microBatchRows: 3 }); // B != 0, so the adapters take part
    const padded = await trainer.loss(samples, { microBatchRows: 4 });
    const packed = await trainer.loss(samples, { packing: true, rowLength: 48 });
    return { padded, packed, diff: Math.abs(padded - packed) };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/** Base + live adapter vs the merged, re-loaded HF folder (sharded at 4 MiB): fp32 logits. */
export async function merge(work: string): Promise<{ maxAbsDiff: number; adapterEffect: number; freshAdapterDiff: number; afterDisposeDiff: number; files: string[]; greedyTokens: number }> {
  const model = await Model.load(writeSmallModel(join(work, 'merge-base')), { dtype: 'fp32' });
  const probe = randomSamples(3, 9, model.config.vocabSize).map((sample) => sample.tokens);
  const mergedDir = join(work, 'merged');
  try {
    const base = (await model.logits(probe)).rows;
    const trainer = Trainer.create(model, { rank: 8, alpha: 16, lr: 5e-3, seed: 3 });
    let live: Float32Array[];
    let freshAdapterDiff: number;
    let greedyTokens: number;
    try {
      freshAdapterDiff = maxAbsDiff(base, (await model.logits(probe)).rows);
      for (let i = 0; i < 3; i++) await trainer.trainStep(randomSamples(4, 30 + i, model.config.vocabSize));
      live = (await model.logits(probe)).rows;
      greedyTokens = (await model.generate([probe[0].slice(0, 6)], { maxNewTokens: 4, temperature: 0 })).sequences[0].tokens.length;
      trainer.saveMerged(mergedDir, { maxShardBytes: 4 * 1024 * 1024 });
    } finally {
      trainer.dispose();
    }
    const afterDisposeDiff = maxAbsDiff(base, (await model.logits(probe)).rows);
    const merged = await Model.load(mergedDir, { dtype: 'fp32' });
    try {
      return {
        maxAbsDiff: maxAbsDiff(live, (await merged.logits(probe)).rows),
        adapterEffect: maxAbsDiff(base, live),
        freshAdapterDiff,
        afterDisposeDiff,
        files: readdirSync(mergedDir).sort(),
        greedyTokens,
      };
    } finally {
      merged.dispose();
    }
  } finally {
    model.dispose();
  }
}

function runChild(script: string, args: string[]): string {
  const result = spawnSync(process.execPath, [join(here, script), ...args], { encoding: 'utf8', env: { ...process.env, HALO_FORGE_THREADS: '2' } });
  if (result.status !== 0) throw new Error(`${script} ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** 20 steps straight vs 10 + saveState + (new process) loadState + 10; LoRA dropout 0.1, cosine schedule. */
export function resume(work: string): { adapterIdentical: boolean; stateIdentical: boolean; reportsIdentical: boolean; adapterBytes: number; lastStep: string } {
  const modelDir = writeSmallModel(join(work, 'resume-base'), { arch: 'mistral' });
  const straight = runChild('resume-child.js', [modelDir, join(work, 'straight'), '20']);
  runChild('resume-child.js', [modelDir, join(work, 'first'), '10']);
  const resumed = runChild('resume-child.js', [modelDir, join(work, 'resumed'), '10', join(work, 'first')]);
  const a = readFileSync(join(work, 'straight', 'adapter_model.safetensors'));
  const b = readFileSync(join(work, 'resumed', 'adapter_model.safetensors'));
  return {
    adapterIdentical: a.equals(b),
    stateIdentical: readFileSync(join(work, 'straight', 'trainer_state.safetensors')).equals(readFileSync(join(work, 'resumed', 'trainer_state.safetensors'))),
    reportsIdentical: straight.split('\n').slice(10).join('\n') === resumed,
    adapterBytes: a.length,
    lastStep: straight.trim().split('\n').pop() ?? '',
  };
}

export interface MemoryMeasure {
  chunk: number;
  baselineKb: number;
  peakKb: number;
  aboveKb: number;
  loss: number;
  tokens: number;
}

/** One step, batch 4 x 1024, vocabulary 151,936: peak resident memory above the loaded state, chunked (512) and unchunked. */
export function memory(work: string): { chunked: MemoryMeasure; unchunked: MemoryMeasure; ratio: number } {
  const modelDir = writeSmallModel(join(work, 'memory-base'), { arch: 'qwen2', vocab: 'qwen2', tieWordEmbeddings: true });
  const measure = (chunk: number): MemoryMeasure => JSON.parse(runChild('memory-child.js', [modelDir, String(chunk)]).trim().split('\n').pop() ?? '{}') as MemoryMeasure;
  const chunked = measure(512);
  const unchunked = measure(0);
  return { chunked, unchunked, ratio: chunked.aboveKb / unchunked.aboveKb };
}

/** Our adapter as a GGUF LoRA adapter in llama.cpp on the base GGUF vs our live-adapter logits. */
export async function ggufLoraPeer(work: string, arch: 'llama' | 'qwen2'): Promise<{ maxRelativeDiff: number; argmaxAgree: number; positions: number; withoutAdapterRelativeDiff: number; loraTensors: number; alpha: number; loraGguf: string }> {
  const baseDir = writeSmallModel(join(work, `${arch}-peer-base`), { arch, seed: 12 });
  const model = await Model.load(baseDir, { dtype: 'fp32' });
  const adapterDir = join(work, `${arch}-peer-adapter`);
  const prompt = randomSamples(1, 70, model.config.vocabSize, 16, 16)[0].tokens;
  const vocab = model.config.vocabSize;
  let ours: Float32Array[];
  const trainer = Trainer.create(model, { rank: 4, alpha: 8, lr: 2e-2, seed: 13 });
  try {
    for (let i = 0; i < 4; i++) await trainer.trainStep(randomSamples(4, 80 + i, vocab));
    const flat = (await model.logits([prompt])).rows[0];
    ours = Array.from({ length: prompt.length }, (_, i) => flat.subarray(i * vocab, (i + 1) * vocab));
    trainer.saveAdapter(adapterDir);
  } finally {
    trainer.dispose();
    model.dispose();
  }
  const baseGguf = join(work, `${arch}-peer-base.gguf`);
  const loraGguf = join(work, `${arch}-peer-lora.gguf`);
  exportHfToGguf(baseDir, baseGguf, 'F32');
  const written = exportLoraAdapterToGguf(adapterDir, baseDir, loraGguf);
  const withAdapter = await openLlamaCppPeer(baseGguf, { contextSize: 64, threads: 2, lora: loraGguf });
  const plain = await openLlamaCppPeer(baseGguf, { contextSize: 64, threads: 2 });
  try {
    const stats = compareLogitRows(ours, await withAdapter.logProbs(prompt));
    const without = compareLogitRows(ours, await plain.logProbs(prompt));
    return { maxRelativeDiff: stats.maxRelativeDiff, argmaxAgree: stats.argmaxAgree, positions: stats.positions, withoutAdapterRelativeDiff: without.maxRelativeDiff, loraTensors: written.tensors, alpha: written.alpha, loraGguf };
  } finally {
    await withAdapter.dispose();
    await plain.dispose();
  }
}
