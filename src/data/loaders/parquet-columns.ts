/**
 * Column cursors for the parquet reader: each holds the decoded values of a run of rows of one
 * column and moves forward on request. A flat column (the usual dataset column: text, numbers)
 * moves one page at a time, so a row group's column is never decoded whole; a nested column
 * (lists, structs) goes through hyparquet's row-group reader in one piece, since its rows can
 * span pages.
 */
import type { FileHandle } from 'node:fs/promises';
import { parquetRead, type AsyncBuffer, type ColumnMetaData, type Compressors, type DecodedArray, type FileMetaData, type PageHeader, type SchemaTree } from 'hyparquet';
import { readPage } from 'hyparquet/src/column.js';
import { convert, DEFAULT_PARSERS } from 'hyparquet/src/convert.js';
import { isFlatColumn } from 'hyparquet/src/schema.js';
import type { ZstdDecompress } from '../../util/codecs.js';
import { ChunkWindow, ReusedBytes } from './parquet-buffers.js';

type ColumnDecoder = Parameters<typeof readPage>[2];

export interface ColumnCursor {
  /** one past the last row (file-wide index) whose value is held now */
  readonly end: number;
  /** loads the rows that follow `end` */
  advance(): Promise<void>;
  /** the value of `row`, a row in [end of the previous advance, end) */
  valueAt(row: number): unknown;
}

const utf8 = new TextDecoder();
const keepBytes = (bytes: Uint8Array): Uint8Array => bytes;

/**
 * A flat text column: hyparquet would turn every value of a page into a string at once; instead
 * values stay views into the decoded page and each becomes a string when its row is yielded, so
 * the strings die young with the caller's record.
 */
function isFlatText(column: SchemaTree): boolean {
  if (column.children.length > 0) return false;
  const { type, converted_type: converted, logical_type: logical } = column.element;
  return type === 'BYTE_ARRAY' && (converted === undefined || converted === 'UTF8') && (logical === undefined || logical.type === 'STRING');
}

/** Physical types whose values are copied out when read (numbers, bigints, booleans), never views into the page. */
const COPIED_OUT = new Set(['BOOLEAN', 'INT32', 'INT64', 'FLOAT', 'DOUBLE']);

export interface ColumnSource {
  handle: FileHandle;
  file: AsyncBuffer;
  metadata: FileMetaData;
  schema: SchemaTree;
  /** the codecs for pages whose values may outlive the page (fresh output buffers) */
  compressors: Compressors;
  native: ZstdDecompress | undefined;
  /** per column, kept across row groups: the buffer its file windows reuse and the one its decoded pages reuse */
  reused: Map<string, { windows: ReusedBytes; pages: ReusedBytes }>;
}

/** Reads one flat column chunk page by page. */
class PagedColumn implements ColumnCursor {
  end: number;
  private first: number;
  private values: DecodedArray = [];
  private dictionary: DecodedArray | undefined;

  constructor(
    private readonly pages: ChunkWindow,
    private readonly decoder: ColumnDecoder,
    /** for the dictionary page, which lives as long as the chunk: fresh buffers, never the reused ones */
    private readonly dictionaryDecoder: ColumnDecoder,
    private readonly lazyText: boolean,
    groupStart: number,
  ) {
    this.first = this.end = groupStart;
  }

  async advance(): Promise<void> {
    for (;;) {
      const page = await this.pages.next();
      if (page === undefined) throw new Error(`column ${this.decoder.pathInSchema.join('.')} ends at row ${this.end + 1}, before its row group does`);
      if (page.header.type === 'DICTIONARY_PAGE') {
        const { reader, header } = page;
        const copy = new Uint8Array(reader.view.buffer, reader.view.byteOffset + reader.offset, header.compressed_page_size).slice();
        this.dictionary = readDictionary(copy, header, this.dictionaryDecoder);
        continue;
      }
      const { data } = readPage(page.reader, page.header, this.decoder, this.dictionary, undefined, 0);
      if (data === undefined || data.length === 0) continue;
      this.values = data;
      this.first = this.end;
      this.end += data.length;
      return;
    }
  }

  valueAt(row: number): unknown {
    const value = this.values[row - this.first];
    return this.lazyText && value instanceof Uint8Array ? utf8.decode(value) : value;
  }
}

function readDictionary(bytes: Uint8Array, header: PageHeader, decoder: ColumnDecoder): DecodedArray | undefined {
  const { data } = readPage({ view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }, header, decoder, undefined, undefined, 0);
  // readPage leaves dictionary values raw; hyparquet's own column reader converts them the same way
  return data === undefined ? undefined : convert(data, decoder);
}

/** A nested column: the whole chunk through hyparquet, as runs of rows. */
class WholeColumn implements ColumnCursor {
  end: number;
  private runs: Array<{ start: number; values: ArrayLike<unknown> }> = [];
  private index = 0;

  constructor(private readonly source: ColumnSource, private readonly name: string, private readonly groupStart: number, private readonly groupEnd: number) {
    this.end = groupStart;
  }

  async advance(): Promise<void> {
    if (this.end === this.groupEnd) throw new Error(`column ${this.name} has no rows past ${this.end}`);
    const runs: WholeColumn['runs'] = [];
    await parquetRead({
      file: this.source.file,
      metadata: this.source.metadata,
      columns: [this.name],
      rowStart: this.groupStart,
      rowEnd: this.groupEnd,
      compressors: this.source.compressors,
      utf8: true,
      onChunk: (data) => runs.push({ start: data.rowStart, values: data.columnData }),
    });
    runs.sort((a, b) => a.start - b.start);
    this.runs = runs;
    this.end = this.groupEnd;
  }

  valueAt(row: number): unknown {
    let run = this.runs[this.index];
    while (run !== undefined && row >= run.start + run.values.length) run = this.runs[++this.index];
    return run !== undefined && row >= run.start ? run.values[row - run.start] : undefined;
  }
}

/** The cursor for column `child` of a row group whose chunk metadata is `chunk`. */
export function columnCursor(source: ColumnSource, child: SchemaTree, chunk: ColumnMetaData, groupStart: number, groupEnd: number): ColumnCursor {
  const name = child.element.name;
  const schemaPath = [source.schema, child];
  if (!isFlatColumn(schemaPath)) return new WholeColumn(source, name, groupStart, groupEnd);
  const lazyText = isFlatText(child);
  const reuse = lazyText || (child.element.type !== undefined && COPIED_OUT.has(child.element.type));
  const start = Number(chunk.dictionary_page_offset || chunk.data_page_offset);
  const base: ColumnDecoder = {
    pathInSchema: chunk.path_in_schema,
    type: chunk.type,
    element: child.element,
    schemaPath,
    codec: chunk.codec,
    parsers: lazyText ? { ...DEFAULT_PARSERS, stringFromBytes: keepBytes as unknown as (bytes: Uint8Array) => string } : DEFAULT_PARSERS,
    compressors: source.compressors,
    utf8: true,
  };
  let decoder = base;
  let reused = source.reused.get(name);
  if (reuse && reused === undefined) source.reused.set(name, (reused = { windows: new ReusedBytes(), pages: new ReusedBytes() }));
  const codec = source.compressors[chunk.codec];
  if (reused !== undefined && codec !== undefined) {
    const { native } = source;
    const pages = reused.pages;
    // libzstd decodes straight into the reused buffer; any other codec returns a fresh buffer, copied
    // over at once so that it dies young (a page buffer kept while its rows are yielded lives through
    // a scavenge or two, is promoted, and waits for a full collection)
    const decompress = native !== undefined && chunk.codec === 'ZSTD'
      ? (input: Uint8Array, length: number): Uint8Array => native(input, length, pages.take(length))
      : (input: Uint8Array, length: number): Uint8Array => {
          const page = pages.take(length);
          page.set(codec(input, length));
          return page;
        };
    decoder = { ...base, compressors: { ...source.compressors, [chunk.codec]: decompress } };
  }
  const window = new ChunkWindow(source.handle, start, start + Number(chunk.total_compressed_size), reused?.windows);
  return new PagedColumn(window, decoder, base, lazyText, groupStart);
}

