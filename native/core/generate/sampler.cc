#include "core/generate/sampler.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace halo {

namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The probability at which the nucleus ends: sorted descending, tokens are kept while the mass
// before them is below top_p; returns the smallest kept probability. Histograms over the float bits
// (order-preserving for p >= 0) narrow down the boundary in two passes; only the few values left
// in the final bucket are sorted.
float nucleus_threshold(const float* p, int64_t vocab, double top_p, std::vector<double>& bins, std::vector<float>& scratch) {
  auto bits_of = [](float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return bits;
  };
  double before = 0;  // mass of the values above the current bucket
  uint32_t prefix = 0;
  // level 0: bits 31..19 (sign is 0); level 1: bits 18..7 within the chosen level-0 bucket.
  const int shifts[2] = {19, 7};
  for (int level = 0; level < 2; ++level) {
    std::fill(bins.begin(), bins.end(), 0.0);
    for (int64_t v = 0; v < vocab; ++v) {
      const uint32_t bits = bits_of(p[v]);
      if (level == 1 && (bits >> 19) != prefix) continue;
      bins[(bits >> shifts[level]) & 0xFFF] += p[v];
    }
    int64_t bin = 4095;
    for (; bin >= 0; --bin) {
      if (before + bins[bin] >= top_p) break;
      before += bins[bin];
    }
    if (bin < 0) return 0.0f;  // rounding left the total below top_p: keep everything
    prefix = level == 0 ? static_cast<uint32_t>(bin) : (prefix << 12) | static_cast<uint32_t>(bin);
  }
  scratch.clear();
  for (int64_t v = 0; v < vocab; ++v)
    if ((bits_of(p[v]) >> 7) == prefix) scratch.push_back(p[v]);
  std::sort(scratch.begin(), scratch.end(), std::greater<float>());
  for (float value : scratch) {
    if (before + value >= top_p) return value;
    before += value;
  }
  return scratch.empty() ? 0.0f : scratch.back();
}

// The CPU finish of one row of probabilities: nucleus and min-p floors, then an inverse-CDF draw in
// vocabulary order (a full sort per row per step would cost more than the forward pass at batch 1).
void sample_row(const float* p, int64_t vocab, const SamplingParams& params, double u, std::vector<double>& bins,
                std::vector<float>& scratch, int64_t& token, float& logprob) {
  float floor = std::numeric_limits<float>::min();  // never draw a zero-probability token
  if (params.top_p < 1.0) floor = std::max(floor, nucleus_threshold(p, vocab, params.top_p, bins, scratch));
  if (params.min_p > 0.0) floor = std::max(floor, static_cast<float>(params.min_p * *std::max_element(p, p + vocab)));
  double kept = 0;
  for (int64_t v = 0; v < vocab; ++v)
    if (p[v] >= floor) kept += p[v];
  const double target = u * kept;
  double cumulative = 0;
  token = -1;
  for (int64_t v = 0; v < vocab; ++v) {
    if (p[v] < floor) continue;
    cumulative += p[v];
    token = v;
    if (cumulative > target) break;
  }
  logprob = static_cast<float>(std::log(p[token] / kept));
}

}  // namespace

SequenceRng::SequenceRng(uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
  for (uint64_t& word : s_) word = splitmix64(x);
}

double SequenceRng::uniform() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return static_cast<double>(result >> 11) * 0x1.0p-53;
}

SampleResult sample(at::Tensor logits, const SamplingParams& params, const at::Tensor& seen, const std::vector<double>& uniforms) {
  const int64_t rows = logits.size(0), vocab = logits.size(1);
  if (params.repetition_penalty != 1.0) {
    at::Tensor penalised = at::where(logits > 0, logits / params.repetition_penalty, logits * params.repetition_penalty);
    logits = at::where(seen, penalised, logits);
  }
  at::Tensor chosen, logprob;
  if (params.temperature <= 0) {
    chosen = logits.argmax(-1, /*keepdim=*/true);
    logprob = at::log_softmax(logits, -1).gather(-1, chosen);
  } else {
    logits = logits / params.temperature;
    if (params.top_k > 0 && params.top_k < vocab) {
      at::Tensor kth = std::get<0>(logits.topk(params.top_k, -1)).narrow(-1, params.top_k - 1, 1);
      logits = logits.masked_fill(logits < kth, kNegInf);
    }
    at::Tensor probs = at::softmax(logits, -1);
    // HALO_FORGE_TENSOR_SAMPLER=1 runs the device-generic path on the CPU too (tests check both).
    const char* force_tensor = std::getenv("HALO_FORGE_TENSOR_SAMPLER");
    if (probs.device().is_cpu() && !(force_tensor && force_tensor[0] == '1')) {
      at::Tensor rows_cpu = probs.contiguous();
      SampleResult result;
      result.tokens.resize(rows);
      result.logprobs.resize(rows);
      const float* data = rows_cpu.data_ptr<float>();
      at::parallel_for(0, rows, 1, [&](int64_t first, int64_t last) {
        std::vector<double> bins(4096);
        std::vector<float> scratch;
        for (int64_t r = first; r < last; ++r)
          sample_row(data + r * vocab, vocab, params, uniforms[r], bins, scratch, result.tokens[r], result.logprobs[r]);
      });
      return result;
    }
    at::Tensor order;  // sorted -> vocab index, when we work in sorted order
    if (params.top_p < 1.0) {
      auto sorted = probs.sort(-1, /*descending=*/true);
      probs = std::get<0>(sorted);
      order = std::get<1>(sorted);
      // Drop a token when the tokens ranked above it already hold top_p of the mass (keeps >= 1).
      at::Tensor before = probs.cumsum(-1) - probs;
      probs = probs.masked_fill(before >= params.top_p, 0.0);
    }
    if (params.min_p > 0.0) {
      at::Tensor floor = std::get<0>(probs.max(-1, /*keepdim=*/true)) * params.min_p;
      probs = probs.masked_fill(probs < floor, 0.0);
    }
    at::Tensor cumulative = probs.to(at::kDouble).cumsum(-1);
    at::Tensor total = cumulative.narrow(-1, vocab - 1, 1);
    at::Tensor u = at::tensor(uniforms, at::kDouble).to(logits.device()).view({rows, 1});
    at::Tensor index = at::searchsorted(cumulative, u * total, /*out_int32=*/false, /*right=*/true).clamp_max_(vocab - 1);
    logprob = (probs.gather(-1, index).to(at::kDouble) / total).log().to(at::kFloat);
    chosen = order.defined() ? order.gather(-1, index) : index;
  }
  at::Tensor chosen_cpu = chosen.view({rows}).to(at::kCPU, at::kLong).contiguous();
  at::Tensor logprob_cpu = logprob.view({rows}).to(at::kCPU, at::kFloat).contiguous();
  SampleResult result;
  result.tokens.assign(chosen_cpu.data_ptr<int64_t>(), chosen_cpu.data_ptr<int64_t>() + rows);
  result.logprobs.assign(logprob_cpu.data_ptr<float>(), logprob_cpu.data_ptr<float>() + rows);
  return result;
}

}  // namespace halo
