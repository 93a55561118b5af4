/**
 * Dataset rows → output records.
 *
 * RLVR prompt record (one per line, docs/data.md): `{id, dataset, prompt, ...verifier fields}` where
 * the verifier fields keep the dataset's own names — humaneval: task_id, test, entry_point;
 * mbpp: test_list and tests (the verifier's default field; + test_imports, entry_point); gsm8k: answer (original, with "#### N") and
 * final_answer; math/aime: answer; bfcl: messages, tools, ground_truth; xlam: tools, expected_calls;
 * codeforces_cpp: title, difficulty, reference_solution.
 * SFT record: `{messages}` (+ `tools` for tool-calling data).
 */
import { HaloError } from '../util/errors.js';
import type { ChatMessage, ToolSchema } from './chat.js';
import type { DatasetSpec } from './registry.js';

export type OutputRecord = Record<string, unknown>;

type Row = Record<string, unknown>;

function field(row: Row, name: string, at: string): unknown {
  if (!(name in row)) {
    throw new HaloError('DATA_MISSING_FIELD', `${at}: field "${name}" is missing (fields present: ${Object.keys(row).join(', ')})`, {
      fix: 'the file does not have this dataset\'s layout; check the source file or the registry field map',
      details: { field: name },
    });
  }
  return row[name];
}

function text(row: Row, name: string, at: string): string {
  const value = field(row, name, at);
  if (typeof value !== 'string') {
    throw new HaloError('DATA_BAD_FIELD', `${at}: field "${name}" must be a string, got ${typeof value}`, { fix: 'check the source file', details: { field: name } });
  }
  return value;
}

function parseMaybeJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** GSM8K's final answer: the text after "####", commas dropped. */
export function gsm8kFinalAnswer(answer: string): string {
  const at = answer.lastIndexOf('####');
  return (at >= 0 ? answer.slice(at + 4) : answer).trim().replaceAll(',', '');
}

/** The argument of the last \boxed{...} (balanced braces), as MATH solutions mark answers. */
export function lastBoxed(solution: string): string | undefined {
  const at = solution.lastIndexOf('\\boxed{');
  if (at < 0) return undefined;
  let depth = 0;
  for (let i = at + 6; i < solution.length; i++) {
    if (solution[i] === '{') depth++;
    else if (solution[i] === '}' && --depth === 0) return solution.slice(at + 7, i);
  }
  return undefined;
}

/** MBPP files with a `tests` function body instead of `test_list`: pull out its assert lines. */
function assertLines(tests: string): string[] {
  return tests
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('assert'));
}

/** The function name the first assert calls, e.g. "assert remove_Occ(...) == ..." → remove_Occ. */
function calledFunction(assertion: string | undefined): string | undefined {
  const match = assertion ? /^assert\s+(?:not\s+)?\(?\s*(?:math\.isclose\()?\s*(?:set\()?([A-Za-z_][A-Za-z0-9_]*)\s*\(/.exec(assertion) : null;
  return match?.[1];
}

/** Glaive's chat string: "USER: … ASSISTANT: … <|endoftext|> FUNCTION RESPONSE: …". */
export function parseGlaiveChat(system: string, chat: string): ChatMessage[] {
  const messages: ChatMessage[] = [];
  const systemText = system.replace(/^SYSTEM:\s*/, '').trim();
  if (systemText) messages.push({ role: 'system', content: systemText });
  const parts = chat.split(/(USER:|ASSISTANT:|FUNCTION RESPONSE:)/).slice(1);
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const tag = parts[i];
    const content = parts[i + 1]!.replaceAll('<|endoftext|>', '').trim();
    const role = tag === 'USER:' ? 'user' : tag === 'ASSISTANT:' ? 'assistant' : 'tool';
    messages.push({ role, content });
  }
  return messages;
}

export interface ConvertContext {
  dataset: DatasetSpec;
  split: string;
  /** 1-based row number, used for ids and error locations */
  row: number;
  at: string;
  /** joined side data: BFCL ground truth by id */
  answers?: Map<string, unknown>;
}

export function toPromptRecord(raw: Row, ctx: ConvertContext): OutputRecord {
  const { dataset, at } = ctx;
  const base = (id: unknown, prompt: string): OutputRecord => ({ id: String(id), dataset: dataset.name, prompt });
  switch (dataset.name) {
    case 'gsm8k': {
      const answer = text(raw, 'answer', at);
      return { ...base(`gsm8k/${ctx.split}/${ctx.row}`, text(raw, 'question', at)), answer, final_answer: gsm8kFinalAnswer(answer) };
    }
    case 'humaneval':
      return {
        ...base(text(raw, 'task_id', at), text(raw, 'prompt', at)),
        task_id: raw.task_id,
        test: text(raw, 'test', at),
        entry_point: text(raw, 'entry_point', at),
        canonical_solution: raw.canonical_solution,
      };
    case 'mbpp': {
      const description = text(raw, 'prompt', at);
      const testList = Array.isArray(raw.test_list) ? (raw.test_list as string[]) : assertLines(text(raw, 'tests', at));
      if (testList.length === 0) {
        throw new HaloError('DATA_BAD_FIELD', `${at}: no assert statements in "tests"`, { fix: 'give each MBPP row its asserts', details: { field: 'tests' } });
      }
      const entryPoint = typeof raw.entry_point === 'string' ? raw.entry_point : calledFunction(testList[0]);
      const prompt = `${description}\nYour code should pass these tests:\n\n${testList.join('\n')}`;
      return {
        ...base(raw.task_id ?? `mbpp/${ctx.split}/${ctx.row}`, prompt),
        task_id: raw.task_id,
        description,
        test_list: testList,
        tests: typeof raw.tests === 'string' ? raw.tests : testList,
        test_imports: Array.isArray(raw.test_imports) ? raw.test_imports : [],
        entry_point: entryPoint,
      };
    }
    case 'codeforces_cpp':
      return {
        ...base(`codeforces_cpp/${ctx.split}/${ctx.row}`, text(raw, 'prompt', at)),
        title: raw.title,
        difficulty: raw.difficulty,
        reference_solution: raw.response,
      };
    case 'bfcl': {
      const id = text(raw, 'id', at);
      const question = field(raw, 'question', at);
      const turns = Array.isArray(question) && Array.isArray(question[0]) ? (question[0] as ChatMessage[]) : (question as ChatMessage[]);
      const lastUser = [...turns].reverse().find((m) => m.role === 'user');
      const groundTruth = ctx.answers?.get(id);
      if (groundTruth === undefined) {
        throw new HaloError('DATA_MISSING_FIELD', `${at}: no ground truth for BFCL id ${id} in the answers file`, { fix: 'use the matching possible_answer file', details: { field: 'ground_truth' } });
      }
      return { ...base(id, lastUser?.content ?? ''), messages: turns, tools: field(raw, 'function', at) as ToolSchema[], ground_truth: groundTruth };
    }
    case 'xlam':
      return {
        ...base(raw.id ?? `xlam/${ctx.row}`, text(raw, 'query', at)),
        tools: parseMaybeJson(field(raw, 'tools', at)),
        expected_calls: parseMaybeJson(field(raw, 'answers', at)),
      };
    case 'math': {
      const solution = text(raw, 'solution', at);
      return { ...base(`math/${ctx.split}/${ctx.row}`, text(raw, 'problem', at)), answer: lastBoxed(solution) ?? '', solution, level: raw.level, type: raw.type };
    }
    case 'aime':
      return { ...base(raw.id ?? `aime/${ctx.row}`, text(raw, 'problem', at)), answer: String(field(raw, 'answer', at)), solution: raw.solution };
    default:
      throw new HaloError('DATA_NO_PROMPT_FORMAT', `${dataset.name} has no RLVR prompt format`, { fix: 'prepare it as SFT data (--format sft)' });
  }
}

export function toSftRecord(raw: Row, ctx: ConvertContext): OutputRecord {
  const { dataset, at } = ctx;
  const pair = (user: string, assistant: string): OutputRecord => ({ messages: [{ role: 'user', content: user }, { role: 'assistant', content: assistant }] });
  switch (dataset.name) {
    case 'codealpaca': {
      const input = typeof raw.input === 'string' ? raw.input.trim() : '';
      const instruction = text(raw, 'instruction', at);
      return pair(input ? `${instruction}\n\n${input}` : instruction, text(raw, 'output', at));
    }
    case 'metamath':
      return pair(text(raw, 'query', at), text(raw, 'response', at));
    case 'gsm8k':
      return pair(text(raw, 'question', at), text(raw, 'answer', at));
    case 'math':
      return pair(text(raw, 'problem', at), text(raw, 'solution', at));
    case 'humaneval':
      return pair(text(raw, 'prompt', at), text(raw, 'canonical_solution', at));
    case 'codeforces_cpp':
      return pair(text(raw, 'prompt', at), text(raw, 'response', at));
    case 'xlam':
    case 'xlam_sft': {
      const calls = parseMaybeJson(field(raw, 'answers', at));
      const list = Array.isArray(calls) ? (calls as Array<{ name: string; arguments: Record<string, unknown> }>) : [];
      return {
        messages: [
          { role: 'user', content: text(raw, 'query', at) },
          { role: 'assistant', content: '', tool_calls: list.map((call) => ({ type: 'function', function: { name: call.name, arguments: call.arguments } })) },
        ],
        tools: parseMaybeJson(field(raw, 'tools', at)),
      };
    }
    case 'glaive':
      return { messages: parseGlaiveChat(typeof raw.system === 'string' ? raw.system : '', text(raw, 'chat', at)) };
    default:
      throw new HaloError('DATA_NO_SFT_FORMAT', `${dataset.name} has no SFT conversion`, { fix: 'prepare it as RLVR prompts (--format rlvr)' });
  }
}
