/**
 * Block-wise weight quantization in com.microsoft MatMulNBits' layout (onnxruntime ContribOperators):
 * a weight W [N, K] (a Linear layer's [out, in]) is cut along K into blocks of `blockSize`; each block
 * has a float scale and an unsigned zero point, and a code q dequantizes as (q - zero_point) · scale.
 *   B           uint8 [N, kBlocks, blockSize · bits / 8], codes packed low bits first along K
 *   scales      float [N, kBlocks]
 *   zero_points uint8 [N, ceil(kBlocks · bits / 8)], packed the same way as B
 * A last partial block is padded with codes equal to its zero point (value 0).
 */

export interface BlockQuantized {
  bits: number;
  blockSize: number;
  rows: number;
  columns: number;
  kBlocks: number;
  packed: Uint8Array;
  scales: Float32Array;
  zeroPoints: Uint8Array;
}

export const MATMUL_NBITS_BITS = [4, 8] as const;

/**
 * Asymmetric round-to-nearest per block over [min(0, min w), max(0, max w)] (onnxruntime's own default
 * scheme, so 0 stays exactly representable).
 */
export function quantizeBlockwise(values: Float32Array, rows: number, columns: number, blockSize: number, bits: 4 | 8): BlockQuantized {
  const levels = (1 << bits) - 1;
  const kBlocks = Math.ceil(columns / blockSize);
  const blob = (blockSize * bits) / 8;
  const perByte = 8 / bits;
  const zeroBytes = Math.ceil((kBlocks * bits) / 8);
  const packed = new Uint8Array(rows * kBlocks * blob);
  const scales = new Float32Array(rows * kBlocks);
  const zeroPoints = new Uint8Array(rows * zeroBytes);
  const codes = new Uint8Array(blockSize);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < kBlocks; b++) {
      const start = b * blockSize;
      const end = Math.min(columns, start + blockSize);
      let min = 0;
      let max = 0;
      for (let c = start; c < end; c++) {
        const v = values[r * columns + c];
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const scale = max > min ? Math.fround((max - min) / levels) : 1;
      const zero = Math.max(0, Math.min(levels, Math.round(-min / scale)));
      codes.fill(zero);
      for (let c = start; c < end; c++) codes[c - start] = Math.max(0, Math.min(levels, Math.round(values[r * columns + c] / scale) + zero));
      scales[r * kBlocks + b] = scale;
      const out = (r * kBlocks + b) * blob;
      for (let j = 0; j < blockSize; j++) packed[out + Math.floor(j / perByte)] |= codes[j] << ((j % perByte) * bits);
      zeroPoints[r * zeroBytes + Math.floor(b / perByte)] |= zero << ((b % perByte) * bits);
    }
  }
  return { bits, blockSize, rows, columns, kBlocks, packed, scales, zeroPoints };
}

/** The float32 weight [N, K] that a BlockQuantized tensor stands for: (q - zero_point) · scale. */
export function dequantizeBlockwise(q: BlockQuantized): Float32Array {
  const { bits, blockSize, rows, columns, kBlocks } = q;
  const blob = (blockSize * bits) / 8;
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  const zeroBytes = Math.ceil((kBlocks * bits) / 8);
  const out = new Float32Array(rows * columns);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const b = Math.floor(c / blockSize);
      const j = c - b * blockSize;
      const code = (q.packed[(r * kBlocks + b) * blob + Math.floor(j / perByte)] >> ((j % perByte) * bits)) & mask;
      const zero = (q.zeroPoints[r * zeroBytes + Math.floor(b / perByte)] >> ((b % perByte) * bits)) & mask;
      out[r * columns + c] = Math.fround((code - zero) * q.scales[r * kBlocks + b]);
    }
  }
  return out;
}
