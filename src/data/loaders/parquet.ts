/**
 * Streams a parquet file one row group at a time, column by column: each column chunk is read as
 * one byte range and decoded page by page; rows are built only as they are yielded, and a row
 * group is dropped before the next is read, so memory holds one row group, never the file.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type Compressors, type FileMetaData } from 'hyparquet';
import { compressors as jsCompressors } from 'hyparquet-compressors';
import { nativeZstd, type ZstdDecompress } from '../../util/codecs.js';
import { HaloError } from '../../util/errors.js';
import { fileBuffer, PageArena, ReusedReads } from './parquet-buffers.js';
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

/** One column of one row group, as hyparquet hands it over: runs of rows (one per page, usually). */
interface ColumnRuns {
  name: string;
  runs: Array<{ start: number; values: ArrayLike<unknown> }>;
  /** values are UTF-8 bytes, decoded when read */
  lazyText: boolean;
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

/**
 * A flat text column: hyparquet would turn every value of the row group into a string at once
 * (16 MB of strings for a 16 MB group, promoted to the old generation before the rows are used);
 * instead its values stay views into the decoded pages and each becomes a string when its row is
 * yielded, so strings die young with the caller's record.
 */
function isFlatText(metadata: FileMetaData, name: string): boolean {
  const child = parquetSchema(metadata).children.find((c) => c.element.name === name);
  if (child === undefined || child.children.length > 0) return false;
  const { type, converted_type: converted, logical_type: logical } = child.element;
  return type === 'BYTE_ARRAY' && (converted === undefined || converted === 'UTF8') && (logical === undefined || logical.type === 'STRING');
}

const keepBytes = (bytes: Uint8Array): Uint8Array => bytes;
const utf8 = new TextDecoder();

/** What one file read shares across its row groups: the codec and the reusable buffers. */
interface ReadContext {
  handle: FileHandle;
  metadata: FileMetaData;
  file: AsyncBuffer;
  compressors: Compressors;
  native: ZstdDecompress | undefined;
  /** per flat text column: its compressed-chunk buffer and its page arena, both rewritten only
   * when that column is read for the next row group (uncompressed v2 pages may point into either) */
  reuse: Map<string, { reads: ReusedReads; arena: PageArena }>;
}

async function readColumnRuns(context: ReadContext, groupIndex: number, name: string, rowStart: number, rowEnd: number): Promise<ColumnRuns> {
  const runs: ColumnRuns['runs'] = [];
  const lazyText = isFlatText(context.metadata, name);
  let file = context.file;
  let compressors = context.compressors;
  const chunk = context.metadata.row_groups[groupIndex]!.columns.find((c) => c.meta_data?.path_in_schema[0] === name)?.meta_data;
  if (lazyText && context.native !== undefined && chunk?.codec === 'ZSTD') {
    let reuse = context.reuse.get(name);
    if (reuse === undefined) context.reuse.set(name, (reuse = { reads: new ReusedReads(context.handle, context.file.byteLength), arena: new PageArena(context.native) }));
    reuse.arena.rewind(Number(chunk.total_uncompressed_size));
    file = reuse.reads.asyncBuffer();
    compressors = { ...context.compressors, ZSTD: reuse.arena.zstd };
  }
  await parquetRead({
    file,
    metadata: context.metadata,
    columns: [name],
    rowStart,
    rowEnd,
    compressors,
    utf8: true,
    ...(lazyText ? { parsers: { stringFromBytes: keepBytes as unknown as (bytes: Uint8Array) => string } } : {}),
    onChunk: (data) => runs.push({ start: data.rowStart, values: data.columnData }),
  });
  runs.sort((a, b) => a.start - b.start);
  return { name, runs, lazyText };
}

/** Walks a column's runs in row order. */
function cursorOf(column: ColumnRuns): (row: number) => unknown {
  let index = 0;
  return (row) => {
    let run = column.runs[index];
    while (run !== undefined && row >= run.start + run.values.length) run = column.runs[++index];
    const value = run !== undefined && row >= run.start ? run.values[row - run.start] : undefined;
    return column.lazyText && value instanceof Uint8Array ? utf8.decode(value) : value;
  };
}

export async function* readParquet(path: string, options: ParquetReadOptions = {}): AsyncGenerator<LoadedRecord> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const metadata = await readMetadata(path, handle);
    const names = options.columns ?? parquetSchema(metadata).children.map((child) => child.element.name);
    const native = nativeZstdFor(path, metadata, names, options.zstd ?? 'auto');
    const context: ReadContext = {
      metadata,
      file: fileBuffer(handle, size),
      compressors: native === undefined ? jsCompressors : { ...jsCompressors, ZSTD: native },
      native,
      handle,
      reuse: new Map(),
    };
    let rowStart = 0;
    for (const [groupIndex, group] of metadata.row_groups.entries()) {
      const rowEnd = rowStart + Number(group.num_rows);
      let columns: ColumnRuns[] | undefined = [];
      try {
        for (const name of names) columns.push(await readColumnRuns(context, groupIndex, name, rowStart, rowEnd));
      } catch (error) {
        throw new HaloError('DATA_BAD_PARQUET', `${path}: rows ${rowStart + 1}-${rowEnd} cannot be decoded (${(error as Error).message})`, {
          fix: 'download the file again, or report the codec if it is one hyparquet-compressors lacks',
          details: { file: path },
        });
      }
      const cursors = columns.map(cursorOf);
      columns = undefined;
      for (let row = rowStart; row < rowEnd; row++) {
        const record: Record<string, unknown> = {};
        for (let c = 0; c < names.length; c++) record[names[c]!] = cursors[c]!(row);
        yield { record, line: row + 1 };
      }
      cursors.length = 0; // the group's pages and values go before the next group is read
      rowStart = rowEnd;
    }
  } finally {
    await handle.close();
  }
}
