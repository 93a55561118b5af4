// SwiGLU feed-forward: down(silu(gate(x)) * up(x)).
#pragma once
#include <ATen/ATen.h>

#include "core/nn/linear.h"

namespace halo {

struct SwiGluMlp {
  Linear gate, up, down;

  at::Tensor forward(const at::Tensor& x) const { return down.forward(at::silu(gate.forward(x)).mul_(up.forward(x))); }
};

}  // namespace halo
