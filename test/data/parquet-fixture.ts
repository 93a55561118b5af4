/**
 * Test-only parquet writer (no writer package is installed): PLAIN-encoded REQUIRED columns
 * (INT64 and UTF8 BYTE_ARRAY), column chunks split into data pages compressed with the `zstd`
 * command-line tool. The footer is Thrift compact protocol, hand-encoded below.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';

export const T = { I32: 5, I64: 6, BINARY: 8, LIST: 9, STRUCT: 12 } as const;
export type Field = [id: number, type: number, value: number | bigint | string | Field[] | { list: number; items: Array<number | string | Field[]> }];

function varint(out: number[], value: bigint): void {
  let v = value;
  while (v >= 0x80n) {
    out.push(Number((v & 0x7fn) | 0x80n));
    v >>= 7n;
  }
  out.push(Number(v));
}
const zigzag = (v: bigint): bigint => (v << 1n) ^ (v >> 63n);

function writeValue(out: number[], type: number, value: Field[2]): void {
  if (type === T.I32 || type === T.I64) varint(out, zigzag(BigInt(value as number | bigint)));
  else if (type === T.BINARY) {
    const bytes = Buffer.from(value as string, 'utf8');
    varint(out, BigInt(bytes.length));
    out.push(...bytes);
  } else if (type === T.STRUCT) writeStruct(out, value as Field[]);
  else if (type === T.LIST) {
    const { list, items } = value as { list: number; items: Array<number | string | Field[]> };
    if (items.length < 15) out.push((items.length << 4) | list);
    else {
      out.push(0xf0 | list);
      varint(out, BigInt(items.length));
    }
    for (const item of items) writeValue(out, list, item);
  }
}

function writeStruct(out: number[], fields: Field[]): void {
  let last = 0;
  for (const [id, type, value] of fields) {
    out.push(((id - last) << 4) | type);
    last = id;
    writeValue(out, type, value);
  }
  out.push(0);
}

export function thriftStruct(fields: Field[]): Buffer {
  const out: number[] = [];
  writeStruct(out, fields);
  return Buffer.from(out);
}

export function zstdAvailable(): boolean {
  return spawnSync('zstd', ['--version']).status === 0;
}

export function zstd(data: Buffer): Buffer {
  // --stream-size records the content size in the frame header, as libzstd's ZSTD_compress (pyarrow, parquet-mr) does
  const run = spawnSync('zstd', ['-3', '-q', '-c', `--stream-size=${data.length}`], { input: data, maxBuffer: data.length * 2 + (1 << 20) });
  if (run.status !== 0) throw new Error(`zstd failed: ${run.stderr.toString()}`);
  return run.stdout;
}

export interface RowGroupData {
  ids: bigint[];
  texts: string[];
}

function idPage(ids: bigint[], first: number, last: number): Buffer {
  const page = Buffer.alloc((last - first) * 8);
  for (let i = first; i < last; i++) page.writeBigInt64LE(ids[i]!, (i - first) * 8);
  return page;
}

function textPage(texts: string[], first: number, last: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = first; i < last; i++) {
    const bytes = Buffer.from(texts[i]!, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length);
    parts.push(length, bytes);
  }
  return Buffer.concat(parts);
}

/**
 * Writes `groups` as a parquet file with columns id (INT64) and text (UTF8), each column chunk split
 * into data pages of `pageRows` rows (default: all rows in one page); returns per-group sizes.
 */
export function writeZstdParquet(path: string, groups: Iterable<RowGroupData>, pageRows = Number.POSITIVE_INFINITY): { rowGroups: Array<{ rows: number; uncompressed: number; compressed: number }>; bytes: number } {
  const fd = openSync(path, 'w');
  let offset = 0;
  const put = (bytes: Buffer): void => {
    writeSync(fd, bytes);
    offset += bytes.length;
  };
  put(Buffer.from('PAR1'));
  const rowGroups: Field[][] = [];
  const sizes: Array<{ rows: number; uncompressed: number; compressed: number }> = [];
  let totalRows = 0;
  for (const group of groups) {
    const rows = group.ids.length;
    const columns: Field[][] = [];
    let groupUncompressed = 0;
    let groupCompressed = 0;
    for (const [name, type] of [['id', 2], ['text', 6]] as Array<[string, number]>) {
      const start = offset;
      let uncompressedSize = 0;
      let compressedSize = 0;
      // pages of pageRows rows, as parquet writers do (pyarrow: ~1 MB pages)
      for (let first = 0; first < rows; first += pageRows) {
        const last = Math.min(rows, first + pageRows);
        const page = name === 'id' ? idPage(group.ids, first, last) : textPage(group.texts, first, last);
        const compressed = zstd(page);
        const header = thriftStruct([
          [1, T.I32, 0],
          [2, T.I32, page.length],
          [3, T.I32, compressed.length],
          [5, T.STRUCT, [[1, T.I32, last - first], [2, T.I32, 0], [3, T.I32, 3], [4, T.I32, 3]]],
        ]);
        put(header);
        put(compressed);
        uncompressedSize += header.length + page.length;
        compressedSize += header.length + compressed.length;
      }
      groupUncompressed += uncompressedSize;
      groupCompressed += compressedSize;
      columns.push([
        [2, T.I64, BigInt(start)],
        [3, T.STRUCT, [
          [1, T.I32, type],
          [2, T.LIST, { list: T.I32, items: [0, 3] }],
          [3, T.LIST, { list: T.BINARY, items: [name] }],
          [4, T.I32, 6],
          [5, T.I64, BigInt(rows)],
          [6, T.I64, BigInt(uncompressedSize)],
          [7, T.I64, BigInt(compressedSize)],
          [9, T.I64, BigInt(start)],
        ]],
      ]);
    }
    rowGroups.push([
      [1, T.LIST, { list: T.STRUCT, items: columns }],
      [2, T.I64, BigInt(groupUncompressed)],
      [3, T.I64, BigInt(rows)],
    ]);
    sizes.push({ rows, uncompressed: groupUncompressed, compressed: groupCompressed });
    totalRows += rows;
  }
  const footer = thriftStruct([
    [1, T.I32, 1],
    [2, T.LIST, { list: T.STRUCT, items: [
      [[4, T.BINARY, 'schema'], [5, T.I32, 2]],
      [[1, T.I32, 2], [3, T.I32, 0], [4, T.BINARY, 'id']],
      [[1, T.I32, 6], [3, T.I32, 0], [4, T.BINARY, 'text'], [6, T.I32, 0]],
    ] }],
    [3, T.I64, BigInt(totalRows)],
    [4, T.LIST, { list: T.STRUCT, items: rowGroups }],
    [6, T.BINARY, 'halo-forge test fixture'],
  ]);
  put(footer);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(footer.length);
  put(length);
  put(Buffer.from('PAR1'));
  closeSync(fd);
  return { rowGroups: sizes, bytes: offset };
}
