/**
 * `data prepare`: a registry dataset (or a local file) → SFT JSONL ({messages}) or RLVR prompt
 * JSONL (prompt + verifier fields). Rows stream from the source; only --max-samples with --seed
 * holds a reservoir of the sampled rows. The output is written atomically.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { HaloError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { ChatTemplate, type ChatMessage, type ToolSchema } from './chat.js';
import { toPromptRecord, toSftRecord, type OutputRecord } from './convert.js';
import { resolveDatasetFiles, type DownloadProgress } from './hub.js';
import { toCanonical } from './formats.js';
import { AtomicJsonlWriter } from './jsonl-writer.js';
import { readRecords } from './loaders/index.js';
import { findDataset, type DatasetKind, type DatasetSpec } from './registry.js';

export interface PrepareOptions {
  /** registry name or path to a local JSONL / JSON / CSV / parquet file */
  dataset: string;
  output: string;
  format?: DatasetKind;
  split?: string;
  maxSamples?: number;
  seed?: number;
  systemPrompt?: string;
  /** chat template (built-in name or .jinja file): adds a rendered `text` field to each record */
  template?: string;
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  onDownload?: DownloadProgress;
  onProgress?: (written: number) => void;
}

export interface PrepareResult {
  output: string;
  written: number;
  format: DatasetKind;
  source: 'local' | 'cache' | 'hub' | 'file';
  files: string[];
}

type Row = Record<string, unknown>;

async function* rowsOf(files: string[]): AsyncGenerator<{ row: Row; at: string }> {
  for (const file of files) {
    for await (const { record, line } of readRecords(file)) {
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        throw new HaloError('DATA_NOT_OBJECT', `${file}:${line}: expected a JSON object`, { fix: 'one object per record', details: { file, line } });
      }
      yield { row: record as Row, at: `${file}:${line}` };
    }
  }
}

async function bfclAnswers(file: string): Promise<Map<string, unknown>> {
  const answers = new Map<string, unknown>();
  for await (const { record } of readRecords(file)) {
    const r = record as { id?: string; ground_truth?: unknown };
    if (typeof r.id === 'string') answers.set(r.id, r.ground_truth);
  }
  return answers;
}

/** Keeps the first `limit` rows, or with a seed a uniform reservoir sample kept in source order. */
class Sampler {
  private readonly kept: Array<{ index: number; record: OutputRecord }> = [];
  private seen = 0;
  private readonly rng: Rng | undefined;

  constructor(private readonly limit: number | undefined, seed: number | undefined) {
    this.rng = limit !== undefined && seed !== undefined ? new Rng(seed) : undefined;
  }

  get full(): boolean {
    return this.rng === undefined && this.limit !== undefined && this.seen >= this.limit;
  }

  /** Returns the record to write now (streaming mode) or undefined (kept for later / dropped). */
  offer(record: OutputRecord): OutputRecord | undefined {
    const index = this.seen++;
    if (!this.rng) return this.limit === undefined || index < this.limit ? record : undefined;
    if (this.kept.length < this.limit!) this.kept.push({ index, record });
    else {
      const slot = this.rng.int(index + 1);
      if (slot < this.limit!) this.kept[slot] = { index, record };
    }
    return undefined;
  }

  drain(): OutputRecord[] {
    return this.kept.sort((a, b) => a.index - b.index).map((k) => k.record);
  }
}

export async function prepareDataset(options: PrepareOptions): Promise<PrepareResult> {
  if (options.maxSamples !== undefined && (!Number.isInteger(options.maxSamples) || options.maxSamples < 1)) {
    throw new HaloError('DATA_BAD_FLAG', `--max-samples ${options.maxSamples} must be a positive integer`, { fix: 'pass e.g. --max-samples 1000' });
  }
  const localFile = !findDatasetOrUndefined(options.dataset) && existsSync(options.dataset);
  const template = options.template === undefined ? undefined : ChatTemplate.resolve(options.template);
  let spec: DatasetSpec | undefined;
  let files: string[];
  let source: PrepareResult['source'];
  let format: DatasetKind;
  if (localFile) {
    files = [options.dataset];
    source = 'file';
    format = options.format ?? 'sft';
    if (format === 'rlvr') {
      throw new HaloError('DATA_BAD_FLAG', `--format rlvr needs a registry dataset (its verifier fields); ${basename(options.dataset)} is a local file`, {
        fix: 'local files are converted to SFT conversations; omit --format or write prompt records yourself',
      });
    }
  } else {
    spec = findDataset(options.dataset);
    if (!spec.preparable) {
      throw new HaloError('DATA_PREPARE_UNSUPPORTED', `${spec.name} is a ${spec.modality} dataset; data prepare writes text JSONL only`, {
        fix: `the ${spec.modality} modality reads ${spec.hubId} directly; nothing to prepare`,
      });
    }
    format = options.format ?? spec.kind;
    const resolved = await resolveDatasetFiles(spec, options.split ?? spec.defaultSplit, { env: options.env, fetch: options.fetch, onDownload: options.onDownload });
    files = resolved.files;
    source = resolved.source;
  }
  const split = options.split ?? spec?.defaultSplit ?? 'train';
  let dataFiles = files;
  let answers: Map<string, unknown> | undefined;
  if (spec?.name === 'bfcl') {
    const answerFile = files.find((f) => /answer/i.test(f));
    dataFiles = files.filter((f) => f !== answerFile);
    if (answerFile) answers = await bfclAnswers(answerFile);
  }
  const sampler = new Sampler(options.maxSamples, options.seed);
  const writer = new AtomicJsonlWriter(options.output);
  try {
    let row = 0;
    const emit = (record: OutputRecord): void => {
      writer.write(decorate(record, format, options.systemPrompt, template));
      if (writer.count % 1000 === 0) options.onProgress?.(writer.count);
    };
    for await (const { row: raw, at } of rowsOf(dataFiles)) {
      row++;
      let record: OutputRecord;
      if (spec) {
        const ctx = { dataset: spec, split, row, at, answers };
        record = format === 'rlvr' ? toPromptRecord(raw, ctx) : toSftRecord(raw, ctx);
      } else {
        const canonical = toCanonical(raw, { file: options.dataset, line: Number(at.slice(at.lastIndexOf(':') + 1)) });
        record = canonical.kind === 'messages' ? { messages: canonical.messages } : { text: canonical.text };
      }
      const now = sampler.offer(record);
      if (now) emit(now);
      if (sampler.full) break;
    }
    for (const record of sampler.drain()) emit(record);
    if (writer.count === 0) {
      throw new HaloError('DATA_EMPTY', `no records came out of ${files.join(', ')}`, { fix: 'check the source file and --split' });
    }
    writer.commit();
  } catch (error) {
    writer.abort();
    throw error;
  }
  options.onProgress?.(writer.count);
  return { output: options.output, written: writer.count, format, source, files };
}

function findDatasetOrUndefined(name: string): DatasetSpec | undefined {
  try {
    return findDataset(name);
  } catch {
    return undefined;
  }
}

function decorate(record: OutputRecord, format: DatasetKind, systemPrompt: string | undefined, template: ChatTemplate | undefined): OutputRecord {
  if (format === 'sft' && Array.isArray(record.messages)) {
    let messages = record.messages as ChatMessage[];
    if (systemPrompt !== undefined && messages[0]?.role !== 'system') messages = [{ role: 'system', content: systemPrompt }, ...messages];
    const out: OutputRecord = { ...record, messages };
    if (template) out.text = template.render(messages, { tools: record.tools as ToolSchema[] | undefined });
    return out;
  }
  if (format === 'rlvr') {
    const out: OutputRecord = systemPrompt === undefined ? { ...record } : { ...record, system_prompt: systemPrompt };
    if (template) {
      const messages: ChatMessage[] = Array.isArray(record.messages) ? (record.messages as ChatMessage[]) : [{ role: 'user', content: String(record.prompt) }];
      out.text = template.render(messages, { systemPrompt, addGenerationPrompt: true, tools: Array.isArray(record.tools) ? (record.tools as ToolSchema[]) : undefined });
    }
    return out;
  }
  return record;
}
