/** Runs verifications concurrently (default: one per core) and hands results back in input order. */
import { availableParallelism } from 'node:os';
import type { Sample, Verifier, VerifyResult } from './types.js';

export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

/**
 * Streams `work(item)` results in input order with at most `workers` in flight. A result is yielded
 * as soon as it and every earlier one are done, so a slow sample holds back output, not work.
 */
export async function* mapOrdered<T, R>(items: Iterable<T> | AsyncIterable<T>, work: (item: T, index: number) => Promise<R>, workers = defaultWorkers()): AsyncGenerator<R> {
  const limit = Math.max(1, Math.floor(workers));
  const pending = new Map<number, Promise<R>>();
  let next = 0;
  let emitted = 0;
  for await (const item of items) {
    const index = next++;
    pending.set(index, work(item, index));
    while (pending.size >= limit) {
      // Wait for the oldest; later ones keep running meanwhile.
      yield await takeOldest();
    }
  }
  while (pending.size > 0) yield await takeOldest();

  async function takeOldest(): Promise<R> {
    const promise = pending.get(emitted)!;
    const value = await promise;
    pending.delete(emitted);
    emitted++;
    return value;
  }
}

/** A verification that throws is a verifier bug or bad input; it becomes a failed result, not a crashed batch. */
export async function verifySafely(verifier: Pick<Verifier, 'verify'>, sample: Sample): Promise<VerifyResult> {
  try {
    return await verifier.verify(sample);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { success: false, reward: 0, details: `verifier error: ${message}`, error: message, metadata: { verifierError: true } };
  }
}

export async function verifyAll(verifier: Pick<Verifier, 'verify'>, samples: readonly Sample[], workers = defaultWorkers()): Promise<VerifyResult[]> {
  const results: VerifyResult[] = [];
  for await (const result of mapOrdered(samples, (sample) => verifySafely(verifier, sample), workers)) results.push(result);
  return results;
}

/** Base for verifiers: subclasses implement verify; verifyBatch runs the pool. */
export abstract class BaseVerifier implements Verifier {
  abstract readonly name: string;
  workers: number;

  constructor(workers?: number) {
    this.workers = workers ?? defaultWorkers();
  }

  abstract verify(sample: Sample): Promise<VerifyResult>;

  verifyBatch(samples: readonly Sample[]): Promise<VerifyResult[]> {
    return verifyAll(this, samples, this.workers);
  }
}

/** A verifier that needs no process or I/O (math, tool calls): verifyNow answers on the spot. */
export abstract class SyncVerifier extends BaseVerifier {
  abstract verifyNow(sample: Sample): VerifyResult;

  async verify(sample: Sample): Promise<VerifyResult> {
    return this.verifyNow(sample);
  }
}
