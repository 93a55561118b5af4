/**
 * Byte sources for the parquet reader. `fileBuffer` answers hyparquet's AsyncBuffer with a fresh
 * buffer per read (metadata, nested columns). `ChunkWindow` walks one column chunk page by page,
 * holding about one page of compressed bytes. `ReusedBytes` is one buffer handed out again and
 * again (per column: one for its file windows, one for its decoded pages, kept across row groups):
 * fresh buffers per page, or per row group, would be garbage that V8 collects only after tens of
 * megabytes have piled up (once promoted, only at a full collection). Reuse is safe only where no
 * value outlives its page: the reader turns text into strings as rows are yielded and moves a
 * column to its next page only after every row of the current one is out.
 */
import type { FileHandle } from 'node:fs/promises';
import type { AsyncBuffer, DataReader, PageHeader } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';

async function readInto(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesRead } = await handle.read(bytes, offset, bytes.length - offset, position + offset);
    if (bytesRead === 0) throw new Error(`the file ends before byte ${position + bytes.length}`);
    offset += bytesRead;
  }
}

/** Every slice is a fresh ArrayBuffer: the general case, where decoded values may point into it. */
export function fileBuffer(handle: FileHandle, byteLength: number): AsyncBuffer {
  return {
    byteLength,
    async slice(start: number, end: number = byteLength): Promise<ArrayBuffer> {
      const bytes = new Uint8Array(new ArrayBuffer(end - start));
      await readInto(handle, bytes, start);
      return bytes.buffer;
    },
  };
}

/** How much of a chunk one file read takes in (a pyarrow page is ~1 MB before compression). */
const WINDOW_BYTES = 1 << 20;
/** First guess at a page header's size; a header with large statistics makes the window grow. */
const HEADER_PROBE_BYTES = 64 << 10;

export interface ChunkPage {
  header: PageHeader;
  /** positioned at the page's (compressed) bytes, all of which it holds */
  reader: DataReader;
}

/** The pages of one column chunk (bytes [start, end) of the file), read a window at a time. */
export class ChunkWindow {
  private bytes: Uint8Array = new Uint8Array(0);
  /** file offset of bytes[0] */
  private from = 0;
  private position: number;

  /** with `reuse`, each window overwrites the last, so a page's values must be used before the next page is asked for */
  constructor(private readonly handle: FileHandle, start: number, private readonly end: number, private readonly reuse?: ReusedBytes) {
    this.position = start;
  }

  /** The next page, or undefined at the end of the chunk. */
  async next(): Promise<ChunkPage | undefined> {
    if (this.position >= this.end) return undefined;
    let want = Math.min(HEADER_PROBE_BYTES, this.end - this.position);
    for (;;) {
      await this.cover(want);
      const reader: DataReader = { view: new DataView(this.bytes.buffer, this.bytes.byteOffset + this.position - this.from, this.from + this.bytes.length - this.position), offset: 0 };
      let header: PageHeader;
      try {
        header = parquetHeader(reader);
      } catch (error) {
        // a header cut off by the window's end: widen the window, unless it already reaches the chunk's end
        if (this.from + this.bytes.length >= this.end) throw error;
        want = Math.min(want * 4, this.end - this.position);
        continue;
      }
      if (!Number.isInteger(header.compressed_page_size) || header.compressed_page_size < 0) throw new Error(`the page at byte ${this.position} has a bad size (${header.compressed_page_size})`);
      const pageBytes = reader.offset + header.compressed_page_size;
      if (this.position + pageBytes > this.end) throw new Error(`the page at byte ${this.position} runs past the end of its column chunk (byte ${this.end})`);
      if (pageBytes > reader.view.byteLength) {
        want = pageBytes;
        continue;
      }
      this.position += pageBytes;
      return { header, reader };
    }
  }

  /** Makes the window hold bytes [position, position + length). */
  private async cover(length: number): Promise<void> {
    if (this.position >= this.from && this.position + length <= this.from + this.bytes.length) return;
    const size = Math.min(Math.max(length, WINDOW_BYTES), this.end - this.position);
    this.bytes = this.reuse === undefined ? new Uint8Array(size) : this.reuse.take(size);
    this.from = this.position;
    await readInto(this.handle, this.bytes, this.from);
  }
}

/** One buffer handed out for every take: whatever the last take's bytes held is overwritten. */
export class ReusedBytes {
  private bytes: Uint8Array = new Uint8Array(0);

  take(length: number): Uint8Array {
    if (this.bytes.length < length) this.bytes = new Uint8Array(Math.ceil(length * 1.25));
    return this.bytes.subarray(0, length);
  }
}
