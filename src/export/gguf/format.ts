/**
 * GGUF v3 building blocks: value types of the key/value section, ggml tensor types with their block
 * geometry, llama.cpp file types, and the encoders that turn float32 rows into a tensor type's bytes.
 * Layout: "GGUF", u32 version, u64 tensor count, u64 kv count, the kv pairs, the tensor infos
 * (name, n_dims, ne[] innermost first, type, offset), zero padding to `general.alignment` (32),
 * then every tensor's data, each starting on an alignment boundary. All little-endian.
 */
import { toBfloat16Array, toFloat16Array } from '../float-convert.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** A metadata value with its GGUF type spelled out (GGUF needs the exact width). */
export type GgufValue =
  | { type: GgufValueType.UINT32 | GgufValueType.INT32 | GgufValueType.FLOAT32 | GgufValueType.UINT8 | GgufValueType.INT8 | GgufValueType.UINT16 | GgufValueType.INT16 | GgufValueType.FLOAT64; value: number }
  | { type: GgufValueType.UINT64 | GgufValueType.INT64; value: bigint }
  | { type: GgufValueType.BOOL; value: boolean }
  | { type: GgufValueType.STRING; value: string }
  | { type: GgufValueType.ARRAY; itemType: GgufValueType.STRING; value: readonly string[] }
  | { type: GgufValueType.ARRAY; itemType: GgufValueType.INT32 | GgufValueType.UINT32 | GgufValueType.FLOAT32; value: readonly number[] };

export const gguf = {
  u32: (value: number): GgufValue => ({ type: GgufValueType.UINT32, value }),
  i32: (value: number): GgufValue => ({ type: GgufValueType.INT32, value }),
  f32: (value: number): GgufValue => ({ type: GgufValueType.FLOAT32, value }),
  bool: (value: boolean): GgufValue => ({ type: GgufValueType.BOOL, value }),
  str: (value: string): GgufValue => ({ type: GgufValueType.STRING, value }),
  strings: (value: readonly string[]): GgufValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.STRING, value }),
  i32s: (value: readonly number[]): GgufValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.INT32, value }),
};

/** ggml tensor types (the numbering of ggml.h). Only those with an encoder below can be written. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  BF16 = 30,
}

/** Elements per block and bytes per block of each ggml type. */
export const GGML_BLOCK: Readonly<Record<GgmlType, { elements: number; bytes: number }>> = {
  [GgmlType.F32]: { elements: 1, bytes: 4 },
  [GgmlType.F16]: { elements: 1, bytes: 2 },
  [GgmlType.BF16]: { elements: 1, bytes: 2 },
  [GgmlType.Q4_0]: { elements: 32, bytes: 18 },
  [GgmlType.Q4_1]: { elements: 32, bytes: 20 },
  [GgmlType.Q5_0]: { elements: 32, bytes: 22 },
  [GgmlType.Q5_1]: { elements: 32, bytes: 24 },
  [GgmlType.Q8_0]: { elements: 32, bytes: 34 },
  [GgmlType.Q8_1]: { elements: 32, bytes: 36 },
  [GgmlType.Q2_K]: { elements: 256, bytes: 84 },
  [GgmlType.Q3_K]: { elements: 256, bytes: 110 },
  [GgmlType.Q4_K]: { elements: 256, bytes: 144 },
  [GgmlType.Q5_K]: { elements: 256, bytes: 176 },
  [GgmlType.Q6_K]: { elements: 256, bytes: 210 },
  [GgmlType.Q8_K]: { elements: 256, bytes: 292 },
};

/** llama.cpp's `general.file_type` values (enum llama_ftype) for the types we write or will write. */
export enum LlamaFileType {
  ALL_F32 = 0,
  MOSTLY_F16 = 1,
  MOSTLY_Q4_0 = 2,
  MOSTLY_Q8_0 = 7,
  MOSTLY_Q4_K_S = 14,
  MOSTLY_Q4_K_M = 15,
  MOSTLY_Q6_K = 18,
  MOSTLY_BF16 = 32,
}

/** Bytes of one tensor of `type` with `ne` (innermost dimension first). */
export function tensorByteSize(type: GgmlType, ne: readonly number[]): number {
  const block = GGML_BLOCK[type];
  const rowElements = ne[0];
  if (rowElements % block.elements !== 0) throw new Error(`row of ${rowElements} is not a multiple of the ${GgmlType[type]} block (${block.elements})`);
  const rows = ne.slice(1).reduce((a, b) => a * b, 1);
  return (rowElements / block.elements) * block.bytes * rows;
}

/**
 * Float32 → tensor bytes, per ggml type. The Export issue registers its block quantizers (Q8_0, Q4_K…)
 * here; `rowLength` is ne[0], the length blocks are cut along.
 */
export type TensorEncoder = (values: Float32Array, rowLength: number) => Uint8Array;

const encoders = new Map<GgmlType, TensorEncoder>([
  [GgmlType.F32, (values) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength)],
  [GgmlType.F16, (values) => new Uint8Array(toFloat16Array(values).buffer)],
  [GgmlType.BF16, (values) => new Uint8Array(toBfloat16Array(values).buffer)],
]);

export function registerTensorEncoder(type: GgmlType, encoder: TensorEncoder): void {
  encoders.set(type, encoder);
}

export function tensorEncoder(type: GgmlType): TensorEncoder {
  const encoder = encoders.get(type);
  if (!encoder) throw new Error(`no GGUF encoder for ggml type ${GgmlType[type] ?? type}`);
  return encoder;
}
