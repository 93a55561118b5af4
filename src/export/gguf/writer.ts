/**
 * Streams a GGUF v3 file: the header (metadata + tensor infos) is computed up front from shapes and
 * types, then each tensor's values are produced, encoded and written one at a time, so a model larger
 * than memory can be exported. The file appears atomically (temp file + fsync + rename).
 */
import { AtomicFileStream } from '../../util/atomic-stream.js';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgmlType, GgufValueType, tensorByteSize, tensorEncoder, type GgufValue } from './format.js';

export interface GgufTensor {
  /** GGUF name, e.g. blk.0.attn_q.weight. */
  name: string;
  /** ggml dimensions, innermost first (the reverse of the PyTorch / safetensors shape). */
  ne: readonly number[];
  type: GgmlType;
  /** float32 values in row-major PyTorch order; called once, when the tensor is written. */
  values: () => Float32Array;
}

export interface GgufFile {
  metadata: ReadonlyArray<readonly [string, GgufValue]>;
  tensors: readonly GgufTensor[];
  alignment?: number;
}

/** Little-endian byte builder for the header. */
class ByteBuilder {
  private chunks: Buffer[] = [];
  length = 0;

  private push(buffer: Buffer): void {
    this.chunks.push(buffer);
    this.length += buffer.length;
  }
  u32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0);
    this.push(b);
  }
  i32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value);
    this.push(b);
  }
  u64(value: number | bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(value));
    this.push(b);
  }
  string(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  value(value: GgufValue): void {
    const b = Buffer.alloc(8);
    switch (value.type) {
      case GgufValueType.UINT8: b.writeUInt8(value.value); this.push(b.subarray(0, 1)); break;
      case GgufValueType.INT8: b.writeInt8(value.value); this.push(b.subarray(0, 1)); break;
      case GgufValueType.UINT16: b.writeUInt16LE(value.value); this.push(b.subarray(0, 2)); break;
      case GgufValueType.INT16: b.writeInt16LE(value.value); this.push(b.subarray(0, 2)); break;
      case GgufValueType.UINT32: this.u32(value.value); break;
      case GgufValueType.INT32: this.i32(value.value); break;
      case GgufValueType.FLOAT32: b.writeFloatLE(value.value); this.push(b.subarray(0, 4)); break;
      case GgufValueType.FLOAT64: b.writeDoubleLE(value.value); this.push(b); break;
      case GgufValueType.UINT64: b.writeBigUInt64LE(value.value); this.push(b); break;
      case GgufValueType.INT64: b.writeBigInt64LE(value.value); this.push(b); break;
      case GgufValueType.BOOL: this.push(Buffer.from([value.value ? 1 : 0])); break;
      case GgufValueType.STRING: this.string(value.value); break;
      case GgufValueType.ARRAY:
        this.u32(value.itemType);
        this.u64(value.value.length);
        if (value.itemType === GgufValueType.STRING) {
          for (const item of value.value as readonly string[]) this.string(item);
        } else {
          const items = Buffer.alloc(4 * value.value.length);
          value.value.forEach((item, i) => {
            const n = item as number;
            if (value.itemType === GgufValueType.INT32) items.writeInt32LE(n, 4 * i);
            else if (value.itemType === GgufValueType.UINT32) items.writeUInt32LE(n, 4 * i);
            else items.writeFloatLE(n, 4 * i);
          });
          this.push(items);
        }
        break;
    }
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

export function writeGguf(path: string, file: GgufFile): { bytes: number } {
  const alignment = file.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const names = new Set<string>();
  for (const tensor of file.tensors) {
    if (names.has(tensor.name)) throw new Error(`GGUF ${path}: tensor ${tensor.name} listed twice`);
    names.add(tensor.name);
  }
  const metadata = [...file.metadata];
  if (alignment !== GGUF_DEFAULT_ALIGNMENT) metadata.push(['general.alignment', { type: GgufValueType.UINT32, value: alignment }]);

  const header = new ByteBuilder();
  header.u32(GGUF_MAGIC);
  header.u32(GGUF_VERSION);
  header.u64(file.tensors.length);
  header.u64(metadata.length);
  for (const [key, value] of metadata) {
    header.string(key);
    header.u32(value.type);
    header.value(value);
  }
  const sizes: number[] = [];
  let offset = 0;
  for (const tensor of file.tensors) {
    header.string(tensor.name);
    header.u32(tensor.ne.length);
    for (const dim of tensor.ne) header.u64(dim);
    header.u32(tensor.type);
    header.u64(offset);
    const size = tensorByteSize(tensor.type, tensor.ne);
    sizes.push(size);
    offset = alignUp(offset + size, alignment);
  }

  const stream = new AtomicFileStream(path);
  try {
    const headerBytes = header.bytes();
    stream.write(headerBytes);
    stream.pad(alignUp(headerBytes.length, alignment) - headerBytes.length);
    file.tensors.forEach((tensor, index) => {
      const values = tensor.values();
      const count = tensor.ne.reduce((a, b) => a * b, 1);
      if (values.length !== count) throw new Error(`GGUF ${path}: tensor ${tensor.name} has ${values.length} values, ne [${tensor.ne.join(', ')}] needs ${count}`);
      const bytes = tensorEncoder(tensor.type)(values, tensor.ne[0]);
      if (bytes.length !== sizes[index]) throw new Error(`GGUF ${path}: encoder for ${GgmlType[tensor.type]} produced ${bytes.length} bytes for ${tensor.name}, expected ${sizes[index]}`);
      stream.write(bytes);
      stream.pad(alignUp(bytes.length, alignment) - bytes.length);
    });
    const bytes = stream.position;
    stream.commit();
    return { bytes };
  } catch (error) {
    stream.abort();
    throw error;
  }
}
