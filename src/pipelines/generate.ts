/**
 * Batched sampling for the pipelines: prompts go to the Generator a batch at a time (each prompt
 * prefilled once and shared by its n samples); results come back in prompt-major order. Each batch
 * has its own seed derived from (seed, batch index), so a resumed run regenerates exactly the batch
 * it was cut off in and skips what is already on disk.
 */
import type { Generator } from '../engine/generator.js';
import type { FinishReason } from '../engine/types.js';
import { HaloError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

export interface GenerationJob {
  promptIds: readonly number[][];
  n: number;
  maxNewTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  /** prompts per generate() call. */
  batchSize: number;
  stopTokenIds?: number[];
  signal?: AbortSignal;
}

export interface GeneratedSample {
  /** position of the prompt in job.promptIds. */
  promptPosition: number;
  sampleIndex: number;
  tokens: number[];
  finishReason: FinishReason;
}

export interface GenerationCallbacks {
  /** samples already on disk (prompt-major record count): those are not handed out again. */
  alreadyDone?: number;
  onSample: (sample: GeneratedSample, recordIndex: number) => void;
  onProgress?: (progress: { done: number; total: number; tokens: number; tokensPerSecond: number }) => void;
}

export interface GenerationTotals {
  generatedTokens: number;
  seconds: number;
  samples: number;
}

export function batchSeed(seed: number, batchIndex: number): number {
  return new Rng((seed >>> 0) ^ Math.imul(batchIndex + 1, 0x9e3779b9)).nextUint32();
}

export async function generateAll(generator: Generator, job: GenerationJob, callbacks: GenerationCallbacks): Promise<GenerationTotals> {
  const total = job.promptIds.length * job.n;
  const alreadyDone = callbacks.alreadyDone ?? 0;
  let generatedTokens = 0;
  let handedOut = 0;
  const started = performance.now();
  for (let first = 0, batchIndex = 0; first < job.promptIds.length; first += job.batchSize, batchIndex++) {
    const prompts = job.promptIds.slice(first, first + job.batchSize);
    const batchStart = first * job.n;
    if (batchStart + prompts.length * job.n <= alreadyDone) continue;
    const tokensBefore = generatedTokens;
    const result = await generator.generate(
      prompts.map((ids) => [...ids]),
      {
        n: job.n,
        maxNewTokens: job.maxNewTokens,
        temperature: job.temperature,
        topP: job.topP,
        seed: batchSeed(job.seed, batchIndex),
        ...(job.stopTokenIds === undefined ? {} : { stopTokenIds: job.stopTokenIds }),
        ...(job.signal === undefined ? {} : { signal: job.signal }),
        onProgress: (progress) => {
          const seconds = (performance.now() - started) / 1000;
          const tokens = tokensBefore + progress.generatedTokens;
          callbacks.onProgress?.({ done: batchStart + progress.finishedSequences, total, tokens, tokensPerSecond: seconds > 0 ? tokens / seconds : 0 });
        },
      },
    );
    // A cancelled batch holds cut-off sequences: never hand those out as completions.
    if (job.signal?.aborted || result.sequences.some((sequence) => sequence.finishReason === 'cancelled')) {
      throw new HaloError('ERR_CANCELLED', 'generation cancelled', { fix: 'rerun the same command to continue where it stopped' });
    }
    generatedTokens += result.generatedTokens;
    for (const sequence of result.sequences) {
      const recordIndex = batchStart + sequence.promptIndex * job.n + sequence.sampleIndex;
      if (recordIndex < alreadyDone) continue;
      callbacks.onSample({ promptPosition: first + sequence.promptIndex, sampleIndex: sequence.sampleIndex, tokens: sequence.tokens, finishReason: sequence.finishReason }, recordIndex);
      handedOut += 1;
    }
    const seconds = (performance.now() - started) / 1000;
    callbacks.onProgress?.({ done: batchStart + prompts.length * job.n, total, tokens: generatedTokens, tokensPerSecond: seconds > 0 ? generatedTokens / seconds : 0 });
  }
  return { generatedTokens, seconds: (performance.now() - started) / 1000, samples: handedOut };
}

/** A completion's text: its tokens without the stop token that ended it, special tokens dropped. */
export function completionText(tokenizer: { decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string }, sample: { tokens: readonly number[]; finishReason: FinishReason }): string {
  const body = sample.finishReason === 'stop' ? sample.tokens.slice(0, -1) : sample.tokens;
  return body.length === 0 ? '' : tokenizer.decode(body, { skipSpecialTokens: true });
}
