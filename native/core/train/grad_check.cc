#include "core/train/grad_check.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

#include "core/train/chunked_loss.h"
#include "core/train/train_forward.h"

namespace halo {

GradCheckResult gradient_check(Decoder& model, TrainOptions options, const std::vector<MicroBatch>& batches,
                               int64_t per_tensor, double epsilon, uint64_t seed) {
  std::shared_ptr<Decoder> wide = clone_decoder(model, at::kDouble);
  options.lora.dropout = 0;
  Trainer trainer(wide, options);
  at::Generator rng = at::detail::createCPUGenerator(seed);
  if (!options.full_finetune) {
    at::NoGradGuard no_grad;
    for (AdamWSlot& slot : trainer.optimizer().slots)
      if (slot.name.find("lora_B") != std::string::npos) slot.param.detach().normal_(0.0, 0.05, rng);
  }
  trainer.loss(batches, /*with_grad=*/true);

  GradCheckResult result;
  for (AdamWSlot& slot : trainer.optimizer().slots) {
    at::Tensor analytic = slot.param.grad().detach().clone().view(-1);
    at::Tensor flat = slot.param.detach().view(-1);
    ++result.tensors;
    const double largest = analytic.abs().max().item<double>();
    at::Tensor candidates = analytic.abs().ge(0.01 * largest).nonzero().view(-1);
    if (largest == 0 || candidates.numel() == 0) throw std::runtime_error("gradient check: " + slot.name + " has an all-zero gradient");
    for (int64_t k = 0; k < per_tensor; ++k) {
      // Entries whose gradient is at least 1% of the tensor's largest: a zero gradient (an embedding
      // row no token uses) would compare rounding noise with zero.
      const int64_t index = candidates[at::randint(candidates.numel(), {1}, rng, at::kLong).item<int64_t>()].item<int64_t>();
      const double original = flat[index].item<double>();
      flat[index].fill_(original + epsilon);
      const double up = trainer.loss(batches, false);
      flat[index].fill_(original - epsilon);
      const double down = trainer.loss(batches, false);
      flat[index].fill_(original);
      const double numeric = (up - down) / (2 * epsilon);
      const double exact = analytic[index].item<double>();
      const double abs_error = std::abs(numeric - exact);
      const double scale = std::max({std::abs(numeric), std::abs(exact), 1e-8});
      result.max_abs_error = std::max(result.max_abs_error, abs_error);
      result.max_rel_error = std::max(result.max_rel_error, abs_error / scale);
      ++result.checked;
    }
  }
  trainer.detach();
  return result;
}

}  // namespace halo

namespace halo {

ChunkedLossCheck chunked_loss_check(int64_t n, int64_t h, int64_t v, int64_t chunk, uint64_t seed) {
  at::Generator rng = at::detail::createCPUGenerator(seed);
  at::Tensor hidden = at::randn({n, h}, rng, at::kDouble);
  at::Tensor weight = at::randn({v, h}, rng, at::kDouble);
  at::Tensor targets = at::randint(v, {n}, rng, at::kLong);
  at::Tensor weights = at::rand({n}, rng, at::kDouble).gt(0.5).to(at::kDouble);
  const double counted = weights.sum().item<double>();
  ChunkedLoss ours = chunked_cross_entropy(hidden, weight, targets, weights, 1.0 / counted, chunk, true);

  at::Tensor h_ref = hidden.clone().requires_grad_(true), w_ref = weight.clone().requires_grad_(true);
  at::Tensor per_token = at::cross_entropy_loss(at::matmul(h_ref, w_ref.t()), targets, {}, at::Reduction::None);
  at::Tensor loss = (per_token * weights).sum() / counted;
  loss.backward();
  ChunkedLossCheck check;
  check.loss_abs_diff = std::abs(ours.loss_sum / counted - loss.item<double>());
  check.grad_hidden_max_diff = (ours.grad_hidden - h_ref.grad()).abs().max().item<double>();
  check.grad_weight_max_diff = (ours.grad_weight - w_ref.grad()).abs().max().item<double>();
  return check;
}

}  // namespace halo
