#include "core/generate/score.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <functional>

#include "core/errors.h"
#include "core/generate/generate.h"

namespace halo {

namespace {

constexpr int64_t kTokenBudget = 4096;  // padded tokens per forward pass

// Runs the model over sequences in right-padded batches; `visit(i, hidden_i)` gets each
// sequence's final hidden states [length_i, hidden].
void forward_batched(const Decoder& model, const std::vector<std::vector<int64_t>>& sequences,
                     const std::function<void(size_t, const at::Tensor&)>& visit) {
  const at::Device device = model.device();
  size_t first = 0;
  while (first < sequences.size()) {
    size_t last = first + 1;
    int64_t longest = static_cast<int64_t>(sequences[first].size());
    while (last < sequences.size()) {
      const int64_t next_longest = std::max<int64_t>(longest, sequences[last].size());
      if (next_longest * static_cast<int64_t>(last - first + 1) > kTokenBudget) break;
      longest = next_longest;
      ++last;
    }
    const int64_t batch = static_cast<int64_t>(last - first);
    at::Tensor tokens = at::zeros({batch, longest}, at::kLong);
    for (int64_t b = 0; b < batch; ++b) {
      const auto& sequence = sequences[first + b];
      std::copy(sequence.begin(), sequence.end(), tokens[b].data_ptr<int64_t>());
    }
    at::Tensor positions = at::arange(longest, at::TensorOptions().dtype(at::kLong).device(device)).expand({batch, longest});
    KVCache cache = model.allocate_cache(batch, longest);
    CacheWrite write;
    write.used = longest;
    at::Tensor hidden = model.forward(tokens.to(device), positions, cache, write);
    for (int64_t b = 0; b < batch; ++b) visit(first + b, hidden[b].narrow(0, 0, sequences[first + b].size()));
    first = last;
  }
}

}  // namespace

std::vector<at::Tensor> position_logits(const Decoder& model, const std::vector<std::vector<int64_t>>& sequences,
                                        const std::vector<std::vector<int64_t>>& positions) {
  c10::InferenceMode inference;
  check_token_ids(sequences, model.config().vocab_size, "tokens");
  for (size_t i = 0; i < sequences.size(); ++i) {
    if (sequences[i].empty()) throw CodedError("ERR_INVALID_ARG", "tokens[" + std::to_string(i) + "] is empty");
    for (int64_t p : positions[i])
      if (p < 0 || p >= static_cast<int64_t>(sequences[i].size()))
        throw CodedError("ERR_INVALID_ARG", "positions[" + std::to_string(i) + "] holds " + std::to_string(p) +
                                                ", outside the sequence of " + std::to_string(sequences[i].size()) + " tokens");
  }
  std::vector<at::Tensor> result(sequences.size());
  forward_batched(model, sequences, [&](size_t i, const at::Tensor& hidden) {
    at::Tensor index = at::tensor(positions[i], at::kLong).to(model.device());
    result[i] = model.logits(hidden.index_select(0, index)).to(at::kCPU).contiguous();
  });
  return result;
}

std::vector<ContinuationScore> score_continuations(const Decoder& model, const std::vector<std::vector<int64_t>>& contexts,
                                                   const std::vector<std::vector<int64_t>>& continuations) {
  c10::InferenceMode inference;
  const int64_t vocab = model.config().vocab_size;
  check_token_ids(contexts, vocab, "contexts");
  check_token_ids(continuations, vocab, "continuations");
  std::vector<std::vector<int64_t>> joined(contexts.size());
  for (size_t i = 0; i < contexts.size(); ++i) {
    if (contexts[i].empty() || continuations[i].empty())
      throw CodedError("ERR_INVALID_ARG", "query " + std::to_string(i) + ": context and continuation must each hold >= 1 token");
    joined[i] = contexts[i];
    joined[i].insert(joined[i].end(), continuations[i].begin(), continuations[i].end());
  }
  std::vector<ContinuationScore> scores(contexts.size());
  forward_batched(model, joined, [&](size_t i, const at::Tensor& hidden) {
    const int64_t context = static_cast<int64_t>(contexts[i].size());
    const int64_t count = static_cast<int64_t>(continuations[i].size());
    at::Tensor logprobs = at::log_softmax(model.logits(hidden.narrow(0, context - 1, count)), -1);  // [count, V]
    at::Tensor targets = at::tensor(continuations[i], at::kLong).to(model.device()).view({count, 1});
    scores[i].logprob = logprobs.gather(1, targets).sum().item<double>();
    scores[i].greedy = logprobs.argmax(-1).view({count, 1}).eq(targets).all().item<bool>();
  });
  return scores;
}

}  // namespace halo
