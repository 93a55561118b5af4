// AdamW with decoupled weight decay and fp32 moments, the update written out (PyTorch's
// single-tensor AdamW order of operations, so a step matches torch.optim.AdamW to rounding).
// Each parameter may keep an fp32 master copy (when the model computes in bf16/fp16): the update
// runs on the master and is then copied into the model's tensor.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace halo {

struct AdamWConfig {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

struct AdamWSlot {
  std::string name;
  at::Tensor param;   // the tensor the model computes with (its .grad() is read)
  at::Tensor master;  // fp32 (or fp64) copy the update runs on; == param when param is already that
  at::Tensor exp_avg, exp_avg_sq;
};

struct AdamW {
  AdamWConfig config;
  std::vector<AdamWSlot> slots;
  int64_t step_count = 0;  // updates applied so far

  void add(const std::string& name, const at::Tensor& param);
  // One update with learning rate `lr` from each param's current .grad() (a missing grad counts as zero).
  void step(double lr);
  void zero_grad();
};

// Global L2 norm over every slot's gradient; when max_norm > 0 and the norm exceeds it, scales the
// gradients by max_norm / (norm + 1e-6) (torch.nn.utils.clip_grad_norm_). Returns the norm before clipping.
double clip_grad_norm(AdamW& optimizer, double max_norm);

}  // namespace halo
