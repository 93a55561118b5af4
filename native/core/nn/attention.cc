#include "core/nn/attention.h"

#include <cmath>
#include <limits>

#include "core/nn/rope.h"

namespace halo {

at::Tensor Attention::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& mask,
                              at::Tensor& cache_k, at::Tensor& cache_v, const CacheWrite& write) const {
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t group = num_heads / num_kv_heads;
  at::Tensor q = q_proj.forward(x).view({B, T, num_heads, head_dim});
  at::Tensor k = k_proj.forward(x).view({B, T, num_kv_heads, head_dim});
  at::Tensor v = v_proj.forward(x).view({B, T, num_kv_heads, head_dim});
  if (q_norm.weight.defined()) {
    q = q_norm.forward(q);
    k = k_norm.forward(k);
  }
  q = apply_rope(q.transpose(1, 2), cos, sin);  // [B, H, T, D]
  k = apply_rope(k.transpose(1, 2), cos, sin);  // [B, KV, T, D]
  v = v.transpose(1, 2);

  if (write.per_row) {
    c10::List<c10::optional<at::Tensor>> index;
    index.push_back(at::arange(B, write.row_positions.options()));
    index.push_back(c10::nullopt);
    index.push_back(write.row_positions);
    cache_k.index_put_(index, k.select(2, 0));
    cache_v.index_put_(index, v.select(2, 0));
  } else {
    cache_k.narrow(2, write.start, T).copy_(k);
    cache_v.narrow(2, write.start, T).copy_(v);
  }
  at::Tensor keys = cache_k.narrow(2, 0, write.used);
  at::Tensor values = cache_v.narrow(2, 0, write.used);

  // Query heads h = kv * group + g share key head kv: fold the group into the query rows.
  at::Tensor grouped = q.reshape({B, num_kv_heads, group * T, head_dim});
  at::Tensor scores = at::matmul(grouped, keys.transpose(-1, -2)).mul_(1.0 / std::sqrt(static_cast<double>(head_dim)));
  scores = scores.view({B, num_kv_heads, group, T, write.used}).add_(mask);
  at::Tensor probs = scores.scalar_type() == at::kFloat || scores.scalar_type() == at::kDouble ? at::softmax(scores, -1) : at::softmax(scores, -1, at::kFloat).to(scores.scalar_type());
  at::Tensor out = at::matmul(probs.view({B, num_kv_heads, group * T, write.used}), values);  // [B, KV, G*T, D]
  out = out.view({B, num_heads, T, head_dim}).transpose(1, 2).reshape({B, T, num_heads * head_dim});
  return o_proj.forward(out);
}

at::Tensor attention_mask(const at::Tensor& positions, int64_t used, int64_t sliding_window, at::ScalarType dtype) {
  at::Tensor keys = at::arange(used, positions.options()).view({1, 1, used});
  at::Tensor query = positions.unsqueeze(-1);  // [B, T, 1]
  at::Tensor allowed = keys <= query;
  if (sliding_window > 0) allowed = allowed.logical_and(keys > query - sliding_window);
  at::Tensor mask = at::zeros(allowed.sizes(), positions.options().dtype(dtype));
  mask.masked_fill_(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  return mask.view({positions.size(0), 1, 1, positions.size(1), used});
}

}  // namespace halo
