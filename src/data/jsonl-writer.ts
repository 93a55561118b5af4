/**
 * A JSONL file written atomically while streaming (over util/atomic-stream): lines are buffered
 * into a temp file beside the target, fsynced and renamed on commit(); abort() removes the temp
 * file, so a failure never leaves a partial output.
 */
import { AtomicFileStream } from '../util/atomic-stream.js';

export class AtomicJsonlWriter {
  private readonly stream: AtomicFileStream;
  private buffered: string[] = [];
  private bufferedChars = 0;
  count = 0;

  constructor(readonly path: string) {
    this.stream = new AtomicFileStream(path);
  }

  write(record: unknown): void {
    const line = `${JSON.stringify(record)}\n`;
    this.buffered.push(line);
    this.bufferedChars += line.length;
    this.count++;
    if (this.bufferedChars > 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.buffered.length === 0) return;
    this.stream.write(Buffer.from(this.buffered.join(''), 'utf8'));
    this.buffered = [];
    this.bufferedChars = 0;
  }

  commit(): void {
    try {
      this.flush();
    } catch (error) {
      this.stream.abort();
      throw error;
    }
    this.stream.commit();
  }

  abort(): void {
    this.stream.abort();
  }
}
