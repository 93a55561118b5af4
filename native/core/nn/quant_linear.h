// A projection whose weight is stored weight-only quantized (int8 rows or int4 groups, see
// core/quant/weight_only.h). Linear uses it in place of a float weight when a folder's config.json has
// a halo-forge-weight-only quantization_config.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>

namespace halo {

struct QuantizedWeight {
  int bits = 0;             // 8 or 4
  int64_t group_size = 0;   // int4: inputs per (scale, min) group; int8: in_features (one scale per row)
  int64_t out_features = 0;
  int64_t in_features = 0;
  at::Tensor data;   // int8 [out, in] | uint8 [out, in / 2] (two nibbles per byte)
  at::Tensor scale;  // fp32 [out] | fp32 [out, in / group]
  at::Tensor min;    // int4 only: fp32 [out, in / group]

  // x [..., in] (fp32 / bf16 / fp16) -> [..., out] in x's dtype. On the CPU with at most
  // kDirectRows input rows (decode) the dot products read the packed weight directly; otherwise the
  // weight is dequantized a tile of rows at a time and multiplied by GEMM.
  at::Tensor forward(const at::Tensor& x) const;
  // Rows [row_begin, row_end) of the float weight, fp32, on the weight's device.
  at::Tensor dequantize(int64_t row_begin, int64_t row_end) const;
  // The same with device-generic tensor ops (what GPUs use; the CPU has a threaded loop).
  at::Tensor dequantize_with_tensor_ops(int64_t row_begin, int64_t row_end) const;
};

constexpr int64_t kDirectRows = 8;

// Checks dtypes, shapes and group size of tensors loaded for `name` (CodedError ERR_QUANT_FORMAT).
void validate_quantized_weight(const QuantizedWeight& weight, const std::string& name, const std::string& file);

}  // namespace halo
