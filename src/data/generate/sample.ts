/**
 * What `data generate` asks for and how it reads the answer: each request asks for one training
 * example about the topic as a JSON object {"prompt", "response"}, with a seeded difficulty and
 * style so that requests differ; the answer becomes an SFT {messages} record.
 */
import type { ChatMessage } from '../chat.js';
import { Rng } from '../../util/rng.js';

const DIFFICULTIES = ['beginner', 'intermediate', 'advanced', 'expert'] as const;
const STYLES = [
  'a direct question',
  'a task to carry out',
  'a request to explain a concept',
  'a problem to debug or correct',
  'a comparison between two approaches',
  'a step-by-step how-to request',
  'a realistic scenario needing advice',
  'a short exercise with a checkable answer',
] as const;

export const SYSTEM_PROMPT =
  'You write training data for a language model. Reply with exactly one JSON object and nothing else: ' +
  '{"prompt": "<what a user asks>", "response": "<the ideal assistant answer>"}. ' +
  'The prompt must be self-contained; the response must be correct, complete and helpful.';

export interface SampleRequest {
  /** 0-based request number: with the seed it fixes difficulty, style and the provider seed */
  index: number;
  user: string;
  seed: number;
}

export function sampleRequest(topic: string, index: number, seed: number): SampleRequest {
  const rng = new Rng((seed * 1_000_003 + index) >>> 0);
  const difficulty = DIFFICULTIES[rng.int(DIFFICULTIES.length)]!;
  const style = STYLES[rng.int(STYLES.length)]!;
  return {
    index,
    seed: rng.nextUint32() & 0x7fffffff,
    user: `Topic: ${topic}\nWrite training example #${index + 1}: ${style}, at ${difficulty} level. Make it different from typical textbook examples.`,
  };
}

export interface GeneratedPair {
  prompt: string;
  response: string;
}

/** The {prompt, response} object in a model's reply (bare, or inside a ``` fence); undefined if absent. */
export function parsePair(reply: string): GeneratedPair | undefined {
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(reply)?.[1];
  const text = fenced ?? reply;
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end <= start) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text.slice(start, end + 1));
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const { prompt, response } = value as Record<string, unknown>;
  if (typeof prompt !== 'string' || typeof response !== 'string' || prompt.trim() === '' || response.trim() === '') return undefined;
  return { prompt: prompt.trim(), response: response.trim() };
}

/** Two samples are duplicates when their prompts match after case and whitespace folding. */
export function dedupeKey(prompt: string): string {
  return prompt.toLowerCase().replace(/\s+/g, ' ').trim();
}

export interface GeneratedRecord {
  messages: ChatMessage[];
  generation: { topic: string; backend: string; model: string; request: number };
}

export function toGeneratedRecord(pair: GeneratedPair, meta: GeneratedRecord['generation']): GeneratedRecord {
  return {
    messages: [
      { role: 'user', content: pair.prompt },
      { role: 'assistant', content: pair.response },
    ],
    generation: meta,
  };
}
