#include "core/generate/generate.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>

#include "core/errors.h"

namespace halo {

namespace {

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

at::Tensor long_tensor(const std::vector<int64_t>& values, at::Device device) {
  return at::tensor(values, at::kLong).to(device);
}

// Samples in chunks of rows so that a large n (thousands of samples of one prompt) never holds
// more than kChunk x vocab temporaries.
SampleResult sample_rows(const at::Tensor& logits, const std::vector<int64_t>& source, const SamplingParams& params,
                         const at::Tensor& seen, const std::vector<double>& uniforms) {
  constexpr int64_t kChunk = 128;
  const int64_t rows = static_cast<int64_t>(source.size());
  const bool identity = logits.size(0) == rows;
  SampleResult all;
  for (int64_t first = 0; first < rows; first += kChunk) {
    const int64_t count = std::min(kChunk, rows - first);
    at::Tensor chunk = identity ? logits.narrow(0, first, count)
                                : logits.index_select(0, long_tensor({source.begin() + first, source.begin() + first + count}, logits.device()));
    SampleResult part = sample(chunk, params, seen.defined() ? seen.narrow(0, first, count) : seen,
                               {uniforms.begin() + first, uniforms.begin() + first + count});
    all.tokens.insert(all.tokens.end(), part.tokens.begin(), part.tokens.end());
    all.logprobs.insert(all.logprobs.end(), part.logprobs.begin(), part.logprobs.end());
  }
  return all;
}

}  // namespace

void check_token_ids(const std::vector<std::vector<int64_t>>& tokens, int64_t vocab, const std::string& what) {
  for (size_t i = 0; i < tokens.size(); ++i)
    for (size_t j = 0; j < tokens[i].size(); ++j)
      if (tokens[i][j] < 0 || tokens[i][j] >= vocab)
        throw CodedError("ERR_TOKEN_OUT_OF_RANGE", what + "[" + std::to_string(i) + "][" + std::to_string(j) + "] = " +
                                                       std::to_string(tokens[i][j]) + " is outside the vocabulary [0, " +
                                                       std::to_string(vocab) + ")");
}

GenerateOutput generate(const Decoder& model, std::atomic<int64_t>& prefill_counter, const GenerateRequest& request,
                        const std::atomic<bool>& cancelled, const ProgressFn& progress) {
  c10::InferenceMode inference;
  const int64_t vocab = model.config().vocab_size;
  const int64_t n = request.samples_per_prompt;
  const int64_t prompts = static_cast<int64_t>(request.prompts.size());
  if (request.max_new_tokens <= 0) throw CodedError("ERR_INVALID_ARG", "maxNewTokens must be >= 1");
  if (n <= 0) throw CodedError("ERR_INVALID_ARG", "n must be >= 1");
  for (size_t i = 0; i < request.prompts.size(); ++i)
    if (request.prompts[i].empty()) throw CodedError("ERR_INVALID_ARG", "prompts[" + std::to_string(i) + "] is empty");
  check_token_ids(request.prompts, vocab, "prompts");
  check_token_ids({request.stop_token_ids}, vocab, "stopTokenIds");

  const at::Device device = model.device();
  const int64_t rows = prompts * n;
  int64_t longest = 0;
  for (const auto& prompt : request.prompts) longest = std::max<int64_t>(longest, prompt.size());
  // The last sampled token is never fed back, so max_new_tokens - 1 generated positions are cached.
  const int64_t capacity = longest + request.max_new_tokens - 1;

  GenerateOutput output;
  output.sequences.resize(rows);
  std::vector<SequenceRng> rngs;
  std::vector<int64_t> lengths(rows);  // tokens in the cache after the next feed (prompt + generated so far)
  for (int64_t r = 0; r < rows; ++r) {
    output.sequences[r].prompt_index = r / n;
    output.sequences[r].sample_index = r % n;
    rngs.emplace_back(request.seed, static_cast<uint64_t>(r));
  }
  const bool penalise = request.sampling.repetition_penalty != 1.0;
  at::Tensor seen;
  if (penalise) seen = at::zeros({rows, vocab}, at::TensorOptions().dtype(at::kBool).device(device));

  // --- prefill: once per prompt, keys and values copied into the rows of its n samples ---------
  auto prefill_start = std::chrono::steady_clock::now();
  auto last_step = prefill_start;  // when the previous step's tokens were sampled (the call's start at first)
  KVCache cache = model.allocate_cache(rows, std::max<int64_t>(capacity, 1));
  std::vector<at::Tensor> first_logits;
  for (int64_t p = 0; p < prompts; ++p) {
    const std::vector<int64_t>& prompt = request.prompts[p];
    const int64_t length = static_cast<int64_t>(prompt.size());
    KVCache rows_of_prompt = cache.rows(p * n, n);
    KVCache first_row = rows_of_prompt.rows(0, 1);
    CacheWrite write;
    write.start = 0;
    write.used = length;
    at::Tensor tokens = long_tensor(prompt, device).view({1, length});
    at::Tensor positions = at::arange(length, at::TensorOptions().dtype(at::kLong).device(device)).view({1, length});
    at::Tensor hidden = model.forward(tokens, positions, first_row, write);
    prefill_counter.fetch_add(1);
    ++output.prefills;
    for (size_t layer = 0; layer < cache.k.size() && n > 1; ++layer) {
      rows_of_prompt.k[layer].narrow(0, 1, n - 1).narrow(2, 0, length).copy_(first_row.k[layer].narrow(2, 0, length).expand({n - 1, -1, -1, -1}));
      rows_of_prompt.v[layer].narrow(0, 1, n - 1).narrow(2, 0, length).copy_(first_row.v[layer].narrow(2, 0, length).expand({n - 1, -1, -1, -1}));
    }
    first_logits.push_back(model.logits(hidden.select(1, length - 1)));
    for (int64_t s = 0; s < n; ++s) lengths[p * n + s] = length;
    if (penalise) seen.narrow(0, p * n, n).index_fill_(1, long_tensor(prompt, device), true);
    if (cancelled.load()) break;
  }
  output.prefill_ms = elapsed_ms(prefill_start);

  // --- decode: every live row feeds its last token; finished rows leave the batch ----------------
  auto decode_start = std::chrono::steady_clock::now();
  std::vector<int64_t> live(rows);  // live[i] = sequence index of batch row i
  for (int64_t r = 0; r < rows; ++r) live[r] = r;
  GenerateProgress report;
  report.total_sequences = rows;
  // Batch row i samples from logits row source[i]: at first one row per prompt, then one per sequence.
  at::Tensor logits = static_cast<int64_t>(first_logits.size()) == prompts ? at::cat(first_logits, 0) : at::Tensor();
  std::vector<int64_t> source(rows);
  for (int64_t r = 0; r < rows; ++r) source[r] = r / n;

  while (!live.empty()) {
    if (cancelled.load() || !logits.defined()) {
      for (int64_t r : live) output.sequences[r].finish = FinishReason::Cancelled;
      report.finished_sequences += static_cast<int64_t>(live.size());
      break;
    }
    const int64_t batch = static_cast<int64_t>(live.size());
    std::vector<double> uniforms(batch);
    for (int64_t i = 0; i < batch; ++i) uniforms[i] = rngs[live[i]].uniform();
    auto sample_start = std::chrono::steady_clock::now();
    SampleResult sampled = sample_rows(logits, source, request.sampling, seen, uniforms);
    output.sample_ms += elapsed_ms(sample_start);
    const auto sampled_at = std::chrono::steady_clock::now();
    const double since_last = std::chrono::duration<double, std::milli>(sampled_at - last_step).count();
    if (last_step == prefill_start) output.first_token_ms = since_last;
    else output.step_ms.push_back(since_last);
    last_step = sampled_at;

    std::vector<int64_t> keep;  // batch rows that go on
    for (int64_t i = 0; i < batch; ++i) {
      GeneratedSequence& sequence = output.sequences[live[i]];
      const int64_t token = sampled.tokens[i];
      sequence.tokens.push_back(token);
      sequence.logprobs.push_back(sampled.logprobs[i]);
      ++report.generated_tokens;
      if (std::find(request.stop_token_ids.begin(), request.stop_token_ids.end(), token) != request.stop_token_ids.end()) {
        sequence.finish = FinishReason::Stop;
      } else if (static_cast<int64_t>(sequence.tokens.size()) >= request.max_new_tokens) {
        sequence.finish = FinishReason::Length;
      } else {
        keep.push_back(i);
        continue;
      }
      ++report.finished_sequences;
    }
    if (progress) progress(report);
    if (keep.empty()) break;

    if (static_cast<int64_t>(keep.size()) < batch) {
      at::Tensor index = long_tensor(keep, device);
      cache.keep_rows(index);
      if (penalise) seen = seen.index_select(0, index);
      std::vector<int64_t> next_live;
      for (int64_t i : keep) next_live.push_back(live[i]);
      live.swap(next_live);
    }
    std::vector<int64_t> tokens, positions;
    int64_t used = 0;
    for (size_t i = 0; i < keep.size(); ++i) {
      const int64_t sequence = live[i];
      tokens.push_back(output.sequences[sequence].tokens.back());
      positions.push_back(lengths[sequence]);
      used = std::max(used, lengths[sequence] + 1);
      ++lengths[sequence];
    }
    at::Tensor token_tensor = long_tensor(tokens, device);
    if (penalise) seen.scatter_(1, token_tensor.view({-1, 1}), true);
    CacheWrite write;
    write.per_row = true;
    write.row_positions = long_tensor(positions, device);
    write.used = used;
    at::Tensor hidden = model.forward(token_tensor.view({-1, 1}), write.row_positions.view({-1, 1}), cache, write);
    logits = model.logits(hidden.select(1, 0));
    source.resize(keep.size());
    for (size_t i = 0; i < keep.size(); ++i) source[i] = static_cast<int64_t>(i);
  }
  output.decode_ms = elapsed_ms(decode_start);
  output.generated_tokens = report.generated_tokens;
  return output;
}

}  // namespace halo
