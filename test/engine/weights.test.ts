/** Checkpoint layouts: sharded safetensors with an index, BF16 / F16 storage, bf16 compute, dtype auto. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Model } from '../../src/engine/model.js';
import { cpuHasFastBf16, resolveDType } from '../../src/engine/dtype.js';
import { writeJsonAtomic } from '../../src/util/atomic.js';
import { writeSafetensors, type SafetensorsDtype } from '../../src/export/safetensors.js';
import { defaultTinyOptions, tinyModelTensors } from '../../src/export/tiny-model.js';
import { fixtureRoot, SMALL_VOCAB, smallVocabModelDir, tokens } from './fixtures.js';

const sequence = tokens(10, SMALL_VOCAB, 5);

async function logitsOf(dir: string, dtype: 'fp32' | 'bf16' = 'fp32'): Promise<Float32Array> {
  const model = await Model.load(dir, { dtype });
  try {
    return (await model.logits([sequence])).rows[0];
  } finally {
    model.dispose();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** The small model re-written as `shards` files (+ index) with every tensor stored as `dtype`. */
function rewritten(name: string, shards: number, dtype: SafetensorsDtype): string {
  const dir = join(fixtureRoot(), name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(smallVocabModelDir(), 'config.json'), join(dir, 'config.json'));
  const tensors = tinyModelTensors(defaultTinyOptions('llama'), SMALL_VOCAB).map((tensor) => ({ ...tensor, dtype }));
  if (shards === 1) {
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    return dir;
  }
  const weightMap: Record<string, string> = {};
  for (let shard = 0; shard < shards; shard++) {
    const file = `model-${String(shard + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const mine = tensors.filter((_, i) => i % shards === shard);
    writeSafetensors(join(dir, file), mine);
    for (const tensor of mine) weightMap[tensor.name] = file;
  }
  writeJsonAtomic(join(dir, 'model.safetensors.index.json'), { metadata: {}, weight_map: weightMap });
  return dir;
}

test('a sharded checkpoint (index.json) gives the same logits as the single file', async () => {
  const single = await logitsOf(smallVocabModelDir());
  const sharded = await logitsOf(rewritten('sharded', 3, 'F32'));
  assert.equal(maxAbsDiff(single, sharded), 0);
});

test('BF16- and F16-stored weights load (converted to fp32) within their rounding of the F32 logits', async () => {
  const reference = await logitsOf(smallVocabModelDir());
  const range = Math.max(...reference) - Math.min(...reference);
  for (const dtype of ['BF16', 'F16'] as const) {
    const diff = maxAbsDiff(reference, await logitsOf(rewritten(`stored-${dtype}`, 1, dtype)));
    assert.ok(diff > 0 && diff < 0.05 * range, `${dtype}: max |Δ| ${diff} of range ${range}`);
  }
});

test('bf16 compute stays within bf16 tolerance of fp32 and generates', async () => {
  const reference = await logitsOf(smallVocabModelDir());
  const range = Math.max(...reference) - Math.min(...reference);
  const diff = maxAbsDiff(reference, await logitsOf(smallVocabModelDir(), 'bf16'));
  assert.ok(diff < 0.1 * range, `bf16: max |Δ| ${diff} of range ${range}`);
  const model = await Model.load(smallVocabModelDir(), { dtype: 'bf16' });
  try {
    const result = await model.generate([sequence], { n: 2, maxNewTokens: 8, temperature: 0.8, topP: 0.9, seed: 4, stopTokenIds: [] });
    assert.ok(result.sequences.every((s) => s.tokens.length === 8 && s.logprobs.every((p) => p <= 0 && Number.isFinite(p))));
  } finally {
    model.dispose();
  }
});

test('dtype auto: bf16 where the CPU flags show AVX-512 BF16 or AMX, else fp32; bf16 on GPUs', () => {
  assert.equal(cpuHasFastBf16('processor : 0\nflags\t\t: fpu sse avx512f avx512_bf16 avx512vl\n'), true);
  assert.equal(cpuHasFastBf16('flags : fpu sse amx_bf16 amx_tile\n'), true);
  assert.equal(cpuHasFastBf16('flags : fpu sse avx2 avx512f\n'), false);
  assert.equal(resolveDType('auto', 'cuda'), 'bf16');
  assert.equal(resolveDType('fp16', 'cpu'), 'fp16');
  assert.equal(resolveDType('auto', 'cpu'), cpuHasFastBf16() ? 'bf16' : 'fp32');
});

test('fp16 on the CPU is refused up front with a fix', async () => {
  await assert.rejects(Model.load(smallVocabModelDir(), { dtype: 'fp16' }), { code: 'ERR_INVALID_DTYPE' });
});
