/**
 * Dataset names → where the data lives and what its fields mean.
 *
 * Hub sources use the parquet conversion every Hugging Face dataset gets on the
 * `refs/convert/parquet` revision (`<config>/<split>/*.parquet`), so one loader serves them all.
 * `local` names the files that stand in for a split when HALO_FORGE_DATA_DIR points at a folder of
 * local copies (the layout of ../shared/datasets).
 */
import { HaloError } from '../util/errors.js';

export type DatasetKind = 'sft' | 'rlvr';
export type DatasetModality = 'code' | 'math' | 'agentic' | 'general' | 'vision' | 'audio';

export interface DatasetSpec {
  name: string;
  description: string;
  hubId: string;
  /** hub config (subset) names; several are concatenated */
  configs: string[];
  splits: string[];
  defaultSplit: string;
  kind: DatasetKind;
  modality: DatasetModality;
  /** role of each source field: our name → the dataset's field */
  fields: Record<string, string>;
  license: string;
  /** rows in the default split, roughly */
  sizeHint: string;
  /** split → files relative to HALO_FORGE_DATA_DIR */
  local?: Record<string, string[]>;
  /** the verifier a prompt record is meant for (src/verifiers registry name) */
  verifier?: string;
  /** explicit hub files, when the parquet conversion does not hold the data (BFCL ships JSON) */
  hubFiles?: Record<string, string[]>;
  hubRevision?: string;
  /** false for image / audio datasets: `data prepare` cannot write them as JSONL yet */
  preparable: boolean;
}

const PARQUET_REVISION = 'refs/convert/parquet';

function spec(s: Omit<DatasetSpec, 'preparable'> & { preparable?: boolean }): DatasetSpec {
  return { preparable: true, ...s };
}

const MATH_SUBJECTS = ['algebra', 'counting_and_probability', 'geometry', 'intermediate_algebra', 'number_theory', 'prealgebra', 'precalculus'];

export const DATASETS: readonly DatasetSpec[] = [
  spec({ name: 'codealpaca', description: 'Code instructions with answers (alpaca format)', hubId: 'sahil2801/CodeAlpaca-20k', configs: ['default'], splits: ['train'], defaultSplit: 'train', kind: 'sft', modality: 'code', fields: { instruction: 'instruction', input: 'input', output: 'output' }, license: 'CC-BY-4.0', sizeHint: '20k rows' }),
  spec({ name: 'metamath', description: 'Math questions with step-by-step answers', hubId: 'meta-math/MetaMathQA', configs: ['default'], splits: ['train'], defaultSplit: 'train', kind: 'sft', modality: 'math', fields: { prompt: 'query', response: 'response' }, license: 'MIT', sizeHint: '395k rows' }),
  spec({ name: 'gsm8k', description: 'Grade-school math word problems; final answer after ####', hubId: 'openai/gsm8k', configs: ['main'], splits: ['train', 'test'], defaultSplit: 'train', kind: 'rlvr', modality: 'math', fields: { prompt: 'question', answer: 'answer' }, license: 'MIT', sizeHint: '7.5k train / 1.3k test', local: { train: ['gsm8k/train.jsonl'], test: ['gsm8k/test.jsonl'] }, verifier: 'gsm8k' }),
  spec({ name: 'math', description: 'Competition mathematics (MATH), answers in \\boxed{}', hubId: 'EleutherAI/hendrycks_math', configs: MATH_SUBJECTS, splits: ['train', 'test'], defaultSplit: 'train', kind: 'rlvr', modality: 'math', fields: { prompt: 'problem', solution: 'solution', level: 'level', type: 'type' }, license: 'MIT', sizeHint: '7.5k train / 5k test', verifier: 'math' }),
  spec({ name: 'aime', description: 'AIME problems with integer answers', hubId: 'AI-MO/aimo-validation-aime', configs: ['default'], splits: ['train'], defaultSplit: 'train', kind: 'rlvr', modality: 'math', fields: { prompt: 'problem', answer: 'answer', solution: 'solution' }, license: 'unspecified on the hub card (problems: MAA)', sizeHint: '90 rows', verifier: 'math' }),
  spec({ name: 'humaneval', description: 'Python function completion with hidden unit tests', hubId: 'openai/openai_humaneval', configs: ['openai_humaneval'], splits: ['test'], defaultSplit: 'test', kind: 'rlvr', modality: 'code', fields: { id: 'task_id', prompt: 'prompt', test: 'test', entry_point: 'entry_point', canonical_solution: 'canonical_solution' }, license: 'MIT', sizeHint: '164 rows', local: { test: ['humaneval/HumanEval.jsonl'] }, verifier: 'humaneval' }),
  spec({ name: 'mbpp', description: 'Short Python problems with assert tests (sanitized)', hubId: 'google-research-datasets/mbpp', configs: ['sanitized'], splits: ['train', 'test', 'validation'], defaultSplit: 'test', kind: 'rlvr', modality: 'code', fields: { id: 'task_id', prompt: 'prompt', test_list: 'test_list', test_imports: 'test_imports', code: 'code' }, license: 'CC-BY-4.0', sizeHint: '120 train / 257 test / 43 validation', local: { test: ['mbpp/mbpp_sanitized_full.jsonl'], train: ['mbpp/mbpp_train_full.jsonl'], validation: ['mbpp/mbpp_validation.jsonl'] }, verifier: 'mbpp' }),
  spec({ name: 'codeforces_cpp', description: 'Codeforces problems with C++ reference solutions', hubId: 'open-r1/codeforces-cots', configs: ['solutions'], splits: ['train'], defaultSplit: 'train', kind: 'rlvr', modality: 'code', fields: { prompt: 'prompt', reference_solution: 'response', title: 'title', difficulty: 'difficulty' }, license: 'ODC-BY (hub card); local sample: Apache-2.0', sizeHint: '500 rows (local sample)', local: { train: ['codeforces_cpp/codeforces_cpp_500.jsonl'] }, verifier: 'cpp' }),
  spec({ name: 'xlam', description: 'Function-calling queries with tools and expected calls', hubId: 'Salesforce/xlam-function-calling-60k', configs: ['dataset'], splits: ['train'], defaultSplit: 'train', kind: 'rlvr', modality: 'agentic', fields: { id: 'id', prompt: 'query', tools: 'tools', expected_calls: 'answers' }, license: 'CC-BY-4.0', sizeHint: '60k rows', verifier: 'tool_call' }),
  spec({ name: 'xlam_sft', description: 'xLAM function calling as SFT conversations (assistant tool calls)', hubId: 'Salesforce/xlam-function-calling-60k', configs: ['dataset'], splits: ['train'], defaultSplit: 'train', kind: 'sft', modality: 'agentic', fields: { prompt: 'query', tools: 'tools', tool_calls: 'answers' }, license: 'CC-BY-4.0', sizeHint: '60k rows' }),
  spec({ name: 'glaive', description: 'Glaive function-calling chats (SYSTEM / USER / ASSISTANT / FUNCTION RESPONSE)', hubId: 'glaiveai/glaive-function-calling-v2', configs: ['default'], splits: ['train'], defaultSplit: 'train', kind: 'sft', modality: 'agentic', fields: { system: 'system', chat: 'chat' }, license: 'Apache-2.0', sizeHint: '113k rows' }),
  spec({ name: 'bfcl', description: 'Berkeley Function Calling Leaderboard, simple python category', hubId: 'gorilla-llm/Berkeley-Function-Calling-Leaderboard', configs: ['default'], splits: ['test'], defaultSplit: 'test', kind: 'rlvr', modality: 'agentic', fields: { id: 'id', messages: 'question', tools: 'function', ground_truth: 'ground_truth' }, license: 'Apache-2.0', sizeHint: '400 rows', local: { test: ['bfcl/simple_python.json', 'bfcl/simple_python_answers.json'] }, hubFiles: { test: ['BFCL_v3_simple.json', 'possible_answer/BFCL_v3_simple.json'] }, hubRevision: 'main', verifier: 'bfcl' }),
  spec({ name: 'llava', description: 'LLaVA visual instruction tuning conversations', hubId: 'liuhaotian/LLaVA-Instruct-150K', configs: ['default'], splits: ['train'], defaultSplit: 'train', kind: 'sft', modality: 'vision', fields: { image: 'image', conversations: 'conversations' }, license: 'CC-BY-4.0 (and OpenAI terms of use)', sizeHint: '150k rows', preparable: false }),
  spec({ name: 'textvqa', description: 'Questions about text in images', hubId: 'facebook/textvqa', configs: ['default'], splits: ['train', 'validation', 'test'], defaultSplit: 'train', kind: 'rlvr', modality: 'vision', fields: { image: 'image', prompt: 'question', answers: 'answers' }, license: 'CC-BY-4.0', sizeHint: '34.6k train / 5k validation', preparable: false }),
  spec({ name: 'docvqa', description: 'Questions about document images', hubId: 'lmms-lab/DocVQA', configs: ['DocVQA'], splits: ['validation', 'test'], defaultSplit: 'validation', kind: 'rlvr', modality: 'vision', fields: { image: 'image', prompt: 'question', answers: 'answers' }, license: 'Apache-2.0 (hub card)', sizeHint: '5.3k validation', preparable: false }),
  spec({ name: 'chartqa', description: 'Questions about charts', hubId: 'HuggingFaceM4/ChartQA', configs: ['default'], splits: ['train', 'val', 'test'], defaultSplit: 'train', kind: 'rlvr', modality: 'vision', fields: { image: 'image', prompt: 'query', answers: 'label' }, license: 'GPL-3.0', sizeHint: '28k train / 2.5k test', preparable: false }),
  spec({ name: 'realworldqa', description: 'Real-world spatial understanding questions', hubId: 'xai-org/RealworldQA', configs: ['default'], splits: ['test'], defaultSplit: 'test', kind: 'rlvr', modality: 'vision', fields: { image: 'image', prompt: 'question', answer: 'answer' }, license: 'CC-BY-ND-4.0', sizeHint: '765 rows', preparable: false }),
  spec({ name: 'librispeech', description: 'Read English speech with transcripts (ASR)', hubId: 'openslr/librispeech_asr', configs: ['clean'], splits: ['train.100', 'validation', 'test'], defaultSplit: 'train.100', kind: 'rlvr', modality: 'audio', fields: { audio: 'audio', answer: 'text' }, license: 'CC-BY-4.0', sizeHint: '28.5k train.100 (6.3 GB)', preparable: false }),
  spec({ name: 'librispeech_sft', description: 'LibriSpeech as SFT transcription pairs', hubId: 'openslr/librispeech_asr', configs: ['clean'], splits: ['train.100', 'validation', 'test'], defaultSplit: 'train.100', kind: 'sft', modality: 'audio', fields: { audio: 'audio', response: 'text' }, license: 'CC-BY-4.0', sizeHint: '28.5k train.100 (6.3 GB)', preparable: false }),
  spec({ name: 'common_voice', description: 'Crowd-sourced speech with transcripts (English)', hubId: 'mozilla-foundation/common_voice_17_0', configs: ['en'], splits: ['train', 'validation', 'test'], defaultSplit: 'train', kind: 'rlvr', modality: 'audio', fields: { audio: 'audio', answer: 'sentence' }, license: 'CC0-1.0 (gated: accept the terms on the hub)', sizeHint: '1.1M train (en)', preparable: false }),
];

export function hubRevisionOf(dataset: DatasetSpec): string {
  return dataset.hubRevision ?? PARQUET_REVISION;
}

/** Hub paths (glob patterns with *) holding a split. */
export function hubPatternsOf(dataset: DatasetSpec, split: string): string[] {
  if (dataset.hubFiles) return dataset.hubFiles[split] ?? [];
  return dataset.configs.map((config) => `${config}/${split}/*.parquet`);
}

export function findDataset(name: string): DatasetSpec {
  const found = DATASETS.find((d) => d.name === name);
  if (!found) {
    throw new HaloError('DATASET_UNKNOWN', `--dataset ${name} is not a known dataset`, {
      fix: `use one of ${DATASETS.map((d) => d.name).join(', ')} (list them with \`halo-forge data prepare --list\`), or pass a local file path`,
    });
  }
  return found;
}

export function datasetsFor(filter: { kind?: DatasetKind; modalities?: DatasetModality[] }): DatasetSpec[] {
  return DATASETS.filter((d) => (filter.kind === undefined || d.kind === filter.kind) && (filter.modalities === undefined || filter.modalities.includes(d.modality)));
}

/** Fixed-width table for the listing commands. */
export function formatDatasetTable(datasets: readonly DatasetSpec[]): string {
  const header = ['name', 'kind', 'modality', 'hub id', 'splits', 'size', 'license'];
  const rows = datasets.map((d) => [d.name, d.kind, d.modality, d.hubId, d.splits.join(','), d.sizeHint, d.license]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}
