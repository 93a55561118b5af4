/**
 * Streams a parquet file a page at a time: every column of a row group moves through its chunk
 * page by page (parquet-columns.ts), rows are built only as they are yielded, and a column moves
 * to its next page only once every row of the current one is out. Memory holds about one page per
 * column, never a whole row group, let alone the file.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { parquetMetadataAsync, parquetSchema, type FileMetaData } from 'hyparquet';
import { compressors as jsCompressors } from 'hyparquet-compressors';
import { nativeZstd, type ZstdDecompress } from '../../util/codecs.js';
import { HaloError } from '../../util/errors.js';
import { fileBuffer } from './parquet-buffers.js';
import { columnCursor, type ColumnCursor, type ColumnSource } from './parquet-columns.js';
import type { LoadedRecord } from './types.js';

export interface ParquetInfo {
  rows: number;
  rowGroups: Array<{ rows: number; bytes: number }>;
  columns: string[];
}

export async function parquetInfo(path: string): Promise<ParquetInfo> {
  const handle = await open(path, 'r');
  try {
    const metadata = await readMetadata(path, handle);
    return describe(metadata);
  } finally {
    await handle.close();
  }
}

function describe(metadata: FileMetaData): ParquetInfo {
  return {
    rows: Number(metadata.num_rows),
    rowGroups: metadata.row_groups.map((group) => ({ rows: Number(group.num_rows), bytes: Number(group.total_byte_size) })),
    columns: metadata.schema.slice(1).map((element) => element.name),
  };
}

async function readMetadata(path: string, handle: FileHandle): Promise<FileMetaData> {
  const { size } = await handle.stat();
  try {
    return await parquetMetadataAsync(fileBuffer(handle, size));
  } catch (error) {
    throw new HaloError('DATA_BAD_PARQUET', `${path}: not a readable parquet file (${(error as Error).message})`, {
      fix: 'download the file again; a truncated download has no footer',
      details: { file: path },
    });
  }
}

/**
 * zstd codec choice. 'auto': libzstd through the addon when the file holds at least
 * NATIVE_ZSTD_MIN_BYTES of zstd pages in the columns read (loading the addon pulls in libtorch,
 * ~1.5 s, which only pays off on big files), else fzstd (pure JS, ~20x slower per byte).
 */
export type ZstdCodec = 'auto' | 'js' | 'native';
export const NATIVE_ZSTD_MIN_BYTES = 32 << 20;

export interface ParquetReadOptions {
  columns?: string[];
  zstd?: ZstdCodec;
}

function zstdBytes(metadata: FileMetaData, names: readonly string[]): number {
  let bytes = 0;
  for (const group of metadata.row_groups) {
    for (const column of group.columns) {
      const meta = column.meta_data;
      if (meta?.codec === 'ZSTD' && names.includes(meta.path_in_schema[0]!)) bytes += Number(meta.total_compressed_size);
    }
  }
  return bytes;
}

function nativeZstdFor(path: string, metadata: FileMetaData, names: readonly string[], codec: ZstdCodec): ZstdDecompress | undefined {
  const wantNative = codec === 'native' || (codec === 'auto' && zstdBytes(metadata, names) >= NATIVE_ZSTD_MIN_BYTES);
  const native = wantNative ? nativeZstd() : undefined;
  if (codec === 'native' && native === undefined) {
    throw new HaloError('DATA_NO_NATIVE_ZSTD', `${path}: native zstd was asked for but the halo-forge addon (with libzstd) is not available`, {
      fix: 'build it with `npm run build:native` (needs libzstd-dev), or read with the pure-JS codec',
    });
  }
  return native;
}

export async function* readParquet(path: string, options: ParquetReadOptions = {}): AsyncGenerator<LoadedRecord> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const metadata = await readMetadata(path, handle);
    const schema = parquetSchema(metadata);
    const names = options.columns ?? schema.children.map((child) => child.element.name);
    const children = names.map((name) => {
      const child = schema.children.find((c) => c.element.name === name);
      if (child === undefined) {
        throw new HaloError('DATA_PARQUET_COLUMN', `${path}: has no column "${name}"`, {
          fix: `pick from the columns it has: ${schema.children.map((c) => c.element.name).join(', ')}`,
          details: { file: path },
        });
      }
      return child;
    });
    const native = nativeZstdFor(path, metadata, names, options.zstd ?? 'auto');
    const source: ColumnSource = {
      handle,
      file: fileBuffer(handle, size),
      metadata,
      schema,
      compressors: native === undefined ? jsCompressors : { ...jsCompressors, ZSTD: native },
      native,
      reused: new Map(),
    };
    let groupStart = 0;
    for (const group of metadata.row_groups) {
      const groupEnd = groupStart + Number(group.num_rows);
      let row = groupStart;
      const failed = (error: unknown): HaloError =>
        new HaloError('DATA_BAD_PARQUET', `${path}: rows ${row + 1}-${groupEnd} cannot be decoded (${(error as Error).message})`, {
          fix: 'download the file again, or report the codec if it is one hyparquet-compressors lacks',
          details: { file: path },
        });
      let cursors: ColumnCursor[];
      try {
        cursors = children.map((child) => {
          const chunk = group.columns.find((c) => c.meta_data?.path_in_schema[0] === child.element.name)?.meta_data;
          if (chunk === undefined) throw new Error(`row group has no chunk for column ${child.element.name}`);
          return columnCursor(source, child, chunk, groupStart, groupEnd);
        });
      } catch (error) {
        throw failed(error);
      }
      while (row < groupEnd) {
        // bring every column to the page that holds `row`, then yield the rows all of them hold
        let end = groupEnd;
        try {
          for (const cursor of cursors) {
            while (cursor.end <= row) await cursor.advance();
            end = Math.min(end, cursor.end);
          }
        } catch (error) {
          throw failed(error);
        }
        for (; row < end; row++) {
          const record: Record<string, unknown> = {};
          for (let c = 0; c < names.length; c++) record[names[c]!] = cursors[c]!.valueAt(row);
          yield { record, line: row + 1 };
        }
      }
      groupStart = groupEnd;
    }
  } finally {
    await handle.close();
  }
}
