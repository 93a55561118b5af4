/**
 * Training-record formats, auto-detected per record: {text}, {prompt, completion},
 * {prompt, response}, {messages}, alpaca {instruction, input, output} and ShareGPT
 * {conversations: [{from, value}]}. Each converts to one canonical shape.
 */
import { HaloError } from '../util/errors.js';
import type { ChatMessage } from './chat.js';

export type RecordFormat = 'messages' | 'sharegpt' | 'alpaca' | 'prompt_completion' | 'prompt_response' | 'text';

export const ACCEPTED_FORMATS: readonly string[] = [
  'messages: {messages: [{role, content}]}',
  'sharegpt: {conversations: [{from, value}]}',
  'alpaca: {instruction, input?, output}',
  'prompt_completion: {prompt, completion}',
  'prompt_response: {prompt, response}',
  'text: {text}',
];

export type CanonicalRecord = { kind: 'messages'; messages: ChatMessage[] } | { kind: 'text'; text: string };

export interface RecordLocation {
  file: string;
  line: number;
}

function where(at: RecordLocation | undefined): string {
  return at ? `${at.file}:${at.line}` : 'record';
}

export function detectFormat(record: unknown, at?: RecordLocation): RecordFormat {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    throw new HaloError('DATA_NOT_OBJECT', `${where(at)}: a record must be a JSON object, got ${Array.isArray(record) ? 'array' : typeof record}`, {
      fix: `write one object per line in one of the formats: ${ACCEPTED_FORMATS.join('; ')}`,
    });
  }
  const has = (key: string): boolean => key in record;
  if (has('messages')) return 'messages';
  if (has('conversations')) return 'sharegpt';
  if (has('instruction') && has('output')) return 'alpaca';
  if (has('prompt') && has('completion')) return 'prompt_completion';
  if (has('prompt') && has('response')) return 'prompt_response';
  if (has('text')) return 'text';
  throw new HaloError('DATA_UNKNOWN_FORMAT', `${where(at)}: no known record format matches the keys [${Object.keys(record).join(', ')}]`, {
    fix: `use one of: ${ACCEPTED_FORMATS.join('; ')}`,
    details: { keys: Object.keys(record), accepted: ACCEPTED_FORMATS },
  });
}

const SHAREGPT_ROLES: Record<string, ChatMessage['role']> = {
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
  chatgpt: 'assistant',
  system: 'system',
  tool: 'tool',
  function_response: 'tool',
  observation: 'tool',
};

function requireString(record: Record<string, unknown>, field: string, at?: RecordLocation): string {
  const value = record[field];
  if (typeof value !== 'string') {
    throw new HaloError('DATA_BAD_FIELD', `${where(at)}: field "${field}" must be a string, got ${value === undefined ? 'nothing' : typeof value}`, {
      fix: `give "${field}" a string value`,
      details: { field },
    });
  }
  return value;
}

function checkMessages(list: unknown, field: string, at?: RecordLocation): ChatMessage[] {
  if (!Array.isArray(list) || list.length === 0) {
    throw new HaloError('DATA_BAD_FIELD', `${where(at)}: field "${field}" must be a non-empty array`, { fix: `give "${field}" at least one message`, details: { field } });
  }
  return list.map((entry, i) => {
    const path = `${field}[${i}]`;
    if (!entry || typeof entry !== 'object') {
      throw new HaloError('DATA_BAD_FIELD', `${where(at)}: ${path} must be an object`, { fix: 'write messages as {role, content}', details: { field: path } });
    }
    const message = entry as Record<string, unknown>;
    const role = message.role;
    if (role !== 'system' && role !== 'user' && role !== 'assistant' && role !== 'tool') {
      throw new HaloError('DATA_BAD_FIELD', `${where(at)}: ${path}.role must be system, user, assistant or tool, got ${JSON.stringify(role)}`, {
        fix: 'use one of the four roles',
        details: { field: `${path}.role` },
      });
    }
    const content = message.content ?? (Array.isArray(message.tool_calls) ? '' : undefined);
    if (typeof content !== 'string') {
      throw new HaloError('DATA_BAD_FIELD', `${where(at)}: ${path}.content must be a string`, { fix: 'give every message a string content', details: { field: `${path}.content` } });
    }
    const out: ChatMessage = { role, content };
    if (Array.isArray(message.tool_calls)) out.tool_calls = message.tool_calls as ChatMessage['tool_calls'];
    if (typeof message.name === 'string') out.name = message.name;
    return out;
  });
}

/** Converts any accepted record into messages (chat formats) or plain text ({text}). */
export function toCanonical(record: unknown, at?: RecordLocation): CanonicalRecord {
  const format = detectFormat(record, at);
  const r = record as Record<string, unknown>;
  switch (format) {
    case 'messages':
      return { kind: 'messages', messages: checkMessages(r.messages, 'messages', at) };
    case 'sharegpt': {
      const turns = r.conversations;
      if (!Array.isArray(turns) || turns.length === 0) {
        throw new HaloError('DATA_BAD_FIELD', `${where(at)}: field "conversations" must be a non-empty array`, { fix: 'give at least one turn', details: { field: 'conversations' } });
      }
      const messages = turns.map((turn, i) => {
        const t = (turn ?? {}) as Record<string, unknown>;
        const role = typeof t.from === 'string' ? SHAREGPT_ROLES[t.from] : undefined;
        if (!role) {
          throw new HaloError('DATA_BAD_FIELD', `${where(at)}: conversations[${i}].from is ${JSON.stringify(t.from)}`, {
            fix: `use one of ${Object.keys(SHAREGPT_ROLES).join(', ')}`,
            details: { field: `conversations[${i}].from` },
          });
        }
        if (typeof t.value !== 'string') {
          throw new HaloError('DATA_BAD_FIELD', `${where(at)}: conversations[${i}].value must be a string`, { fix: 'give every turn a string value', details: { field: `conversations[${i}].value` } });
        }
        return { role, content: t.value };
      });
      return { kind: 'messages', messages };
    }
    case 'alpaca': {
      const instruction = requireString(r, 'instruction', at);
      const input = r.input === undefined || r.input === null ? '' : requireString(r, 'input', at);
      const output = requireString(r, 'output', at);
      const user = input.trim().length > 0 ? `${instruction}\n\n${input}` : instruction;
      return { kind: 'messages', messages: [{ role: 'user', content: user }, { role: 'assistant', content: output }] };
    }
    case 'prompt_completion':
      return { kind: 'messages', messages: [{ role: 'user', content: requireString(r, 'prompt', at) }, { role: 'assistant', content: requireString(r, 'completion', at) }] };
    case 'prompt_response':
      return { kind: 'messages', messages: [{ role: 'user', content: requireString(r, 'prompt', at) }, { role: 'assistant', content: requireString(r, 'response', at) }] };
    case 'text':
      return { kind: 'text', text: requireString(r, 'text', at) };
  }
}
