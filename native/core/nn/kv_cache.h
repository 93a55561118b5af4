// Preallocated keys and values for every layer: [rows, kv_heads, capacity, head_dim] each.
#pragma once
#include <ATen/ATen.h>

#include <vector>

namespace halo {

struct KVCache {
  std::vector<at::Tensor> k, v;

  static KVCache allocate(int64_t layers, int64_t rows, int64_t kv_heads, int64_t capacity, int64_t head_dim,
                          const at::TensorOptions& options) {
    // Zeroed, not empty: rows of different lengths share the attended span [0, used), and a slot a
    // row never wrote is masked to -inf. Uninitialised memory there can hold NaN, and NaN * 0 is NaN.
    KVCache cache;
    for (int64_t i = 0; i < layers; ++i) {
      cache.k.push_back(at::zeros({rows, kv_heads, capacity, head_dim}, options));
      cache.v.push_back(at::zeros({rows, kv_heads, capacity, head_dim}, options));
    }
    return cache;
  }

  // Rows [first, first + count) as a cache of their own (views: writes go through).
  KVCache rows(int64_t first, int64_t count) const {
    KVCache view;
    for (size_t i = 0; i < k.size(); ++i) {
      view.k.push_back(k[i].narrow(0, first, count));
      view.v.push_back(v[i].narrow(0, first, count));
    }
    return view;
  }

  // Keeps only the rows in `index` (a long tensor), in that order.
  void keep_rows(const at::Tensor& index) {
    for (size_t i = 0; i < k.size(); ++i) {
      k[i] = k[i].index_select(0, index);
      v[i] = v[i].index_select(0, index);
    }
  }

  int64_t capacity() const { return k.empty() ? 0 : k[0].size(2); }
};

// Where a forward pass writes its keys and values: at [start, start + T) for every row, or, for a
// single new token per row (T = 1), at each row's own position. `used` keys are attended to.
struct CacheWrite {
  bool per_row = false;
  int64_t start = 0;
  at::Tensor row_positions;  // [B] long, when per_row
  int64_t used = 0;
};

}  // namespace halo
