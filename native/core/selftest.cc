#include "core/selftest.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace halo {

at::Tensor matmul(const at::Tensor& a, const at::Tensor& b) {
  TORCH_CHECK(a.dim() == 2 && b.dim() == 2, "matmul: expected 2-D tensors, got ", a.sizes(), " and ", b.sizes());
  return at::mm(a, b);
}

MatmulTiming time_matmul(int64_t n, int iterations, uint64_t seed) {
  TORCH_CHECK(n > 0 && iterations > 0, "time_matmul: n and iterations must be positive");
  auto generator = at::detail::createCPUGenerator(seed);
  at::Tensor a = at::randn({n, n}, generator, at::kFloat);
  at::Tensor b = at::randn({n, n}, generator, at::kFloat);
  at::Tensor c = at::mm(a, b);  // warm-up: thread pool, BLAS buffers

  std::vector<double> times_ms;
  for (int i = 0; i < iterations; ++i) {
    auto start = std::chrono::steady_clock::now();
    c = at::mm(a, b);
    auto stop = std::chrono::steady_clock::now();
    times_ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  std::sort(times_ms.begin(), times_ms.end());

  int64_t corner = std::min<int64_t>(n, 64);
  at::Tensor reference = at::mm(a.slice(0, 0, corner).to(at::kDouble), b.slice(1, 0, corner).to(at::kDouble));
  at::Tensor got = c.slice(0, 0, corner).slice(1, 0, corner).to(at::kDouble);

  MatmulTiming timing;
  timing.n = n;
  timing.iterations = iterations;
  timing.best_ms = times_ms.front();
  timing.median_ms = times_ms[times_ms.size() / 2];
  timing.gflops = 2.0 * n * n * n / (timing.best_ms * 1e6);
  timing.max_abs_error = (got - reference).abs().max().item<double>();
  return timing;
}

}  // namespace halo
