/**
 * Prompt records for generation (raft train, benchmark run): read from a file through the data
 * loaders, turned into chat messages, rendered with the model's chat template and tokenized. The
 * record's own fields travel with each completion to the verifier (tests, expected answer, tools).
 */
import { existsSync } from 'node:fs';
import type { ChatMessage, ChatTemplate, ToolSchema } from '../data/chat.js';
import { readRecords } from '../data/loaders/index.js';
import type { HaloTokenizer } from '../data/tokenizer.js';
import { HaloError } from '../util/errors.js';

export interface PromptRecord {
  index: number;
  id: string;
  /** the record as read (its fields go to the verifier). */
  record: Record<string, unknown>;
  messages: ChatMessage[];
  tools?: ToolSchema[];
  /** the text the curriculum keys and scores the prompt by. */
  text: string;
}

const PROMPT_FIELDS = ['prompt', 'question', 'problem', 'query', 'instruction'] as const;

export async function loadPromptRecords(path: string, options: { maxPrompts?: number; flag?: string } = {}): Promise<PromptRecord[]> {
  const flag = options.flag ?? '--prompts';
  if (!existsSync(path)) {
    throw new HaloError('ERR_PROMPTS', `${flag} ${path}: no such file`, { fix: 'pass a prompts file (.jsonl, .json, .parquet, .csv); `halo-forge data prepare NAME` writes one for a registered dataset' });
  }
  const prompts: PromptRecord[] = [];
  for await (const { record, line } of readRecords(path)) {
    if (options.maxPrompts !== undefined && prompts.length >= options.maxPrompts) break;
    prompts.push(toPromptRecord(record, prompts.length, `${path}:${line}`));
  }
  if (prompts.length === 0) throw new HaloError('ERR_PROMPTS', `${flag} ${path} holds no records`, { fix: 'check the file; each record needs a "prompt" (or "messages") field' });
  return prompts;
}

export function toPromptRecord(raw: unknown, index: number, at: string): PromptRecord {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new HaloError('ERR_PROMPTS', `${at}: a prompt record must be an object`, { fix: 'write one JSON object per line with a "prompt" field' });
  }
  const record = raw as Record<string, unknown>;
  const id = String(record.id ?? record.task_id ?? index);
  const tools = Array.isArray(record.tools) ? (record.tools as ToolSchema[]) : undefined;
  const system = typeof record.system === 'string' ? [{ role: 'system' as const, content: record.system }] : [];
  if (Array.isArray(record.messages)) {
    const messages = (record.messages as ChatMessage[]).filter((message, position, all) => !(position === all.length - 1 && message.role === 'assistant'));
    const last = [...messages].reverse().find((message) => message.role === 'user');
    if (last === undefined) throw new HaloError('ERR_PROMPTS', `${at}: "messages" has no user turn`, { fix: 'end the conversation with the user turn the model should answer' });
    return { index, id, record, messages: [...system, ...messages], ...(tools ? { tools } : {}), text: messages.map((message) => message.content).join('\n') };
  }
  for (const field of PROMPT_FIELDS) {
    const value = record[field];
    if (typeof value === 'string' && value.trim() !== '') {
      return { index, id, record, messages: [...system, { role: 'user', content: value }], ...(tools ? { tools } : {}), text: value };
    }
  }
  throw new HaloError('ERR_PROMPTS', `${at}: no prompt text (looked for ${PROMPT_FIELDS.join(', ')} and messages)`, { fix: 'give each record a "prompt" string or a "messages" list' });
}

/** The token ids the model continues: the conversation rendered with the generation prompt. */
export function encodePrompt(tokenizer: HaloTokenizer, template: ChatTemplate, prompt: PromptRecord, systemPrompt: string | undefined): number[] {
  const text = template.render(prompt.messages, { addGenerationPrompt: true, ...(systemPrompt === undefined ? {} : { systemPrompt }), ...(prompt.tools ? { tools: prompt.tools } : {}) });
  const ids = tokenizer.encode(text, { specialTokens: 'parse' });
  if (tokenizer.addBosToken && tokenizer.bosId !== undefined && ids[0] !== tokenizer.bosId) ids.unshift(tokenizer.bosId);
  return ids;
}
