/** Reads a GGUF file's metadata and tensor table (and single tensors as raw bytes) — for tests and verification. */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { HaloError } from '../../util/errors.js';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgmlType, GgufValueType, tensorByteSize } from './format.js';

export type GgufReadValue = number | bigint | boolean | string | GgufReadValue[];

export interface GgufTensorInfo {
  name: string;
  ne: number[];
  type: GgmlType;
  /** Absolute file offset of the tensor's data. */
  offset: number;
  bytes: number;
}

export interface GgufContents {
  path: string;
  version: number;
  metadata: Map<string, GgufReadValue>;
  tensors: GgufTensorInfo[];
  dataStart: number;
  fileSize: number;
}

class Cursor {
  position = 0;
  constructor(private readonly buffer: Buffer, private readonly path: string) {}
  private need(bytes: number): void {
    if (this.position + bytes > this.buffer.length) {
      throw new HaloError('ERR_GGUF_CORRUPT', `${this.path}: header runs past the end of the file at byte ${this.position}`, { fix: 'the file is truncated; export it again' });
    }
  }
  u8(): number { this.need(1); return this.buffer.readUInt8(this.position++); }
  u32(): number { this.need(4); const v = this.buffer.readUInt32LE(this.position); this.position += 4; return v; }
  u64(): number { this.need(8); const v = Number(this.buffer.readBigUInt64LE(this.position)); this.position += 8; return v; }
  string(): string {
    const length = this.u64();
    this.need(length);
    const s = this.buffer.toString('utf8', this.position, this.position + length);
    this.position += length;
    return s;
  }
  value(type: GgufValueType): GgufReadValue {
    const b = this.buffer;
    const at = (n: number): number => { this.need(n); const p = this.position; this.position += n; return p; };
    switch (type) {
      case GgufValueType.UINT8: return b.readUInt8(at(1));
      case GgufValueType.INT8: return b.readInt8(at(1));
      case GgufValueType.UINT16: return b.readUInt16LE(at(2));
      case GgufValueType.INT16: return b.readInt16LE(at(2));
      case GgufValueType.UINT32: return b.readUInt32LE(at(4));
      case GgufValueType.INT32: return b.readInt32LE(at(4));
      case GgufValueType.FLOAT32: return b.readFloatLE(at(4));
      case GgufValueType.FLOAT64: return b.readDoubleLE(at(8));
      case GgufValueType.UINT64: return b.readBigUInt64LE(at(8));
      case GgufValueType.INT64: return b.readBigInt64LE(at(8));
      case GgufValueType.BOOL: return b.readUInt8(at(1)) !== 0;
      case GgufValueType.STRING: return this.string();
      case GgufValueType.ARRAY: {
        const itemType = this.u32() as GgufValueType;
        const count = this.u64();
        const items: GgufReadValue[] = new Array(count);
        for (let i = 0; i < count; i++) items[i] = this.value(itemType);
        return items;
      }
      default:
        throw new HaloError('ERR_GGUF_CORRUPT', `${this.path}: unknown value type ${type as number} at byte ${this.position}`, { fix: 'the file is not a GGUF v3 file' });
    }
  }
}

export function readGguf(path: string): GgufContents {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    // The header of our files fits in the vocabulary arrays' size; read generously and grow if needed.
    let length = Math.min(fileSize, 64 * 1024 * 1024);
    for (;;) {
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, 0);
      try {
        return parse(buffer, path, fileSize);
      } catch (error) {
        if (length < fileSize && error instanceof HaloError && error.code === 'ERR_GGUF_CORRUPT' && /past the end/.test(error.message)) {
          length = Math.min(fileSize, length * 2);
          continue;
        }
        throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
}

function parse(buffer: Buffer, path: string, fileSize: number): GgufContents {
  const cursor = new Cursor(buffer, path);
  if (cursor.u32() !== GGUF_MAGIC) throw new HaloError('ERR_GGUF_CORRUPT', `${path}: not a GGUF file (bad magic)`, { fix: 'pass a .gguf file' });
  const version = cursor.u32();
  const tensorCount = cursor.u64();
  const kvCount = cursor.u64();
  const metadata = new Map<string, GgufReadValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = cursor.string();
    metadata.set(key, cursor.value(cursor.u32() as GgufValueType));
  }
  const raw: { name: string; ne: number[]; type: GgmlType; offset: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = cursor.string();
    const dims = cursor.u32();
    const ne: number[] = [];
    for (let d = 0; d < dims; d++) ne.push(cursor.u64());
    raw.push({ name, ne, type: cursor.u32() as GgmlType, offset: cursor.u64() });
  }
  const alignment = Number(metadata.get('general.alignment') ?? GGUF_DEFAULT_ALIGNMENT);
  const dataStart = Math.ceil(cursor.position / alignment) * alignment;
  const tensors = raw.map((t) => ({ ...t, offset: dataStart + t.offset, bytes: tensorByteSize(t.type, t.ne) }));
  for (const t of tensors) {
    if (t.offset + t.bytes > fileSize) {
      throw new HaloError('ERR_GGUF_CORRUPT', `${path}: tensor ${t.name} ends at byte ${t.offset + t.bytes} past the ${fileSize}-byte file`, { fix: 'the file is truncated; export it again' });
    }
  }
  return { path, version, metadata, tensors, dataStart, fileSize };
}

export function readGgufTensorBytes(contents: GgufContents, name: string): Buffer {
  const info = contents.tensors.find((t) => t.name === name);
  if (!info) throw new HaloError('ERR_GGUF_TENSOR_MISSING', `${contents.path}: no tensor ${name}`, { fix: 'check the tensor name' });
  const fd = openSync(contents.path, 'r');
  try {
    const buffer = Buffer.alloc(info.bytes);
    readSync(fd, buffer, 0, info.bytes, info.offset);
    return buffer;
  } finally {
    closeSync(fd);
  }
}
