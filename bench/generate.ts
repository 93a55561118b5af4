/**
 * bench:generate — our engine vs llama.cpp (node-llama-cpp, CPU) on the same ~100M-parameter
 * llama-shape random-init model (make-tiny-model --preset bench100m), both measured in this run:
 *  - batch-1 decode tokens/s: fp32 vs GGUF F32 (and bf16 vs GGUF F16 with --bf16);
 *  - RAFT-shaped generation: 16 prompts x 8 samples x 128 new tokens, total tokens/s over the whole
 *    call (prefill included), against llama.cpp decoding the same 128 sequences as parallel sequences.
 * The last line is the summary: `generate: batch1 ours <x> llama.cpp <y> ratio <r>; raft ours …`.
 */
import { availableParallelism } from 'node:os';
import { Model } from '../src/engine/model.js';
import type { DType } from '../src/engine/types.js';
import { openLlamaCppPeer, type KvCacheType } from '../src/export/llama-cpp-peer.js';
import { bench100mOptions } from '../src/export/tiny-model.js';
import { ensureGguf, ensureTinyModel, textPrompts } from './support/engine-fixtures.js';

export interface GenerateBenchOptions {
  newTokens: number;
  raftPrompts: number;
  raftSamples: number;
  bf16: boolean;
  threads: number;
  log: (line: string) => void;
}

export interface PairFigures {
  ours: number;
  llamaCpp: number;
  ratio: number;
}

export interface GenerateBenchResult {
  model: { parameters: string; layers: number; hidden: number; heads: number; kvHeads: number; ffn: number; vocab: number };
  threads: number;
  llamaCppKvCache: KvCacheType;
  batch1: PairFigures;
  raft: PairFigures & { sequences: number; newTokens: number };
  batch1Bf16?: PairFigures;
  raftBf16?: PairFigures;
}

const round = (x: number): number => Math.round(x * 10) / 10;
const pair = (ours: number, llamaCpp: number): PairFigures => ({ ours: round(ours), llamaCpp: round(llamaCpp), ratio: Math.round((ours / llamaCpp) * 100) / 100 });

async function oursBatch1(model: Model, prompt: number[], newTokens: number): Promise<number> {
  await model.generate([prompt], { temperature: 0, maxNewTokens: 8, stopTokenIds: [] }); // warm-up
  const result = await model.generate([prompt], { temperature: 0, maxNewTokens: newTokens, stopTokenIds: [] });
  // decodeMs spans newTokens samplings and newTokens - 1 forward steps: report forward steps per second.
  return (result.generatedTokens - 1) / (result.decodeMs / 1000);
}

async function oursRaft(model: Model, prompts: number[][], samples: number, newTokens: number): Promise<{ tokensPerSecond: number; tokens: number }> {
  const started = performance.now();
  const result = await model.generate(prompts, { n: samples, temperature: 0.7, topP: 0.9, maxNewTokens: newTokens, stopTokenIds: [], seed: 1 });
  const seconds = (performance.now() - started) / 1000;
  return { tokensPerSecond: result.generatedTokens / seconds, tokens: result.generatedTokens };
}

async function llamaCppBatch1(gguf: string, prompt: number[], newTokens: number, threads: number, kv: KvCacheType): Promise<number> {
  const peer = await openLlamaCppPeer(gguf, { contextSize: prompt.length + newTokens + 16, threads, kvCacheType: kv });
  try {
    await peer.generate([prompt], 8); // warm-up
    const run = await peer.generate([prompt], newTokens);
    return (run.tokens[0].length - 1) / ((run.lastTokenAt[0] - run.firstTokenAt[0]) / 1000);
  } finally {
    await peer.dispose();
  }
}

async function llamaCppRaft(gguf: string, prompts: number[][], samples: number, newTokens: number, threads: number, kv: KvCacheType): Promise<number> {
  const sequences = prompts.flatMap((prompt) => Array.from({ length: samples }, () => prompt));
  const longest = Math.max(...prompts.map((p) => p.length));
  const peer = await openLlamaCppPeer(gguf, { contextSize: longest + newTokens + 16, sequences: sequences.length, batchSize: 512, threads, kvCacheType: kv });
  try {
    const run = await peer.generate(sequences, newTokens, { temperature: 0.7, topP: 0.9, seed: 1 });
    const tokens = run.tokens.reduce((sum, t) => sum + t.length, 0);
    return tokens / ((Math.max(...run.lastTokenAt) - run.startedAt) / 1000);
  } finally {
    await peer.dispose();
  }
}

export async function runGenerateBench(options: GenerateBenchOptions): Promise<GenerateBenchResult> {
  const { log, newTokens, threads } = options;
  const modelOptions = bench100mOptions();
  const directory = ensureTinyModel(modelOptions);
  const ggufF32 = ensureGguf(directory, 'F32');
  const [prompt] = textPrompts(directory, 1, 32, 32, 7);
  const raftPrompts = textPrompts(directory, options.raftPrompts, 32, 64, 8);
  // F32 KV cache: on this CPU (no flash attention) llama.cpp decoded ~3x faster with it than with its default F16 cache.
  const kv: KvCacheType = 'F32';

  const measure = async (dtype: DType, gguf: string): Promise<{ batch1: PairFigures; raft: PairFigures }> => {
    const model = await Model.load(directory, { device: 'cpu', dtype });
    let oursOne: number;
    let oursMany: { tokensPerSecond: number; tokens: number };
    try {
      oursOne = await oursBatch1(model, prompt, newTokens);
      log(`batch1 ${dtype}: ours ${oursOne.toFixed(1)} tok/s`);
      oursMany = await oursRaft(model, raftPrompts, options.raftSamples, newTokens);
      log(`raft ${dtype}: ours ${oursMany.tokensPerSecond.toFixed(1)} tok/s (${oursMany.tokens} tokens)`);
    } finally {
      model.dispose();
    }
    const theirsOne = await llamaCppBatch1(gguf, prompt, newTokens, threads, kv);
    log(`batch1 ${dtype}: llama.cpp ${theirsOne.toFixed(1)} tok/s`);
    const theirsMany = await llamaCppRaft(gguf, raftPrompts, options.raftSamples, newTokens, threads, kv);
    log(`raft ${dtype}: llama.cpp ${theirsMany.toFixed(1)} tok/s (${raftPrompts.length * options.raftSamples} parallel sequences)`);
    return { batch1: pair(oursOne, theirsOne), raft: pair(oursMany.tokensPerSecond, theirsMany) };
  };

  const fp32 = await measure('fp32', ggufF32);
  const result: GenerateBenchResult = {
    model: { parameters: '100.1M', layers: modelOptions.layers, hidden: modelOptions.hidden, heads: modelOptions.heads, kvHeads: modelOptions.kvHeads, ffn: modelOptions.intermediate, vocab: 32000 },
    threads,
    llamaCppKvCache: kv,
    batch1: fp32.batch1,
    raft: { ...fp32.raft, sequences: raftPrompts.length * options.raftSamples, newTokens },
  };
  if (options.bf16) {
    const bf16 = await measure('bf16', ensureGguf(directory, 'F16'));
    result.batch1Bf16 = bf16.batch1;
    result.raftBf16 = bf16.raft;
  }
  return result;
}

export function summaryLine(result: GenerateBenchResult): string {
  const { batch1, raft } = result;
  return `generate: batch1 ours ${batch1.ours} llama.cpp ${batch1.llamaCpp} ratio ${batch1.ratio}; raft ours ${raft.ours} llama.cpp ${raft.llamaCpp} ratio ${raft.ratio}`;
}

function parseArgs(argv: string[]): GenerateBenchOptions {
  const value = (flag: string, fallback: number): number => {
    const index = argv.indexOf(flag);
    if (index === -1) return fallback;
    const parsed = Number(argv[index + 1]);
    if (!Number.isInteger(parsed) || parsed <= 0) throw new Error(`${flag} takes a positive integer, got ${argv[index + 1]}`);
    return parsed;
  };
  return {
    newTokens: value('--new-tokens', 128),
    raftPrompts: value('--prompts', 16),
    raftSamples: value('--samples', 8),
    bf16: argv.includes('--bf16'),
    threads: value('--threads', availableParallelism()),
    log: (line) => process.stdout.write(`${line}\n`),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const options = parseArgs(process.argv.slice(2));
  const result = await runGenerateBench(options);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.stdout.write(`${summaryLine(result)}\n`);
}
