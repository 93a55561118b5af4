/**
 * Test-only parquet writer for the shapes the streaming reader must get right besides the bench's
 * REQUIRED PLAIN v1 pages: an OPTIONAL text column (definition levels, nulls), dictionary pages with
 * RLE_DICTIONARY data pages, DATA_PAGE_V2, the UNCOMPRESSED codec, and a nested (struct) column.
 * Columns: id INT64, text UTF8 OPTIONAL, point {x INT64}.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { T, thriftStruct, zstd, type Field } from './parquet-fixture.js';

export interface MixedRow {
  id: bigint;
  text: string | null;
  x: bigint;
}

export interface MixedOptions {
  pageVersion: 1 | 2;
  codec: 'ZSTD' | 'UNCOMPRESSED';
  dictionary: boolean;
  pageRows: number;
}

const CODEC = { UNCOMPRESSED: 0, ZSTD: 6 } as const;
const ENCODING = { PLAIN: 0, RLE: 3, RLE_DICTIONARY: 8 } as const;

function varint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

/** RLE/bit-packed hybrid, RLE runs only: each run of equal values is (count << 1, value in ceil(width/8) bytes). */
function rleRuns(values: number[], bitWidth: number): Buffer {
  const out: number[] = [];
  const bytes = Math.ceil(bitWidth / 8);
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j < values.length && values[j] === values[i]) j++;
    varint(out, (j - i) << 1);
    for (let b = 0; b < bytes; b++) out.push((values[i]! >> (8 * b)) & 0xff);
    i = j;
  }
  return Buffer.from(out);
}

function u32le(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(value);
  return out;
}

function plainTexts(texts: string[]): Buffer {
  return Buffer.concat(texts.flatMap((text) => {
    const bytes = Buffer.from(text, 'utf8');
    return [u32le(bytes.length), bytes];
  }));
}

function plainInt64(values: bigint[]): Buffer {
  const out = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => out.writeBigInt64LE(v, i * 8));
  return out;
}

interface PageParts {
  /** definition levels, RLE-encoded (empty for REQUIRED columns) */
  levels: Buffer;
  values: Buffer;
  encoding: number;
  rows: number;
  nulls: number;
}

export function writeMixedParquet(path: string, groups: MixedRow[][], options: MixedOptions): void {
  const compress = (bytes: Buffer): Buffer => (options.codec === 'ZSTD' ? zstd(bytes) : bytes);
  const fd = openSync(path, 'w');
  let offset = 0;
  const put = (bytes: Buffer): void => {
    writeSync(fd, bytes);
    offset += bytes.length;
  };
  const writePage = (parts: PageParts, sizes: { uncompressed: number; compressed: number }): void => {
    let header: Buffer;
    let body: Buffer;
    let uncompressed: number;
    if (options.pageVersion === 1) {
      const levels = parts.levels.length > 0 ? Buffer.concat([u32le(parts.levels.length), parts.levels]) : parts.levels;
      const page = Buffer.concat([levels, parts.values]);
      body = compress(page);
      uncompressed = page.length;
      header = thriftStruct([
        [1, T.I32, 0],
        [2, T.I32, page.length],
        [3, T.I32, body.length],
        [5, T.STRUCT, [[1, T.I32, parts.rows], [2, T.I32, parts.encoding], [3, T.I32, ENCODING.RLE], [4, T.I32, ENCODING.RLE]]],
      ]);
    } else {
      const values = compress(parts.values);
      body = Buffer.concat([parts.levels, values]);
      uncompressed = parts.levels.length + parts.values.length;
      header = thriftStruct([
        [1, T.I32, 3],
        [2, T.I32, uncompressed],
        [3, T.I32, body.length],
        [8, T.STRUCT, [[1, T.I32, parts.rows], [2, T.I32, parts.nulls], [3, T.I32, parts.rows], [4, T.I32, parts.encoding], [5, T.I32, parts.levels.length], [6, T.I32, 0]]],
      ]);
    }
    put(header);
    put(body);
    sizes.uncompressed += header.length + uncompressed;
    sizes.compressed += header.length + body.length;
  };

  put(Buffer.from('PAR1'));
  const rowGroups: Field[][] = [];
  let totalRows = 0;
  for (const rows of groups) {
    const chunks: Field[][] = [];
    let groupBytes = 0;
    const pages = (each: (first: number, last: number) => PageParts, sizes: { uncompressed: number; compressed: number }): void => {
      for (let first = 0; first < rows.length; first += options.pageRows) writePage(each(first, Math.min(rows.length, first + options.pageRows)), sizes);
    };
    const chunk = (path: string[], type: number, encodings: number[], dictionaryOffset: number | undefined, dataOffset: number, sizes: { uncompressed: number; compressed: number }): void => {
      groupBytes += sizes.uncompressed;
      chunks.push([
        [2, T.I64, BigInt(dictionaryOffset ?? dataOffset)],
        [3, T.STRUCT, [
          [1, T.I32, type],
          [2, T.LIST, { list: T.I32, items: encodings }],
          [3, T.LIST, { list: T.BINARY, items: path }],
          [4, T.I32, CODEC[options.codec]],
          [5, T.I64, BigInt(rows.length)],
          [6, T.I64, BigInt(sizes.uncompressed)],
          [7, T.I64, BigInt(sizes.compressed)],
          [9, T.I64, BigInt(dataOffset)],
          ...(dictionaryOffset === undefined ? [] : [[11, T.I64, BigInt(dictionaryOffset)] as Field]),
        ]],
      ]);
    };

    // id: INT64 REQUIRED, PLAIN
    let sizes = { uncompressed: 0, compressed: 0 };
    let start = offset;
    pages((a, b) => ({ levels: Buffer.alloc(0), values: plainInt64(rows.slice(a, b).map((r) => r.id)), encoding: ENCODING.PLAIN, rows: b - a, nulls: 0 }), sizes);
    chunk(['id'], 2, [ENCODING.PLAIN, ENCODING.RLE], undefined, start, sizes);

    // text: UTF8 OPTIONAL, PLAIN or dictionary
    sizes = { uncompressed: 0, compressed: 0 };
    start = offset;
    let dictionaryOffset: number | undefined;
    const dictionary = [...new Set(rows.map((r) => r.text).filter((t): t is string => t !== null))];
    const bitWidth = Math.max(1, Math.ceil(Math.log2(Math.max(2, dictionary.length))));
    if (options.dictionary) {
      dictionaryOffset = offset;
      const page = plainTexts(dictionary);
      const body = compress(page);
      const header = thriftStruct([[1, T.I32, 2], [2, T.I32, page.length], [3, T.I32, body.length], [7, T.STRUCT, [[1, T.I32, dictionary.length], [2, T.I32, ENCODING.PLAIN]]]]);
      put(header);
      put(body);
      sizes.uncompressed += header.length + page.length;
      sizes.compressed += header.length + body.length;
    }
    const dataOffset = offset;
    pages((a, b) => {
      const slice = rows.slice(a, b);
      const present = slice.map((r) => r.text).filter((t): t is string => t !== null);
      const values = options.dictionary
        ? Buffer.concat([Buffer.from([bitWidth]), rleRuns(present.map((t) => dictionary.indexOf(t)), bitWidth)])
        : plainTexts(present);
      return {
        levels: rleRuns(slice.map((r) => (r.text === null ? 0 : 1)), 1),
        values,
        encoding: options.dictionary ? ENCODING.RLE_DICTIONARY : ENCODING.PLAIN,
        rows: b - a,
        nulls: slice.length - present.length,
      };
    }, sizes);
    chunk(['text'], 6, options.dictionary ? [ENCODING.PLAIN, ENCODING.RLE, ENCODING.RLE_DICTIONARY] : [ENCODING.PLAIN, ENCODING.RLE], dictionaryOffset, dataOffset, sizes);

    // point.x: INT64 REQUIRED inside a REQUIRED struct (a nested column)
    sizes = { uncompressed: 0, compressed: 0 };
    start = offset;
    pages((a, b) => ({ levels: Buffer.alloc(0), values: plainInt64(rows.slice(a, b).map((r) => r.x)), encoding: ENCODING.PLAIN, rows: b - a, nulls: 0 }), sizes);
    chunk(['point', 'x'], 2, [ENCODING.PLAIN, ENCODING.RLE], undefined, start, sizes);

    rowGroups.push([[1, T.LIST, { list: T.STRUCT, items: chunks }], [2, T.I64, BigInt(groupBytes)], [3, T.I64, BigInt(rows.length)]]);
    totalRows += rows.length;
  }
  const footer = thriftStruct([
    [1, T.I32, options.pageVersion],
    [2, T.LIST, { list: T.STRUCT, items: [
      [[4, T.BINARY, 'schema'], [5, T.I32, 3]],
      [[1, T.I32, 2], [3, T.I32, 0], [4, T.BINARY, 'id']],
      [[1, T.I32, 6], [3, T.I32, 1], [4, T.BINARY, 'text'], [6, T.I32, 0]],
      [[3, T.I32, 0], [4, T.BINARY, 'point'], [5, T.I32, 1]],
      [[1, T.I32, 2], [3, T.I32, 0], [4, T.BINARY, 'x']],
    ] }],
    [3, T.I64, BigInt(totalRows)],
    [4, T.LIST, { list: T.STRUCT, items: rowGroups }],
    [6, T.BINARY, 'halo-forge test fixture'],
  ]);
  put(footer);
  put(u32le(footer.length));
  put(Buffer.from('PAR1'));
  closeSync(fd);
}
