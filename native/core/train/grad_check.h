// Gradient check: the trainer's analytic gradients (chunked loss, checkpointed backward) against
// central finite differences of its own loss, in float64, on a copy of the model.
#pragma once
#include <vector>

#include "core/train/trainer.h"

namespace halo {

struct GradCheckResult {
  double max_rel_error = 0;
  double max_abs_error = 0;
  int64_t checked = 0;  // parameter entries compared
  int64_t tensors = 0;  // trainable tensors sampled from
};

// Copies `model` to float64, builds a trainer with `options` (LoRA B drawn at random so A's gradient
// is not zero), and compares `per_tensor` randomly chosen entries of each trainable tensor.
GradCheckResult gradient_check(Decoder& model, TrainOptions options, const std::vector<MicroBatch>& batches,
                               int64_t per_tensor, double epsilon, uint64_t seed);

}  // namespace halo

namespace halo {

struct ChunkedLossCheck {
  double loss_abs_diff = 0;         // vs the unchunked autograd reference (float64)
  double grad_hidden_max_diff = 0;
  double grad_weight_max_diff = 0;
};

// Random hidden [n, h], weight [v, h], targets, a mask keeping about half the rows: our chunked
// loss and gradients against at::cross_entropy + autograd on the full logits, in float64.
ChunkedLossCheck chunked_loss_check(int64_t n, int64_t h, int64_t v, int64_t chunk, uint64_t seed);

struct AdamWCheck {
  double max_abs_diff = 0;  // ours vs torch::optim::AdamW after `steps` updates
};

// Our AdamW (with grad clipping off) against libtorch's own torch::optim::AdamW, same gradients.
AdamWCheck adamw_check(int64_t steps, double lr, double weight_decay, uint64_t seed);

}  // namespace halo
