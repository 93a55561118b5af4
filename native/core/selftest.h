// A matmul through libtorch: the smallest real path from JavaScript to the BLAS and back.
#pragma once
#include <ATen/core/Tensor.h>
#include <cstdint>

namespace halo {

// a [m,k] @ b [k,n]; a shape mismatch raises c10::Error (reaches JS as ERR_TORCH).
at::Tensor matmul(const at::Tensor& a, const at::Tensor& b);

struct MatmulTiming {
  int64_t n = 0;
  int iterations = 0;
  double best_ms = 0;
  double median_ms = 0;
  double gflops = 0;         // at the best time: 2 n^3 / t
  double max_abs_error = 0;  // vs a float64 reference on a 64x64 corner
};

// Times an n x n fp32 matmul `iterations` times after one warm-up.
MatmulTiming time_matmul(int64_t n, int iterations, uint64_t seed);

}  // namespace halo
