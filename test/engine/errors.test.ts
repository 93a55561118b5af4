/** Bad input gives a JS error with a stable code, and the process (and the model) carry on. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Model } from '../../src/engine/model.js';
import { loadNative } from '../../src/engine/load.js';
import { safetensorsFiles } from '../../src/engine/weights.js';
import { fixtureRoot, SMALL_VOCAB, smallVocabModelDir } from './fixtures.js';

let copies = 0;
/** A copy of the small model folder, with config.json edited and/or the weights truncated. */
function brokenCopy(edit: { config?: (config: Record<string, unknown>) => void; truncateTo?: number; weights?: Buffer }): string {
  const source = smallVocabModelDir();
  const dir = join(fixtureRoot(), `broken-${copies++}`);
  mkdirSync(dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(source, 'config.json'), 'utf8')) as Record<string, unknown>;
  edit.config?.(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const weights = join(dir, 'model.safetensors');
  if (edit.weights) writeFileSync(weights, edit.weights);
  else copyFileSync(join(source, 'model.safetensors'), weights);
  if (edit.truncateTo !== undefined) truncateSync(weights, edit.truncateTo);
  return dir;
}

async function rejectsWithCode(promise: Promise<unknown>, code: string, ...mentions: string[]): Promise<void> {
  await assert.rejects(promise, (error: Error & { code?: string }) => {
    assert.equal(error.code, code, error.message);
    for (const mention of mentions) assert.ok(error.message.includes(mention), `"${error.message}" should mention ${mention}`);
    return true;
  });
}

test('a truncated safetensors file names the file and the tensor', async () => {
  const size = statSync(join(smallVocabModelDir(), 'model.safetensors')).size;
  const dir = brokenCopy({ truncateTo: Math.floor(size / 2) });
  await rejectsWithCode(Model.load(dir, { dtype: 'fp32' }), 'ERR_SAFETENSORS', join(dir, 'model.safetensors'), 'truncated', 'tensor model.');
});

test('a corrupt safetensors header names the file', async () => {
  const header = Buffer.from('{"model.embed_tokens.weight": {"dtype": "F32", "shape": [2');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  const dir = brokenCopy({ weights: Buffer.concat([length, header]) });
  await rejectsWithCode(Model.load(dir), 'ERR_SAFETENSORS', join(dir, 'model.safetensors'), 'corrupt header');
  const tiny = brokenCopy({ weights: Buffer.from([1, 2, 3]) });
  await rejectsWithCode(Model.load(tiny), 'ERR_SAFETENSORS', 'truncated');
});

test('a tensor whose shape disagrees with config.json is a shape mismatch', async () => {
  const dir = brokenCopy({ config: (config) => (config.intermediate_size = 384) });
  await rejectsWithCode(Model.load(dir, { dtype: 'fp32' }), 'ERR_SHAPE_MISMATCH', 'model.layers.0.mlp.gate_proj.weight', '[256, 128]', '[384, 128]');
});

test('a missing tensor is named', async () => {
  const dir = smallVocabModelDir({}, ['model.layers.1.mlp.up_proj.weight']);
  await rejectsWithCode(Model.load(dir, { dtype: 'fp32' }), 'ERR_MISSING_TENSOR', 'model.layers.1.mlp.up_proj.weight');
});

test('an unknown architecture is named along with the supported list', async () => {
  const dir = brokenCopy({ config: (config) => (config.architectures = ['GPT2LMHeadModel']) });
  await rejectsWithCode(Model.load(dir), 'ERR_UNKNOWN_ARCHITECTURE', 'GPT2LMHeadModel', 'LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM');
});

test('bad generate / logits input is rejected with a code; the model keeps working', async () => {
  const model = await Model.load(smallVocabModelDir(), { dtype: 'fp32' });
  try {
    await rejectsWithCode(model.generate([[1, 2, SMALL_VOCAB]], { maxNewTokens: 4 }), 'ERR_TOKEN_OUT_OF_RANGE', 'prompts[0][2]', String(SMALL_VOCAB));
    await rejectsWithCode(model.generate([[1, -1]], { maxNewTokens: 4 }), 'ERR_TOKEN_OUT_OF_RANGE');
    await rejectsWithCode(model.logits([[3, 4], [5, 100000]]), 'ERR_TOKEN_OUT_OF_RANGE', 'sequences[1][1]');
    await rejectsWithCode(model.generate([[1, 2]], { maxNewTokens: 0 }), 'ERR_INVALID_ARG', 'maxNewTokens');
    await rejectsWithCode(model.generate([[1, 2]], { maxNewTokens: -3 }), 'ERR_INVALID_ARG', 'maxNewTokens');
    await rejectsWithCode(model.generate([[]], { maxNewTokens: 3 }), 'ERR_INVALID_ARG');
    const result = await model.generate([[1, 2, 3]], { maxNewTokens: 3, temperature: 0, stopTokenIds: [] });
    assert.equal(result.sequences[0].tokens.length, 3);
  } finally {
    model.dispose();
  }
  await assert.rejects(model.generate([[1]], { maxNewTokens: 1 }), { code: 'ERR_DISPOSED' });
});

test('the native layer itself rejects out-of-range ids and max_new_tokens <= 0 with codes', async () => {
  const dir = smallVocabModelDir();
  const model = await Model.load(dir, { dtype: 'fp32' });
  const native = new (loadNative().addon.NativeModel)(model.config, safetensorsFiles(dir), 'cpu', 'fp32');
  model.dispose();
  const request = { prompts: [[1, 2]], n: 1, maxNewTokens: 2, temperature: 1, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, stopTokenIds: [], seed: 0 };
  await rejectsWithCode(native.generate({ ...request, prompts: [[1, 999]] }).promise, 'ERR_TOKEN_OUT_OF_RANGE', '999');
  await rejectsWithCode(native.generate({ ...request, maxNewTokens: 0 }).promise, 'ERR_INVALID_ARG', 'maxNewTokens');
  await rejectsWithCode(native.logits([[1, 2]], [[5]]), 'ERR_INVALID_ARG', 'positions[0]');
  const ok = await native.generate(request).promise;
  assert.equal(ok.sequences[0].tokens.length, 2);
  native.dispose();
});
