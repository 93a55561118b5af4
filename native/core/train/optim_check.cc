// Kept in its own file: torch/optim pulls in heavy headers, and only this check needs them.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/optim/adamw.h>

#include "core/train/grad_check.h"

namespace halo {

AdamWCheck adamw_check(int64_t steps, double lr, double weight_decay, uint64_t seed) {
  at::Generator rng = at::detail::createCPUGenerator(seed);
  at::Tensor start = at::randn({37, 19}, rng, at::kFloat);
  at::Tensor ours = start.clone().requires_grad_(true);
  at::Tensor theirs = start.clone().requires_grad_(true);
  AdamW optimizer;
  optimizer.config.weight_decay = weight_decay;
  optimizer.add("w", ours);
  torch::optim::AdamW reference({theirs}, torch::optim::AdamWOptions(lr).weight_decay(weight_decay));
  for (int64_t i = 0; i < steps; ++i) {
    at::Tensor grad = at::randn({37, 19}, rng, at::kFloat);
    ours.mutable_grad() = grad.clone();
    theirs.mutable_grad() = grad.clone();
    optimizer.step(lr);
    reference.step();
  }
  AdamWCheck check;
  check.max_abs_diff = (ours.detach() - theirs.detach()).abs().max().item<double>();
  return check;
}

}  // namespace halo
