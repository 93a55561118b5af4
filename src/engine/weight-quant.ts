/**
 * The addon's weight-only quantizer and linear kernel (native/core/quant/weight_only, nn/quant_linear):
 * int8 with one symmetric scale per output row, or int4 in groups of `groupSize` inputs with an fp16
 * scale and min per group, two levels per byte (element j of a group in the low nibble, j + group/2 in
 * the high one). `inference optimize` stores these arrays; the engine runs them natively.
 */
import { HaloError } from '../util/errors.js';
import { loadNative } from './load.js';

export type WeightBits = 8 | 4;

export interface QuantizedMatrix {
  bits: WeightBits;
  /** int4: inputs per group; int8: -1 (per row). */
  groupSize: number;
  rows: number;
  cols: number;
  /** int8: rows × cols levels; int4: rows × cols / 2 packed bytes */
  data: Int8Array | Uint8Array;
  /** int8: [rows]; int4: [rows, cols / groupSize] */
  scale: Float32Array;
  /** int4 only: [rows, cols / groupSize] */
  min?: Float32Array;
}

interface WeightQuantAddon {
  weightOnlyQuantize?: (values: Float32Array, rows: number, cols: number, bits: number, groupSize: number) => { data: Int8Array | Uint8Array; scale: Float32Array; min?: Float32Array };
  weightOnlyLinear?: (weight: QuantizedMatrix, x: Float32Array, m: number, tensorOps: boolean) => Float32Array;
  weightOnlySimd?: () => boolean;
}

function addon(): Required<WeightQuantAddon> {
  const native = loadNative().addon as unknown as WeightQuantAddon;
  if (!native.weightOnlyQuantize || !native.weightOnlyLinear || !native.weightOnlySimd) {
    throw new HaloError('ERR_NATIVE_STALE', 'the halo_forge addon has no weight-only quantizer (weightOnlyQuantize)', { fix: 'rebuild the addon: npm run build:native' });
  }
  return native as Required<WeightQuantAddon>;
}

/** Quantizes a row-major [rows, cols] float matrix (multithreaded, native). */
export function quantizeWeight(values: Float32Array, rows: number, cols: number, bits: WeightBits, groupSize: number): QuantizedMatrix {
  const out = addon().weightOnlyQuantize(values, rows, cols, bits, bits === 8 ? -1 : groupSize);
  return { bits, groupSize: bits === 8 ? -1 : groupSize, rows, cols, ...out };
}

/**
 * y = x Wᵀ through the engine's quantized linear (x: [m, cols] → [m, rows]). For tests and tools.
 * `tensorOps`: dequantize with the device-generic tensor ops (the GPU path) instead of the CPU kernels.
 */
export function quantizedLinear(weight: QuantizedMatrix, x: Float32Array, m: number, tensorOps = false): Float32Array {
  return addon().weightOnlyLinear(weight, x, m, tensorOps);
}

/** Whether the AVX2 + FMA decode kernels run on this CPU (else portable loops). */
export function weightKernelsSimd(): boolean {
  return addon().weightOnlySimd();
}
