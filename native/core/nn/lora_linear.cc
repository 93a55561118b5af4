#include "core/nn/lora_linear.h"

#include <cmath>

namespace halo {

double lora_scaling(const LoraOptions& options) {
  const double r = static_cast<double>(options.rank);
  return options.use_rslora ? options.alpha / std::sqrt(r) : options.alpha / r;
}

at::Tensor LoraAdapter::delta(const at::Tensor& x) const {
  at::Tensor input = x;
  if (training && dropout > 0) {
    // The mask is drawn on the CPU from the trainer's generator (its state is checkpointed), then moved.
    at::Tensor keep = at::empty(x.sizes(), x.options().device(at::kCPU)).bernoulli_(1.0 - dropout, dropout_rng).to(x.device());
    input = x * keep.div_(1.0 - dropout);
  }
  return at::matmul(at::matmul(input, A.t()), B.t()).mul(scaling);
}

std::shared_ptr<LoraAdapter> make_lora(const Linear& base, const LoraOptions& options, at::Generator& init_rng) {
  TORCH_CHECK(options.rank > 0, "lora rank must be positive, got ", options.rank);
  const int64_t out = base.weight.size(0), in = base.weight.size(1);
  auto adapter = std::make_shared<LoraAdapter>();
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  at::Tensor a = at::empty({options.rank, in}, at::kFloat).uniform_(-bound, bound, init_rng);
  adapter->A = a.to(base.weight.options());
  adapter->B = at::zeros({out, options.rank}, base.weight.options());
  adapter->scaling = lora_scaling(options);
  adapter->dropout = options.dropout;
  return adapter;
}

at::Tensor merged_weight(const Linear& base, const LoraAdapter& adapter) {
  at::NoGradGuard no_grad;
  const at::ScalarType acc = base.weight.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor delta = at::matmul(adapter.B.to(acc), adapter.A.to(acc)).mul_(adapter.scaling);
  return (base.weight.to(acc) + delta).to(base.weight.scalar_type());
}

}  // namespace halo
