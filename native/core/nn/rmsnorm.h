// RMSNorm as Hugging Face computes it: normalise in fp32, cast back, then scale by the weight.
#pragma once
#include <ATen/ATen.h>

namespace halo {

struct RMSNorm {
  at::Tensor weight;
  double eps = 1e-6;

  at::Tensor forward(const at::Tensor& x) const {
    at::Tensor x32 = x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble ? x : x.to(at::kFloat);
    at::Tensor normed = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
    return weight * normed.to(x.scalar_type());
  }
};

}  // namespace halo
