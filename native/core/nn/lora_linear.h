// LoRA: y = W x + (alpha / r) * B (A dropout(x)), read live at every forward (training and generation).
// A [r, in] starts kaiming-uniform with a = sqrt(5) (PEFT's init: U(-1/sqrt(in), 1/sqrt(in))), B [out, r]
// starts at zero, so a fresh adapter leaves the model unchanged. rsLoRA scales by alpha / sqrt(r).
#pragma once
#include <ATen/ATen.h>

#include <memory>

#include "core/nn/linear.h"

namespace halo {

struct LoraOptions {
  int64_t rank = 8;
  double alpha = 16;
  double dropout = 0.0;
  bool use_rslora = false;
};

double lora_scaling(const LoraOptions& options);

struct LoraAdapter : LinearAdapter {
  at::Tensor A;  // [r, in]
  at::Tensor B;  // [out, r]
  double scaling = 1.0;
  double dropout = 0.0;
  bool training = false;           // dropout only while training
  at::Generator dropout_rng;  // shared with the trainer (its state is part of a checkpoint)

  at::Tensor delta(const at::Tensor& x) const override;
};

// A new adapter for `base` ([out, in] weight), A drawn from `init_rng`, B zeros, in base's dtype/device.
std::shared_ptr<LoraAdapter> make_lora(const Linear& base, const LoraOptions& options, at::Generator& init_rng);

// W + scaling * B A, in W's dtype (the merged weight for export).
at::Tensor merged_weight(const Linear& base, const LoraAdapter& adapter);

}  // namespace halo
