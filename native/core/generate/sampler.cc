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

// --- the CPU row sampler ------------------------------------------------------------------------
// One pass per row turns logits into unnormalised weights w = exp(x / T - max / T) (a per-thread
// scratch row; no [rows, vocab] temporaries) while building a histogram of their float bits; the
// nucleus floor comes from that histogram, the kept mass from per-block sums, and the inverse-CDF
// draw scans only the block the target falls in. Sums run in kLanes independent float lanes, which
// the compiler vectorises without reordering them. Each row is one thread's work, so tokens depend
// on the seed and the CPU, never on the thread count.

// The build targets baseline x86-64 (SSE2); on GCC / Linux the row sampler is also compiled for
// AVX2 + FMA and AVX-512, picked once at load time for the CPU it runs on (FMA rounds differently,
// so those clones can differ from each other in the last bit of a weight). The x86-64-vN level names
// in target_clones are used only from GCC 12 (the compiler this was built and tested with); older
// compilers build the baseline alone.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && defined(__linux__)
#define HALO_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define HALO_INLINE __attribute__((always_inline)) inline  // compiled into each clone
#else
#define HALO_CPU_CLONES
#define HALO_INLINE inline
#endif

constexpr int64_t kBlock = 256;  // vocabulary entries per block
constexpr int64_t kLanes = 16;
constexpr int kCoarseShift = 19;       // histogram of w's bits 30..19: exponent and 4 mantissa bits
constexpr int64_t kCoarseBins = 2048;  // w <= 1, so bit 30 is 0
constexpr int kFineShift = 11;         // bits 18..11 split the boundary's coarse bucket
constexpr int64_t kFineBins = 256;
constexpr size_t kSortDirectly = 64;  // a bucket this small is sorted instead of split

HALO_INLINE uint32_t bits_of(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

HALO_INLINE float from_bits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// exp(x) for x <= 0 (Cephes' expf: range reduction by ln 2 and a degree-5 polynomial, ~1 ulp);
// exactly 1 at 0, and 0 below -87 (-inf and NaN included), so no result is subnormal. Selects are
// integer masks: GCC does not if-convert a conditional float operation (it might trap), which
// would keep the loop from vectorising.
HALO_INLINE float exp_nonpositive(float x) {
  const uint32_t keep = x >= -87.0f ? 0xFFFFFFFFu : 0u;
  const float fx = x * 1.44269504088896341f + 0.5f;
  int32_t n = static_cast<int32_t>(fx);  // fx <= 0.5: truncation, then down to the floor
  n -= static_cast<float>(n) > fx ? 1 : 0;
  const float nf = static_cast<float>(n);
  x = x - nf * 0.693359375f + nf * 2.12194440e-4f;
  const float z = x * x;
  float y = 1.9875691500e-4f;
  y = y * x + 1.3981999507e-3f;
  y = y * x + 8.3334519073e-3f;
  y = y * x + 4.1665795894e-2f;
  y = y * x + 1.6666665459e-1f;
  y = y * x + 5.0000001201e-1f;
  y = y * z + x + 1.0f;
  const float scale = from_bits(static_cast<uint32_t>(n + 127) << 23);
  return from_bits(bits_of(y * scale) & keep);
}

HALO_INLINE float reduce_lanes(const float* lanes) {
  float sum = 0;
  for (int64_t l = 0; l < kLanes; ++l) sum += lanes[l];
  return sum;
}

// The block loops take kFull = true for a whole block, so their trip count is a compile-time
// multiple of the vector width (what -O2's vectoriser asks for); the tail block runs the same
// arithmetic element by element.
template <bool kFull>
HALO_INLINE float block_max(const float* __restrict x, int64_t count, float running) {
  const int64_t n = kFull ? kBlock : count;
  float lanes[kLanes];
  for (int64_t l = 0; l < kLanes; ++l) lanes[l] = running;
  if (kFull) {
    for (int64_t j = 0; j < n; j += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) lanes[l] = x[j + l] > lanes[l] ? x[j + l] : lanes[l];
  } else {
    for (int64_t j = 0; j < n; ++j) lanes[j % kLanes] = x[j] > lanes[j % kLanes] ? x[j] : lanes[j % kLanes];
  }
  float best = running;
  for (int64_t l = 0; l < kLanes; ++l) best = lanes[l] > best ? lanes[l] : best;
  return best;
}

// w[j] = exp(x[j] / T - shift), or 0 where x[j] / T < kth (top-k); returns the block's sum.
template <bool kFull>
HALO_INLINE float block_weights(const float* __restrict x, float* __restrict w, int64_t count, float temperature, float shift, float kth) {
  const int64_t n = kFull ? kBlock : count;
  for (int64_t j = 0; j < n; ++j) {
    const float scaled = x[j] / temperature;
    const float weight = exp_nonpositive(scaled - shift);
    w[j] = from_bits(bits_of(weight) & (scaled < kth ? 0u : 0xFFFFFFFFu));
  }
  float lanes[kLanes] = {};
  if (kFull) {
    for (int64_t j = 0; j < n; j += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) lanes[l] += w[j + l];
  } else {
    for (int64_t j = 0; j < n; ++j) lanes[j % kLanes] += w[j];
  }
  return reduce_lanes(lanes);
}

// The mass of the block's weights at or above floor.
template <bool kFull>
HALO_INLINE float block_kept(const float* __restrict w, int64_t count, float floor) {
  const int64_t n = kFull ? kBlock : count;
  float lanes[kLanes] = {};
  if (kFull) {
    for (int64_t j = 0; j < n; j += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) lanes[l] += w[j + l] >= floor ? w[j + l] : 0.0f;
  } else {
    for (int64_t j = 0; j < n; ++j) lanes[j % kLanes] += w[j] >= floor ? w[j] : 0.0f;
  }
  return reduce_lanes(lanes);
}

// Hugging Face's repetition penalty on one block: seen tokens' positive logits are divided by
// it, negative ones multiplied.
template <bool kFull>
HALO_INLINE void block_penalise(const float* __restrict x, const uint8_t* __restrict seen, float* __restrict out, int64_t count, float penalty) {
  const int64_t n = kFull ? kBlock : count;
  for (int64_t j = 0; j < n; ++j) {
    const uint32_t divide = x[j] > 0 ? 0xFFFFFFFFu : 0u, change = seen[j] ? 0xFFFFFFFFu : 0u;
    const uint32_t penalised = (bits_of(x[j] / penalty) & divide) | (bits_of(x[j] * penalty) & ~divide);
    out[j] = from_bits((penalised & change) | (bits_of(x[j]) & ~change));
  }
}

// Adds the block's weights to the histogram over their float bits. Bucket and double value are
// computed in vector loops first: a scalar float-to-double conversion inside the scatter would
// chain every iteration to the previous one (cvtss2sd merges into its destination register).
template <bool kFull>
HALO_INLINE void block_histogram(const float* __restrict w, int64_t count, double* __restrict bins) {
  const int64_t n = kFull ? kBlock : count;
  uint32_t bucket[kBlock];
  double mass[kBlock];
  // Zero weights (top-k's dropped tokens) spread over buckets 0..15, which hold nothing else (w is
  // 0 or >= e^-87, a normal float), so runs of them do not chain on one bucket either.
  for (int64_t j = 0; j < n; ++j) {
    const uint32_t bits = bits_of(w[j]);
    bucket[j] = (bits >> kCoarseShift) + (bits == 0 ? static_cast<uint32_t>(j % 16) : 0u);
  }
  for (int64_t j = 0; j < n; ++j) mass[j] = w[j];
  for (int64_t j = 0; j < n; ++j) bins[bucket[j]] += mass[j];
}

// The k-th largest of x (ties counted): a min-heap of the k largest so far, for k well below the
// vocabulary (most values fail one comparison with the heap's top), else nth_element on a copy.
float kth_largest(const float* x, int64_t vocab, int64_t k, std::vector<float>& heap) {
  heap.assign(x, x + (k <= vocab / 16 ? k : vocab));
  if (k > vocab / 16) {
    std::nth_element(heap.begin(), heap.begin() + (k - 1), heap.end(), std::greater<float>());
    return heap[k - 1];
  }
  std::make_heap(heap.begin(), heap.end(), std::greater<float>());
  for (int64_t v = k; v < vocab; ++v) {
    if (!(x[v] > heap.front())) continue;
    std::pop_heap(heap.begin(), heap.end(), std::greater<float>());
    heap.back() = x[v];
    std::push_heap(heap.begin(), heap.end(), std::greater<float>());
  }
  return heap.front();
}

struct RowScratch {
  std::vector<float> penalised;   // the row after the repetition penalty
  std::vector<float> weights;     // exp(x / T - max / T)
  std::vector<float> candidates;  // the nucleus boundary's bucket; the top-k selection
  std::vector<double> coarse_bins, block_mass;
};

// Walks values in descending order: the first at which the mass before it reaches target.
float walk_sorted(std::vector<float>& values, double& before, double target) {
  std::sort(values.begin(), values.end(), std::greater<float>());
  for (float value : values) {
    if (before + value >= target) return value;
    before += value;
  }
  return values.empty() ? 0.0f : values.back();
}

// The weight at which the nucleus ends: in descending order, tokens are kept while the mass
// before them is below target (= top_p x total); returns the smallest kept weight, or 0 (keep
// all) when rounding left the total below target. The coarse histogram over the float bits
// (order-preserving for w >= 0) picks the boundary's bucket; a big bucket is split by a finer
// histogram; only the values left are sorted.
HALO_INLINE float nucleus_floor(const float* w, int64_t vocab, double target, RowScratch& s) {
  double before = 0;  // mass above the current bucket
  int64_t coarse = kCoarseBins - 1;
  for (; coarse >= 0; --coarse) {
    if (before + s.coarse_bins[coarse] >= target) break;
    before += s.coarse_bins[coarse];
  }
  if (coarse < 0) return 0.0f;
  std::vector<float>& c = s.candidates;
  c.resize(static_cast<size_t>(vocab));
  const uint32_t wanted = static_cast<uint32_t>(coarse);
  size_t count = 0;
  int64_t v = 0;
  for (; v + kLanes <= vocab; v += kLanes) {  // a vector test skips groups with no value in the bucket
    uint32_t any = 0;
    for (int64_t l = 0; l < kLanes; ++l) any |= (bits_of(w[v + l]) >> kCoarseShift) == wanted ? 1u : 0u;
    if (any == 0) continue;
    for (int64_t l = 0; l < kLanes; ++l) {  // branch-free append
      c[count] = w[v + l];
      count += (bits_of(w[v + l]) >> kCoarseShift) == wanted ? 1 : 0;
    }
  }
  for (; v < vocab; ++v) {
    c[count] = w[v];
    count += (bits_of(w[v]) >> kCoarseShift) == wanted ? 1 : 0;
  }
  c.resize(count);
  if (count <= kSortDirectly) return walk_sorted(c, before, target);
  const float smallest = *std::min_element(c.begin(), c.end());
  double fine_bins[kFineBins] = {};
  for (float value : c) fine_bins[(bits_of(value) >> kFineShift) % kFineBins] += value;
  int64_t fine = kFineBins - 1;
  for (; fine >= 0; --fine) {
    if (before + fine_bins[fine] >= target) break;
    before += fine_bins[fine];
  }
  if (fine < 0) return smallest;  // the bucket's mass, summed in another order, fell short: keep it all
  count = 0;
  for (float value : c) {
    c[count] = value;
    count += (bits_of(value) >> kFineShift) % kFineBins == static_cast<uint32_t>(fine) ? 1 : 0;
  }
  c.resize(count);
  return walk_sorted(c, before, target);
}

// One row, logits to token: repetition penalty, temperature, top-k, the nucleus and min-p floors,
// then an inverse-CDF draw in vocabulary order (a full sort per row per step would cost more than
// the forward pass at batch 1).
HALO_CPU_CLONES void sample_row(const float* logits, const uint8_t* seen, int64_t vocab, const SamplingParams& params, double u, RowScratch& s,
                int64_t& token, float& logprob) {
  const float* x = logits;
  if (seen != nullptr) {  // Hugging Face: divide positive logits of seen tokens, multiply negative ones
    const float penalty = static_cast<float>(params.repetition_penalty);
    s.penalised.resize(static_cast<size_t>(vocab));
    float* out = s.penalised.data();
    for (int64_t first = 0; first < vocab; first += kBlock) {
      const int64_t count = std::min(kBlock, vocab - first);
      if (count == kBlock) block_penalise<true>(logits + first, seen + first, out + first, kBlock, penalty);
      else block_penalise<false>(logits + first, seen + first, out + first, count, penalty);
    }
    x = out;
  }
  const int64_t blocks = (vocab + kBlock - 1) / kBlock;
  const int64_t full_blocks = vocab / kBlock;
  const float temperature = static_cast<float>(params.temperature);

  float max = kNegInf;
  for (int64_t b = 0; b < full_blocks; ++b) max = block_max<true>(x + b * kBlock, kBlock, max);
  if (full_blocks < blocks) max = block_max<false>(x + full_blocks * kBlock, vocab - full_blocks * kBlock, max);
  const float shift = max / temperature;  // = the largest x / T: division by T > 0 keeps the order

  float kth = kNegInf;  // top-k: the k-th largest x / T; smaller ones get weight 0 (ties are kept)
  if (params.top_k > 0 && params.top_k < vocab) {
    kth = kth_largest(x, vocab, params.top_k, s.candidates) / temperature;
  }

  const bool nucleus = params.top_p < 1.0;
  s.weights.resize(static_cast<size_t>(vocab));
  s.block_mass.resize(static_cast<size_t>(blocks));
  if (nucleus) std::fill(s.coarse_bins.begin(), s.coarse_bins.end(), 0.0);
  float* w = s.weights.data();
  double total = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t first = b * kBlock, count = std::min(kBlock, vocab - first);
    const float mass = count == kBlock ? block_weights<true>(x + first, w + first, kBlock, temperature, shift, kth)
                                       : block_weights<false>(x + first, w + first, count, temperature, shift, kth);
    s.block_mass[b] = mass;
    total += mass;
    if (nucleus) {
      if (count == kBlock) block_histogram<true>(w + first, kBlock, s.coarse_bins.data());
      else block_histogram<false>(w + first, count, s.coarse_bins.data());
    }
  }

  // The largest weight is exp(0) = 1, so min-p's floor is min_p itself. Zero weights are never drawn.
  float floor = std::numeric_limits<float>::min();
  if (nucleus) floor = std::max(floor, nucleus_floor(w, vocab, params.top_p * total, s));
  if (params.min_p > 0.0) floor = std::max(floor, static_cast<float>(params.min_p));
  double kept = total;
  if (floor > std::numeric_limits<float>::min()) {  // else every positive weight is kept: the sums stand
    kept = 0;
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t first = b * kBlock, count = std::min(kBlock, vocab - first);
      const float mass = count == kBlock ? block_kept<true>(w + first, kBlock, floor) : block_kept<false>(w + first, count, floor);
      s.block_mass[b] = mass;
      kept += mass;
    }
  }

  const double target = u * kept;
  double cumulative = 0;
  int64_t b = 0;
  for (; b < blocks - 1 && cumulative + s.block_mass[b] <= target; ++b) cumulative += s.block_mass[b];
  token = -1;
  for (int64_t v = b * kBlock; v < vocab; ++v) {
    if (w[v] < floor) continue;
    cumulative += w[v];
    token = v;
    if (cumulative > target) break;
  }
  if (token < 0) token = std::max_element(x, x + vocab) - x;  // no positive weight (NaN logits, T below float's range)
  logprob = static_cast<float>(std::log(static_cast<double>(w[token]) / kept));
}

SampleResult sample_on_cpu(const at::Tensor& logits, const SamplingParams& params, const at::Tensor& seen, const std::vector<double>& uniforms) {
  const int64_t rows = logits.size(0), vocab = logits.size(1);
  const at::Tensor x = logits.to(at::kFloat).contiguous();
  const bool penalise = params.repetition_penalty != 1.0;
  TORCH_CHECK(!penalise || (seen.defined() && seen.sizes() == logits.sizes()), "sample: the repetition penalty needs seen [rows, vocab]");
  const at::Tensor seen_rows = penalise ? seen.to(at::kBool).contiguous() : at::Tensor();
  const float* data = x.data_ptr<float>();
  // bool loads do not vectorise; a bool tensor's bytes are 0 or 1
  const uint8_t* seen_data = penalise ? reinterpret_cast<const uint8_t*>(seen_rows.data_ptr<bool>()) : nullptr;
  SampleResult result;
  result.tokens.resize(rows);
  result.logprobs.resize(rows);
  at::parallel_for(0, rows, 1, [&](int64_t first, int64_t last) {
    thread_local RowScratch scratch;
    scratch.coarse_bins.resize(kCoarseBins);
    for (int64_t r = first; r < last; ++r)
      sample_row(data + r * vocab, penalise ? seen_data + r * vocab : nullptr, vocab, params, uniforms[r], scratch, result.tokens[r],
                 result.logprobs[r]);
  });
  return result;
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
  // HALO_FORGE_TENSOR_SAMPLER=1 runs the device-generic path on the CPU too (tests check both).
  const char* force_tensor = std::getenv("HALO_FORGE_TENSOR_SAMPLER");
  if (params.temperature > 0 && logits.device().is_cpu() && !(force_tensor && force_tensor[0] == '1'))
    return sample_on_cpu(logits, params, seen, uniforms);
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
