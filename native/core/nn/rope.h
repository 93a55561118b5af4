// Rotary position embeddings (rotate-half layout, as in HF Llama/Qwen), with linear, llama3 and yarn scaling.
#pragma once
#include <ATen/ATen.h>

#include "core/models/config.h"

namespace halo {

struct Rope {
  at::Tensor inv_freq;  // [head_dim / 2] fp32 on the model's device
  double attention_factor = 1.0;

  static Rope build(const ModelConfig& config, at::Device device);

  // cos and sin for absolute positions [B, T] -> each [B, 1, T, head_dim / 2] in `dtype`.
  std::pair<at::Tensor, at::Tensor> tables(const at::Tensor& positions, at::ScalarType dtype) const;
};

// x: [B, heads, T, head_dim]
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace halo
