#include "core/quant/weight_only.h"

#include <ATen/Parallel.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HALO_WEIGHT_ONLY_X86 1
#include <immintrin.h>
#endif

namespace halo::quant {

namespace {

float to_fp16_value(float value) { return static_cast<float>(c10::Half(value)); }

int64_t rows_grain(int64_t cols) { return std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(cols, 1)); }

// ---- int8: per-row absmax ------------------------------------------------------------------------

void quantize_int8_row(const float* w, int64_t cols, int8_t* q, float* scale) {
  float absmax = 0.0f;
  for (int64_t i = 0; i < cols; ++i) absmax = std::max(absmax, std::fabs(w[i]));
  const float d = absmax / 127.0f;
  const float inverse = d > 0.0f ? 1.0f / d : 0.0f;
  for (int64_t i = 0; i < cols; ++i) q[i] = static_cast<int8_t>(std::clamp(std::nearbyint(w[i] * inverse), -127.0f, 127.0f));
  *scale = d;
}

// ---- int4: asymmetric groups, scale/min refined by least squares --------------------------------

struct GroupFit {
  float scale, min;
};

float assign_error(const float* w, int64_t n, float d, float m, uint8_t* q) {
  const float inverse = d > 0.0f ? 1.0f / d : 0.0f;
  float error = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float level = std::clamp(std::nearbyint((w[i] - m) * inverse), 0.0f, 15.0f);
    q[i] = static_cast<uint8_t>(level);
    const float diff = d * level + m - w[i];
    error += diff * diff;
  }
  return error;
}

// Least-squares scale and min for fixed levels: minimises Σ (d·q + m − w)²; false when degenerate.
bool refit(const float* w, const uint8_t* q, int64_t n, GroupFit* fit) {
  double sq = 0, sqq = 0, sw = 0, sqw = 0;
  for (int64_t i = 0; i < n; ++i) sq += q[i], sqq += double(q[i]) * q[i], sw += w[i], sqw += double(q[i]) * w[i];
  const double det = n * sqq - sq * sq;
  if (det <= 0) return false;
  const double d = (n * sqw - sq * sw) / det;
  if (!(d > 0)) return false;
  *fit = {static_cast<float>(d), static_cast<float>((sw - d * sq) / n)};
  return true;
}

// Tries grids slightly narrower and wider than min..max (levels from each, then a least-squares
// scale and min), keeps the lowest squared error, then alternates "assign levels" and "refit" while
// the error drops. Scale and min are finally rounded to fp16 and the levels reassigned for them.
// Grid candidates: 14, 14.5, ..., 16 levels across min..max (more steps measured < 0.5 % lower error at 2x the time).
constexpr int kGridSteps = 4;

GroupFit fit_group(const float* w, int64_t n, uint8_t* q) {
  float lo = w[0], hi = w[0];
  for (int64_t i = 1; i < n; ++i) lo = std::min(lo, w[i]), hi = std::max(hi, w[i]);
  if (hi <= lo) {  // a constant group: every value is the min
    std::fill(q, q + n, uint8_t{0});
    return {0.0f, to_fp16_value(lo)};
  }
  GroupFit best{(hi - lo) / 15.0f, lo};
  float best_error = assign_error(w, n, best.scale, best.min, q);
  std::vector<uint8_t> levels(n), trial(n);
  for (int step = 0; step <= kGridSteps; ++step) {
    const float inverse = (14.0f + 2.0f * step / kGridSteps) / (hi - lo);
    for (int64_t i = 0; i < n; ++i) levels[i] = static_cast<uint8_t>(std::clamp(std::nearbyint(inverse * (w[i] - lo)), 0.0f, 15.0f));
    GroupFit fit{};
    if (!refit(w, levels.data(), n, &fit)) continue;
    const float error = assign_error(w, n, fit.scale, fit.min, trial.data());
    if (error < best_error) best_error = error, best = fit;
  }
  assign_error(w, n, best.scale, best.min, levels.data());
  for (int round = 0; round < 4; ++round) {
    GroupFit fit{};
    if (!refit(w, levels.data(), n, &fit)) break;
    const float error = assign_error(w, n, fit.scale, fit.min, trial.data());
    if (error >= best_error) break;
    best_error = error, best = fit;
    levels.swap(trial);
  }
  best = {to_fp16_value(best.scale), to_fp16_value(best.min)};
  assign_error(w, n, best.scale, best.min, q);
  return best;
}

void quantize_int4_row(const float* w, int64_t cols, int64_t group, uint8_t* packed, float* scale, float* min) {
  std::vector<uint8_t> levels(group);
  const int64_t half = group / 2;
  for (int64_t g = 0; g < cols / group; ++g) {
    GroupFit fit = fit_group(w + g * group, group, levels.data());
    scale[g] = fit.scale;
    min[g] = fit.min;
    uint8_t* bytes = packed + g * half;
    for (int64_t j = 0; j < half; ++j) bytes[j] = static_cast<uint8_t>(levels[j] | (levels[j + half] << 4));
  }
}

// ---- portable kernels ------------------------------------------------------------------------------

float dot_int8_portable(const int8_t* q, const float* x, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<float>(q[i]) * x[i];
  return sum;
}

// Σ_g scale[g] * Σ_j q_j x_j over one row's groups (the min term is added by the caller).
float dot_int4_portable(const uint8_t* packed, const float* scale, const float* x, int64_t cols, int64_t group) {
  const int64_t half = group / 2;
  float sum = 0.0f;
  for (int64_t g = 0; g < cols / group; ++g) {
    const uint8_t* bytes = packed + g * half;
    const float* xg = x + g * group;
    float partial = 0.0f;
    for (int64_t j = 0; j < half; ++j) partial += static_cast<float>(bytes[j] & 15) * xg[j] + static_cast<float>(bytes[j] >> 4) * xg[j + half];
    sum += scale[g] * partial;
  }
  return sum;
}

// ---- AVX2 + FMA kernels ------------------------------------------------------------------------------

#ifdef HALO_WEIGHT_ONLY_X86
__attribute__((target("avx2,fma"))) float horizontal_sum(__m256 v) {
  __m128 low = _mm256_castps256_ps128(v), high = _mm256_extractf128_ps(v, 1);
  low = _mm_add_ps(low, high);
  low = _mm_add_ps(low, _mm_movehl_ps(low, low));
  low = _mm_add_ss(low, _mm_movehdup_ps(low));
  return _mm_cvtss_f32(low);
}

__attribute__((target("avx2,fma"))) float dot_int8_avx2(const int8_t* q, const float* x, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i));
    __m128i b0 = _mm256_castsi256_si128(bytes), b1 = _mm256_extracti128_si256(bytes, 1);
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b0)), _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b0, 8))), _mm256_loadu_ps(x + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b1)), _mm256_loadu_ps(x + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b1, 8))), _mm256_loadu_ps(x + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) {
    __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), _mm256_loadu_ps(x + i), acc0);
  }
  float sum = horizontal_sum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += static_cast<float>(q[i]) * x[i];
  return sum;
}

// group % 16 == 0: each step unpacks 8 bytes into 8 low-nibble values (x[j..j+8)) and 8 high-nibble
// values (x[j+half..j+half+8)).
__attribute__((target("avx2,fma"))) float dot_int4_avx2(const uint8_t* packed, const float* scale, const float* x, int64_t cols, int64_t group) {
  const int64_t half = group / 2;
  const __m256i nibble = _mm256_set1_epi32(15);
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};  // even / odd groups: two independent FMA chains
  for (int64_t g = 0; g < cols / group; ++g) {
    const uint8_t* bytes = packed + g * half;
    const float* xg = x + g * group;
    __m256 partial0 = _mm256_setzero_ps(), partial1 = _mm256_setzero_ps();
    for (int64_t j = 0; j < half; j += 8) {
      __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes + j)));
      __m256 low = _mm256_cvtepi32_ps(_mm256_and_si256(v, nibble));
      __m256 high = _mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4));
      partial0 = _mm256_fmadd_ps(low, _mm256_loadu_ps(xg + j), partial0);
      partial1 = _mm256_fmadd_ps(high, _mm256_loadu_ps(xg + half + j), partial1);
    }
    acc[g & 1] = _mm256_fmadd_ps(_mm256_set1_ps(scale[g]), _mm256_add_ps(partial0, partial1), acc[g & 1]);
  }
  return horizontal_sum(_mm256_add_ps(acc[0], acc[1]));
}

bool detect_simd() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

}  // namespace

bool weight_only_simd() {
#ifdef HALO_WEIGHT_ONLY_X86
  static const bool supported = detect_simd();
  return supported;
#else
  return false;
#endif
}

void quantize_int8(const float* w, int64_t rows, int64_t cols, int8_t* q, float* scale) {
  at::parallel_for(0, rows, rows_grain(cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) quantize_int8_row(w + r * cols, cols, q + r * cols, scale + r);
  });
}

void quantize_int4(const float* w, int64_t rows, int64_t cols, int64_t group, uint8_t* packed, float* scale, float* min) {
  const int64_t groups = cols / group;
  at::parallel_for(0, rows, rows_grain(cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      quantize_int4_row(w + r * cols, cols, group, packed + r * cols / 2, scale + r * groups, min + r * groups);
  });
}

void dequantize_int8(const int8_t* q, const float* scale, int64_t cols, int64_t row_begin, int64_t row_end, float* out) {
  at::parallel_for(row_begin, row_end, rows_grain(cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int8_t* row = q + r * cols;
      float* dst = out + (r - row_begin) * cols;
      for (int64_t i = 0; i < cols; ++i) dst[i] = scale[r] * static_cast<float>(row[i]);
    }
  });
}

void dequantize_int4(const uint8_t* packed, const float* scale, const float* min, int64_t cols, int64_t group, int64_t row_begin,
                     int64_t row_end, float* out) {
  const int64_t groups = cols / group, half = group / 2;
  at::parallel_for(row_begin, row_end, rows_grain(cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        const uint8_t* bytes = packed + r * cols / 2 + g * half;
        const float d = scale[r * groups + g], m = min[r * groups + g];
        float* dst = out + (r - row_begin) * cols + g * group;
        for (int64_t j = 0; j < half; ++j) {
          dst[j] = d * static_cast<float>(bytes[j] & 15) + m;
          dst[j + half] = d * static_cast<float>(bytes[j] >> 4) + m;
        }
      }
    }
  });
}

void int8_rows(const int8_t* q, const float* scale, int64_t cols, const float* x, int64_t M, int64_t out_rows,
               int64_t row_begin, int64_t row_end, float* y) {
  const bool simd = weight_only_simd();
  for (int64_t r = row_begin; r < row_end; ++r) {
    const int8_t* row = q + r * cols;
    for (int64_t m = 0; m < M; ++m) {
#ifdef HALO_WEIGHT_ONLY_X86
      const float dot = simd ? dot_int8_avx2(row, x + m * cols, cols) : dot_int8_portable(row, x + m * cols, cols);
#else
      (void)simd;
      const float dot = dot_int8_portable(row, x + m * cols, cols);
#endif
      y[m * out_rows + r] = scale[r] * dot;
    }
  }
}

void int4_rows(const uint8_t* packed, const float* scale, const float* min, int64_t cols, int64_t group, const float* x,
               const float* x_group_sums, int64_t M, int64_t out_rows, int64_t row_begin, int64_t row_end, float* y) {
  const bool simd = weight_only_simd();
  const int64_t groups = cols / group;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* row = packed + r * cols / 2;
    const float* row_scale = scale + r * groups;
    const float* row_min = min + r * groups;
    for (int64_t m = 0; m < M; ++m) {
#ifdef HALO_WEIGHT_ONLY_X86
      float dot = simd ? dot_int4_avx2(row, row_scale, x + m * cols, cols, group) : dot_int4_portable(row, row_scale, x + m * cols, cols, group);
#else
      (void)simd;
      float dot = dot_int4_portable(row, row_scale, x + m * cols, cols, group);
#endif
      const float* sums = x_group_sums + m * groups;
      for (int64_t g = 0; g < groups; ++g) dot += row_min[g] * sums[g];
      y[m * out_rows + r] = dot;
    }
  }
}

}  // namespace halo::quant
