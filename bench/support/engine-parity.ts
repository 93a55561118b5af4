/**
 * The Engine issue's parity check against llama.cpp: the same random-init model in our engine (fp32,
 * CPU) and, exported as GGUF F32, in llama.cpp through node-llama-cpp (F32 KV cache, flash attention
 * off). Teacher-forced logits at every position of 8 real-text prompts of 16–64 tokens, then greedy
 * 32-token continuations of the same prompts.
 */
import { Model } from '../../src/engine/model.js';
import { openLlamaCppPeer } from '../../src/export/llama-cpp-peer.js';
import { compareLogitRows } from '../../src/export/logit-parity.js';
import { defaultTinyOptions, type TinyArch } from '../../src/export/tiny-model.js';
import { ensureGguf, ensureTinyModel, textPrompts } from './engine-fixtures.js';

export const PARITY_CRITERIA = { maxRelativeDiff: 1e-3, argmaxAgreement: 0.995, greedyIdentical: 7 } as const;

export interface ArchParity {
  arch: TinyArch;
  prompts: number;
  promptTokens: number[];
  positions: number;
  /** max |Δ logit| after removing each position's mean difference (log-softmax vs logits). */
  maxAbsDiff: number;
  /** max over positions of that difference / the position's logit range. */
  maxRelativeDiff: number;
  argmaxAgreement: number;
  greedyIdentical: number;
  /** index of the first differing token per prompt, -1 where identical. */
  greedyFirstDivergence: number[];
  peer: { kvCache: string; flashAttention: boolean };
  pass: boolean;
}

export interface ParityOptions {
  prompts?: number;
  minTokens?: number;
  maxTokens?: number;
  newTokens?: number;
  threads?: number;
  /** Compare logits at every `positionStride`-th position (and the last); default 1 = all. */
  positionStride?: number;
}

export async function runArchParity(arch: TinyArch, options: ParityOptions = {}): Promise<ArchParity> {
  const promptCount = options.prompts ?? 8;
  const newTokens = options.newTokens ?? 32;
  const modelDirectory = ensureTinyModel({ ...defaultTinyOptions(arch), seed: 0 });
  const gguf = ensureGguf(modelDirectory, 'F32');
  const prompts = textPrompts(modelDirectory, promptCount, options.minTokens ?? 16, options.maxTokens ?? 64);
  const stride = options.positionStride ?? 1;
  const positions = prompts.map((prompt) => prompt.map((_, i) => i).filter((i) => i % stride === 0 || i === prompt.length - 1));

  const model = await Model.load(modelDirectory, { device: 'cpu', dtype: 'fp32' });
  let oursRows: Float32Array[][];
  let oursGreedy: number[][];
  try {
    const { rows, vocabSize } = await model.logits(prompts, { positions });
    oursRows = rows.map((flat) => Array.from({ length: flat.length / vocabSize }, (_, i) => flat.subarray(i * vocabSize, (i + 1) * vocabSize)));
    const generated = await model.generate(prompts, { temperature: 0, maxNewTokens: newTokens, stopTokenIds: [] });
    oursGreedy = prompts.map((_, i) => generated.sequences.find((s) => s.promptIndex === i && s.sampleIndex === 0)?.tokens ?? []);
  } finally {
    model.dispose();
  }

  const maxPrompt = Math.max(...prompts.map((p) => p.length));
  const peer = await openLlamaCppPeer(gguf, { contextSize: maxPrompt + newTokens + 8, threads: options.threads });
  const theirRows: Float32Array[][] = [];
  const theirGreedy: number[][] = [];
  try {
    for (const [i, prompt] of prompts.entries()) theirRows.push(await peer.logProbs(prompt, positions[i]));
  } finally {
    await peer.dispose();
  }
  // Greedy runs in its own context so that no state of the scoring calls can reach it. (The divergent
  // continuations once seen here came from a second llama.cpp backend in the same process; the peer
  // now shares one backend per process: src/export/llama-cpp-peer.ts.)
  const greedyPeer = await openLlamaCppPeer(gguf, { contextSize: maxPrompt + newTokens + 8, threads: options.threads });
  try {
    for (const prompt of prompts) theirGreedy.push(await greedyPeer.greedy(prompt, newTokens));
  } finally {
    await greedyPeer.dispose();
  }

  const stats = compareLogitRows(oursRows.flat(), theirRows.flat());
  const greedyFirstDivergence = prompts.map((_, i) => {
    const a = oursGreedy[i];
    const b = theirGreedy[i];
    for (let t = 0; t < Math.max(a.length, b.length); t++) if (a[t] !== b[t]) return t;
    return -1;
  });
  const greedyIdentical = greedyFirstDivergence.filter((d) => d === -1).length;
  const argmaxAgreement = stats.argmaxAgree / stats.positions;
  return {
    arch,
    prompts: promptCount,
    promptTokens: prompts.map((p) => p.length),
    positions: stats.positions,
    maxAbsDiff: stats.maxAbsDiff,
    maxRelativeDiff: stats.maxRelativeDiff,
    argmaxAgreement,
    greedyIdentical,
    greedyFirstDivergence,
    peer: { kvCache: peer.kvCacheType, flashAttention: peer.flashAttention },
    pass:
      stats.maxRelativeDiff <= PARITY_CRITERIA.maxRelativeDiff &&
      argmaxAgreement >= PARITY_CRITERIA.argmaxAgreement &&
      greedyIdentical >= Math.ceil((PARITY_CRITERIA.greedyIdentical / 8) * promptCount),
  };
}

export function parityLine(result: ArchParity): string {
  return (
    `parity ${result.arch}: logits max|Δ| ${result.maxAbsDiff.toExponential(2)} (${result.maxRelativeDiff.toExponential(2)} of range, limit 1e-3) ` +
    `argmax ${(100 * result.argmaxAgreement).toFixed(2)}% of ${result.positions} positions; greedy ${result.greedyIdentical}/${result.prompts} identical ` +
    `(llama.cpp KV ${result.peer.kvCache}, flash-attn ${result.peer.flashAttention ? 'on' : 'off'}) ${result.pass ? 'PASS' : 'FAIL'}`
  );
}
