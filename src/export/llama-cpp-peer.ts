/**
 * llama.cpp as an independent peer, through the npm package node-llama-cpp (CPU, prebuilt binaries,
 * never built or downloaded here). Used to prove our engine and our GGUF files: teacher-forced
 * next-token log-probabilities at every position, greedy continuations, and decode timing.
 *
 * node-llama-cpp exposes softmax probabilities, not raw logits: with a greedy sampler nothing in the
 * chain edits the candidates, so `probabilities` is softmax(raw logits) over the whole vocabulary in
 * float32, and log(p) equals the logits up to a per-position constant. Comparisons therefore use
 * log-softmax on both sides. Defaults: F32 KV cache (experimentalKvCacheKeyType/ValueType) and flash
 * attention off, the exact fp32 path.
 */
import { HaloError } from '../util/errors.js';

export type KvCacheType = 'F32' | 'F16';

export interface LlamaCppPeerOptions {
  contextSize?: number;
  threads?: number;
  kvCacheType?: KvCacheType;
  /** Parallel sequences the context holds (for batched decoding benchmarks). */
  sequences?: number;
  batchSize?: number;
  /**
   * Default false: llama.cpp's CPU flash-attention kernel rounds through F16 even with an F32 KV cache
   * (measured: 1.5e-4 vs 2.6e-6 max log-prob error on a tiny qwen2), so parity runs keep it off.
   */
  flashAttention?: boolean;
  /** A GGUF LoRA adapter file applied (scale 1) on top of the model. */
  lora?: string;
}

export interface PeerSampling {
  /** 0 = greedy (default). */
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  /**
   * At an end-of-generation token (EOS, EOT…): 'end' (default) ends the sequence without yielding it;
   * 'yield-and-end' yields it, then ends; 'continue' yields it and keeps decoding to maxNewTokens.
   */
  eog?: 'end' | 'yield-and-end' | 'continue';
}

export interface PeerGeneration {
  tokens: number[][];
  /** performance.now() when the call started, when each sequence yielded its first and last token. */
  startedAt: number;
  firstTokenAt: number[];
  lastTokenAt: number[];
  /** performance.now() when each token of each sequence was yielded. */
  tokenAt: number[][];
}

export interface LlamaCppPeer {
  readonly kvCacheType: KvCacheType;
  readonly flashAttention: boolean;
  readonly vocabSize: number;
  /**
   * Log-probabilities of the next token after tokens[0..i] (teacher forced, one pass over the input),
   * one row per position in `positions` (default: every position). Each row costs a vocabulary-sized
   * Map inside node-llama-cpp, so long checks ask for a subset.
   */
  logProbs(tokens: readonly number[], positions?: readonly number[]): Promise<Float32Array[]>;
  /** Greedy continuation of `prompt`, exactly `maxNewTokens` tokens (no stop on EOS). */
  greedy(prompt: readonly number[], maxNewTokens: number): Promise<number[]>;
  /**
   * Decodes every prompt as its own sequence of one context, all at once (llama.cpp batches their
   * decode steps together), `maxNewTokens` each with no stop tokens. Needs `sequences` >= prompts.
   */
  generate(prompts: readonly (readonly number[])[], maxNewTokens: number, sampling?: PeerSampling): Promise<PeerGeneration>;
  /** `text` in the GGUF's own tokenizer (plain text, special-token strings not parsed), with BOS first when the file asks for it. */
  tokenize(text: string): number[];
  /** whether llama.cpp treats `token` as end of generation (EOS, EOT, …) */
  isEndOfGeneration(token: number): boolean;
  dispose(): Promise<void>;
}

type NodeLlamaCpp = typeof import('node-llama-cpp');

async function loadNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  process.env.NODE_LLAMA_CPP_SKIP_DOWNLOAD ??= 'true';
  try {
    return await import('node-llama-cpp');
  } catch (error) {
    throw new HaloError('ERR_PEER_MISSING', `node-llama-cpp is not installed (${(error as Error).message})`, {
      fix: 'install the dev dependencies (`npm ci`); node-llama-cpp and @node-llama-cpp/linux-x64 are devDependencies',
      cause: error,
    });
  }
}

type LlamaInstance = Awaited<ReturnType<NodeLlamaCpp['getLlama']>>;
let sharedLlama: Promise<LlamaInstance> | undefined;

/**
 * One llama.cpp backend per process. A second getLlama() in the same process gave wrong decode
 * results on later contexts (greedy continuations diverging from llama.cpp's own teacher-forced
 * argmax), so every peer shares the first instance.
 */
async function sharedLlamaInstance(lib: NodeLlamaCpp): Promise<LlamaInstance> {
  sharedLlama ??= lib.getLlama({ gpu: false, build: 'never', logLevel: lib.LlamaLogLevel.error, progressLogs: false });
  return sharedLlama;
}

export async function openLlamaCppPeer(ggufPath: string, options: LlamaCppPeerOptions = {}): Promise<LlamaCppPeer> {
  const lib = await loadNodeLlamaCpp();
  const llama = await sharedLlamaInstance(lib);
  const model = await llama.loadModel({ modelPath: ggufPath, gpuLayers: 0 });
  const kvCacheType = options.kvCacheType ?? 'F32';
  const contextSize = options.contextSize ?? 512;
  const sequences = options.sequences ?? 1;
  const context = await model.createContext({
    contextSize,
    batchSize: options.batchSize ?? Math.min(contextSize, 512),
    sequences,
    threads: options.threads,
    experimentalKvCacheKeyType: kvCacheType,
    experimentalKvCacheValueType: kvCacheType,
    flashAttention: options.flashAttention ?? false,
    ...(options.lora ? { lora: options.lora } : {}),
  });
  const embedding = model.fileInfo.tensorInfo?.find((tensor) => tensor.name === 'token_embd.weight');
  const vocabSize = Number(embedding?.dimensions[1]);
  if (!Number.isInteger(vocabSize) || vocabSize <= 0) throw new Error(`${ggufPath}: no token_embd.weight tensor to read the vocabulary size from`);
  const firstSequence = context.getSequence();

  const peer: LlamaCppPeer = {
    kvCacheType,
    flashAttention: options.flashAttention ?? false,
    vocabSize,
    async logProbs(tokens, positions) {
      await firstSequence.clearHistory();
      const wanted = new Set(positions ?? tokens.map((_, i) => i));
      const input = tokens.map((token, i) => (wanted.has(i) ? ([token, { generateNext: { probabilities: true } }] as [never, { generateNext: { probabilities: true } }]) : (token as never)));
      const outputs = await firstSequence.controlledEvaluate(input);
      const rows = [...wanted].sort((a, b) => a - b);
      return rows.map((position) => {
        const output = outputs[position];
        const probabilities = output?.next?.probabilities;
        if (!probabilities) throw new Error(`llama.cpp returned no probabilities at position ${position}`);
        const row = new Float32Array(vocabSize).fill(-Infinity);
        for (const [token, p] of probabilities) row[token] = Math.log(p);
        return row;
      });
    },
    async greedy(prompt, maxNewTokens) {
      return (await peer.generate([prompt], maxNewTokens)).tokens[0];
    },
    async generate(prompts, maxNewTokens, sampling = {}) {
      if (prompts.length > sequences) throw new Error(`context holds ${sequences} sequences, asked for ${prompts.length}`);
      const all = [firstSequence, ...Array.from({ length: prompts.length - 1 }, () => context.getSequence())];
      const evaluateOptions = {
        temperature: sampling.temperature ?? 0,
        topP: sampling.topP,
        topK: sampling.topK,
        seed: sampling.seed,
        ...(sampling.eog === 'continue' || sampling.eog === 'yield-and-end' ? { yieldEogToken: true } : {}),
      };
      const startedAt = performance.now();
      const firstTokenAt: number[] = new Array(prompts.length).fill(0);
      const lastTokenAt: number[] = new Array(prompts.length).fill(0);
      const tokenAt: number[][] = prompts.map(() => []);
      try {
        const tokens = await Promise.all(
          prompts.map(async (prompt, index) => {
            const sequence = all[index];
            await sequence.clearHistory();
            const out: number[] = [];
            for await (const token of sequence.evaluate(prompt as never[], evaluateOptions)) {
              const now = performance.now();
              if (out.length === 0) firstTokenAt[index] = now;
              lastTokenAt[index] = now;
              tokenAt[index].push(now);
              out.push(token);
              if (out.length >= maxNewTokens) break;
              if (sampling.eog === 'yield-and-end' && model.isEogToken(token)) break;
            }
            return out;
          }),
        );
        return { tokens, startedAt, firstTokenAt, lastTokenAt, tokenAt };
      } finally {
        for (const sequence of all.slice(1)) sequence.dispose();
      }
    },
    tokenize(text) {
      const ids = model.tokenize(text, false).map(Number);
      const bos = model.tokens.bos;
      return model.tokens.shouldPrependBosToken && bos !== null ? [Number(bos), ...ids] : ids;
    },
    isEndOfGeneration(token) {
      return model.isEogToken(token as never);
    },
    async dispose() {
      await context.dispose();
      await model.dispose();
    },
  };
  return peer;
}
