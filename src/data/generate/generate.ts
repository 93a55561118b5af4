/**
 * `data generate`: asks a chat API for `count` distinct SFT samples about a topic.
 *
 * Resumable output: samples are appended, one complete JSONL line per write, to `<output>.partial`;
 * when it holds `count` samples it is fsynced and renamed to `<output>`. A run that is killed or
 * fails leaves the partial file; rerunning the same command continues from it (a trailing cut-off
 * line is dropped). An existing `<output>` with fewer than `count` samples is continued the same way.
 * Requests are bounded: at most `maxRequests` in total (default 2·count + 10), so a model that keeps
 * repeating itself ends the run with an error instead of looping.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { HaloError } from '../../util/errors.js';
import { JsonlAppender, readJsonl } from '../../util/jsonl.js';
import { Rng } from '../../util/rng.js';
import { createProvider, type Backend, type Provider } from './providers.js';
import { callWithRetry, DEFAULT_RETRY, type RetryPolicy } from './retry.js';
import { dedupeKey, parsePair, sampleRequest, SYSTEM_PROMPT, toGeneratedRecord } from './sample.js';

export interface GenerateOptions {
  topic: string;
  backend: Backend;
  output: string;
  count: number;
  model?: string;
  /** requests in flight at once (default 4) */
  concurrency?: number;
  /** fixes each request's style, difficulty and provider seed (default 0) */
  seed?: number;
  /** default 0.9 */
  temperature?: number;
  /** default 1024 */
  maxTokens?: number;
  baseUrl?: string;
  env?: NodeJS.ProcessEnv;
  retry?: Partial<RetryPolicy>;
  maxRequests?: number;
  onProgress?: (progress: GenerateProgress) => void;
}

export interface GenerateProgress {
  held: number;
  count: number;
  requests: number;
  retries: number;
  duplicates: number;
  malformed: number;
}

export interface GenerateResult extends GenerateProgress {
  output: string;
  /** samples the output held before this run (from a partial file or an earlier output) */
  resumedFrom: number;
  model: string;
}

export function partialPathOf(output: string): string {
  return `${output}.partial`;
}

interface HeldRecord {
  messages?: Array<{ role?: string; content?: unknown }>;
  generation?: { request?: unknown };
}

function userPromptOf(record: HeldRecord): string {
  const user = record.messages?.find((m) => m.role === 'user');
  return typeof user?.content === 'string' ? user.content : JSON.stringify(record);
}

function checkOptions(options: GenerateOptions): void {
  const positive = (flag: string, value: number | undefined): void => {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new HaloError('CLI_BAD_FLAG', `${flag} ${value} must be a whole number >= 1`, { fix: `pass ${flag} 1 or more` });
    }
  };
  if (options.topic.trim() === '') throw new HaloError('CLI_BAD_FLAG', '--topic is empty', { fix: 'pass --topic "what the samples should be about"' });
  positive('--count', options.count);
  positive('--concurrency', options.concurrency);
  positive('--max-requests', options.maxRequests);
}

/** Opens the partial file, seeding it from an existing output when there is no partial yet. */
function openPartial(output: string): { writer: JsonlAppender; held: HeldRecord[] } {
  const partial = partialPathOf(output);
  if (!existsSync(partial) && existsSync(output)) {
    const previous = readJsonl<HeldRecord>(output);
    const { writer } = JsonlAppender.open(partial);
    for (const record of previous) writer.append(record);
    writer.sync();
    return { writer, held: previous };
  }
  const { writer, records } = JsonlAppender.open<HeldRecord>(partial);
  return { writer, held: records };
}

export async function generateDataset(options: GenerateOptions): Promise<GenerateResult> {
  checkOptions(options);
  const provider: Provider = createProvider(options.backend, { baseUrl: options.baseUrl, env: options.env });
  const model = options.model ?? provider.defaultModel;
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const seed = options.seed ?? 0;
  const concurrency = options.concurrency ?? 4;
  const maxRequests = options.maxRequests ?? options.count * 2 + 10;
  const partial = partialPathOf(options.output);

  const finished = !existsSync(partial) && existsSync(options.output) ? readJsonl(options.output).length : 0;
  if (finished >= options.count) {
    const held = finished;
    return { output: options.output, resumedFrom: held, model, held, count: options.count, requests: 0, retries: 0, duplicates: 0, malformed: 0 };
  }
  const { writer, held: previous } = openPartial(options.output);
  const seen = new Set(previous.map((record) => dedupeKey(userPromptOf(record))));
  let nextRequest = previous.reduce((max, record) => {
    const request = record.generation?.request;
    return typeof request === 'number' && request >= max ? request + 1 : max;
  }, previous.length);

  const progress: GenerateProgress = { held: previous.length, count: options.count, requests: 0, retries: 0, duplicates: 0, malformed: 0 };
  let inFlight = 0;
  let failure: unknown;
  const retryRng = new Rng(seed ^ 0x5eed);

  const one = async (index: number): Promise<void> => {
    const request = sampleRequest(options.topic, index, seed);
    const http = provider.build({
      model,
      system: SYSTEM_PROMPT,
      messages: [{ role: 'user', content: request.user }],
      temperature: options.temperature ?? 0.9,
      maxTokens: options.maxTokens ?? 1024,
      seed: request.seed,
    });
    const { body, retries } = await callWithRetry(provider, http, policy, retryRng);
    progress.retries += retries;
    const text = provider.read(body);
    const pair = text === undefined ? undefined : parsePair(text);
    if (pair === undefined) {
      progress.malformed++;
      return;
    }
    const key = dedupeKey(pair.prompt);
    if (seen.has(key)) {
      progress.duplicates++;
      return;
    }
    if (progress.held >= options.count) return;
    seen.add(key);
    writer.append(toGeneratedRecord(pair, { topic: options.topic, backend: options.backend, model, request: index }));
    progress.held++;
  };

  const worker = async (): Promise<void> => {
    while (failure === undefined && progress.held + inFlight < options.count && progress.requests < maxRequests) {
      const index = nextRequest++;
      progress.requests++;
      inFlight++;
      try {
        await one(index);
      } catch (error) {
        failure ??= error;
      } finally {
        inFlight--;
      }
      options.onProgress?.({ ...progress });
    }
  };

  try {
    // workers stop once the in-flight requests could fill the output; a duplicate then needs a new round
    while (failure === undefined && progress.held < options.count && progress.requests < maxRequests) {
      await Promise.all(Array.from({ length: Math.min(concurrency, options.count - progress.held) }, worker));
    }
  } finally {
    writer.close();
  }
  if (failure !== undefined) {
    if (failure instanceof HaloError) {
      throw new HaloError(failure.code, `${failure.message} — ${progress.held}/${options.count} samples are saved in ${partial}`, {
        fix: `${failure.fix ?? ''}${failure.fix ? '; ' : ''}rerun the same command to continue from them`,
      });
    }
    throw failure;
  }
  if (progress.held < options.count) {
    throw new HaloError(
      'DATA_GENERATE_EXHAUSTED',
      `only ${progress.held}/${options.count} distinct samples after ${progress.requests} requests (${progress.duplicates} duplicates, ${progress.malformed} replies without a {prompt, response} object); they are saved in ${partial}`,
      { fix: 'rerun to continue (raise --max-requests), broaden --topic, raise --temperature, or try a stronger --model' },
    );
  }
  renameSync(partial, options.output);
  fsyncDirectoryOf(options.output);
  return { ...progress, output: options.output, resumedFrom: previous.length, model };
}

function fsyncDirectoryOf(path: string): void {
  try {
    const fd = openSync(dirname(path), 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic there
  }
}
