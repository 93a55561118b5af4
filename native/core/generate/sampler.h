// Turns a batch of logits into sampled tokens: temperature, top-k, top-p, min-p, repetition penalty.
// Randomness comes from one counter-free stream per sequence, so a sequence's tokens do not depend
// on which other sequences share its batch.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace halo {

struct SamplingParams {
  double temperature = 1.0;  // 0 = greedy
  int64_t top_k = 0;         // 0 = off
  double top_p = 1.0;        // 1 = off
  double min_p = 0.0;        // 0 = off
  double repetition_penalty = 1.0;
};

// splitmix64-seeded xoshiro256**: a per-sequence stream of uniforms in [0, 1).
class SequenceRng {
 public:
  SequenceRng(uint64_t seed, uint64_t stream);
  double uniform();

 private:
  uint64_t s_[4];
};

struct SampleResult {
  std::vector<int64_t> tokens;
  std::vector<float> logprobs;
};

// logits [A, V] fp32; seen [A, V] bool (tokens already in each sequence; only read when
// repetition_penalty != 1); uniforms: one per row.
SampleResult sample(at::Tensor logits, const SamplingParams& params, const at::Tensor& seen, const std::vector<double>& uniforms);

}  // namespace halo
