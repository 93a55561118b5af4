#include "core/nn/quant_linear.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "core/errors.h"
#include "core/quant/weight_only.h"

namespace halo {

namespace {

// Enough weights per task that thread hand-off stays small next to the dot products.
int64_t row_grain(int64_t in_features) { return std::max<int64_t>(4, (1 << 15) / std::max<int64_t>(in_features, 1)); }

// Rows per dequantized tile in the GEMM path: about 4M fp32 values (16 MB) at a time.
int64_t tile_rows(int64_t in_features) { return std::max<int64_t>(64, (int64_t{1} << 22) / std::max<int64_t>(in_features, 1)); }

}  // namespace

at::Tensor QuantizedWeight::dequantize(int64_t row_begin, int64_t row_end) const {
  const int64_t rows = row_end - row_begin;
  if (data.is_cpu()) {  // one threaded pass (the tensor-op chain below measured ~10x slower on the CPU)
    at::Tensor out = at::empty({rows, in_features}, at::TensorOptions().dtype(at::kFloat));
    if (bits == 8) quant::dequantize_int8(data.data_ptr<int8_t>(), scale.data_ptr<float>(), in_features, row_begin, row_end, out.data_ptr<float>());
    else quant::dequantize_int4(data.data_ptr<uint8_t>(), scale.data_ptr<float>(), min.data_ptr<float>(), in_features, group_size, row_begin, row_end, out.data_ptr<float>());
    return out;
  }
  return dequantize_with_tensor_ops(row_begin, row_end);
}

at::Tensor QuantizedWeight::dequantize_with_tensor_ops(int64_t row_begin, int64_t row_end) const {
  const int64_t rows = row_end - row_begin;
  if (bits == 8) return data.narrow(0, row_begin, rows).to(at::kFloat) * scale.narrow(0, row_begin, rows).unsqueeze(1);
  const int64_t groups = in_features / group_size, half = group_size / 2;
  at::Tensor bytes = data.narrow(0, row_begin, rows).view({rows, groups, half});
  at::Tensor levels = at::cat({at::bitwise_and(bytes, 15), at::bitwise_right_shift(bytes, 4)}, -1).to(at::kFloat);  // [rows, groups, group]
  at::Tensor values = levels * scale.narrow(0, row_begin, rows).unsqueeze(-1) + min.narrow(0, row_begin, rows).unsqueeze(-1);
  return values.view({rows, in_features});
}

at::Tensor QuantizedWeight::forward(const at::Tensor& x) const {
  const int64_t M = x.numel() / in_features;
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = out_features;
  if (x.is_cpu() && data.is_cpu() && M <= kDirectRows) {
    at::Tensor input = x.reshape({M, in_features}).to(at::kFloat).contiguous();
    at::Tensor y = at::empty({M, out_features}, input.options());
    const float* xs = input.data_ptr<float>();
    float* ys = y.data_ptr<float>();
    if (bits == 8) {
      const int8_t* q = data.data_ptr<int8_t>();
      const float* s = scale.data_ptr<float>();
      at::parallel_for(0, out_features, row_grain(in_features), [&](int64_t begin, int64_t end) {
        quant::int8_rows(q, s, in_features, xs, M, out_features, begin, end, ys);
      });
    } else {
      at::Tensor sums = input.view({M, in_features / group_size, group_size}).sum(-1).contiguous();
      const float* group_sums = sums.data_ptr<float>();
      const uint8_t* q = data.data_ptr<uint8_t>();
      const float* s = scale.data_ptr<float>();
      const float* mn = min.data_ptr<float>();
      at::parallel_for(0, out_features, row_grain(in_features), [&](int64_t begin, int64_t end) {
        quant::int4_rows(q, s, mn, in_features, group_size, xs, group_sums, M, out_features, begin, end, ys);
      });
    }
    return y.view(sizes).to(x.scalar_type());
  }
  const int64_t step = tile_rows(in_features);
  if (step >= out_features) return at::matmul(x, dequantize(0, out_features).to(x.scalar_type()).t());
  std::vector<at::Tensor> tiles;
  for (int64_t row = 0; row < out_features; row += step) {
    const int64_t end = std::min(out_features, row + step);
    tiles.push_back(at::matmul(x, dequantize(row, end).to(x.scalar_type()).t()));
  }
  return at::cat(tiles, -1);
}

void validate_quantized_weight(const QuantizedWeight& w, const std::string& name, const std::string& file) {
  auto fail = [&](const std::string& what) { throw CodedError("ERR_QUANT_FORMAT", file + ": " + name + ": " + what); };
  if (w.bits == 8) {
    if (w.data.scalar_type() != at::kChar) fail("int8 weights must be stored as I8");
    if (w.scale.scalar_type() != at::kFloat) fail("the int8 row scales must be floating point");
    return;
  }
  if (w.bits != 4) fail("unsupported bit width " + std::to_string(w.bits) + " (supported: 8, 4)");
  if (w.data.scalar_type() != at::kByte) fail("int4 weights must be stored as U8 (two values per byte)");
  if (w.scale.scalar_type() != at::kFloat || !w.min.defined() || w.min.scalar_type() != at::kFloat) fail("int4 groups need floating-point weight_scale and weight_min tensors");
}

}  // namespace halo
