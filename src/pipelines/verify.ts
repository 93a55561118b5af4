/**
 * Verification for the pipelines: samples go through the verifier pool concurrently and come back
 * in input order, one at a time, so the caller can append each result as soon as it and every
 * earlier one are known. A verifier that throws yields a failed result, never a crashed run.
 */
import { HaloError } from '../util/errors.js';
import { defaultWorkers, mapOrdered, verifySafely } from '../verifiers/pool.js';
import type { Sample, Verifier, VerifyResult } from '../verifiers/types.js';

export interface VerifyCallbacks {
  onResult: (result: VerifyResult, index: number) => void;
  onProgress?: (progress: { done: number; total: number; passed: number; samplesPerSecond: number }) => void;
}

export async function verifyInOrder(verifier: Verifier, samples: readonly Sample[], callbacks: VerifyCallbacks, options: { offset?: number; total?: number; workers?: number; signal?: AbortSignal } = {}): Promise<{ seconds: number; passed: number }> {
  const offset = options.offset ?? 0;
  const total = options.total ?? offset + samples.length;
  const started = performance.now();
  let passed = 0;
  let index = 0;
  for await (const result of mapOrdered(samples, (sample) => verifySafely(verifier, sample), options.workers ?? defaultWorkers())) {
    if (options.signal?.aborted) throw new HaloError('ERR_CANCELLED', 'verification cancelled', { fix: 'rerun the same command to continue where it stopped' });
    if (result.success) passed += 1;
    callbacks.onResult(result, offset + index);
    index += 1;
    const seconds = (performance.now() - started) / 1000;
    callbacks.onProgress?.({ done: offset + index, total, passed, samplesPerSecond: seconds > 0 ? index / seconds : 0 });
  }
  return { seconds: (performance.now() - started) / 1000, passed };
}
