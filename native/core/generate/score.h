// Teacher-forced forward passes for scoring: logits at chosen positions, and summed log-probs of
// continuations given contexts. Sequences are batched (right-padded) under a token budget.
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "core/models/decoder.h"

namespace halo {

// positions[i] index into sequences[i]; returns [positions[i].size(), vocab] fp32 CPU tensors.
std::vector<at::Tensor> position_logits(const Decoder& model, const std::vector<std::vector<int64_t>>& sequences,
                                        const std::vector<std::vector<int64_t>>& positions);

struct ContinuationScore {
  double logprob = 0;
  bool greedy = true;
};

std::vector<ContinuationScore> score_continuations(const Decoder& model, const std::vector<std::vector<int64_t>>& contexts,
                                                   const std::vector<std::vector<int64_t>>& continuations);

}  // namespace halo
