/**
 * GGUF tokenizer metadata from a Hugging Face byte-level BPE tokenizer (tokenizer.json +
 * tokenizer_config.json + config.json), the way llama.cpp's converter builds it for "gpt2"-model
 * vocabularies: one token string per id up to vocab_size ([PAD<id>] for ids the tokenizer leaves
 * empty), token types (normal, control for special added tokens and <|…|>-looking ones, user-defined
 * for other added tokens, unused for padding), merges as "left right" strings, special ids, chat template.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HaloError } from '../../util/errors.js';
import { readJsonIfExists } from '../hf-checkpoint.js';
import { gguf, type GgufValue } from './format.js';
import type { GgufArch } from './arch.js';

export enum GgufTokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

interface TokenizerJson {
  added_tokens?: { id: number; content: string; special?: boolean }[];
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] };
  pre_tokenizer?: unknown;
  normalizer?: unknown;
}

function looksSpecial(token: string): boolean {
  return token === '<pad>' || token === '<mask>' || (token.startsWith('<|') && token.endsWith('|>'));
}

/**
 * A character vocabulary (the demo model's): BPE with no merges, no normalizer or pre-tokenizer, every
 * token but the added (special) ones one ASCII character. HF splits any text into single characters; so does llama.cpp's "gpt2" BPE
 * with no merges once each token is written in GPT-2's byte-level alphabet (' ' → 'Ġ', '\n' → 'Ċ').
 */
function isAsciiCharacterVocab(tokenizer: TokenizerJson): boolean {
  const added = new Set((tokenizer.added_tokens ?? []).map((token) => token.content));
  const vocab = Object.keys(tokenizer.model?.vocab ?? {}).filter((token) => !added.has(token));
  return (tokenizer.model?.merges ?? []).length === 0 && (tokenizer.pre_tokenizer ?? null) === null && (tokenizer.normalizer ?? null) === null &&
    vocab.length > 0 && vocab.every((token) => token.length === 1 && token.charCodeAt(0) < 128);
}

/** GPT-2's byte → printable character table, for the 128 ASCII bytes. */
function byteLevelAscii(byte: number): string {
  const printable = (byte >= 0x21 && byte <= 0x7e);
  if (printable) return String.fromCharCode(byte);
  // bytes outside GPT-2's printable ranges are numbered 256, 257, … in byte order; below 0x80 those are 0x00–0x20 and 0x7f
  const rank = byte <= 0x20 ? byte : 0x21;
  return String.fromCharCode(256 + rank);
}

/** llama.cpp pre-tokenizer name: decided by the split regex the tokenizer uses (the converter hashes its output; both families here have a known regex). */
function preTokenizerName(tokenizer: TokenizerJson, arch: GgufArch, path: string): string {
  if (isAsciiCharacterVocab(tokenizer)) return 'default';
  const text = JSON.stringify(tokenizer.pre_tokenizer ?? null);
  if (text.includes('\\\\p{N}{1,3}')) return 'llama-bpe';
  if (text.includes('\\\\p{N}|')) return 'qwen2';
  throw new HaloError('ERR_GGUF_TOKENIZER', `${path}: pre-tokenizer is neither the Llama-3 nor the Qwen2 split (arch ${arch})`, {
    fix: 'only Llama-3-style and Qwen2-style byte-level BPE tokenizers are exported so far',
  });
}

export function tokenizerMetadata(modelDirectory: string, arch: GgufArch, vocabSize: number, config: Record<string, unknown>): [string, GgufValue][] {
  const path = join(modelDirectory, 'tokenizer.json');
  let tokenizer: TokenizerJson;
  try {
    tokenizer = JSON.parse(readFileSync(path, 'utf8')) as TokenizerJson;
  } catch (error) {
    throw new HaloError('ERR_GGUF_TOKENIZER', `${path}: ${(error as Error).message}`, { fix: 'the model folder needs a tokenizer.json', cause: error });
  }
  if (tokenizer.model?.type !== 'BPE' || !tokenizer.model.vocab || !tokenizer.model.merges) {
    throw new HaloError('ERR_GGUF_TOKENIZER', `${path}: model.type is ${tokenizer.model?.type}, not a byte-level BPE with vocab and merges`, { fix: 'export a model with a BPE tokenizer' });
  }
  const tokens: string[] = new Array(vocabSize);
  const types: number[] = new Array(vocabSize).fill(GgufTokenType.UNUSED);
  const characterVocab = isAsciiCharacterVocab(tokenizer);
  for (const [token, id] of Object.entries(tokenizer.model.vocab)) {
    if (id >= vocabSize) throw new HaloError('ERR_GGUF_TOKENIZER', `${path}: token id ${id} >= vocab_size ${vocabSize}`, { fix: 'config.json vocab_size must cover the tokenizer' });
    tokens[id] = characterVocab && token.length === 1 ? byteLevelAscii(token.charCodeAt(0)) : token;
    types[id] = GgufTokenType.NORMAL;
  }
  for (const added of tokenizer.added_tokens ?? []) {
    if (added.id >= vocabSize) throw new HaloError('ERR_GGUF_TOKENIZER', `${path}: added token ${added.content} has id ${added.id} >= vocab_size ${vocabSize}`, { fix: 'config.json vocab_size must cover the tokenizer' });
    tokens[added.id] = added.content;
    types[added.id] = added.special || looksSpecial(added.content) ? GgufTokenType.CONTROL : GgufTokenType.USER_DEFINED;
  }
  for (let id = 0; id < vocabSize; id++) if (tokens[id] === undefined) tokens[id] = `[PAD${id}]`;
  const merges = tokenizer.model.merges.map((merge) => (typeof merge === 'string' ? merge : merge.join(' ')));

  const tokenizerConfig = readJsonIfExists(join(modelDirectory, 'tokenizer_config.json')) ?? {};
  const idOf = (content: unknown): number | undefined => {
    const text = typeof content === 'string' ? content : (content as { content?: string } | null)?.content;
    if (text === undefined) return undefined;
    const added = tokenizer.added_tokens?.find((token) => token.content === text);
    return added?.id ?? tokenizer.model?.vocab?.[text];
  };
  const configId = (key: string): number | undefined => {
    const value = config[key];
    return typeof value === 'number' ? value : Array.isArray(value) && typeof value[0] === 'number' ? value[0] : undefined;
  };
  // As the converter's SpecialVocab: tokenizer_config.json's token strings first, config.json's ids second.
  const bos = idOf(tokenizerConfig.bos_token) ?? configId('bos_token_id');
  const eos = idOf(tokenizerConfig.eos_token) ?? configId('eos_token_id');
  const pad = idOf(tokenizerConfig.pad_token) ?? configId('pad_token_id');

  const entries: [string, GgufValue][] = [
    ['tokenizer.ggml.model', gguf.str('gpt2')],
    ['tokenizer.ggml.pre', gguf.str(preTokenizerName(tokenizer, arch, path))],
    ['tokenizer.ggml.tokens', gguf.strings(tokens)],
    ['tokenizer.ggml.token_type', gguf.i32s(types)],
    ['tokenizer.ggml.merges', gguf.strings(merges)],
  ];
  if (bos !== undefined) entries.push(['tokenizer.ggml.bos_token_id', gguf.u32(bos)]);
  if (eos !== undefined) entries.push(['tokenizer.ggml.eos_token_id', gguf.u32(eos)]);
  if (pad !== undefined) entries.push(['tokenizer.ggml.padding_token_id', gguf.u32(pad)]);
  if (typeof tokenizerConfig.add_bos_token === 'boolean') entries.push(['tokenizer.ggml.add_bos_token', gguf.bool(tokenizerConfig.add_bos_token)]);
  if (typeof tokenizerConfig.add_eos_token === 'boolean') entries.push(['tokenizer.ggml.add_eos_token', gguf.bool(tokenizerConfig.add_eos_token)]);
  if (typeof tokenizerConfig.chat_template === 'string') entries.push(['tokenizer.chat_template', gguf.str(tokenizerConfig.chat_template)]);
  return entries;
}
