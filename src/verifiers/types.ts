/** The verifier contract (DESIGN.md §3): text in, VerifyResult out. Verifiers never import the engine. */

/** One sample: the prompt record's fields plus the model's `completion`. */
export interface Sample {
  completion: string;
  [field: string]: unknown;
}

export interface VerifyResult {
  success: boolean;
  /** The reward; each verifier's scale is in docs/verifiers.md. */
  reward: number;
  details: string;
  error?: string;
  metadata: Record<string, unknown>;
}

export interface Verifier {
  readonly name: string;
  verify(sample: Sample): Promise<VerifyResult>;
  /** Verifies many samples concurrently; results come back in input order. */
  verifyBatch(samples: readonly Sample[]): Promise<VerifyResult[]>;
  /** Releases anything the verifier holds (temporary folders, cgroups). */
  close?(): Promise<void>;
}

export function result(success: boolean, reward: number, details: string, metadata: Record<string, unknown> = {}, error?: string): VerifyResult {
  return error === undefined ? { success, reward, details, metadata } : { success, reward, details, error, metadata };
}

export function fieldString(sample: Sample, field: string): string | undefined {
  const value = sample[field];
  return typeof value === 'string' ? value : undefined;
}
