/** Tiny model folders for the engine tests, written once per process into a temp dir. */
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeJsonAtomic } from '../../src/util/atomic.js';
import { writeSafetensors } from '../../src/export/safetensors.js';
import { defaultTinyOptions, tinyModelConfig, tinyModelTensors, writeTinyModel, type TinyArch, type TinyModelOptions } from '../../src/export/tiny-model.js';
import { loadTokenizerAssets } from '../../src/export/tokenizer-assets.js';

let root: string | null = null;
const written = new Map<string, string>();

export function fixtureRoot(): string {
  root ??= mkdtempSync(join(tmpdir(), 'halo-engine-test-'));
  return root;
}

/** make-tiny-model's default folder for `arch` (2 layers, hidden 128, GQA 4/2, the family's real vocabulary). */
export function tinyModelDir(arch: TinyArch): string {
  const key = `tiny-${arch}`;
  let dir = written.get(key);
  if (!dir) {
    dir = join(fixtureRoot(), key);
    writeTinyModel(dir, defaultTinyOptions(arch));
    written.set(key, dir);
  }
  return dir;
}

export const SMALL_VOCAB = 256;

/**
 * A llama-shape model with a 256-token vocabulary (config + weights only, no tokenizer): small enough
 * that 20,000 samples fill every category of the distribution for a chi-square test.
 */
export function smallVocabModelDir(overrides: Partial<TinyModelOptions> = {}, drop: string[] = []): string {
  const options: TinyModelOptions = { ...defaultTinyOptions('llama'), ...overrides };
  const key = `small-${JSON.stringify(options)}-${drop.join(',')}`;
  let dir = written.get(key);
  if (!dir) {
    dir = join(fixtureRoot(), `small-${written.size}`);
    mkdirSync(dir, { recursive: true });
    const config = { ...tinyModelConfig(options, loadTokenizerAssets(options.vocab)), vocab_size: SMALL_VOCAB, bos_token_id: 1, eos_token_id: 2 };
    writeJsonAtomic(join(dir, 'config.json'), config);
    writeSafetensors(join(dir, 'model.safetensors'), tinyModelTensors(options, SMALL_VOCAB).filter((tensor) => !drop.includes(tensor.name)));
    written.set(key, dir);
  }
  return dir;
}

/** Deterministic pseudo-random token ids in [0, vocab). */
export function tokens(count: number, vocab: number, salt: number): number[] {
  const out: number[] = [];
  let x = (salt * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out.push(x % vocab);
  }
  return out;
}

export function logSoftmax(row: Float32Array | Float64Array): Float64Array {
  let max = -Infinity;
  for (const value of row) max = Math.max(max, value);
  let sum = 0;
  for (const value of row) sum += Math.exp(value - max);
  const logZ = max + Math.log(sum);
  return Float64Array.from(row, (value) => value - logZ);
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}
