// Weight-only quantization for `inference optimize` (the "halo-forge-weight-only" folder format):
//  - int8: one symmetric scale per output row, q in [-127, 127], w ≈ scale[r] * q.
//  - int4: asymmetric groups of `group` consecutive inputs of a row, q in [0, 15], w ≈ scale[g] * q + min[g];
//    a group's q bytes hold element j in the low nibble and element j + group/2 in the high nibble, so a
//    kernel unpacks 2 x 8 values from 8 bytes with a mask and a shift (no shuffles).
// The int4 scale and min are rounded to fp16 (they are stored as F16); q is chosen for the rounded values.
// Kernels compute y = x Wq^T with the weight dequantized in registers, fp32 accumulation.
#pragma once

#include <cstdint>

namespace halo::quant {

// q: rows * cols int8, scale: rows floats.
void quantize_int8(const float* w, int64_t rows, int64_t cols, int8_t* q, float* scale);
// packed: rows * cols / 2 bytes; scale, min: rows * (cols / group) floats (fp16-representable).
// cols % group == 0 and group % 16 == 0 (callers check).
void quantize_int4(const float* w, int64_t rows, int64_t cols, int64_t group, uint8_t* packed, float* scale, float* min);

// Rows [row_begin, row_end) of the float weight into `out` ([rows, cols] fp32), threaded over rows.
void dequantize_int8(const int8_t* q, const float* scale, int64_t cols, int64_t row_begin, int64_t row_end, float* out);
void dequantize_int4(const uint8_t* packed, const float* scale, const float* min, int64_t cols, int64_t group, int64_t row_begin,
                     int64_t row_end, float* out);

// y[m * out_rows + r] = dot(W[r], x[m]) for r in [row_begin, row_end), m in [0, M); x is [M, cols] fp32.
// Single-threaded over the given rows; callers split rows across threads.
void int8_rows(const int8_t* q, const float* scale, int64_t cols, const float* x, int64_t M, int64_t out_rows,
               int64_t row_begin, int64_t row_end, float* y);
// x_group_sums: [M, cols / group], the sum of x over each group (the min term needs it once per input).
void int4_rows(const uint8_t* packed, const float* scale, const float* min, int64_t cols, int64_t group, const float* x,
               const float* x_group_sums, int64_t M, int64_t out_rows, int64_t row_begin, int64_t row_end, float* y);

// True when the AVX2 + FMA kernels are in use on this CPU (otherwise the portable loops).
bool weight_only_simd();

}  // namespace halo::quant
