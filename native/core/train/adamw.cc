#include "core/train/adamw.h"

#include <cmath>

namespace halo {

void AdamW::add(const std::string& name, const at::Tensor& param) {
  AdamWSlot slot;
  slot.name = name;
  slot.param = param;
  const bool wide = param.scalar_type() == at::kFloat || param.scalar_type() == at::kDouble;
  slot.master = wide ? param : param.detach().to(at::kFloat);
  slot.exp_avg = at::zeros_like(slot.master);
  slot.exp_avg_sq = at::zeros_like(slot.master);
  slots.push_back(std::move(slot));
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  ++step_count;
  const double bias1 = 1.0 - std::pow(config.beta1, static_cast<double>(step_count));
  const double bias2 = 1.0 - std::pow(config.beta2, static_cast<double>(step_count));
  const double step_size = lr / bias1;
  const double bias2_sqrt = std::sqrt(bias2);
  for (AdamWSlot& slot : slots) {
    at::Tensor grad = slot.param.grad();
    if (!grad.defined()) grad = at::zeros_like(slot.master);
    else if (grad.scalar_type() != slot.master.scalar_type()) grad = grad.to(slot.master.scalar_type());
    at::Tensor p = slot.master.is_same(slot.param) ? slot.param.detach() : slot.master;
    p.mul_(1.0 - lr * config.weight_decay);
    slot.exp_avg.mul_(config.beta1).add_(grad, 1.0 - config.beta1);
    slot.exp_avg_sq.mul_(config.beta2).addcmul_(grad, grad, 1.0 - config.beta2);
    at::Tensor denom = (slot.exp_avg_sq.sqrt() / bias2_sqrt).add_(config.eps);
    p.addcdiv_(slot.exp_avg, denom, -step_size);
    if (!slot.master.is_same(slot.param)) slot.param.detach().copy_(slot.master);
  }
}

void AdamW::zero_grad() {
  for (AdamWSlot& slot : slots) {
    at::Tensor grad = slot.param.mutable_grad();
    if (grad.defined()) grad.zero_();
  }
}

double clip_grad_norm(AdamW& optimizer, double max_norm) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (AdamWSlot& slot : optimizer.slots) {
    at::Tensor grad = slot.param.grad();
    if (grad.defined()) norms.push_back(grad.to(slot.master.scalar_type()).norm(2));
  }
  if (norms.empty()) return 0.0;
  const double total = at::stack(norms).norm(2).item<double>();
  if (max_norm > 0 && std::isfinite(total)) {
    const double coef = max_norm / (total + 1e-6);
    if (coef < 1.0)
      for (AdamWSlot& slot : optimizer.slots)
        if (slot.param.grad().defined()) slot.param.mutable_grad().mul_(coef);
  }
  return total;
}

}  // namespace halo
