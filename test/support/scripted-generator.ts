/**
 * Test doubles of the Generator interface for the modality benchmarks: answers scripted per prompt
 * (looked up by the prompt's token ids), e.g. each problem's reference solution or ground-truth call.
 */
import type { ChatTemplate } from '../../src/data/chat.js';
import type { OutputRecord } from '../../src/data/convert.js';
import type { HaloTokenizer } from '../../src/data/tokenizer.js';
import type { Generator } from '../../src/engine/generator.js';
import type { GenerateOptions, GenerateResult } from '../../src/engine/types.js';
import { encodePrompt, toPromptRecord } from '../../src/pipelines/prompts.js';
import { readExpectedCalls } from '../../src/verifiers/tools/tools.js';

/** A Generator that answers each prompt with a fixed text (looked up by the prompt's token ids). */
export class ScriptedGenerator implements Generator {
  readonly description = 'scripted reference answers (test double)';
  readonly defaultStopTokenIds: readonly number[] = [];
  constructor(private readonly answers: Map<string, number[]>) {}
  async generate(prompts: number[][], options: GenerateOptions): Promise<GenerateResult> {
    const sequences = prompts.flatMap((ids, promptIndex) => {
      const tokens = this.answers.get(ids.join(','));
      if (tokens === undefined) throw new Error(`no scripted answer for prompt ${promptIndex}`);
      return Array.from({ length: options.n ?? 1 }, (_, sampleIndex) => ({ promptIndex, sampleIndex, tokens: [...tokens], logprobs: tokens.map(() => 0), finishReason: 'length' as const }));
    });
    return { sequences, prefills: prompts.length, generatedTokens: sequences.reduce((sum, s) => sum + s.tokens.length, 0), prefillMs: 0, decodeMs: 0, sampleMs: 0, firstTokenMs: 0, stepMs: [] };
  }
}

export function scripted(records: readonly OutputRecord[], tokenizer: HaloTokenizer, template: ChatTemplate, answer: (record: OutputRecord) => string): ScriptedGenerator {
  const answers = new Map<string, number[]>();
  records.forEach((record, index) => {
    const ids = encodePrompt(tokenizer, template, toPromptRecord(record, index, 'test'), undefined);
    answers.set(ids.join(','), tokenizer.encode(answer(record)));
  });
  return new ScriptedGenerator(answers);
}

/** BFCL lists the acceptable values of each argument, and of each key of a dict (also inside lists): take the first ('' = leave the argument out). */
function firstAcceptable(options: unknown[]): unknown {
  const value = options[0];
  return value === undefined || value === '' ? undefined : concrete(value);
}

function concrete(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(concrete);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) => {
    const chosen = firstAcceptable(Array.isArray(inner) ? inner : [inner]);
    return chosen === undefined ? [] : [[key, chosen]];
  }));
}

/** The ground-truth call of a BFCL / xLAM record in Hermes form: the first acceptable value of each argument. */
export function groundTruthCalls(record: OutputRecord): string {
  const expected = readExpectedCalls(record.expected_calls ?? record.ground_truth);
  if (expected.length === 0) return 'None of the available tools can answer this request.';
  const tools = (record.tools ?? []) as { name: string; parameters?: { required?: string[] } }[];
  return expected
    .map((call) => {
      const required = new Set(tools.find((tool) => tool.name === call.name)?.parameters?.required ?? []);
      const args = Object.fromEntries(Object.entries(call.arguments).flatMap(([key, options]) => {
        // BFCL marks optional arguments with ''; a few required ones carry '' too, so those get their value
        const value = required.has(key) ? firstAcceptable(options.filter((option) => option !== '')) : firstAcceptable(options);
        return value === undefined ? [] : [[key, value]];
      }));
      return `<tool_call>\n${JSON.stringify({ name: call.name, arguments: args })}\n</tool_call>`;
    })
    .join('\n');
}

