// GGUF block codecs: float32 rows -> the bytes of a ggml tensor type, bit-identical to ggml's
// reference quantizers (quantize_row_*_ref, what llama-quantize uses without an importance matrix).
#pragma once

#include <cstddef>
#include <cstdint>

namespace halo::quant {

// ggml_type numbering (ggml.h).
enum class GgmlType : int {
  F16 = 1,
  Q4_0 = 2,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
};

struct BlockGeometry {
  int64_t elements;  // values per block
  int64_t bytes;     // bytes per block
};

// False when `type` has no codec here.
bool block_geometry(int type, BlockGeometry* out);

// Encodes `rows` rows of `row_length` floats into `out` (rows * row_length / elements * bytes bytes).
// row_length must be a multiple of the block size. Rows are spread over the intra-op thread pool.
void quantize_rows(GgmlType type, const float* values, int64_t rows, int64_t row_length, uint8_t* out);

// The reverse, for round-trip checks.
void dequantize_rows(GgmlType type, const uint8_t* data, int64_t rows, int64_t row_length, float* out);

}  // namespace halo::quant
