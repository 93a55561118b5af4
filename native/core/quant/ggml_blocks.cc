// The ggml reference block quantizers, rewritten from the published GGUF block formats and
// ggml-quants.c's algorithms so that every byte matches llama-quantize (no importance matrix).
// Bit-exactness needs the same float operations in the same order: no FMA contraction, no
// reassociation, the same rounding helpers (nearest_int's magic-number trick, roundf, fp16 RNE).
#pragma GCC optimize("fp-contract=off")

#include "core/quant/ggml_blocks.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace halo::quant {

namespace {

constexpr int QK = 32;     // Q4_0, Q5_0, Q8_0 block
constexpr int QK_K = 256;  // K-quant super-block
constexpr float GROUP_MAX_EPS = 1e-15f;

uint32_t bits_of(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
float float_of(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// float32 -> IEEE half, round to nearest even (the FP16 library routine ggml uses without F16C).
uint16_t fp32_to_fp16(float f) {
  const float scale_to_inf = float_of(0x77800000);   // 2^112
  const float scale_to_zero = float_of(0x08800000);  // 2^-110
  float base = (std::fabs(f) * scale_to_inf) * scale_to_zero;
  const uint32_t w = bits_of(f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = float_of((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = bits_of(base);
  const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const uint32_t mantissa_bits = bits & 0x00000FFFu;
  const uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1F;
  uint32_t mantissa = h & 0x3FF;
  if (exponent == 0x1F) return float_of(sign | 0x7F800000u | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return float_of(sign);
    const float magnitude = static_cast<float>(mantissa) * float_of(0x33800000);  // 2^-24
    return sign ? -magnitude : magnitude;
  }
  return float_of(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

void put_half(uint8_t* at, float value) {
  const uint16_t h = fp32_to_fp16(value);
  std::memcpy(at, &h, 2);
}
float get_half(const uint8_t* at) {
  uint16_t h;
  std::memcpy(&h, at, 2);
  return fp16_to_fp32(h);
}

// Round to nearest through the 1.5 * 2^23 trick (ties to even), valid for |x| < 2^22.
int nearest_int(float fval) {
  const float val = fval + 12582912.f;
  int i;
  std::memcpy(&i, &val, sizeof(int));
  return (i & 0x007fffff) - 0x00400000;
}

// ---- 32-element blocks ----------------------------------------------------------------------

// Q8_0: half d; int8 qs[32]
void quantize_q8_0(const float* x, uint8_t* y, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, x += QK, y += 34) {
    float amax = 0.0f;
    for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    put_half(y, d);
    for (int j = 0; j < QK; ++j) y[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::roundf(x[j] * id)));
  }
}

// The block's value of largest magnitude, sign kept (the first one on ties, as ggml picks it).
float largest_magnitude(const float* x) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < QK; ++j) {
    if (amax < std::fabs(x[j])) { amax = std::fabs(x[j]); max = x[j]; }
  }
  return max;
}

// Q4_0: half d; u8 qs[16] (low nibble: element j, high nibble: element j + 16)
void quantize_q4_0(const float* x, uint8_t* y, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, x += QK, y += 18) {
    const float max = largest_magnitude(x);
    const float d = max / -8;
    const float id = d ? 1.0f / d : 0.0f;
    put_half(y, d);
    for (int j = 0; j < QK / 2; ++j) {
      const uint8_t xi0 = std::min<int>(15, static_cast<int8_t>(x[j] * id + 8.5f));
      const uint8_t xi1 = std::min<int>(15, static_cast<int8_t>(x[QK / 2 + j] * id + 8.5f));
      y[2 + j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
    }
  }
}

// Q5_0: half d; u32 qh (5th bits); u8 qs[16]
void quantize_q5_0(const float* x, uint8_t* y, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, x += QK, y += 22) {
    const float max = largest_magnitude(x);
    const float d = max / -16;
    const float id = d ? 1.0f / d : 0.0f;
    put_half(y, d);
    uint32_t qh = 0;
    for (int j = 0; j < QK / 2; ++j) {
      const uint8_t xi0 = std::min<int>(31, static_cast<int8_t>(x[j] * id + 16.5f));
      const uint8_t xi1 = std::min<int>(31, static_cast<int8_t>(x[QK / 2 + j] * id + 16.5f));
      y[6 + j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
      qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
      qh |= ((xi1 & 0x10u) >> 4) << (j + QK / 2);
    }
    std::memcpy(y + 2, &qh, 4);
  }
}

// Q5_1: half d; half m; u32 qh; u8 qs[16]
void quantize_q5_1(const float* x, uint8_t* y, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, x += QK, y += 24) {
    float min = std::numeric_limits<float>::max(), max = -std::numeric_limits<float>::max();
    for (int j = 0; j < QK; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / ((1 << 5) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    put_half(y, d);
    put_half(y + 2, min);
    uint32_t qh = 0;
    for (int j = 0; j < QK / 2; ++j) {
      const uint8_t xi0 = static_cast<uint8_t>((x[j] - min) * id + 0.5f);
      const uint8_t xi1 = static_cast<uint8_t>((x[QK / 2 + j] - min) * id + 0.5f);
      y[8 + j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
      qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
      qh |= ((xi1 & 0x10u) >> 4) << (j + QK / 2);
    }
    std::memcpy(y + 4, &qh, 4);
  }
}

// ---- K-quants (256-element super-blocks) ----------------------------------------------------

float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) { amax = ax; max = x[i]; }
  }
  if (amax < GROUP_MAX_EPS) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = -nmax / max;
  if (rmse_type == 0) {
    for (int i = 0; i < n; ++i) {
      const int l = nearest_int(iscale * x[i]);
      L[i] = static_cast<int8_t>(nmax + std::max(-nmax, std::min(nmax - 1, l)));
    }
    return 1 / iscale;
  }
  const auto weight = [rmse_type](float v) -> float {
    return rmse_type == 1 ? v * v : rmse_type == 2 ? 1 : rmse_type == 3 ? std::fabs(v) : std::sqrt(std::fabs(v));
  };
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = weight(x[i]);
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = weight(x[i]);
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * x[i]);
        L[i] = static_cast<int8_t>(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min, uint8_t* Laux,
                       float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    float diff = scale * L[i] + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * Laux[i] + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

// Shared by Q4_K and Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins packed into 12 bytes.
// Fills scales12, d, dmin and L (0..nmax).
void kquant_scales_and_levels(const float* x, int nmax, float rmin, float rdelta, int nstep, uint8_t* scales12,
                              uint16_t* d_out, uint16_t* dmin_out, uint8_t* L) {
  uint8_t Laux[32];
  float weights[32], mins[QK_K / 32], scales[QK_K / 32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < QK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, rdelta, nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::memset(scales12, 0, 12);
  for (int j = 0; j < QK_K / 32; ++j) {
    uint8_t ls = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]));
    uint8_t lm = static_cast<uint8_t>(nearest_int(inv_min * mins[j]));
    ls = std::min<uint8_t>(63, ls);
    lm = std::min<uint8_t>(63, lm);
    if (j < 4) {
      scales12[j] = ls;
      scales12[j + 4] = lm;
    } else {
      scales12[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      scales12[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      scales12[j - 0] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
  *d_out = fp32_to_fp16(max_scale / 63.f);
  *dmin_out = fp32_to_fp16(max_min / 63.f);
  const float d_all = fp16_to_fp32(*d_out), dmin_all = fp16_to_fp32(*dmin_out);
  for (int j = 0; j < QK_K / 32; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, scales12, &sc, &m);
    const float d = d_all * sc;
    if (!d) continue;
    const float dm = dmin_all * m;
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    }
  }
}

// Q4_K: half d; half dmin; u8 scales[12]; u8 qs[128]
void quantize_q4_k(const float* x, uint8_t* y, int64_t blocks) {
  uint8_t L[QK_K];
  for (int64_t i = 0; i < blocks; ++i, x += QK_K, y += 144) {
    uint16_t d, dmin;
    kquant_scales_and_levels(x, 15, -1.f, 0.1f, 20, y + 4, &d, &dmin, L);
    std::memcpy(y, &d, 2);
    std::memcpy(y + 2, &dmin, 2);
    uint8_t* q = y + 16;
    for (int j = 0; j < QK_K; j += 64, q += 32) {
      for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    }
  }
}

// Q5_K: half d; half dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]
void quantize_q5_k(const float* x, uint8_t* y, int64_t blocks) {
  uint8_t L[QK_K];
  for (int64_t i = 0; i < blocks; ++i, x += QK_K, y += 176) {
    uint16_t d, dmin;
    kquant_scales_and_levels(x, 31, -0.5f, 0.1f, 15, y + 4, &d, &dmin, L);
    std::memcpy(y, &d, 2);
    std::memcpy(y + 2, &dmin, 2);
    uint8_t* qh = y + 16;
    uint8_t* ql = y + 48;
    std::memset(qh, 0, QK_K / 8);
    uint8_t m1 = 1, m2 = 2;
    for (int n = 0; n < QK_K; n += 64, ql += 32) {
      for (int j = 0; j < 32; ++j) {
        int l1 = L[n + j];
        if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
        int l2 = L[n + j + 32];
        if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
        ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
      }
      m1 = static_cast<uint8_t>(m1 << 2);
      m2 = static_cast<uint8_t>(m2 << 2);
    }
  }
}

// Q6_K: u8 ql[128]; u8 qh[64]; i8 scales[16]; half d (last)
void quantize_q6_k(const float* x, uint8_t* y, int64_t blocks) {
  int8_t L[QK_K];
  float scales[QK_K / 16];
  for (int64_t i = 0; i < blocks; ++i, x += QK_K, y += 210) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
      const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) { max_abs_scale = abs_scale; max_scale = scale; }
    }
    if (max_abs_scale < GROUP_MAX_EPS) {
      std::memset(y, 0, 210);
      put_half(y + 208, 0.f);
      continue;
    }
    const float iscale = -128.f / max_scale;
    put_half(y + 208, 1 / iscale);
    int8_t* block_scales = reinterpret_cast<int8_t*>(y + 192);
    for (int ib = 0; ib < QK_K / 16; ++ib) block_scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
    const float d_all = get_half(y + 208);
    for (int j = 0; j < QK_K / 16; ++j) {
      const float d = d_all * block_scales[j];
      if (!d) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = static_cast<int8_t>(std::max(-32, std::min(31, l)) + 32);
      }
    }
    uint8_t* ql = y;
    uint8_t* qh = y + 128;
    for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q1 = L[j + l + 0] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
        ql[l + 0] = static_cast<uint8_t>(q1 | (q3 << 4));
        ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
        qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
      }
    }
  }
}

void encode_f16(const float* x, uint8_t* y, int64_t count) {
  for (int64_t i = 0; i < count; ++i) put_half(y + 2 * i, x[i]);
}

// ---- decoders -------------------------------------------------------------------------------

void decode_blocks(GgmlType type, const uint8_t* y, int64_t blocks, float* x) {
  switch (type) {
    case GgmlType::F16:
      for (int64_t i = 0; i < blocks; ++i) x[i] = get_half(y + 2 * i);
      return;
    case GgmlType::Q8_0:
      for (int64_t i = 0; i < blocks; ++i, y += 34, x += QK) {
        const float d = get_half(y);
        for (int j = 0; j < QK; ++j) x[j] = static_cast<int8_t>(y[2 + j]) * d;
      }
      return;
    case GgmlType::Q4_0:
      for (int64_t i = 0; i < blocks; ++i, y += 18, x += QK) {
        const float d = get_half(y);
        for (int j = 0; j < QK / 2; ++j) {
          x[j] = ((y[2 + j] & 0x0F) - 8) * d;
          x[j + QK / 2] = ((y[2 + j] >> 4) - 8) * d;
        }
      }
      return;
    case GgmlType::Q5_0:
      for (int64_t i = 0; i < blocks; ++i, y += 22, x += QK) {
        const float d = get_half(y);
        uint32_t qh;
        std::memcpy(&qh, y + 2, 4);
        for (int j = 0; j < QK / 2; ++j) {
          const uint8_t xh_0 = ((qh >> (j + 0)) << 4) & 0x10;
          const uint8_t xh_1 = ((qh >> (j + 12))) & 0x10;
          x[j] = (((y[6 + j] & 0x0F) | xh_0) - 16) * d;
          x[j + QK / 2] = (((y[6 + j] >> 4) | xh_1) - 16) * d;
        }
      }
      return;
    case GgmlType::Q5_1:
      for (int64_t i = 0; i < blocks; ++i, y += 24, x += QK) {
        const float d = get_half(y), m = get_half(y + 2);
        uint32_t qh;
        std::memcpy(&qh, y + 4, 4);
        for (int j = 0; j < QK / 2; ++j) {
          const uint8_t xh_0 = ((qh >> (j + 0)) << 4) & 0x10;
          const uint8_t xh_1 = ((qh >> (j + 12))) & 0x10;
          x[j] = ((y[8 + j] & 0x0F) | xh_0) * d + m;
          x[j + QK / 2] = ((y[8 + j] >> 4) | xh_1) * d + m;
        }
      }
      return;
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: {
      const bool five = type == GgmlType::Q5_K;
      const int64_t stride = five ? 176 : 144;
      for (int64_t i = 0; i < blocks; ++i, y += stride) {
        const float d = get_half(y), min = get_half(y + 2);
        const uint8_t* scales = y + 4;
        const uint8_t* qh = y + 16;
        const uint8_t* q = y + (five ? 48 : 16);
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < QK_K; j += 64, q += 32, is += 2) {
          uint8_t sc, m;
          get_scale_min_k4(is + 0, scales, &sc, &m);
          const float d1 = d * sc, m1 = min * m;
          get_scale_min_k4(is + 1, scales, &sc, &m);
          const float d2 = d * sc, m2 = min * m;
          for (int l = 0; l < 32; ++l) *x++ = d1 * ((q[l] & 0xF) + (five && (qh[l] & u1) ? 16 : 0)) - m1;
          for (int l = 0; l < 32; ++l) *x++ = d2 * ((q[l] >> 4) + (five && (qh[l] & u2) ? 16 : 0)) - m2;
          u1 = static_cast<uint8_t>(u1 << 2);
          u2 = static_cast<uint8_t>(u2 << 2);
        }
      }
      return;
    }
    case GgmlType::Q6_K:
      for (int64_t i = 0; i < blocks; ++i, y += 210) {
        const float d = get_half(y + 208);
        const uint8_t* ql = y;
        const uint8_t* qh = y + 128;
        const int8_t* sc = reinterpret_cast<const int8_t*>(y + 192);
        for (int n = 0; n < QK_K; n += 128, x += 128, ql += 64, qh += 32, sc += 8) {
          for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = ((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            x[l + 0] = d * sc[is + 0] * q1;
            x[l + 32] = d * sc[is + 2] * q2;
            x[l + 64] = d * sc[is + 4] * q3;
            x[l + 96] = d * sc[is + 6] * q4;
          }
        }
      }
      return;
  }
}

void encode_blocks(GgmlType type, const float* x, int64_t blocks, uint8_t* y) {
  switch (type) {
    case GgmlType::F16: encode_f16(x, y, blocks); return;
    case GgmlType::Q8_0: quantize_q8_0(x, y, blocks); return;
    case GgmlType::Q4_0: quantize_q4_0(x, y, blocks); return;
    case GgmlType::Q5_0: quantize_q5_0(x, y, blocks); return;
    case GgmlType::Q5_1: quantize_q5_1(x, y, blocks); return;
    case GgmlType::Q4_K: quantize_q4_k(x, y, blocks); return;
    case GgmlType::Q5_K: quantize_q5_k(x, y, blocks); return;
    case GgmlType::Q6_K: quantize_q6_k(x, y, blocks); return;
  }
}

BlockGeometry geometry_of(GgmlType type) {
  BlockGeometry g{};
  if (!block_geometry(static_cast<int>(type), &g)) throw std::invalid_argument("no GGUF codec for ggml type " + std::to_string(static_cast<int>(type)));
  return g;
}

}  // namespace

bool block_geometry(int type, BlockGeometry* out) {
  switch (type) {
    case static_cast<int>(GgmlType::F16): *out = {1, 2}; return true;
    case static_cast<int>(GgmlType::Q4_0): *out = {QK, 18}; return true;
    case static_cast<int>(GgmlType::Q5_0): *out = {QK, 22}; return true;
    case static_cast<int>(GgmlType::Q5_1): *out = {QK, 24}; return true;
    case static_cast<int>(GgmlType::Q8_0): *out = {QK, 34}; return true;
    case static_cast<int>(GgmlType::Q4_K): *out = {QK_K, 144}; return true;
    case static_cast<int>(GgmlType::Q5_K): *out = {QK_K, 176}; return true;
    case static_cast<int>(GgmlType::Q6_K): *out = {QK_K, 210}; return true;
    default: return false;
  }
}

void quantize_rows(GgmlType type, const float* values, int64_t rows, int64_t row_length, uint8_t* out) {
  const BlockGeometry g = geometry_of(type);
  if (row_length % g.elements != 0)
    throw std::invalid_argument("row of " + std::to_string(row_length) + " is not a multiple of the block size " + std::to_string(g.elements));
  const int64_t blocks_per_row = row_length / g.elements;
  const int64_t row_bytes = blocks_per_row * g.bytes;
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, row_length));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) encode_blocks(type, values + r * row_length, blocks_per_row, out + r * row_bytes);
  });
}

void dequantize_rows(GgmlType type, const uint8_t* data, int64_t rows, int64_t row_length, float* out) {
  const BlockGeometry g = geometry_of(type);
  if (row_length % g.elements != 0)
    throw std::invalid_argument("row of " + std::to_string(row_length) + " is not a multiple of the block size " + std::to_string(g.elements));
  const int64_t blocks_per_row = row_length / g.elements;
  const int64_t row_bytes = blocks_per_row * g.bytes;
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, row_length));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) decode_blocks(type, data + r * row_bytes, blocks_per_row, out + r * row_length);
  });
}

}  // namespace halo::quant
