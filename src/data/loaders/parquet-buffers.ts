/**
 * Buffer reuse for the parquet reader's hot path (flat text columns, zstd pages, native codec):
 * one resizable buffer receives every compressed column chunk, and one arena per column receives
 * its decoded pages, so reading a file allocates about one row group's worth of buffers in total
 * instead of a fresh buffer per chunk and per page — garbage that V8 would collect only after tens
 * of megabytes had piled up. Safe only where no decoded byte outlives its row group: text values
 * become strings before their row is yielded, and the reader drops a group before reading the next.
 */
import type { FileHandle } from 'node:fs/promises';
import type { AsyncBuffer } from 'hyparquet';
import type { ZstdDecompress } from '../../util/codecs.js';

async function readInto(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesRead } = await handle.read(bytes, offset, bytes.length - offset, position + offset);
    if (bytesRead === 0) break;
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

/** ES2024 resizable ArrayBuffer (Node >= 20), which the project's TypeScript lib does not describe yet. */
interface ResizableArrayBuffer extends ArrayBuffer {
  readonly maxByteLength: number;
  resize(byteLength: number): void;
}
const ResizableArrayBuffer = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableArrayBuffer;

/** Every slice reuses one resizable ArrayBuffer (grown when a chunk is larger than any before). */
export class ReusedReads {
  private buffer = new ResizableArrayBuffer(0, { maxByteLength: 0 });

  constructor(private readonly handle: FileHandle, private readonly byteLength: number) {}

  asyncBuffer(): AsyncBuffer {
    return {
      byteLength: this.byteLength,
      slice: async (start: number, end: number = this.byteLength): Promise<ArrayBuffer> => {
        const length = end - start;
        if (length > this.buffer.maxByteLength) this.buffer = new ResizableArrayBuffer(length, { maxByteLength: Math.ceil(length * 1.25) });
        else this.buffer.resize(length);
        await readInto(this.handle, new Uint8Array(this.buffer), start);
        return this.buffer;
      },
    };
  }
}

/** Decoded pages of one column, packed into one arena that is rewound for each row group. */
export class PageArena {
  private arena = new Uint8Array(0);
  private used = 0;

  constructor(private readonly decompress: ZstdDecompress) {}

  /** Starts a row group whose pages need about `bytes` in total. */
  rewind(bytes: number): void {
    if (this.arena.length < bytes) this.arena = new Uint8Array(bytes);
    this.used = 0;
  }

  readonly zstd = (input: Uint8Array, outputLength: number): Uint8Array => {
    if (this.used + outputLength > this.arena.length) {
      // the metadata undercounted: continue in a new, larger arena (views into the old one stay valid)
      this.arena = new Uint8Array(Math.max(this.arena.length * 2, outputLength));
      this.used = 0;
    }
    const page = this.decompress(input, outputLength, this.arena.subarray(this.used, this.used + outputLength));
    this.used += outputLength;
    return page;
  };
}
