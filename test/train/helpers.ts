/** Shared fixtures for the training tests: tiny random models written to a temp dir, and samples. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultTinyOptions, writeTinyModel, type TinyModelOptions } from '../../src/export/tiny-model.js';
import { readSafetensorsHeader, readSafetensorsTensor, writeSafetensors, type SafetensorsDtype } from '../../src/export/safetensors.js';
import type { TrainSample } from '../../src/engine/batching.js';
import { Rng } from '../../src/util/rng.js';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `halo-train-${prefix}-`));
}

/** A small llama with the 32k Llama-3 vocabulary prefix (fast enough for finite differences). */
export function writeSmallModel(dir: string, overrides: Partial<TinyModelOptions> = {}): string {
  const options: TinyModelOptions = { ...defaultTinyOptions('llama'), hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 128, vocab: 'llama3-32k', ...overrides };
  writeTinyModel(dir, options);
  return dir;
}

/** `count` samples of random tokens: the first `prompt` tokens unmasked, the rest learned. */
export function randomSamples(count: number, seed: number, vocab: number, minLength = 12, maxLength = 24, prompt = 4): TrainSample[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const length = minLength + rng.int(maxLength - minLength + 1);
    const tokens = Array.from({ length }, () => 1 + rng.int(vocab - 1));
    return { tokens, lossMask: tokens.map((_, i) => (i < prompt ? 0 : 1)) };
  });
}

/**
 * Multiplies one tensor of a model folder's model.safetensors by `factor` (rewrites the file).
 * The tiny generator's 0.02-std embeddings and unit final norm cap every logit near +-1.3, so a
 * model whose lm_head LoRA does not touch could never reach a low loss: the overfit test scales
 * model.norm.weight to give the logits the range a trained model has.
 */
export function scaleTensor(dir: string, name: string, factor: number): void {
  const file = join(dir, 'model.safetensors');
  const header = readSafetensorsHeader(file);
  const sources = [...header.tensors.entries()].map(([tensorName, entry]) => {
    const values = readSafetensorsTensor(header, tensorName);
    if (tensorName === name) values.forEach((v, i) => (values[i] = v * factor));
    return { name: tensorName, shape: entry.shape, dtype: entry.dtype as SafetensorsDtype, values: () => values };
  });
  writeSafetensors(file, sources, header.metadata);
}
