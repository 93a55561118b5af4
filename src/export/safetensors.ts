/**
 * safetensors files: an 8-byte little-endian header length, a JSON header
 * ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}) padded with spaces so the
 * data starts 8-byte aligned, then the tensors' bytes back to back (the format allows no holes).
 * Tensors are laid out by descending element size, then by name, so every tensor stays aligned to its
 * element size and the same input always gives the same bytes.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { AtomicFileStream } from '../util/atomic-stream.js';
import { HaloError } from '../util/errors.js';
import { bfloat16BitsToFloat32, float16BitsToFloat32, toBfloat16Array, toFloat16Array } from './float-convert.js';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I8' | 'U8';

export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2, I8: 1, U8: 1 };

/**
 * One tensor to write. `values` is called once, when the tensor's turn comes, so large models stream.
 * Float dtypes take a Float32Array (converted on write); I8 an Int8Array and U8 a Uint8Array, written as is.
 */
export interface TensorSource {
  name: string;
  shape: readonly number[];
  dtype: SafetensorsDtype;
  values: () => Float32Array | Int8Array | Uint8Array;
}

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  path: string;
  /** Absolute file offset of the first data byte. */
  dataStart: number;
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsEntry>;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

function encodeValues(path: string, name: string, dtype: SafetensorsDtype, values: Float32Array | Int8Array | Uint8Array): Uint8Array {
  const wanted = dtype === 'I8' ? Int8Array : dtype === 'U8' ? Uint8Array : Float32Array;
  if (!(values instanceof wanted)) {
    throw new HaloError('ERR_SAFETENSORS_DTYPE', `${path}: tensor ${name} is declared ${dtype} but its values are a ${values.constructor.name}`, { fix: `pass a ${wanted.name} for ${dtype} tensors` });
  }
  const typed = values instanceof Float32Array ? (dtype === 'F32' ? values : dtype === 'F16' ? toFloat16Array(values) : toBfloat16Array(values)) : values;
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

/** The layout order: larger elements first, then by name (byte-identical output for the same input). */
function layoutOrder(tensors: readonly TensorSource[]): TensorSource[] {
  return [...tensors].sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function writeSafetensors(path: string, tensors: readonly TensorSource[], metadata: Record<string, string> = { format: 'pt' }): void {
  const seen = new Set<string>();
  for (const tensor of tensors) {
    if (seen.has(tensor.name)) throw new HaloError('ERR_SAFETENSORS_DUPLICATE', `${path}: tensor ${tensor.name} is listed twice`, { fix: 'give every tensor a unique name' });
    seen.add(tensor.name);
  }
  const ordered = layoutOrder(tensors);
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const tensor of ordered) {
    const bytes = elementCount(tensor.shape) * DTYPE_BYTES[tensor.dtype];
    header[tensor.name] = { dtype: tensor.dtype, shape: [...tensor.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - ((8 + jsonBytes) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));

  const stream = new AtomicFileStream(path);
  try {
    stream.write(prefix);
    stream.write(headerBytes);
    for (const tensor of ordered) {
      const values = tensor.values();
      const expected = elementCount(tensor.shape);
      if (values.length !== expected) {
        throw new HaloError('ERR_SAFETENSORS_SHAPE', `${path}: tensor ${tensor.name} has ${values.length} values but shape [${tensor.shape.join(', ')}] needs ${expected}`, {
          fix: 'make the values match the declared shape',
        });
      }
      stream.write(encodeValues(path, tensor.name, tensor.dtype, values));
    }
    stream.commit();
  } catch (error) {
    stream.abort();
    throw error;
  }
}

function readExactly(fd: number, length: number, position: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}

/** Reads and validates the header (not the data). Errors name the file and, where known, the tensor. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    const bad = (message: string, tensor?: string): HaloError =>
      new HaloError('ERR_SAFETENSORS_CORRUPT', `${path}${tensor ? ` (tensor ${tensor})` : ''}: ${message}`, {
        fix: 'the file is truncated or not a safetensors file; re-download or re-export it',
      });
    if (fileSize < 8) throw bad(`file is ${fileSize} bytes, shorter than the 8-byte header length`);
    const headerLength = Number(readExactly(fd, 8, 0).readBigUInt64LE(0));
    if (headerLength > fileSize - 8) throw bad(`header length ${headerLength} runs past the end of the ${fileSize}-byte file`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readExactly(fd, headerLength, 8).toString('utf8'));
    } catch (error) {
      throw bad(`header is not valid JSON (${(error as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('header is not a JSON object');
    const dataStart = 8 + headerLength;
    const tensors = new Map<string, SafetensorsEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
      if (name === '__metadata__') {
        metadata = raw as Record<string, string>;
        continue;
      }
      const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof entry.dtype !== 'string' || !Array.isArray(entry.shape) || !Array.isArray(entry.data_offsets) || entry.data_offsets.length !== 2) {
        throw bad('entry lacks dtype, shape or data_offsets', name);
      }
      const [begin, end] = entry.data_offsets as number[];
      if (dataStart + end > fileSize) throw bad(`data ends at byte ${dataStart + end} but the file has ${fileSize}`, name);
      tensors.set(name, { dtype: entry.dtype, shape: entry.shape as number[], dataOffsets: [begin, end] });
    }
    return { path, dataStart, metadata, tensors };
  } finally {
    closeSync(fd);
  }
}

/** Reads one tensor as float32 (F32, F16 or BF16 stored). For tests and tools, not the hot path. */
export function readSafetensorsTensor(header: SafetensorsHeader, name: string): Float32Array {
  const entry = header.tensors.get(name);
  if (!entry) {
    throw new HaloError('ERR_SAFETENSORS_MISSING', `${header.path}: no tensor named ${name}`, { fix: 'check the tensor name against the file header' });
  }
  const [begin, end] = entry.dataOffsets;
  const fd = openSync(header.path, 'r');
  let bytes: Buffer;
  try {
    bytes = readExactly(fd, end - begin, header.dataStart + begin);
  } finally {
    closeSync(fd);
  }
  const count = elementCount(entry.shape);
  const out = new Float32Array(count);
  if (bytes.length !== count * (entry.dtype === 'F32' ? 4 : 2)) {
    throw new HaloError('ERR_SAFETENSORS_CORRUPT', `${header.path} (tensor ${name}): shape [${entry.shape.join(', ')}] does not match its ${end - begin} data bytes`, {
      fix: 'the file is corrupt; re-download or re-export it',
    });
  }
  if (entry.dtype === 'F32') {
    new Uint8Array(out.buffer).set(bytes);
  } else if (entry.dtype === 'F16') {
    for (let i = 0; i < count; i++) out[i] = float16BitsToFloat32(bytes.readUInt16LE(i * 2));
  } else if (entry.dtype === 'BF16') {
    for (let i = 0; i < count; i++) out[i] = bfloat16BitsToFloat32(bytes.readUInt16LE(i * 2));
  } else {
    throw new HaloError('ERR_SAFETENSORS_DTYPE', `${header.path}: tensor ${name} has dtype ${entry.dtype}; only F32, F16 and BF16 are read here`, {
      fix: 'convert the checkpoint to F32, F16 or BF16',
    });
  }
  return out;
}
