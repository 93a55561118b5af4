/**
 * Chat templates (Jinja, rendered with @huggingface/jinja) and assistant-only loss masks.
 *
 * Masks come from the rendered text, not from assumptions about a format: an assistant turn's
 * span starts where rendering the conversation before it with add_generation_prompt ends, and
 * stops after the last end-of-turn marker inside that turn. Whatever the template injects around
 * turns (default system prompts, date lines, tool headers) is outside every span.
 */
import { Template } from '@huggingface/jinja';
import { existsSync, readFileSync } from 'node:fs';
import { HaloError } from '../util/errors.js';
import { BUILTIN_TEMPLATES } from './chat-builtin.js';
import type { HaloTokenizer, SpecialTokenPolicy } from './tokenizer.js';

export interface ToolCall {
  type?: 'function';
  function: { name: string; arguments: Record<string, unknown> | string };
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  tool_calls?: ToolCall[];
  name?: string;
}

export type ToolSchema = Record<string, unknown>;

export interface RenderOptions {
  tools?: readonly ToolSchema[];
  addGenerationPrompt?: boolean;
  /** put in front as a system message when the conversation has none */
  systemPrompt?: string;
}

export interface CharSpan {
  start: number;
  end: number;
}

export interface MaskedEncoding {
  text: string;
  ids: number[];
  /** 1 where the token belongs to an assistant turn (content + end-of-turn marker) */
  mask: number[];
  spans: CharSpan[];
}

const END_OF_TURN_MARKERS = ['<|im_end|>', '<|eot_id|>', '<|end|>', '<end_of_turn>', '</s>', '<|endoftext|>', '<|end_of_text|>'];

/** date_string for templates that read it (strftime_now is a @huggingface/jinja built-in). */
function fixedStrftime(now: Date): (format: string) => string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return (format: string) =>
    format
      .replaceAll('%d', String(now.getUTCDate()).padStart(2, '0'))
      .replaceAll('%b', months[now.getUTCMonth()]!)
      .replaceAll('%m', String(now.getUTCMonth() + 1).padStart(2, '0'))
      .replaceAll('%Y', String(now.getUTCFullYear()));
}

export class ChatTemplate {
  private readonly compiled: Template;

  constructor(
    readonly source: string,
    readonly name: string,
    private readonly specials: { bosToken: string; eosToken: string },
    private readonly endOfTurn: string | undefined,
  ) {
    try {
      this.compiled = new Template(source);
    } catch (error) {
      throw new HaloError('CHAT_TEMPLATE_SYNTAX', `chat template ${name} does not parse: ${(error as Error).message}`, {
        fix: 'fix the Jinja syntax, or pass --chat-template chatml|qwen2.5|llama3|mistral',
      });
    }
  }

  /**
   * `spec` is a built-in name (chatml, qwen2.5, llama3, mistral), a path to a .jinja file, or
   * undefined to use the tokenizer's own template.
   */
  static resolve(spec: string | undefined, tokenizer?: HaloTokenizer): ChatTemplate {
    const bos = tokenizer?.bosToken;
    const eos = tokenizer?.eosToken;
    if (spec === undefined) {
      if (tokenizer?.chatTemplate) {
        return new ChatTemplate(tokenizer.chatTemplate, 'tokenizer_config.json', { bosToken: bos ?? '', eosToken: eos ?? '' }, undefined);
      }
      throw new HaloError('CHAT_TEMPLATE_MISSING', 'the tokenizer has no chat_template', {
        fix: `pass --chat-template NAME|FILE (built-in: ${Object.keys(BUILTIN_TEMPLATES).join(', ')})`,
      });
    }
    const builtin = BUILTIN_TEMPLATES[spec];
    if (builtin) {
      return new ChatTemplate(builtin.template, builtin.name, { bosToken: bos ?? builtin.bosToken, eosToken: eos ?? builtin.eosToken }, builtin.endOfTurn);
    }
    if (existsSync(spec)) {
      return new ChatTemplate(readFileSync(spec, 'utf8'), spec, { bosToken: bos ?? '', eosToken: eos ?? '' }, undefined);
    }
    throw new HaloError('CHAT_TEMPLATE_UNKNOWN', `--chat-template ${spec} is neither a built-in template nor a file`, {
      fix: `use one of ${Object.keys(BUILTIN_TEMPLATES).join(', ')} or a path to a .jinja file`,
    });
  }

  render(messages: readonly ChatMessage[], options: RenderOptions = {}): string {
    const withSystem =
      options.systemPrompt !== undefined && messages[0]?.role !== 'system'
        ? [{ role: 'system' as const, content: options.systemPrompt }, ...messages]
        : messages;
    const context: Record<string, unknown> = {
      messages: withSystem,
      add_generation_prompt: options.addGenerationPrompt ?? false,
      bos_token: this.specials.bosToken,
      eos_token: this.specials.eosToken,
      date_string: fixedStrftime(new Date())('%d %b %Y'),
    };
    if (options.tools && options.tools.length > 0) context.tools = options.tools;
    try {
      return this.compiled.render(context);
    } catch (error) {
      throw new HaloError('CHAT_TEMPLATE_RENDER', `chat template ${this.name} failed to render: ${(error as Error).message}`, {
        fix: 'check the conversation roles the template accepts (e.g. mistral needs user/assistant alternation)',
      });
    }
  }

  /** Character spans of each assistant turn in `render(messages)`: its content and end-of-turn marker. */
  assistantSpans(messages: readonly ChatMessage[], options: RenderOptions = {}): { text: string; spans: CharSpan[] } {
    const base = { ...options, addGenerationPrompt: false };
    const normalized =
      options.systemPrompt !== undefined && messages[0]?.role !== 'system'
        ? [{ role: 'system' as const, content: options.systemPrompt }, ...messages]
        : [...messages];
    const text = this.render(normalized, { ...base, systemPrompt: undefined });
    const spans: CharSpan[] = [];
    let searchFrom = 0;
    normalized.forEach((message, index) => {
      if (message.role !== 'assistant') return;
      const before = normalized.slice(0, index);
      const through = normalized.slice(0, index + 1);
      const prompt = this.render(before, { ...base, systemPrompt: undefined, addGenerationPrompt: true });
      let start: number;
      if (index > 0 && text.startsWith(prompt) && prompt.length >= searchFrom) start = prompt.length;
      else {
        const content = message.content.trim();
        const found = content.length > 0 ? text.indexOf(content, searchFrom) : -1;
        if (found < 0) {
          throw new HaloError('CHAT_MASK_UNALIGNED', `assistant message ${index} cannot be located in the rendered conversation`, {
            fix: 'use a template whose rendering of a conversation prefix is a prefix of the whole (or a built-in template)',
          });
        }
        start = found;
      }
      const upTo = this.render(through, { ...base, systemPrompt: undefined });
      let end = text.startsWith(upTo) && upTo.length > start ? upTo.length : this.turnEndAfter(text, start, message);
      end = this.trimToEndOfTurn(text, start, end);
      spans.push({ start, end });
      searchFrom = end;
    });
    return { text, spans };
  }

  private turnEndAfter(text: string, start: number, message: ChatMessage): number {
    const content = message.content.trim();
    const at = content.length > 0 ? text.indexOf(content, start) : start;
    const afterContent = at >= 0 ? at + content.length : start;
    const markers = this.endOfTurn ? [this.endOfTurn] : [this.specials.eosToken, ...END_OF_TURN_MARKERS].filter((m) => m.length > 0);
    let best = -1;
    for (const marker of markers) {
      const found = text.indexOf(marker, afterContent);
      if (found >= 0 && (best < 0 || found + marker.length < best)) best = found + marker.length;
    }
    return best >= 0 ? best : text.length;
  }

  /** Cuts a turn's span right after its last end-of-turn marker (dropping the newline chatml adds). */
  private trimToEndOfTurn(text: string, start: number, end: number): number {
    const turn = text.slice(start, end);
    const markers = this.endOfTurn ? [this.endOfTurn] : [this.specials.eosToken, ...END_OF_TURN_MARKERS].filter((m) => m.length > 0);
    let cut = -1;
    for (const marker of markers) {
      const at = turn.lastIndexOf(marker);
      if (at >= 0) cut = Math.max(cut, at + marker.length);
    }
    if (cut >= 0) return start + cut;
    return start + turn.trimEnd().length;
  }
}

/**
 * Renders and tokenizes a conversation with its assistant-only mask. Special-token strings inside
 * message content are refused unless `contentSpecialTokens` is 'parse' (a forged <|im_end|> in
 * user data would otherwise silently split a turn).
 */
export function encodeChat(
  tokenizer: HaloTokenizer,
  template: ChatTemplate,
  messages: readonly ChatMessage[],
  options: RenderOptions & { contentSpecialTokens?: SpecialTokenPolicy | 'error' } = {},
): MaskedEncoding {
  if ((options.contentSpecialTokens ?? 'error') === 'error') {
    messages.forEach((message, index) => {
      const found = tokenizer.specialTokensIn(message.content);
      if (found.length > 0) {
        throw new HaloError('CHAT_SPECIAL_TOKEN_IN_CONTENT', `message ${index} (${message.role}) contains the special token ${found[0]}`, {
          fix: 'remove it from the data, or allow it explicitly (contentSpecialTokens: "parse")',
        });
      }
    });
  }
  const { text, spans } = template.assistantSpans(messages, options);
  const aligned = alignText(tokenizer, text, spans);
  const ids = tokenizer.encode(aligned.text, { specialTokens: 'parse' });
  const offsets = tokenizer.byteOffsets(ids);
  const totalBytes = Buffer.byteLength(aligned.text, 'utf8');
  const shift = offsets[ids.length]! - totalBytes; // 1 when a sentencepiece normalizer prepends a space
  if (shift !== 0 && shift !== 1) {
    throw new HaloError('CHAT_MASK_UNALIGNED', `tokens cover ${offsets[ids.length]} bytes but the rendered text has ${totalBytes}`, {
      fix: 'this tokenizer normalizes text in a way masks cannot follow; report the model id',
    });
  }
  const byteSpans = aligned.spans.map((span) => ({
    start: Buffer.byteLength(aligned.text.slice(0, span.start), 'utf8'),
    end: Buffer.byteLength(aligned.text.slice(0, span.end), 'utf8'),
  }));
  const mask = ids.map((_, i) => {
    const tokenStart = Math.max(0, offsets[i]! - shift);
    return byteSpans.some((span) => tokenStart >= span.start && tokenStart < span.end) ? 1 : 0;
  });
  return { text: aligned.text, ids, mask, spans: aligned.spans };
}

/** Applies the tokenizer's Unicode normalization piecewise, so span boundaries stay put. */
function alignText(tokenizer: HaloTokenizer, text: string, spans: CharSpan[]): { text: string; spans: CharSpan[] } {
  const form = tokenizer.normalizer;
  if (form !== 'NFC' && form !== 'NFKC' && form !== 'NFD' && form !== 'NFKD') return { text, spans };
  const cuts = [...new Set([0, ...spans.flatMap((s) => [s.start, s.end]), text.length])].sort((a, b) => a - b);
  let out = '';
  const moved = new Map<number, number>();
  for (let i = 0; i < cuts.length; i++) {
    moved.set(cuts[i]!, out.length);
    if (i + 1 < cuts.length) out += text.slice(cuts[i], cuts[i + 1]).normalize(form);
  }
  return { text: out, spans: spans.map((s) => ({ start: moved.get(s.start)!, end: moved.get(s.end)! })) };
}
