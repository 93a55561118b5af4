/**
 * Tokenizer from a Hugging Face folder (tokenizer.json + tokenizer_config.json) through
 * @huggingface/tokenizers, plus what training and generation need on top: special-token ids,
 * batched encode, per-token byte spans (for loss masks) and an incremental decoder.
 *
 * Special tokens in raw text: `specialTokens: 'parse'` (the library's behaviour, and what chat
 * templates need for their own markers) turns "<|im_end|>" in the text into the special token;
 * `'literal'` encodes it as ordinary characters, so user data can never forge a turn boundary.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HaloError } from '../util/errors.js';

export type SpecialTokenPolicy = 'parse' | 'literal';

export interface EncodeOptions {
  /** add the post-processor's tokens (e.g. Llama-3's <|begin_of_text|>); default false */
  addSpecialTokens?: boolean;
  /** how special-token strings inside the text are treated; default 'parse' */
  specialTokens?: SpecialTokenPolicy;
}

export interface AddedTokenInfo {
  id: number;
  content: string;
  special: boolean;
}

interface TokenizerJson {
  added_tokens?: Array<{ id: number; content: string; special?: boolean }>;
  decoder?: { type?: string; decoders?: Array<{ type?: string }> } | null;
  normalizer?: { type?: string } | null;
  model?: { type?: string; byte_fallback?: boolean };
}

export type TokenizerConfig = Record<string, unknown>;

function tokenString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/** GPT-2's byte <-> unicode table used by every ByteLevel BPE vocabulary. */
function byteLevelDecodeTable(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  const chars = bytes.slice();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + extra++);
    }
  }
  const table = new Map<string, number>();
  bytes.forEach((byte, i) => table.set(String.fromCodePoint(chars[i]!), byte));
  return table;
}

function usesByteLevel(json: TokenizerJson): boolean {
  const decoder = json.decoder;
  if (!decoder) return false;
  if (decoder.type === 'ByteLevel') return true;
  return (decoder.decoders ?? []).some((d) => d.type === 'ByteLevel');
}

export class HaloTokenizer {
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  readonly padToken: string | undefined;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly padId: number | undefined;
  readonly addBosToken: boolean;
  readonly addedTokens: readonly AddedTokenInfo[];
  readonly chatTemplate: string | undefined;
  readonly normalizer: string | undefined;
  private readonly parsing: Tokenizer;
  private literalTokenizer: Tokenizer | undefined;
  private readonly tokenizerJson: object;
  private readonly config: TokenizerConfig;
  private readonly byteLevel: boolean;
  private readonly byteTable = byteLevelDecodeTable();
  private readonly bytesCache = new Map<number, Uint8Array>();
  private readonly specialContents: string[];

  constructor(tokenizerJson: object, config: TokenizerConfig = {}) {
    const json = tokenizerJson as TokenizerJson;
    this.parsing = new Tokenizer(tokenizerJson, config);
    this.tokenizerJson = tokenizerJson;
    this.config = config;
    this.byteLevel = usesByteLevel(json);
    this.normalizer = json.normalizer?.type;
    this.addedTokens = (json.added_tokens ?? []).map((t) => ({ id: t.id, content: t.content, special: t.special === true }));
    this.specialContents = this.addedTokens.filter((t) => t.special).map((t) => t.content);
    this.bosToken = tokenString(config.bos_token);
    this.eosToken = tokenString(config.eos_token);
    this.padToken = tokenString(config.pad_token);
    this.bosId = this.bosToken === undefined ? undefined : this.tokenToId(this.bosToken);
    this.eosId = this.eosToken === undefined ? undefined : this.tokenToId(this.eosToken);
    this.padId = this.padToken === undefined ? this.eosId : this.tokenToId(this.padToken);
    this.addBosToken = config.add_bos_token === true;
    const template = config.chat_template;
    if (typeof template === 'string') this.chatTemplate = template;
    else if (Array.isArray(template)) {
      const named = template.find((t: { name?: string }) => t.name === 'default') as { template?: string } | undefined;
      this.chatTemplate = named?.template;
    }
  }

  /** Reads tokenizer.json, tokenizer_config.json and (when present) chat_template.jinja from a folder. */
  static fromFolder(folder: string): HaloTokenizer {
    const tokenizerPath = join(folder, 'tokenizer.json');
    if (!existsSync(tokenizerPath)) {
      throw new HaloError('TOKENIZER_MISSING', `no tokenizer.json in ${folder}`, {
        fix: 'point at a Hugging Face model folder that holds tokenizer.json (slow sentencepiece-only tokenizers are not supported)',
      });
    }
    const json = readJson(tokenizerPath);
    const configPath = join(folder, 'tokenizer_config.json');
    const config = existsSync(configPath) ? (readJson(configPath) as TokenizerConfig) : {};
    const jinjaPath = join(folder, 'chat_template.jinja');
    if (existsSync(jinjaPath) && typeof config.chat_template !== 'string') config.chat_template = readFileSync(jinjaPath, 'utf8');
    return new HaloTokenizer(json, config);
  }

  tokenToId(token: string): number | undefined {
    return this.parsing.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.parsing.id_to_token(id);
  }

  isSpecialId(id: number): boolean {
    return this.addedTokens.some((t) => t.id === id && t.special);
  }

  /** Special-token strings (e.g. "<|im_end|>") that occur in `text`. */
  specialTokensIn(text: string): string[] {
    return this.specialContents.filter((content) => content.length > 0 && text.includes(content));
  }

  /** A second tokenizer without the special added tokens, built on first use of 'literal'. */
  private get literal(): Tokenizer {
    if (!this.literalTokenizer) {
      const json = this.tokenizerJson as TokenizerJson;
      const ordinaryAdded = (json.added_tokens ?? []).filter((token) => token.special !== true);
      this.literalTokenizer = new Tokenizer({ ...this.tokenizerJson, added_tokens: ordinaryAdded }, this.config);
    }
    return this.literalTokenizer;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const tokenizer = options.specialTokens === 'literal' ? this.literal : this.parsing;
    return tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? false }).ids;
  }

  encodeBatch(texts: readonly string[], options: EncodeOptions = {}): number[][] {
    return texts.map((text) => this.encode(text, options));
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    return this.parsing.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false, clean_up_tokenization_spaces: false });
  }

  /** The raw bytes one token stands for (before any decoder cleanup). */
  tokenBytes(id: number): Uint8Array {
    const cached = this.bytesCache.get(id);
    if (cached) return cached;
    const added = this.addedTokens.find((t) => t.id === id);
    const piece = added ? added.content : this.idToToken(id);
    if (piece === undefined) throw new HaloError('TOKEN_ID_UNKNOWN', `token id ${id} is not in the vocabulary`, { fix: 'use ids produced by this tokenizer' });
    let bytes: Uint8Array;
    if (added) bytes = Buffer.from(piece, 'utf8');
    else if (this.byteLevel) {
      const out: number[] = [];
      for (const char of piece) {
        const byte = this.byteTable.get(char);
        if (byte === undefined) out.push(...Buffer.from(char, 'utf8'));
        else out.push(byte);
      }
      bytes = Uint8Array.from(out);
    } else {
      // sentencepiece-style: ▁ is a space, <0xNN> is a byte-fallback token
      const hex = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
      bytes = hex ? Uint8Array.of(parseInt(hex[1]!, 16)) : Buffer.from(piece.replaceAll('\u2581', ' '), 'utf8');
    }
    this.bytesCache.set(id, bytes);
    return bytes;
  }

  /** Byte offset where each token starts, plus the total byte length as the last entry. */
  byteOffsets(ids: readonly number[]): number[] {
    const offsets = new Array<number>(ids.length + 1);
    let position = 0;
    ids.forEach((id, i) => {
      offsets[i] = position;
      position += this.tokenBytes(id).length;
    });
    offsets[ids.length] = position;
    return offsets;
  }

  incrementalDecoder(stopStrings: readonly string[] = []): IncrementalDecoder {
    return new IncrementalDecoder(this, stopStrings);
  }
}

function readJson(path: string): object {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as object;
  } catch (error) {
    throw new HaloError('TOKENIZER_BAD_JSON', `${path} is not valid JSON: ${(error as Error).message}`, {
      fix: 'download the file again; it may be truncated',
    });
  }
}

/**
 * Streaming decode: push token ids one at a time and get back only text that is final — whole
 * UTF-8 characters, and never a tail that could still become one of the stop strings.
 */
export class IncrementalDecoder {
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false });
  private pending = '';
  private stoppedAt: string | undefined;

  constructor(
    private readonly tokenizer: HaloTokenizer,
    private readonly stopStrings: readonly string[],
  ) {}

  get stopped(): string | undefined {
    return this.stoppedAt;
  }

  /** Returns the newly final text; after a stop string matched, returns '' for every later push. */
  push(id: number): string {
    if (this.stoppedAt !== undefined) return '';
    this.pending += this.utf8.decode(this.tokenizer.tokenBytes(id), { stream: true });
    return this.release(false);
  }

  /** Flushes what is held back (an incomplete character becomes U+FFFD). */
  finish(): string {
    if (this.stoppedAt !== undefined) return '';
    this.pending += this.utf8.decode();
    return this.release(true);
  }

  private release(final: boolean): string {
    let firstStop = -1;
    for (const stop of this.stopStrings) {
      const at = this.pending.indexOf(stop);
      if (at >= 0 && (firstStop < 0 || at < firstStop)) {
        firstStop = at;
        this.stoppedAt = stop;
      }
    }
    if (firstStop >= 0) {
      const out = this.pending.slice(0, firstStop);
      this.pending = '';
      return out;
    }
    let hold = 0;
    if (!final) {
      for (const stop of this.stopStrings) {
        for (let k = Math.min(stop.length - 1, this.pending.length); k > hold; k--) {
          if (this.pending.endsWith(stop.slice(0, k))) {
            hold = k;
            break;
          }
        }
      }
    }
    const out = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return out;
  }
}
