import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeGguf } from '../../src/export/gguf/writer.js';
import { readGguf, readGgufTensorBytes } from '../../src/export/gguf/reader.js';
import { GgmlType, gguf, GGUF_DEFAULT_ALIGNMENT } from '../../src/export/gguf/format.js';
import { exportHfToGguf } from '../../src/export/gguf/from-hf.js';
import { permuteRotaryRows } from '../../src/export/gguf/arch.js';
import { defaultTinyOptions, writeTinyModel, type TinyArch } from '../../src/export/tiny-model.js';
import { openHfCheckpoint } from '../../src/export/hf-checkpoint.js';
import { float32ToFloat16Bits } from '../../src/export/float-convert.js';
import { HaloError } from '../../src/util/errors.js';

const directory = mkdtempSync(join(tmpdir(), 'halo-gguf-'));
test.after(() => rmSync(directory, { recursive: true, force: true }));

test('gguf writer: header, typed metadata, aligned tensor data, streaming values', () => {
  const path = join(directory, 'plain.gguf');
  const a = Float32Array.from({ length: 6 }, (_, i) => i - 2.5);
  const b = Float32Array.from({ length: 5 }, (_, i) => i / 3);
  writeGguf(path, {
    metadata: [
      ['general.architecture', gguf.str('llama')],
      ['x.count', gguf.u32(7)],
      ['x.eps', gguf.f32(1e-6)],
      ['x.flag', gguf.bool(true)],
      ['x.names', gguf.strings(['a', 'ünï', ''])],
      ['x.ids', gguf.i32s([1, -2, 3])],
    ],
    tensors: [
      { name: 'a.weight', ne: [3, 2], type: GgmlType.F32, values: () => a },
      { name: 'b.weight', ne: [5], type: GgmlType.F16, values: () => b },
    ],
  });
  const bytes = readFileSync(path);
  assert.equal(bytes.toString('latin1', 0, 4), 'GGUF');
  const contents = readGguf(path);
  assert.equal(contents.version, 3);
  assert.equal(contents.metadata.get('general.architecture'), 'llama');
  assert.equal(contents.metadata.get('x.count'), 7);
  assert.ok(Math.abs((contents.metadata.get('x.eps') as number) - 1e-6) < 1e-12);
  assert.equal(contents.metadata.get('x.flag'), true);
  assert.deepEqual(contents.metadata.get('x.names'), ['a', 'ünï', '']);
  assert.deepEqual(contents.metadata.get('x.ids'), [1, -2, 3]);
  assert.equal(contents.dataStart % GGUF_DEFAULT_ALIGNMENT, 0);
  for (const tensor of contents.tensors) assert.equal(tensor.offset % GGUF_DEFAULT_ALIGNMENT, 0, `${tensor.name} aligned`);
  assert.deepEqual(contents.tensors.map((t) => [t.name, t.ne, t.type, t.bytes]), [
    ['a.weight', [3, 2], GgmlType.F32, 24],
    ['b.weight', [5], GgmlType.F16, 10],
  ]);
  assert.ok(readGgufTensorBytes(contents, 'a.weight').equals(Buffer.from(a.buffer)));
  const half = readGgufTensorBytes(contents, 'b.weight');
  for (let i = 0; i < 5; i++) assert.equal(half.readUInt16LE(2 * i), float32ToFloat16Bits(b[i]));
  assert.equal(bytes.length, contents.tensors[1].offset + 32, 'each tensor padded to the alignment');
});

test('llama q/k permutation interleaves each head\'s rotary halves', () => {
  // 2 heads x head_dim 4, 1 column: HF rows per head [x0 x1 | y0 y1] -> llama.cpp [x0 y0 x1 y1].
  const rows = Float32Array.from([0, 1, 2, 3, 10, 11, 12, 13]);
  assert.deepEqual([...permuteRotaryRows(rows, 8, 2)], [0, 2, 1, 3, 10, 12, 11, 13]);
  const wide = Float32Array.from({ length: 8 * 3 }, (_, i) => i);
  const permuted = permuteRotaryRows(wide, 8, 2);
  assert.deepEqual([...permuted.subarray(3, 6)], [6, 7, 8], 'whole rows move');
});

const EXPECTED_ARCH: Record<TinyArch, string> = { llama: 'llama', mistral: 'llama', qwen2: 'qwen2', qwen3: 'qwen3' };

for (const arch of ['llama', 'qwen2', 'qwen3'] as const) {
  test(`gguf export ${arch}: metadata keys, tensor names, types and bytes follow llama.cpp's converter`, () => {
    const model = join(directory, arch);
    const options = { ...defaultTinyOptions(arch), hidden: 64, headDim: arch === 'qwen3' ? 32 : 16, intermediate: 96 };
    writeTinyModel(model, options);
    const f32 = join(directory, `${arch}.f32.gguf`);
    const f16 = join(directory, `${arch}.f16.gguf`);
    exportHfToGguf(model, f32, 'F32');
    exportHfToGguf(model, f16, 'F16');
    const contents = readGguf(f32);
    const meta = contents.metadata;
    const a = EXPECTED_ARCH[arch];
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as Record<string, number>;
    assert.equal(meta.get('general.architecture'), a);
    assert.equal(meta.get('general.file_type'), 0);
    assert.equal(meta.get(`${a}.block_count`), 2);
    assert.equal(meta.get(`${a}.embedding_length`), 64);
    assert.equal(meta.get(`${a}.feed_forward_length`), 96);
    assert.equal(meta.get(`${a}.attention.head_count`), 4);
    assert.equal(meta.get(`${a}.attention.head_count_kv`), 2);
    assert.equal(meta.get(`${a}.context_length`), config.max_position_embeddings);
    assert.equal(meta.get(`${a}.rope.freq_base`), config.rope_theta);
    assert.ok(Math.abs((meta.get(`${a}.attention.layer_norm_rms_epsilon`) as number) - config.rms_norm_eps) < 1e-12);
    assert.equal(meta.get(`${a}.attention.key_length`), options.headDim);
    assert.equal(meta.get('tokenizer.ggml.model'), 'gpt2');
    assert.equal(meta.get('tokenizer.ggml.pre'), arch === 'llama' ? 'llama-bpe' : 'qwen2');
    const tokens = meta.get('tokenizer.ggml.tokens') as string[];
    const types = meta.get('tokenizer.ggml.token_type') as number[];
    assert.equal(tokens.length, config.vocab_size);
    assert.equal(types.length, config.vocab_size);
    if (arch === 'llama') {
      assert.equal(tokens[128009], '<|eot_id|>');
      assert.equal(types[128009], 3, 'special tokens are control');
      assert.equal(meta.get('tokenizer.ggml.bos_token_id'), 128000);
      assert.equal(meta.get('tokenizer.ggml.eos_token_id'), 128001);
    } else {
      assert.equal(tokens[151645], '<|im_end|>');
      assert.equal(types[151645], 3);
      assert.equal(types[151667], 4, '<think> is a user-defined added token');
      assert.equal(tokens[151935], '[PAD151935]');
      assert.equal(types[151935], 5, 'padding ids are unused');
      assert.equal(meta.get('tokenizer.ggml.eos_token_id'), 151645);
      assert.equal(meta.get('tokenizer.ggml.padding_token_id'), 151643);
      assert.equal(meta.get('tokenizer.ggml.add_bos_token'), false);
    }
    assert.equal(tokens[1], '"');
    assert.ok((meta.get('tokenizer.ggml.merges') as string[]).length > 100000);
    assert.ok(String(meta.get('tokenizer.chat_template')).length > 100);

    const names = contents.tensors.map((t) => t.name);
    const expected = ['token_embd.weight', 'blk.0.attn_norm.weight', 'blk.0.attn_q.weight', 'blk.0.attn_k.weight', 'blk.0.attn_v.weight', 'blk.0.attn_output.weight', 'blk.0.ffn_norm.weight', 'blk.0.ffn_gate.weight', 'blk.0.ffn_up.weight', 'blk.0.ffn_down.weight', 'blk.1.ffn_down.weight', 'output_norm.weight'];
    for (const name of expected) assert.ok(names.includes(name), `${arch} has ${name}`);
    assert.equal(names.includes('output.weight'), !options.tieWordEmbeddings);
    assert.equal(names.includes('blk.0.attn_q.bias'), arch === 'qwen2');
    assert.equal(names.includes('blk.0.attn_q_norm.weight'), arch === 'qwen3');
    const q = contents.tensors.find((t) => t.name === 'blk.0.attn_q.weight');
    assert.deepEqual(q?.ne, [64, 4 * options.headDim], 'ggml dims are the HF shape reversed');

    const checkpoint = openHfCheckpoint(model);
    const hfQ = checkpoint.read('model.layers.0.self_attn.q_proj.weight');
    const hfK = checkpoint.read('model.layers.1.self_attn.k_proj.weight');
    const ggufQ = new Float32Array(new Uint8Array(readGgufTensorBytes(contents, 'blk.0.attn_q.weight')).buffer);
    const ggufK = new Float32Array(new Uint8Array(readGgufTensorBytes(contents, 'blk.1.attn_k.weight')).buffer);
    if (arch === 'llama') {
      assert.deepEqual(ggufQ, permuteRotaryRows(hfQ, 4 * options.headDim, 4));
      assert.deepEqual(ggufK, permuteRotaryRows(hfK, 2 * options.headDim, 2));
      assert.notDeepEqual(ggufQ, hfQ);
    } else {
      assert.deepEqual(ggufQ, hfQ, 'qwen keeps the HF row order (NEOX rope)');
      assert.deepEqual(ggufK, hfK);
    }
    const half = readGguf(f16);
    assert.equal(half.metadata.get('general.file_type'), 1);
    const typeOf = (name: string) => half.tensors.find((t) => t.name === name)?.type;
    assert.equal(typeOf('blk.0.attn_q.weight'), GgmlType.F16);
    assert.equal(typeOf('token_embd.weight'), GgmlType.F16);
    assert.equal(typeOf('blk.0.attn_norm.weight'), GgmlType.F32, 'norms stay F32');
    assert.equal(typeOf('output_norm.weight'), GgmlType.F32);
    if (arch === 'qwen2') assert.equal(typeOf('blk.0.attn_q.bias'), GgmlType.F32, 'biases stay F32');
    if (arch === 'qwen3') assert.equal(typeOf('blk.0.attn_q_norm.weight'), GgmlType.F32);
  });
}

test('gguf export refuses an unsupported architecture and a config without hidden_size, naming them', () => {
  const model = join(directory, 'odd');
  writeTinyModel(model, { ...defaultTinyOptions('llama'), hidden: 32, headDim: 8, intermediate: 32, layers: 1 });
  const configPath = join(model, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  const write = (value: unknown) => writeFileSync(configPath, JSON.stringify(value));
  write({ ...config, architectures: ['GPT2LMHeadModel'] });
  assert.throws(() => exportHfToGguf(model, join(directory, 'odd.gguf')), (e: unknown) => e instanceof HaloError && e.code === 'ERR_UNSUPPORTED_ARCH' && e.message.includes('GPT2LMHeadModel'));
  write({ ...config, hidden_size: undefined });
  assert.throws(() => exportHfToGguf(model, join(directory, 'odd.gguf')), (e: unknown) => e instanceof HaloError && e.code === 'ERR_MODEL_CONFIG' && e.message.includes('hidden_size'));
  write(config);
  assert.ok(!readdirSync(directory).some((name) => name.startsWith('.odd.gguf')), 'no temp file left');
});
