/**
 * Fixtures for the engine proof and benchmark: random-init models (scripts/make-tiny-model's code) and
 * their GGUF exports, cached under the OS temp dir by their options (generation is deterministic, so a
 * cached folder is byte-identical to a fresh one), and real-text prompts tokenized with the model's
 * own tokenizer.
 */
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Tokenizer } from '@huggingface/tokenizers';
import { writeTinyModel, type TinyModelOptions } from '../../src/export/tiny-model.js';
import { exportHfToGguf, type GgufOutType } from '../../src/export/gguf/from-hf.js';
import { writeJsonAtomic } from '../../src/util/atomic.js';
import { Rng } from '../../src/util/rng.js';

const CACHE = join(tmpdir(), 'halo-forge-fixtures');

/** The model folder for `options`, written on first use. */
export function ensureTinyModel(options: TinyModelOptions): string {
  const key = createHash('sha256').update(JSON.stringify(options)).digest('hex').slice(0, 16);
  const directory = join(CACHE, `${options.arch}-${key}`);
  const marker = join(directory, 'fixture.json');
  if (!existsSync(marker)) {
    writeTinyModel(directory, options);
    writeJsonAtomic(marker, options);
  }
  return directory;
}

/** The GGUF export of a fixture model, written on first use. */
export function ensureGguf(modelDirectory: string, type: GgufOutType): string {
  const path = join(modelDirectory, `model.${type.toLowerCase()}.gguf`);
  if (!existsSync(path)) exportHfToGguf(modelDirectory, path, type);
  return path;
}

const TEXT = [
  'The quick brown fox jumps over the lazy dog while the farmer counts his sheep twice before sunset.',
  'def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n',
  'Question: A train travels 120 kilometres in 1.5 hours. What is its average speed in km/h? Answer:',
  'In 1859, Charles Darwin published On the Origin of Species, introducing the theory that populations evolve over generations.',
  '<html><body><h1>Results</h1><ul><li>alpha = 0.05</li><li>beta = 0.2</li></ul></body></html>',
  'Les modèles de langage prédisent le mot suivant; 東京は日本の首都です。 Der schnelle braune Fuchs springt.',
  'SELECT name, COUNT(*) AS orders FROM customers JOIN orders ON customers.id = orders.customer_id GROUP BY name;',
  'To bake bread, mix flour, water, salt and yeast, knead for ten minutes, let it rise for an hour, then bake at 230 °C.',
];

/**
 * `count` prompts of `minTokens`..`maxTokens` tokens (lengths drawn from a seeded Rng), each cut from a
 * different real-text passage repeated as needed, encoded with the model folder's tokenizer.json.
 */
export function textPrompts(modelDirectory: string, count: number, minTokens: number, maxTokens: number, seed = 1): number[][] {
  const tokenizer = new Tokenizer(
    JSON.parse(readFileSync(join(modelDirectory, 'tokenizer.json'), 'utf8')) as Record<string, unknown>,
    JSON.parse(readFileSync(join(modelDirectory, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>,
  );
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => {
    const length = minTokens + rng.int(maxTokens - minTokens + 1);
    let text = TEXT[i % TEXT.length];
    let ids = tokenizer.encode(text).ids;
    while (ids.length < length) {
      text += ` ${TEXT[(i + ids.length) % TEXT.length]}`;
      ids = tokenizer.encode(text).ids;
    }
    return ids.slice(0, length);
  });
}
