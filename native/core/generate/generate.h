// Batched generation in one call: prefill each prompt once, copy its KV rows to its n samples,
// then decode all live sequences together, dropping finished ones from the batch.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/generate/sampler.h"
#include "core/models/decoder.h"

namespace halo {

struct GenerateRequest {
  std::vector<std::vector<int64_t>> prompts;
  int64_t samples_per_prompt = 1;
  int64_t max_new_tokens = 0;
  SamplingParams sampling;
  std::vector<int64_t> stop_token_ids;
  uint64_t seed = 0;
};

enum class FinishReason { Stop, Length, Cancelled };

struct GeneratedSequence {
  int64_t prompt_index = 0;
  int64_t sample_index = 0;
  std::vector<int64_t> tokens;
  std::vector<float> logprobs;
  FinishReason finish = FinishReason::Length;
};

struct GenerateOutput {
  std::vector<GeneratedSequence> sequences;  // prompt-major
  int64_t prefills = 0;
  int64_t generated_tokens = 0;
  double prefill_ms = 0;
  double decode_ms = 0;
  double sample_ms = 0;  // part of decode_ms spent turning logits into tokens
  // Latency as a caller sees it: from the call's start to the first sampled tokens (prefill included),
  // then the time between each decode step's tokens and the previous step's (one entry per later step).
  double first_token_ms = 0;
  std::vector<double> step_ms;
};

struct GenerateProgress {
  int64_t generated_tokens = 0;
  int64_t finished_sequences = 0;
  int64_t total_sequences = 0;
};

using ProgressFn = std::function<void(const GenerateProgress&)>;

// Throws CodedError for bad requests (ERR_TOKEN_OUT_OF_RANGE, ERR_INVALID_ARG).
GenerateOutput generate(const Decoder& model, std::atomic<int64_t>& prefill_counter, const GenerateRequest& request,
                        const std::atomic<bool>& cancelled, const ProgressFn& progress);

// Every id in `tokens` must be in [0, vocab); `what` names the input in the error.
void check_token_ids(const std::vector<std::vector<int64_t>>& tokens, int64_t vocab, const std::string& what);

}  // namespace halo
