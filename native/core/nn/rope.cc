#include "core/nn/rope.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace halo {

namespace {

// yarn: the rotary dimension at which `rotations` full turns fit in the original context.
double yarn_correction_dim(double rotations, int64_t dim, double base, int64_t max_positions) {
  return (dim * std::log(max_positions / (rotations * 2 * M_PI))) / (2 * std::log(base));
}

}  // namespace

Rope Rope::build(const ModelConfig& config, at::Device device) {
  const int64_t dim = config.head_dim;
  const int64_t half = dim / 2;
  const RopeScaling& scaling = config.rope_scaling;
  std::vector<double> inv(half);
  for (int64_t i = 0; i < half; ++i) inv[i] = 1.0 / std::pow(config.rope_theta, static_cast<double>(2 * i) / dim);

  Rope rope;
  if (scaling.type == "linear") {
    for (double& f : inv) f /= scaling.factor;
  } else if (scaling.type == "llama3") {
    const double old_context = static_cast<double>(scaling.original_max_position_embeddings);
    const double low_wavelen = old_context / scaling.low_freq_factor;
    const double high_wavelen = old_context / scaling.high_freq_factor;
    for (double& f : inv) {
      const double wavelen = 2 * M_PI / f;
      if (wavelen < high_wavelen) continue;  // high frequencies: unchanged
      if (wavelen > low_wavelen) {
        f /= scaling.factor;  // low frequencies: interpolated
        continue;
      }
      const double smooth = (old_context / wavelen - scaling.low_freq_factor) / (scaling.high_freq_factor - scaling.low_freq_factor);
      f = (1 - smooth) * f / scaling.factor + smooth * f;
    }
  } else if (scaling.type == "yarn") {
    const int64_t original = scaling.original_max_position_embeddings;
    double low = std::floor(yarn_correction_dim(scaling.beta_fast, dim, config.rope_theta, original));
    double high = std::ceil(yarn_correction_dim(scaling.beta_slow, dim, config.rope_theta, original));
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(dim - 1));
    if (low == high) high += 0.001;
    for (int64_t i = 0; i < half; ++i) {
      const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
      const double extrapolation_weight = 1.0 - ramp;
      const double interpolated = inv[i] / scaling.factor;
      inv[i] = interpolated * (1 - extrapolation_weight) + inv[i] * extrapolation_weight;
    }
    rope.attention_factor = scaling.attention_factor;
  }
  std::vector<float> inv32(inv.begin(), inv.end());
  rope.inv_freq = at::tensor(inv32, at::kFloat).to(device);
  return rope;
}

std::pair<at::Tensor, at::Tensor> Rope::tables(const at::Tensor& positions, at::ScalarType dtype) const {
  at::Tensor angles = positions.to(at::kFloat).unsqueeze(-1) * inv_freq;  // [B, T, half]
  at::Tensor cos = angles.cos(), sin = angles.sin();
  if (attention_factor != 1.0) {
    cos = cos * attention_factor;
    sin = sin * attention_factor;
  }
  return {cos.unsqueeze(1).to(dtype), sin.unsqueeze(1).to(dtype)};
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  at::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return at::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
}

}  // namespace halo
