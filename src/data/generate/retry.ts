/**
 * One HTTP call to a chat API with bounded retries: 429, 5xx, timeouts and network errors are
 * retried after an exponential backoff (base · 2^attempt, with seeded jitter, or the server's
 * Retry-After when it is longer); 401/403 and other 4xx fail at once with a HaloError.
 */
import { HaloError } from '../../util/errors.js';
import type { Rng } from '../../util/rng.js';
import type { HttpRequest, Provider } from './providers.js';

export interface RetryPolicy {
  /** retries after the first attempt (default 5) */
  maxRetries: number;
  /** first backoff in ms (default 1000); doubles per retry */
  baseDelayMs: number;
  /** cap on one backoff, Retry-After included (default 60 000) */
  maxDelayMs: number;
  /** per-attempt timeout in ms (default 120 000) */
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 5, baseDelayMs: 1000, maxDelayMs: 60_000, timeoutMs: 120_000 };

export interface CallOutcome {
  body: unknown;
  /** attempts that failed and were retried */
  retries: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

const snippet = (text: string): string => text.replace(/\s+/g, ' ').trim().slice(0, 300);

type Attempt = { ok: true; body: unknown } | { ok: false; retryable: boolean; reason: string; waitMs?: number; status?: number; text?: string };

async function attempt(request: HttpRequest, timeoutMs: number, fetchImpl: typeof fetch): Promise<Attempt> {
  let response: Response;
  try {
    response = await fetchImpl(request.url, { method: 'POST', headers: request.headers, body: request.body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    const timedOut = (error as Error).name === 'TimeoutError';
    return { ok: false, retryable: true, reason: timedOut ? `no answer within ${timeoutMs} ms` : `network error${cause ? ` ${cause}` : ''}: ${(error as Error).message}` };
  }
  const text = await response.text().catch((error: Error) => `(body unreadable: ${error.message})`);
  if (response.ok) {
    try {
      return { ok: true, body: JSON.parse(text) as unknown };
    } catch {
      return { ok: false, retryable: true, reason: `HTTP ${response.status} with a body that is not JSON: ${snippet(text)}` };
    }
  }
  const retryable = response.status === 429 || response.status >= 500 || response.status === 408;
  return { ok: false, retryable, status: response.status, text, reason: `HTTP ${response.status}: ${snippet(text)}`, waitMs: retryAfterMs(response.headers.get('retry-after')) };
}

export async function callWithRetry(provider: Provider, request: HttpRequest, policy: RetryPolicy, rng: Rng, fetchImpl: typeof fetch = fetch): Promise<CallOutcome> {
  let last = '';
  for (let tried = 0; tried <= policy.maxRetries; tried++) {
    const result = await attempt(request, policy.timeoutMs, fetchImpl);
    if (result.ok) return { body: result.body, retries: tried };
    if (!result.retryable) throw refusal(provider, request, result.status ?? 0, result.reason);
    last = result.reason;
    if (tried === policy.maxRetries) break;
    const backoff = policy.baseDelayMs * 2 ** tried * (0.5 + rng.next() / 2);
    await sleep(Math.min(policy.maxDelayMs, Math.max(backoff, result.waitMs ?? 0)));
  }
  const local = provider.backend === 'ollama';
  throw new HaloError('DATA_GENERATE_UNAVAILABLE', `${provider.backend} at ${request.url} failed ${policy.maxRetries + 1} times; last: ${last}`, {
    fix: local
      ? 'start the server (`ollama serve`) or point OLLAMA_HOST / --base-url at it; rerun the same command to resume'
      : 'wait and rerun the same command (it resumes), or lower --concurrency to stay under the rate limit',
  });
}

function refusal(provider: Provider, request: HttpRequest, status: number, reason: string): HaloError {
  if (status === 401 || status === 403) {
    return new HaloError('DATA_GENERATE_KEY_REFUSED', `${provider.backend} refused the API key in ${provider.keyVariable ?? '(none)'} (${reason})`, {
      fix: `check ${provider.keyVariable ?? 'the server'}: the key may be wrong, expired or lack access to this model`,
    });
  }
  return new HaloError('DATA_GENERATE_REJECTED', `${provider.backend} rejected the request to ${request.url} (${reason})`, {
    fix: status === 404 ? 'check --model (the server does not know it) and --base-url' : 'check --model and the flags; the server said why above',
  });
}
