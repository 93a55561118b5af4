import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultTinyOptions, bench100mOptions, TINY_ARCHS, tinyModelTensors, writeTinyModel, type TinyArch } from '../../src/export/tiny-model.js';
import { readSafetensorsHeader, readSafetensorsTensor } from '../../src/export/safetensors.js';
import { tinyOptionsFromFlags } from '../../src/export/tiny-model-cli.js';
import { HaloError } from '../../src/util/errors.js';

const directory = mkdtempSync(join(tmpdir(), 'halo-tiny-'));
test.after(() => rmSync(directory, { recursive: true, force: true }));

const FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];
const small = (arch: TinyArch, seed = 0) => ({ ...defaultTinyOptions(arch), hidden: 64, headDim: arch === 'qwen3' ? 32 : 16, intermediate: 96, seed });

test('make-tiny-model: same seed gives byte-identical files; another seed changes only the weights', () => {
  const first = join(directory, 'a');
  const second = join(directory, 'b');
  const third = join(directory, 'c');
  writeTinyModel(first, small('qwen2', 7));
  writeTinyModel(second, small('qwen2', 7));
  writeTinyModel(third, small('qwen2', 8));
  for (const file of FILES) assert.ok(readFileSync(join(first, file)).equals(readFileSync(join(second, file))), `${file} identical`);
  assert.ok(!readFileSync(join(first, 'model.safetensors')).equals(readFileSync(join(third, 'model.safetensors'))), 'seed changes weights');
  assert.ok(readFileSync(join(first, 'config.json')).equals(readFileSync(join(third, 'config.json'))));
});

const ARCH_KEYS: Record<TinyArch, Record<string, unknown>> = {
  llama: { architectures: ['LlamaForCausalLM'], model_type: 'llama', rope_theta: 500000, rms_norm_eps: 1e-5, tie_word_embeddings: false, vocab_size: 128256, bos_token_id: 128000, attention_bias: false },
  mistral: { architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: 4096, rope_theta: 10000, tie_word_embeddings: false, vocab_size: 128256 },
  qwen2: { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', rope_theta: 1000000, rms_norm_eps: 1e-6, tie_word_embeddings: true, vocab_size: 151936, use_sliding_window: false, eos_token_id: 151645 },
  qwen3: { architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', rope_theta: 1000000, tie_word_embeddings: true, vocab_size: 151936, attention_bias: false, head_dim: 32 },
};

for (const arch of TINY_ARCHS) {
  test(`make-tiny-model ${arch}: config keys, HF tensor names and shapes, weight statistics`, () => {
    const out = join(directory, arch);
    const options = small(arch);
    const summary = writeTinyModel(out, options);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    for (const [key, value] of Object.entries(ARCH_KEYS[arch])) assert.deepEqual(config[key], value, `${arch} config.${key}`);
    for (const key of ['hidden_size', 'intermediate_size', 'num_attention_heads', 'num_key_value_heads', 'num_hidden_layers', 'head_dim', 'max_position_embeddings', 'hidden_act']) {
      assert.ok(key in config, `${arch} config has ${key}`);
    }
    assert.equal(config.num_key_value_heads, 2);
    assert.ok((config.num_attention_heads as number) > (config.num_key_value_heads as number), 'GQA');

    const header = readSafetensorsHeader(join(out, 'model.safetensors'));
    const vocab = config.vocab_size as number;
    const q = options.heads * options.headDim;
    const kv = options.kvHeads * options.headDim;
    const expected: Record<string, number[]> = {
      'model.embed_tokens.weight': [vocab, 64],
      'model.norm.weight': [64],
      'model.layers.1.self_attn.q_proj.weight': [q, 64],
      'model.layers.1.self_attn.k_proj.weight': [kv, 64],
      'model.layers.1.self_attn.v_proj.weight': [kv, 64],
      'model.layers.1.self_attn.o_proj.weight': [64, q],
      'model.layers.0.mlp.gate_proj.weight': [96, 64],
      'model.layers.0.mlp.up_proj.weight': [96, 64],
      'model.layers.0.mlp.down_proj.weight': [64, 96],
      'model.layers.0.input_layernorm.weight': [64],
      'model.layers.0.post_attention_layernorm.weight': [64],
    };
    if (arch === 'qwen2') Object.assign(expected, { 'model.layers.0.self_attn.q_proj.bias': [q], 'model.layers.0.self_attn.k_proj.bias': [kv], 'model.layers.0.self_attn.v_proj.bias': [kv] });
    if (arch === 'qwen3') Object.assign(expected, { 'model.layers.0.self_attn.q_norm.weight': [options.headDim], 'model.layers.0.self_attn.k_norm.weight': [options.headDim] });
    if (!options.tieWordEmbeddings) expected['lm_head.weight'] = [vocab, 64];
    for (const [name, shape] of Object.entries(expected)) {
      assert.deepEqual(header.tensors.get(name)?.shape, shape, `${arch} ${name}`);
      assert.equal(header.tensors.get(name)?.dtype, 'F32');
    }
    const perLayer = 9 + (arch === 'qwen2' ? 3 : 0) + (arch === 'qwen3' ? 2 : 0);
    assert.equal(header.tensors.size, 2 + 2 * perLayer + (options.tieWordEmbeddings ? 0 : 1), `${arch} tensor count`);
    assert.equal(summary.parameters, [...header.tensors.values()].reduce((sum, entry) => sum + entry.shape.reduce((a, b) => a * b, 1), 0));
    assert.ok(!header.tensors.has('model.layers.0.self_attn.o_proj.bias'));

    const weight = readSafetensorsTensor(header, 'model.layers.0.mlp.up_proj.weight');
    const mean = weight.reduce((a, b) => a + b, 0) / weight.length;
    const std = Math.sqrt(weight.reduce((a, b) => a + (b - mean) ** 2, 0) / weight.length);
    assert.ok(Math.abs(mean) < 0.002 && Math.abs(std - 0.05) < 0.004, `${arch} projections ~N(0, 0.05): mean ${mean} std ${std}`);
    const embedding = readSafetensorsTensor(header, 'model.embed_tokens.weight').subarray(0, 200000);
    const embeddingStd = Math.sqrt(embedding.reduce((a, b) => a + b * b, 0) / embedding.length);
    assert.ok(Math.abs(embeddingStd - 0.02) < 0.001, `${arch} embeddings ~N(0, 0.02): std ${embeddingStd}`);
    const norm = readSafetensorsTensor(header, 'model.norm.weight');
    const normMean = norm.reduce((a, b) => a + b, 0) / norm.length;
    assert.ok(Math.abs(normMean - 1) < 0.05 && norm.some((value) => Math.abs(value - 1) > 0.05), `${arch} norms are 1 plus visible noise`);

    const generation = JSON.parse(readFileSync(join(out, 'generation_config.json'), 'utf8')) as { eos_token_id: number[] };
    assert.ok(Array.isArray(generation.eos_token_id) && generation.eos_token_id.length >= 2);
    const tokenizerConfig = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')) as { chat_template?: string };
    assert.ok(typeof tokenizerConfig.chat_template === 'string' && tokenizerConfig.chat_template.length > 100, 'chat template present');
    const tokenizer = JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8')) as { model: { type: string; vocab: Record<string, number> } };
    assert.equal(tokenizer.model.type, 'BPE');
    assert.ok(Object.keys(tokenizer.model.vocab).length > 100000, 'real vocabulary');
  });
}

test('bench100m preset: llama shape of the Engine benchmark, ~100M parameters, 32,000-entry vocabulary', () => {
  const options = bench100mOptions();
  const tensors = tinyModelTensors(options, 32000);
  const parameters = tensors.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);
  assert.ok(parameters > 95e6 && parameters < 105e6, `${parameters}`);
  assert.deepEqual(tensors.find((t) => t.name === 'model.layers.11.self_attn.k_proj.weight')?.shape, [256, 768]);
  assert.deepEqual(tinyOptionsFromFlags({ out: 'x', preset: 'bench100m' }), options);
});

test('make-tiny-model flags: defaults, head_dim follows --hidden/--heads, bad values are HaloErrors naming the flag', () => {
  assert.equal(tinyOptionsFromFlags({ out: 'x', arch: 'llama', hidden: 256, heads: 8 }).headDim, 32);
  assert.equal(tinyOptionsFromFlags({ out: 'x', arch: 'qwen3', hidden: 256, heads: 8 }).headDim, 64);
  assert.equal(tinyOptionsFromFlags({ out: 'x', arch: 'mistral', vocab: 'qwen2' }).vocab, 'qwen2');
  const throwsFlag = (flags: Parameters<typeof tinyOptionsFromFlags>[0], flag: string) =>
    assert.throws(
      () => writeTinyModel(join(directory, 'never'), tinyOptionsFromFlags(flags)),
      (error: unknown) => error instanceof HaloError && error.code === 'ERR_TINY_MODEL_OPTION' && error.message.includes(flag),
    );
  throwsFlag({ out: 'x', arch: 'gpt2' }, '--arch');
  throwsFlag({ out: 'x' }, '--arch');
  throwsFlag({ out: 'x', arch: 'llama', kvHeads: 3 }, '--kv-heads');
  throwsFlag({ out: 'x', arch: 'llama', layers: 0 }, '--layers');
  throwsFlag({ out: 'x', arch: 'llama', vocab: 'gpt2' }, '--vocab');
  throwsFlag({ out: 'x', preset: 'huge' }, '--preset');
});
