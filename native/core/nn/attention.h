// Grouped-query self-attention over a KV cache, with optional q/k RMSNorm (Qwen3) and a sliding window.
#pragma once
#include <ATen/ATen.h>

#include "core/nn/kv_cache.h"
#include "core/nn/linear.h"
#include "core/nn/rmsnorm.h"

namespace halo {

struct Attention {
  Linear q_proj, k_proj, v_proj, o_proj;
  RMSNorm q_norm, k_norm;  // weights undefined unless the model has them
  int64_t num_heads = 0, num_kv_heads = 0, head_dim = 0;

  // x [B, T, hidden]; cos/sin [B, 1, T, head_dim/2]; mask additive [B, 1, 1, T, used];
  // cache_k / cache_v [B, kv_heads, capacity, head_dim] receive this call's keys and values.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& mask,
                     at::Tensor& cache_k, at::Tensor& cache_v, const CacheWrite& write) const;
};

// Additive mask [B, 1, 1, T, used]: query at absolute position p sees key j iff j <= p and, with a
// window w > 0, j > p - w.
at::Tensor attention_mask(const at::Tensor& positions, int64_t used, int64_t sliding_window, at::ScalarType dtype);

}  // namespace halo
