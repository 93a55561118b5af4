// y = x W^T + b, plus an optional adapter's delta (LoRA slots in here and is read live at every call).
// W is either a float tensor or, for `inference optimize` folders, a weight-only int8 / int4 one.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <vector>

#include "core/nn/quant_linear.h"

namespace halo {

struct LinearAdapter {
  virtual ~LinearAdapter() = default;
  virtual at::Tensor delta(const at::Tensor& x) const = 0;  // same shape as the base output
};

struct Linear {
  at::Tensor weight;  // [out, in]
  at::Tensor bias;    // [out] or undefined
  std::shared_ptr<LinearAdapter> adapter;
  std::shared_ptr<const QuantizedWeight> quantized;  // set instead of `weight` for a quantized projection


  at::Tensor forward(const at::Tensor& x) const {
    at::Tensor y;
    if (quantized) {
      y = quantized->forward(x);
      if (bias.defined()) y.add_(bias);
    } else if (x.scalar_type() == at::kFloat && x.numel() == x.size(-1) && x.is_cpu()) {
      // One fp32 row (batch-1 decode): gemv streams the weight once; OpenBLAS's gemm with M = 1
      // measured 3-7x slower here.
      std::vector<int64_t> sizes = x.sizes().vec();
      sizes.back() = weight.size(0);
      y = at::mv(weight, x.reshape({-1})).view(sizes);
      if (bias.defined()) y.add_(bias);
    } else {
      y = bias.defined() ? at::linear(x, weight, bias) : at::matmul(x, weight.t());
    }
    if (adapter) y = y + adapter->delta(x);
    return y;
  }
};

}  // namespace halo
