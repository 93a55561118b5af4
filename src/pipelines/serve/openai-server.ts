/**
 * An OpenAI-compatible HTTP server on our engine: /v1/completions (logprobs with top_logprobs,
 * echo, stop, token-id prompts — what lm-eval's local-completions sends and reads),
 * /v1/chat/completions and /v1/models. Requests queue onto the one model, one at a time.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatMessage, ChatTemplate } from '../../data/chat.js';
import type { HaloTokenizer } from '../../data/tokenizer.js';
import type { GenerateOptions, GenerateResult, LogitsOptions, LogitsResult } from '../../engine/types.js';

export interface ServedModel {
  generate(prompts: number[][], options: GenerateOptions): Promise<GenerateResult>;
  logits(sequences: number[][], options?: LogitsOptions): Promise<LogitsResult>;
}

export interface ServeOptions {
  model: ServedModel;
  tokenizer: HaloTokenizer;
  template: ChatTemplate;
  /** the id /v1/models lists and responses echo */
  modelId: string;
  eosTokenIds: readonly number[];
  host?: string;
  port?: number;
  /** largest request body accepted, bytes (default 8 MiB) */
  maxBodyBytes?: number;
  onLog?: (line: string) => void;
}

class BadRequest extends Error {}

const MAX_TOP_LOGPROBS = 20;

/** Serializes work onto the single model. */
class Queue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job, job);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BadRequest(`request body larger than ${limit} bytes`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

function sendError(response: ServerResponse, status: number, message: string): void {
  send(response, status, { error: { message, type: status === 400 ? 'invalid_request_error' : 'server_error', param: null, code: null } });
}

type Json = Record<string, unknown>;

function intField(body: Json, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = body[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new BadRequest(`"${name}" must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  return value;
}

function numberField(body: Json, name: string, fallback: number, min: number, max: number): number {
  const value = body[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !(value >= min && value <= max)) throw new BadRequest(`"${name}" must be a number in [${min}, ${max}], got ${JSON.stringify(value)}`);
  return value;
}

function stopField(body: Json): string[] {
  const stop = body.stop;
  if (stop === undefined || stop === null) return [];
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop) && stop.every((s) => typeof s === 'string')) return stop as string[];
  throw new BadRequest('"stop" must be a string or an array of strings');
}

const isTokenList = (value: unknown): value is number[] => Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 0);

/** "prompt" as the OpenAI API allows: a string, strings, token ids, or lists of token ids. */
function promptsOf(body: Json, tokenizer: HaloTokenizer): number[][] {
  const prompt = body.prompt;
  const encode = (text: string): number[] => tokenizer.encode(text, { specialTokens: 'parse' });
  let out: number[][];
  if (typeof prompt === 'string') out = [encode(prompt)];
  else if (isTokenList(prompt)) out = [prompt];
  else if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((p) => typeof p === 'string')) out = (prompt as string[]).map(encode);
  else if (Array.isArray(prompt) && prompt.length > 0 && prompt.every(isTokenList)) out = prompt as number[][];
  else throw new BadRequest('"prompt" must be a string, an array of strings, an array of token ids, or an array of token-id arrays');
  if (out.some((ids) => ids.length === 0)) throw new BadRequest('"prompt" encodes to no tokens');
  return out;
}

/** log-softmax of one row, in float64. */
function logSoftmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const logZ = max + Math.log(sum);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i] - logZ;
  return out;
}

function topK(values: Float64Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (best.length < k) {
      best.push(i);
      best.sort((a, b) => values[b] - values[a]);
    } else if (values[i] > values[best[k - 1]]) {
      best[k - 1] = i;
      best.sort((a, b) => values[b] - values[a]);
    }
  }
  return best;
}

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

/**
 * Logprobs over `ids[from..]` as the OpenAI completions API reports them: each token's
 * log-probability given what precedes it (null for the very first token of the sequence) and the
 * `top` most likely tokens at that position keyed by their text.
 */
export async function sequenceLogprobs(model: ServedModel, tokenizer: HaloTokenizer, ids: number[], from: number, top: number, textOffsetBase: number): Promise<CompletionLogprobs> {
  const positions: number[] = [];
  for (let i = Math.max(1, from); i < ids.length; i++) positions.push(i - 1);
  const result = positions.length === 0 ? { vocabSize: 0, rows: [new Float32Array(0)] } : await model.logits([ids], { positions: [positions] });
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let offset = textOffsetBase;
  for (let i = from; i < ids.length; i++) {
    const piece = tokenizer.decode([ids[i]]);
    out.tokens.push(piece);
    out.text_offset.push(offset);
    offset += piece.length;
    if (i === 0) {
      out.token_logprobs.push(null);
      out.top_logprobs.push(null);
      continue;
    }
    const row = positions.indexOf(i - 1);
    const lsm = logSoftmax(result.rows[0].subarray(row * result.vocabSize, (row + 1) * result.vocabSize));
    out.token_logprobs.push(lsm[ids[i]]);
    if (top > 0) {
      const entry: Record<string, number> = {};
      for (const id of topK(lsm, top)) {
        const key = tokenizer.decode([id]);
        if (!(key in entry)) entry[key] = lsm[id];
      }
      out.top_logprobs.push(entry);
    } else out.top_logprobs.push(null);
  }
  return out;
}

function cut(text: string, stops: readonly string[]): { text: string; stopped: boolean } {
  let end = -1;
  for (const stop of stops) {
    const at = stop === '' ? -1 : text.indexOf(stop);
    if (at >= 0 && (end < 0 || at < end)) end = at;
  }
  return end < 0 ? { text, stopped: false } : { text: text.slice(0, end), stopped: true };
}

export class OpenAIServer {
  private readonly queue = new Queue();
  private server: Server | undefined;
  private readonly created = Math.floor(Date.now() / 1000);
  private counter = 0;

  constructor(private readonly options: ServeOptions) {}

  async listen(): Promise<{ host: string; port: number; url: string }> {
    const server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) sendError(response, error instanceof BadRequest ? 400 : 500, error instanceof Error ? error.message : String(error));
      });
    });
    this.server = server;
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 8000, host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    return { host, port, url: `http://${host}:${port}` };
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0].replace(/\/+$/, '');
    if (request.method === 'GET' && path === '/v1/models') {
      send(response, 200, { object: 'list', data: [{ id: this.options.modelId, object: 'model', created: this.created, owned_by: 'halo-forge' }] });
      return;
    }
    if (request.method === 'GET' && path === '/health') {
      send(response, 200, { status: 'ok' });
      return;
    }
    if (request.method !== 'POST' || (path !== '/v1/completions' && path !== '/v1/chat/completions')) {
      sendError(response, 404, `no route ${request.method} ${path} (this server answers GET /v1/models, POST /v1/completions, POST /v1/chat/completions)`);
      return;
    }
    const text = await readBody(request, this.options.maxBodyBytes ?? 8 * 2 ** 20);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new BadRequest(`request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new BadRequest('request body must be a JSON object');
    const started = performance.now();
    const result = path === '/v1/completions' ? await this.completions(body as Json) : await this.chat(body as Json);
    this.options.onLog?.(`${path} ${((performance.now() - started) / 1000).toFixed(2)} s`);
    send(response, 200, result);
  }

  private sampling(body: Json, defaultMax: number): GenerateOptions {
    const n = intField(body, 'n', 1, 1, 64);
    return {
      n,
      maxNewTokens: intField(body, 'max_tokens', defaultMax, 0, 1 << 20),
      temperature: numberField(body, 'temperature', 1, 0, 100),
      topP: numberField(body, 'top_p', 1, 0, 1),
      seed: intField(body, 'seed', 0, 0),
      stopTokenIds: [...this.options.eosTokenIds],
    };
  }

  private async completions(body: Json): Promise<Json> {
    const prompts = promptsOf(body, this.options.tokenizer);
    const sampling = this.sampling(body, 16);
    const echo = body.echo === true;
    const logprobs = body.logprobs === undefined || body.logprobs === null ? undefined : intField(body, 'logprobs', 0, 0, MAX_TOP_LOGPROBS);
    const stops = stopField(body);
    const tokenizer = this.options.tokenizer;
    return this.queue.run(async () => {
      const choices: Json[] = [];
      let completionTokens = 0;
      let generated: GenerateResult | undefined;
      if (sampling.maxNewTokens > 0) generated = await this.options.model.generate(prompts.map((ids) => [...ids]), sampling);
      for (let p = 0; p < prompts.length; p++) {
        for (let s = 0; s < sampling.n!; s++) {
          const sequence = generated?.sequences.find((q) => q.promptIndex === p && q.sampleIndex === s);
          let newTokens = sequence ? [...sequence.tokens] : [];
          let finish: 'stop' | 'length' = sequence?.finishReason === 'stop' ? 'stop' : 'length';
          if (finish === 'stop' && newTokens.length > 0 && this.options.eosTokenIds.includes(newTokens[newTokens.length - 1])) newTokens = newTokens.slice(0, -1);
          let completion = newTokens.length === 0 ? '' : tokenizer.decode(newTokens, { skipSpecialTokens: true });
          const stopped = cut(completion, stops);
          if (stopped.stopped) {
            completion = stopped.text;
            finish = 'stop';
            // keep the tokens whose text lies inside the cut completion
            while (newTokens.length > 0 && tokenizer.decode(newTokens, { skipSpecialTokens: true }).length > completion.length) newTokens.pop();
          }
          completionTokens += newTokens.length;
          const promptText = echo ? tokenizer.decode(prompts[p]) : '';
          const choice: Json = { index: choices.length, text: `${promptText}${completion}`, logprobs: null, finish_reason: finish };
          if (logprobs !== undefined) {
            const all = [...prompts[p], ...newTokens];
            choice.logprobs = await sequenceLogprobs(this.options.model, tokenizer, all, echo ? 0 : prompts[p].length, logprobs, 0);
          }
          choices.push(choice);
        }
      }
      const promptTokens = prompts.reduce((sum, ids) => sum + ids.length, 0);
      return { id: `cmpl-${++this.counter}`, object: 'text_completion', created: Math.floor(Date.now() / 1000), model: this.options.modelId, choices, usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens } };
    });
  }

  private async chat(body: Json): Promise<Json> {
    const messages = body.messages;
    if (!Array.isArray(messages) || messages.length === 0) throw new BadRequest('"messages" must be a non-empty array of {role, content}');
    for (const [i, message] of messages.entries()) {
      const m = message as Json | null;
      if (m === null || typeof m !== 'object' || typeof m.role !== 'string' || (typeof m.content !== 'string' && m.content !== null)) throw new BadRequest(`messages[${i}] must be {role: string, content: string}`);
    }
    const sampling = this.sampling(body, 256);
    if (sampling.maxNewTokens === 0) throw new BadRequest('"max_tokens" must be >= 1 for chat completions');
    const stops = stopField(body);
    const text = this.options.template.render(messages as ChatMessage[], { addGenerationPrompt: true });
    const ids = this.options.tokenizer.encode(text, { specialTokens: 'parse' });
    const tokenizer = this.options.tokenizer;
    return this.queue.run(async () => {
      const generated = await this.options.model.generate([ids], sampling);
      let completionTokens = 0;
      const choices = generated.sequences.map((sequence, index) => {
        const body = sequence.finishReason === 'stop' ? sequence.tokens.slice(0, -1) : sequence.tokens;
        completionTokens += body.length;
        const stopped = cut(body.length === 0 ? '' : tokenizer.decode(body, { skipSpecialTokens: true }), stops);
        return { index, message: { role: 'assistant', content: stopped.text }, logprobs: null, finish_reason: sequence.finishReason === 'stop' || stopped.stopped ? 'stop' : 'length' };
      });
      return { id: `chatcmpl-${++this.counter}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: this.options.modelId, choices, usage: { prompt_tokens: ids.length, completion_tokens: completionTokens, total_tokens: ids.length + completionTokens } };
    });
  }
}
