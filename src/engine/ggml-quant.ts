/**
 * The addon's GGUF block codecs (native/core/quant): float32 rows → ggml tensor bytes, bit-identical to
 * llama.cpp's reference quantizers, and back. Types are ggml_type numbers (F16 1, Q4_0 2, Q5_0 6, Q5_1 7,
 * Q8_0 8, Q4_K 12, Q5_K 13, Q6_K 14).
 */
import { HaloError } from '../util/errors.js';
import { loadNative } from './load.js';

interface QuantAddon {
  ggmlQuantize?: (type: number, values: Float32Array, rowLength: number) => Uint8Array;
  ggmlDequantize?: (type: number, data: Uint8Array, rowLength: number, count: number) => Float32Array;
}

export const NATIVE_GGML_TYPES: readonly number[] = [1, 2, 6, 7, 8, 12, 13, 14];

function addon(): Required<QuantAddon> {
  const native = loadNative().addon as unknown as QuantAddon;
  if (!native.ggmlQuantize || !native.ggmlDequantize) {
    throw new HaloError('ERR_NATIVE_STALE', 'the halo_forge addon has no GGUF block quantizer (ggmlQuantize)', {
      fix: 'rebuild the addon: npm run build:native',
    });
  }
  return native as Required<QuantAddon>;
}

export function ggmlQuantize(type: number, values: Float32Array, rowLength: number): Uint8Array {
  return addon().ggmlQuantize(type, values, rowLength);
}

export function ggmlDequantize(type: number, data: Uint8Array, rowLength: number, count: number): Float32Array {
  return addon().ggmlDequantize(type, data, rowLength, count);
}
