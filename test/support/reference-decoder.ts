/**
 * A plain float64 forward pass of the HF decoder (llama / mistral / qwen2 / qwen3) written from the
 * transformers modeling code's math, for tests: it checks GGUF files in llama.cpp independently of
 * the C++ engine. Slow (pure JS) — only for tiny models and short sequences.
 */
import { openHfCheckpoint } from '../../src/export/hf-checkpoint.js';

interface Weights {
  get(name: string): Float32Array;
  has(name: string): boolean;
}

function rmsNorm(x: Float64Array, weight: Float32Array, eps: number, offset = 0, length = x.length): void {
  let sum = 0;
  for (let i = 0; i < length; i++) sum += x[offset + i] * x[offset + i];
  const scale = 1 / Math.sqrt(sum / length + eps);
  for (let i = 0; i < length; i++) x[offset + i] = x[offset + i] * scale * weight[i];
}

/** y = W x (+ b), W row-major [out, in]. */
function linear(x: Float64Array, weight: Float32Array, outFeatures: number, bias?: Float32Array): Float64Array {
  const inFeatures = x.length;
  const y = new Float64Array(outFeatures);
  for (let o = 0; o < outFeatures; o++) {
    let sum = bias ? bias[o] : 0;
    const row = o * inFeatures;
    for (let i = 0; i < inFeatures; i++) sum += weight[row + i] * x[i];
    y[o] = sum;
  }
  return y;
}

/** HF rotate_half RoPE on one head: pairs (i, i + d/2). */
function rope(x: Float64Array, offset: number, headDim: number, position: number, theta: number): void {
  const half = headDim / 2;
  for (let i = 0; i < half; i++) {
    const angle = position / theta ** ((2 * i) / headDim);
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const a = x[offset + i];
    const b = x[offset + i + half];
    x[offset + i] = a * cos - b * sin;
    x[offset + i + half] = b * cos + a * sin;
  }
}

export interface ReferenceModel {
  vocabSize: number;
  /** Row t: log-softmax of the logits after tokens[0..t]. */
  logProbs(tokens: readonly number[]): Float64Array[];
}

export function loadReferenceModel(directory: string): ReferenceModel {
  const checkpoint = openHfCheckpoint(directory);
  const cache = new Map<string, Float32Array>();
  const weights: Weights = {
    get(name) {
      let value = cache.get(name);
      if (!value) {
        value = checkpoint.read(name);
        cache.set(name, value);
      }
      return value;
    },
    has: (name) => checkpoint.tensorNames.includes(name),
  };
  const c = checkpoint.config as Record<string, number | boolean | string[]>;
  const hidden = c.hidden_size as number;
  const heads = c.num_attention_heads as number;
  const kvHeads = c.num_key_value_heads as number;
  const headDim = (c.head_dim as number | undefined) ?? hidden / heads;
  const layers = c.num_hidden_layers as number;
  const eps = c.rms_norm_eps as number;
  const theta = c.rope_theta as number;
  const intermediate = c.intermediate_size as number;
  const vocabSize = c.vocab_size as number;
  const output = c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';

  return {
    vocabSize,
    logProbs(tokens) {
      const keys: Float64Array[][] = Array.from({ length: layers }, () => []);
      const values: Float64Array[][] = Array.from({ length: layers }, () => []);
      const rows: Float64Array[] = [];
      const embedding = weights.get('model.embed_tokens.weight');
      tokens.forEach((token, position) => {
        let h = Float64Array.from(embedding.subarray(token * hidden, (token + 1) * hidden));
        for (let layer = 0; layer < layers; layer++) {
          const p = `model.layers.${layer}`;
          const x = Float64Array.from(h);
          rmsNorm(x, weights.get(`${p}.input_layernorm.weight`), eps);
          const bias = (name: string) => (weights.has(name) ? weights.get(name) : undefined);
          const q = linear(x, weights.get(`${p}.self_attn.q_proj.weight`), heads * headDim, bias(`${p}.self_attn.q_proj.bias`));
          const k = linear(x, weights.get(`${p}.self_attn.k_proj.weight`), kvHeads * headDim, bias(`${p}.self_attn.k_proj.bias`));
          const v = linear(x, weights.get(`${p}.self_attn.v_proj.weight`), kvHeads * headDim, bias(`${p}.self_attn.v_proj.bias`));
          if (weights.has(`${p}.self_attn.q_norm.weight`)) {
            for (let head = 0; head < heads; head++) rmsNorm(q, weights.get(`${p}.self_attn.q_norm.weight`), eps, head * headDim, headDim);
            for (let head = 0; head < kvHeads; head++) rmsNorm(k, weights.get(`${p}.self_attn.k_norm.weight`), eps, head * headDim, headDim);
          }
          for (let head = 0; head < heads; head++) rope(q, head * headDim, headDim, position, theta);
          for (let head = 0; head < kvHeads; head++) rope(k, head * headDim, headDim, position, theta);
          keys[layer].push(k);
          values[layer].push(v);
          const attention = new Float64Array(heads * headDim);
          const group = heads / kvHeads;
          for (let head = 0; head < heads; head++) {
            const kvHead = Math.floor(head / group);
            const scores = keys[layer].map((key) => {
              let dot = 0;
              for (let d = 0; d < headDim; d++) dot += q[head * headDim + d] * key[kvHead * headDim + d];
              return dot / Math.sqrt(headDim);
            });
            const max = Math.max(...scores);
            const exps = scores.map((s) => Math.exp(s - max));
            const total = exps.reduce((a, b) => a + b, 0);
            exps.forEach((e, t) => {
              const value = values[layer][t];
              for (let d = 0; d < headDim; d++) attention[head * headDim + d] += (e / total) * value[kvHead * headDim + d];
            });
          }
          const attended = linear(attention, weights.get(`${p}.self_attn.o_proj.weight`), hidden);
          for (let i = 0; i < hidden; i++) h[i] += attended[i];
          const y = Float64Array.from(h);
          rmsNorm(y, weights.get(`${p}.post_attention_layernorm.weight`), eps);
          const gate = linear(y, weights.get(`${p}.mlp.gate_proj.weight`), intermediate);
          const up = linear(y, weights.get(`${p}.mlp.up_proj.weight`), intermediate);
          for (let i = 0; i < intermediate; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
          const down = linear(gate, weights.get(`${p}.mlp.down_proj.weight`), hidden);
          for (let i = 0; i < hidden; i++) h[i] += down[i];
        }
        rmsNorm(h, weights.get('model.norm.weight'), eps);
        const logits = linear(h, weights.get(output), vocabSize);
        let max = -Infinity;
        for (const l of logits) if (l > max) max = l;
        let sum = 0;
        for (const l of logits) sum += Math.exp(l - max);
        const logSum = max + Math.log(sum);
        for (let i = 0; i < vocabSize; i++) logits[i] -= logSum;
        rows.push(logits);
      });
      return rows;
    },
  };
}
