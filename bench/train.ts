/**
 * bench:train — LoRA training tokens/s on the ~100M-parameter llama-shape model (fp32, CPU, sequence
 * 512, batch 2, the first 256 tokens of each row a prompt the loss ignores), ours against the same
 * architecture and step in PyTorch eager (Debian's python3-torch: the same libtorch), one run.
 * Both run without activation checkpointing (PyTorch eager has none); the two alternate ROUNDS times and
 * each side's best counts. Last line: `train: ours <x> tok/s pytorch-eager <y> tok/s ratio <r>`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bench100mOptions, writeTinyModel } from '../src/export/tiny-model.js';
import { Model } from '../src/engine/model.js';
import { Trainer, type TrainSample } from '../src/engine/trainer.js';
import { loadNative } from '../src/engine/load.js';
import { Rng } from '../src/util/rng.js';
import { formatError } from '../src/util/errors.js';

const SEQUENCE = 512;
const BATCH = 2;
const PROMPT = 256;
const RANK = 16;
const WARMUP = 1;
const STEPS = 2;
/** ours and the peer alternate this many times; each side's best run counts (the machine may be shared). */
const ROUNDS = 2;
const PYTHON = process.env.HALO_FORGE_PYTHON ?? '/usr/bin/python3';

function samples(vocab: number): TrainSample[] {
  const rng = new Rng(1);
  return Array.from({ length: BATCH }, () => {
    const tokens = Array.from({ length: SEQUENCE }, () => 1 + rng.int(vocab - 1));
    return { tokens, lossMask: tokens.map((_, i) => (i < PROMPT ? 0 : 1)) };
  });
}

async function ours(modelDir: string, checkpointing: boolean): Promise<number> {
  const model = await Model.load(modelDir, { dtype: 'fp32' });
  const trainer = Trainer.create(model, { rank: RANK, alpha: 2 * RANK, lr: 1e-4, checkpointing });
  try {
    const batch = samples(model.config.vocabSize);
    let tokens = 0;
    let seconds = 0;
    for (let step = 0; step < WARMUP + STEPS; step++) {
      const report = await trainer.trainStep(batch, { microBatchRows: BATCH });
      if (step >= WARMUP) {
        tokens += report.tokens;
        seconds += report.seconds;
      }
    }
    return tokens / seconds;
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

function pytorch(threads: number, vocab: number): number | string {
  const options = bench100mOptions();
  const spec = {
    hidden: options.hidden, layers: options.layers, heads: options.heads, kv_heads: options.kvHeads, head_dim: options.headDim,
    intermediate: options.intermediate, vocab, rank: RANK, alpha: 2 * RANK, sequence: SEQUENCE, batch: BATCH, prompt: PROMPT,
    warmup: WARMUP, steps: STEPS, threads,
  };
  const script = join(dirname(fileURLToPath(import.meta.url)), '../../bench/train_pytorch.py');
  const child = spawnSync(PYTHON, [script, JSON.stringify(spec)], { encoding: 'utf8', timeout: 1_800_000 });
  if (child.status !== 0) return `PyTorch run failed (${PYTHON}; install python3-torch): ${child.stderr.trim().split('\n').pop() ?? ''}`;
  return (JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as { tokens_per_second: number }).tokens_per_second;
}

async function main(): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'halo-bench-train-'));
  try {
    const modelDir = join(work, 'model');
    const summary = writeTinyModel(modelDir, bench100mOptions());
    const threads = loadNative().threads;
    process.stdout.write(`model: llama-shape ${(summary.parameters / 1e6).toFixed(1)}M parameters, fp32, LoRA r=${RANK} all-linear, batch ${BATCH} x ${SEQUENCE} (prompt ${PROMPT} masked), ${threads} threads\n`);
    const vocab = (JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as { vocab_size: number }).vocab_size;
    let best = 0;
    let peerBest = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const plain = await ours(modelDir, false);
      const peer = pytorch(threads, vocab);
      if (typeof peer === 'string') {
        process.stdout.write(`pytorch-eager: ${peer}\n`);
        process.stdout.write(`train: ours ${plain.toFixed(1)} tok/s pytorch-eager n/a tok/s ratio n/a\n`);
        return 1;
      }
      process.stdout.write(`round ${round + 1}: ours ${plain.toFixed(1)} tok/s, pytorch-eager ${peer.toFixed(1)} tok/s\n`);
      best = Math.max(best, plain);
      peerBest = Math.max(peerBest, peer);
    }
    if (process.env.HALO_FORGE_BENCH_CHECKPOINTING === '1') process.stdout.write(`ours with activation checkpointing: ${(await ours(modelDir, true)).toFixed(1)} tok/s\n`);
    process.stdout.write(`train: ours ${best.toFixed(1)} tok/s pytorch-eager ${peerBest.toFixed(1)} tok/s ratio ${(best / peerBest).toFixed(2)}\n`);
    return 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`${formatError(error)}\n`);
    process.exitCode = 1;
  },
);
