/**
 * Every error a user can cause is a HaloError: a stable `code`, a message naming the file / line /
 * field / flag at fault, and a `fix`. The CLI prints these without a stack trace.
 */
export class HaloError extends Error {
  readonly code: string;
  readonly fix: string | undefined;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: { fix?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HaloError';
    this.code = code;
    this.fix = options.fix;
    this.details = options.details ?? {};
  }
}

/** An error thrown by the native addon: `code` is ERR_TORCH, ERR_NATIVE or ERR_INVALID_ARG. */
export interface NativeError extends Error {
  code: string;
  op?: string;
  torchMessage?: string;
}

export function isCodedError(value: unknown): value is Error & { code: string } {
  return value instanceof Error && typeof (value as { code?: unknown }).code === 'string';
}

/** One line for the user: "error [CODE]: message" plus "fix: …" when there is one. */
export function formatError(error: unknown, debug = process.env.HALO_FORGE_DEBUG === '1'): string {
  if (error instanceof HaloError) {
    const lines = [`error [${error.code}]: ${error.message}`];
    if (error.fix) lines.push(`  fix: ${error.fix}`);
    if (debug && error.stack) lines.push(error.stack);
    return lines.join('\n');
  }
  if (isCodedError(error)) {
    return debug && error.stack ? `error [${error.code}]: ${error.stack}` : `error [${error.code}]: ${error.message}`;
  }
  if (error instanceof Error) return debug && error.stack ? `error: ${error.stack}` : `error: ${error.message}`;
  return `error: ${String(error)}`;
}
