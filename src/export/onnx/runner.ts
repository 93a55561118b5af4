/**
 * onnxruntime-node as the peer for our ONNX decoders: a teacher-forced forward (empty cache) and greedy
 * decoding through the graph's own past_key_values / present inputs and outputs.
 */
import { HaloError } from '../../util/errors.js';

type Ort = typeof import('onnxruntime-node');

export interface OnnxDecoderSession {
  /** Raw logits [tokens.length × vocab] of one sequence, no cache. */
  logits(tokens: readonly number[]): Promise<Float32Array>;
  /** Greedy continuation through the KV cache: one prefill, then one token per run. */
  greedy(prompt: readonly number[], maxNewTokens: number): Promise<number[]>;
  dispose(): Promise<void>;
}

async function loadOrt(): Promise<Ort> {
  try {
    return await import('onnxruntime-node');
  } catch (error) {
    throw new HaloError('ERR_PEER_MISSING', `onnxruntime-node is not installed (${(error as Error).message})`, { fix: 'install the dev dependencies (npm ci)', cause: error });
  }
}

export async function openOnnxDecoder(path: string, layers: number, kvHeads: number, headDim: number, threads = 2): Promise<OnnxDecoderSession> {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'basic', intraOpNumThreads: threads, interOpNumThreads: 1 });
  const int64 = (values: readonly number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);
  type Cache = Record<string, InstanceType<Ort['Tensor']>>;
  const emptyCache = (): Cache => {
    const cache: Cache = {};
    for (let i = 0; i < layers; i++) {
      cache[`past_key_values.${i}.key`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
      cache[`past_key_values.${i}.value`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
    }
    return cache;
  };
  const step = async (tokens: readonly number[], past: number, cache: Cache) => {
    const feeds: Cache = {
      input_ids: int64(tokens, [1, tokens.length]),
      attention_mask: int64(new Array(past + tokens.length).fill(1), [1, past + tokens.length]),
      position_ids: int64(tokens.map((_, i) => past + i), [1, tokens.length]),
      ...cache,
    };
    const out = await session.run(feeds);
    const next: Cache = {};
    for (let i = 0; i < layers; i++) {
      next[`past_key_values.${i}.key`] = out[`present.${i}.key`];
      next[`past_key_values.${i}.value`] = out[`present.${i}.value`];
    }
    return { logits: out.logits.data as Float32Array, vocab: out.logits.dims[2], cache: next };
  };
  return {
    async logits(tokens) {
      return (await step(tokens, 0, emptyCache())).logits;
    },
    async greedy(prompt, maxNewTokens) {
      let { logits, vocab, cache } = await step(prompt, 0, emptyCache());
      let position = prompt.length;
      const out: number[] = [];
      for (;;) {
        const last = logits.subarray(logits.length - vocab);
        let best = 0;
        for (let i = 1; i < vocab; i++) if (last[i] > last[best]) best = i;
        out.push(best);
        if (out.length >= maxNewTokens) return out;
        ({ logits, cache } = await step([best], position, cache));
        position += 1;
      }
    },
    async dispose() {
      await session.release();
    },
  };
}
