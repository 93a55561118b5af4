/**
 * The tasks the native runner knows, each as lm-evaluation-harness's task yaml defines it (prompt,
 * choices, target, few-shot split, stop strings). Differences from lm-eval are listed in docs/eval.md.
 */
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { findDataset, type DatasetSpec } from '../../data/registry.js';
import { resolveDatasetFiles } from '../../data/hub.js';
import { readRecords } from '../../data/loaders/index.js';
import { gsm8kFlexible, gsm8kStrict } from './metrics.js';

export type Doc = Record<string, unknown>;

interface TaskBase {
  name: string;
  dataset: DatasetSpec;
  split: string;
  /** where few-shot examples come from (first_n); undefined = the task has none */
  fewshotSplit?: string;
  defaultFewshot: number;
  description?: (doc: Doc) => string;
  docToText: (doc: Doc) => string;
  /** the target text of a few-shot example */
  docToTargetText: (doc: Doc) => string;
  targetDelimiter: string;
  fewshotDelimiter: string;
}

export interface MultipleChoiceTask extends TaskBase {
  kind: 'multiple_choice';
  docToChoices: (doc: Doc) => string[];
  docToGold: (doc: Doc) => number;
}

export interface GenerateUntilTask extends TaskBase {
  kind: 'generate_until';
  until: string[];
  maxGenTokens: number;
  /** lm-eval filter name -> extraction; each yields an exact_match metric "exact_match,<filter>" */
  filters: Record<string, (response: string) => string>;
  docToReference: (doc: Doc) => string;
}

export interface CodeTask extends TaskBase {
  kind: 'code';
  until: string[];
  maxGenTokens: number;
  verifier: 'humaneval' | 'mbpp';
  /** lm-eval's metric key for pass@1 */
  metricKey: string;
  /** the verifier sample for a doc and a completion */
  toSample: (doc: Doc, completion: string) => Doc & { completion: string };
}

export type TaskDef = MultipleChoiceTask | GenerateUntilTask | CodeTask;

const str = (value: unknown): string => (value === undefined || value === null ? '' : String(value));

function hubSpec(name: string, hubId: string, configs: string[], splits: string[], fields: Record<string, string>): DatasetSpec {
  return { name, description: `${name} (eval)`, hubId, configs, splits, defaultSplit: splits[0], kind: 'rlvr', modality: 'general', fields, license: 'see the hub card', sizeHint: '', preparable: true };
}

/** hellaswag's preprocess(): strip, " [title]" -> ". ", drop [bracketed] tags, collapse double spaces. */
function hellaswagPreprocess(text: string): string {
  return text.trim().replace(/ \[title\]/g, '. ').replace(/\[.*?\]/g, '').replace(/ {2}/g, ' ');
}

function capitalize(text: string): string {
  return text.length === 0 ? text : text[0].toUpperCase() + text.slice(1).toLowerCase();
}

/** mbpp asserts: the hub's test_list, or the assert lines of our local `def test_solution()` copy. */
export function mbppAsserts(doc: Doc): string[] {
  if (Array.isArray(doc.test_list)) return doc.test_list.map(str);
  return str(doc.tests).split('\n').map((line) => line.trim()).filter((line) => line.startsWith('assert'));
}

const ARC_LETTERS = ['A', 'B', 'C', 'D', 'E'];

export const TASK_DEFS: Readonly<Record<string, TaskDef>> = {
  gsm8k: {
    kind: 'generate_until',
    name: 'gsm8k',
    dataset: findDataset('gsm8k'),
    split: 'test',
    fewshotSplit: 'train',
    defaultFewshot: 5,
    docToText: (doc) => `Question: ${str(doc.question)}\nAnswer:`,
    docToTargetText: (doc) => str(doc.answer),
    docToReference: (doc) => str(doc.answer),
    targetDelimiter: ' ',
    fewshotDelimiter: '\n\n',
    until: ['Question:', '</s>', '<|im_end|>'],
    maxGenTokens: 256,
    filters: {
      'strict-match': gsm8kStrict,
      'flexible-extract': gsm8kFlexible,
    },
  },
  humaneval: {
    kind: 'code',
    name: 'humaneval',
    dataset: findDataset('humaneval'),
    split: 'test',
    defaultFewshot: 0,
    docToText: (doc) => str(doc.prompt),
    docToTargetText: (doc) => str(doc.canonical_solution),
    targetDelimiter: '',
    fewshotDelimiter: '\n\n',
    until: ['\nclass', '\ndef', '\n#', '\nif', '\nprint'],
    maxGenTokens: 1024,
    verifier: 'humaneval',
    metricKey: 'pass@1,create_test',
    toSample: (doc, completion) => ({ ...doc, completion }),
  },
  mbpp: {
    kind: 'code',
    name: 'mbpp',
    dataset: findDataset('mbpp'),
    split: 'test',
    fewshotSplit: 'train',
    defaultFewshot: 3,
    docToText: (doc) => {
      const tests = mbppAsserts(doc);
      return `You are an expert Python programmer, and here is your task: ${str(doc.text ?? doc.prompt)} Your code should pass these tests:\n\n${tests.slice(0, 3).join('\n')}\n[BEGIN]\n`;
    },
    docToTargetText: (doc) => `${str(doc.code ?? doc.solution)}\n[DONE]`,
    targetDelimiter: '',
    fewshotDelimiter: '\n',
    until: ['[DONE]'],
    maxGenTokens: 256,
    verifier: 'mbpp',
    metricKey: 'pass_at_1,none',
    toSample: (doc, completion) => ({ ...doc, tests: mbppAsserts(doc), completion }),
  },
  arc_challenge: {
    kind: 'multiple_choice',
    name: 'arc_challenge',
    dataset: hubSpec('arc_challenge', 'allenai/ai2_arc', ['ARC-Challenge'], ['test', 'train', 'validation'], { prompt: 'question' }),
    split: 'test',
    fewshotSplit: 'train',
    defaultFewshot: 0,
    docToText: (doc) => `Question: ${str(doc.question)}\nAnswer:`,
    docToChoices: (doc) => ((doc.choices as { text?: unknown[] } | undefined)?.text ?? []).map(str),
    docToGold: (doc) => {
      const labels = ((doc.choices as { label?: unknown[] } | undefined)?.label ?? []).map(str);
      const at = labels.indexOf(str(doc.answerKey));
      return at >= 0 ? at : ARC_LETTERS.indexOf(str(doc.answerKey));
    },
    docToTargetText: (doc) => {
      const choices = ((doc.choices as { text?: unknown[]; label?: unknown[] } | undefined) ?? {});
      const at = (choices.label ?? []).map(str).indexOf(str(doc.answerKey));
      return str((choices.text ?? [])[at]);
    },
    targetDelimiter: ' ',
    fewshotDelimiter: '\n\n',
  },
  hellaswag: {
    kind: 'multiple_choice',
    name: 'hellaswag',
    dataset: hubSpec('hellaswag', 'Rowan/hellaswag', ['default'], ['validation', 'train', 'test'], { prompt: 'ctx' }),
    split: 'validation',
    fewshotSplit: 'train',
    defaultFewshot: 0,
    docToText: (doc) => hellaswagPreprocess(`${str(doc.activity_label)}: ${str(doc.ctx_a)} ${capitalize(str(doc.ctx_b))}`),
    docToChoices: (doc) => (Array.isArray(doc.endings) ? doc.endings.map((ending) => hellaswagPreprocess(str(ending))) : []),
    docToGold: (doc) => Number.parseInt(str(doc.label), 10),
    docToTargetText: (doc) => (Array.isArray(doc.endings) ? hellaswagPreprocess(str(doc.endings[Number.parseInt(str(doc.label), 10)])) : ''),
    targetDelimiter: ' ',
    fewshotDelimiter: '\n\n',
  },
  mmlu: {
    kind: 'multiple_choice',
    name: 'mmlu',
    dataset: hubSpec('mmlu', 'cais/mmlu', ['all'], ['test', 'dev', 'validation'], { prompt: 'question' }),
    split: 'test',
    fewshotSplit: 'dev',
    defaultFewshot: 0,
    description: (doc) => `The following are multiple choice questions (with answers) about ${str(doc.subject).replace(/_/g, ' ')}.\n\n`,
    docToText: (doc) => {
      const choices = Array.isArray(doc.choices) ? doc.choices.map(str) : [];
      return `${str(doc.question).trim()}\n${choices.map((choice, i) => `${'ABCD'[i]}. ${choice}`).join('\n')}\nAnswer:`;
    },
    docToChoices: () => ['A', 'B', 'C', 'D'],
    docToGold: (doc) => Number(doc.answer),
    docToTargetText: (doc) => 'ABCD'[Number(doc.answer)] ?? '',
    targetDelimiter: ' ',
    fewshotDelimiter: '\n\n',
  },
};

/** The first `limit` docs of a split, read under the Data issue's rules (HALO_FORGE_DATA_DIR, then the hub cache). */
export async function loadDocs(task: TaskDef, split: string, limit: number | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Doc[]> {
  const resolved = await resolveDatasetFiles(task.dataset, split, { env });
  const docs: Doc[] = [];
  reading: for (const file of resolved.files) {
    for await (const { record } of readRecords(file)) {
      if (record && typeof record === 'object' && !Array.isArray(record)) docs.push(record as Doc);
      if (limit !== undefined && docs.length >= limit) break reading;
    }
  }
  // Our local mbpp train copy keeps solutions in a sibling file; join them by task_id for few-shot targets.
  if (task.name === 'mbpp' && docs.length > 0 && docs[0].code === undefined && docs[0].solution === undefined && resolved.files.length > 0) {
    const solutionsFile = join(dirname(resolved.files[0]), 'mbpp_train_solutions.jsonl');
    if (existsSync(solutionsFile)) {
      const solutions = new Map<string, unknown>();
      for await (const { record } of readRecords(solutionsFile)) {
        const row = record as Doc;
        solutions.set(str(row.task_id), row.solution);
      }
      for (const doc of docs) doc.solution = solutions.get(str(doc.task_id));
    }
  }
  return docs;
}
