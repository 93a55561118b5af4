// Masked next-token cross-entropy over a large vocabulary, computed in chunks of tokens so that the
// full [tokens x vocab] fp32 logits never exist at once. Forward and backward happen in one pass:
// the loss is a scalar, so each chunk's gradient (softmax - onehot) is known as soon as its logits are,
// and the chunk's logits are freed before the next chunk starts.
#pragma once
#include <ATen/ATen.h>

namespace halo {

struct ChunkedLoss {
  double loss_sum = 0;       // sum over counted tokens of weight * (-log p(target))
  at::Tensor grad_hidden;    // d(loss_sum * scale)/d hidden, [N, H], hidden's dtype
  at::Tensor grad_weight;    // d(loss_sum * scale)/d weight, [V, H] fp32, or undefined
};

// hidden [N, H]; weight [V, H] (the lm_head); targets [N] long; token_weights [N] float (0 = not
// counted, e.g. prompt or padding). Gradients are of `scale * loss_sum` (scale = 1 / counted tokens
// for a mean). Only rows with a non-zero weight are multiplied at all. Logits are fp32 whatever the
// compute dtype. chunk_tokens <= 0 means all counted rows at once (the unchunked reference).
ChunkedLoss chunked_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                                  const at::Tensor& token_weights, double scale, int64_t chunk_tokens,
                                  bool need_weight_grad);

}  // namespace halo
