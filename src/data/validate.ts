/**
 * `data validate`: checks every line of a JSONL file and reports each bad one with its line number
 * and field. A line is either an RLVR prompt record ({dataset, prompt, …verifier fields}) or a
 * training record in one of the formats of formats.ts.
 */
import { HaloError } from '../util/errors.js';
import { detectFormat, toCanonical, type RecordFormat } from './formats.js';
import { readLines } from './loaders/jsonl.js';

export interface LineProblem {
  line: number;
  field?: string;
  message: string;
}

export interface ValidationReport {
  file: string;
  lines: number;
  valid: number;
  problems: LineProblem[];
  /** how many records of each kind: a RecordFormat or "prompt:<dataset>" */
  kinds: Record<string, number>;
  preview: unknown[];
}

/** Fields each prompt-record dataset must carry for its verifier (one of each alternative list). */
const PROMPT_FIELDS: Record<string, Array<string | string[]>> = {
  gsm8k: ['answer'],
  math: ['answer'],
  aime: ['answer'],
  humaneval: ['task_id', 'test', 'entry_point'],
  mbpp: [['test_list', 'tests']],
  codeforces_cpp: [],
  bfcl: ['tools', 'ground_truth'],
  xlam: ['tools', 'expected_calls'],
};

function checkPromptRecord(record: Record<string, unknown>): { field: string; message: string } | undefined {
  if (typeof record.prompt !== 'string' || record.prompt.length === 0) {
    return { field: 'prompt', message: record.prompt === undefined ? 'missing field "prompt"' : '"prompt" must be a non-empty string' };
  }
  const required = PROMPT_FIELDS[String(record.dataset)];
  if (!required) return undefined;
  for (const need of required) {
    const options = Array.isArray(need) ? need : [need];
    if (!options.some((name) => record[name] !== undefined && record[name] !== null)) {
      return { field: options.join('|'), message: `missing field "${options.join('" or "')}" (a ${String(record.dataset)} prompt record needs it for its verifier)` };
    }
  }
  return undefined;
}

export async function validateJsonl(file: string, options: { preview?: number; maxProblems?: number } = {}): Promise<ValidationReport> {
  const report: ValidationReport = { file, lines: 0, valid: 0, problems: [], kinds: {}, preview: [] };
  const maxProblems = options.maxProblems ?? 1000;
  const add = (problem: LineProblem): void => {
    if (report.problems.length < maxProblems) report.problems.push(problem);
  };
  try {
    for await (const { line, text } of readLines(file)) {
      report.lines = line;
      if (text.trim().length === 0) continue;
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch (error) {
        add({ line, message: `not valid JSON: ${(error as Error).message}` });
        continue;
      }
      let kind: string;
      if (record && typeof record === 'object' && !Array.isArray(record) && 'dataset' in record && 'prompt' in record) {
        const problem = checkPromptRecord(record as Record<string, unknown>);
        if (problem) {
          add({ line, ...problem });
          continue;
        }
        kind = `prompt:${String((record as { dataset: unknown }).dataset)}`;
      } else {
        try {
          const format: RecordFormat = detectFormat(record);
          const canonical = toCanonical(record);
          if (canonical.kind === 'messages' && !canonical.messages.some((m) => m.role === 'assistant')) {
            add({ line, field: format === 'sharegpt' ? 'conversations' : 'messages', message: 'no assistant turn: nothing to train on' });
            continue;
          }
          kind = format;
        } catch (error) {
          if (!(error instanceof HaloError)) throw error;
          const field = typeof error.details.field === 'string' ? error.details.field : undefined;
          add({ line, ...(field ? { field } : {}), message: error.message.replace(/^record: /, '') });
          continue;
        }
      }
      report.valid++;
      report.kinds[kind] = (report.kinds[kind] ?? 0) + 1;
      if (report.preview.length < (options.preview ?? 0)) report.preview.push(record);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new HaloError('DATA_FILE_MISSING', `${file} does not exist`, { fix: 'check the path' });
    }
    throw error;
  }
  return report;
}
