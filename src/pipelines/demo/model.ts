/**
 * The demo's built-in model: a tiny random-init llama over a character vocabulary (digits, a few
 * symbols and letters, plus <s> </s> <pad>), with a real tokenizer.json (character BPE, no merges),
 * a chat template and generation_config.json — a complete Hugging Face folder in a few KB of config
 * and ~100k parameters, so SFT and RAFT run in seconds on a laptop CPU.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../../util/atomic.js';
import { writeSafetensors } from '../../export/safetensors.js';
import { tinyModelTensors, type TinyModelOptions } from '../../export/tiny-model.js';

const SPECIALS = ['<pad>', '<s>', '</s>'] as const;
const CHARACTERS = [...'0123456789+-*=?:. \n', ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'];

/** Q: <question>\nA: <answer></s> — the assistant turn is "<answer></s>". */
export const DEMO_CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ 'Q: ' + message['content'] + '\\n' }}{% elif message['role'] == 'assistant' %}{{ 'A: ' + message['content'] + eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'A: ' }}{% endif %}";

export interface DemoModelOptions {
  seed: number;
  layers?: number;
  hidden?: number;
}

export function demoVocabulary(): string[] {
  return [...SPECIALS, ...CHARACTERS];
}

export function writeDemoModel(directory: string, options: DemoModelOptions): { vocabSize: number; parameters: number } {
  mkdirSync(directory, { recursive: true });
  const vocabulary = demoVocabulary();
  const ids = Object.fromEntries(vocabulary.map((token, id) => [token, id]));
  const hidden = options.hidden ?? 64;
  const model: TinyModelOptions = { arch: 'llama', layers: options.layers ?? 2, hidden, heads: 4, kvHeads: 2, headDim: hidden / 4, intermediate: hidden * 2, seed: options.seed, vocab: 'llama3-32k', tieWordEmbeddings: true };
  const tensors = tinyModelTensors(model, vocabulary.length);
  writeSafetensors(join(directory, 'model.safetensors'), tensors);
  writeJsonAtomic(join(directory, 'config.json'), {
    architectures: ['LlamaForCausalLM'],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: ids['<s>'],
    eos_token_id: ids['</s>'],
    head_dim: model.headDim,
    hidden_act: 'silu',
    hidden_size: hidden,
    initializer_range: 0.02,
    intermediate_size: model.intermediate,
    max_position_embeddings: 256,
    mlp_bias: false,
    model_type: 'llama',
    num_attention_heads: model.heads,
    num_hidden_layers: model.layers,
    num_key_value_heads: model.kvHeads,
    rms_norm_eps: 1e-5,
    rope_scaling: null,
    rope_theta: 10000.0,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    vocab_size: vocabulary.length,
  });
  writeJsonAtomic(join(directory, 'generation_config.json'), { bos_token_id: ids['<s>'], eos_token_id: ids['</s>'], pad_token_id: ids['<pad>'] });
  writeJsonAtomic(join(directory, 'tokenizer.json'), {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content) => ({ id: ids[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: ids, merges: [] },
  });
  writeJsonAtomic(join(directory, 'tokenizer_config.json'), { bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>', add_bos_token: false, chat_template: DEMO_CHAT_TEMPLATE, model_max_length: 256 });
  const parameters = tensors.reduce((sum, tensor) => sum + tensor.shape.reduce((a, b) => a * b, 1), 0);
  return { vocabSize: vocabulary.length, parameters };
}
