/**
 * Streaming atomic writes for large binary files (model weights): bytes go to a temp file in the
 * target's directory, which is fsynced and renamed over the target only by commit(). abort() (or an
 * exception before commit) removes the temp file, so a reader never sees a partial file.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export class AtomicFileStream {
  readonly path: string;
  private readonly temporary: string;
  private fd: number | undefined;
  private written = 0;

  constructor(path: string) {
    this.path = path;
    const directory = dirname(path);
    mkdirSync(directory, { recursive: true });
    this.temporary = join(directory, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    this.fd = openSync(this.temporary, 'w');
  }

  /** Bytes written so far (the offset of the next write). */
  get position(): number {
    return this.written;
  }

  write(bytes: Uint8Array): void {
    if (this.fd === undefined) throw new Error(`AtomicFileStream(${this.path}): write after commit/abort`);
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(this.fd, bytes, offset, bytes.length - offset);
    this.written += bytes.length;
  }

  /** Writes `count` zero bytes (alignment padding). */
  pad(count: number): void {
    if (count > 0) this.write(new Uint8Array(count));
  }

  commit(): void {
    if (this.fd === undefined) throw new Error(`AtomicFileStream(${this.path}): commit after commit/abort`);
    const fd = this.fd;
    this.fd = undefined;
    try {
      fsyncSync(fd);
      closeSync(fd);
      renameSync(this.temporary, this.path);
    } catch (error) {
      rmSync(this.temporary, { force: true });
      throw error;
    }
    try {
      const directoryFd = openSync(dirname(this.path), 'r');
      try {
        fsyncSync(directoryFd);
      } finally {
        closeSync(directoryFd);
      }
    } catch {
      // Some filesystems refuse fsync on directories; the rename is still atomic there.
    }
  }

  abort(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
    rmSync(this.temporary, { force: true });
  }
}

/** Runs `body` against a fresh stream; commits when it returns, removes the temp file when it throws. */
export function withAtomicFileStream<T>(path: string, body: (stream: AtomicFileStream) => T): T {
  const stream = new AtomicFileStream(path);
  let result: T;
  try {
    result = body(stream);
  } catch (error) {
    stream.abort();
    throw error;
  }
  stream.commit();
  return result;
}
