/**
 * Append-only JSON Lines files that survive a kill at any instant: every record is one write() of
 * one complete line; on reopen, a trailing partial line (a write cut short) is truncated away and
 * the complete records are counted, so a resumed producer knows exactly where it stopped.
 * fsync: at most every `fsyncIntervalMs` on append (a kill loses nothing that write() returned —
 * the page cache survives the process; fsync bounds what a power loss can take) and on sync()/close().
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, ftruncateSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { HaloError } from './errors.js';

export interface JsonlOpenResult<T> {
  writer: JsonlAppender;
  /** complete records already in the file (after a trailing partial line was removed). */
  records: T[];
  /** bytes of a partial last line that were truncated (0 when the file ended cleanly). */
  truncatedBytes: number;
}

export interface JsonlAppenderOptions {
  /** default 2000; 0 = fsync after every record. */
  fsyncIntervalMs?: number;
  /** injectable clock for tests. */
  now?: () => number;
}

export class JsonlAppender {
  readonly path: string;
  private fd: number | undefined;
  private count: number;
  private lastSync: number;
  private dirty = false;
  private readonly fsyncIntervalMs: number;
  private readonly now: () => number;

  private constructor(path: string, fd: number, count: number, options: JsonlAppenderOptions) {
    this.path = path;
    this.fd = fd;
    this.count = count;
    this.fsyncIntervalMs = options.fsyncIntervalMs ?? 2000;
    this.now = options.now ?? Date.now;
    this.lastSync = this.now();
  }

  /**
   * Opens `path` for appending, creating it (and its directory) if needed; repairs a trailing
   * partial line and returns the complete records. A complete line that is not JSON is corruption,
   * not a crash artifact: that is a HaloError naming the file and line.
   */
  static open<T = unknown>(path: string, options: JsonlAppenderOptions = {}): JsonlOpenResult<T> {
    mkdirSync(dirname(path), { recursive: true });
    const { records, completeBytes, totalBytes } = existsSync(path) ? scanJsonl<T>(path) : { records: [], completeBytes: 0, totalBytes: 0 };
    const fd = openSync(path, existsSync(path) ? 'r+' : 'w');
    if (completeBytes < totalBytes) {
      ftruncateSync(fd, completeBytes);
      fsyncSync(fd);
    }
    closeSync(fd);
    const appendFd = openSync(path, 'a');
    return { writer: new JsonlAppender(path, appendFd, records.length, options), records, truncatedBytes: totalBytes - completeBytes };
  }

  /** Records in the file, including the ones appended by this writer. */
  get length(): number {
    return this.count;
  }

  append(record: unknown): void {
    if (this.fd === undefined) throw new Error(`JsonlAppender(${this.path}): append after close`);
    const line = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
    let offset = 0;
    while (offset < line.length) offset += writeSync(this.fd, line, offset, line.length - offset);
    this.count += 1;
    this.dirty = true;
    if (this.now() - this.lastSync >= this.fsyncIntervalMs) this.sync();
  }

  /** Forces everything appended so far to disk. */
  sync(): void {
    if (this.fd === undefined || !this.dirty) return;
    fsyncSync(this.fd);
    this.dirty = false;
    this.lastSync = this.now();
  }

  close(): void {
    if (this.fd === undefined) return;
    this.sync();
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Reads the complete records of a JSON Lines file (a trailing partial line is ignored). */
export function readJsonl<T = unknown>(path: string): T[] {
  return existsSync(path) ? scanJsonl<T>(path).records : [];
}

function scanJsonl<T>(path: string): { records: T[]; completeBytes: number; totalBytes: number } {
  const bytes = readFileSync(path);
  const lastNewline = bytes.lastIndexOf(0x0a);
  const completeBytes = lastNewline + 1;
  const text = bytes.subarray(0, completeBytes).toString('utf8');
  const records: T[] = [];
  let lineNumber = 0;
  for (const line of text.split('\n')) {
    lineNumber += 1;
    if (line === '') continue;
    try {
      records.push(JSON.parse(line) as T);
    } catch (error) {
      throw new HaloError('ERR_JSONL_CORRUPT', `${path}:${lineNumber}: a complete line is not valid JSON (${(error as Error).message})`, {
        fix: 'the file was edited or damaged outside halo-forge; restore it, or delete it to regenerate this phase',
      });
    }
  }
  return { records, completeBytes, totalBytes: bytes.length };
}
