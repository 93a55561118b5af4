#include "core/train/schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace halo {

double LrSchedule::at(int64_t step) const {
  if (step < warmup_steps) return base_lr * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps));
  if (kind == "constant") return base_lr;
  const double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  const double progress = static_cast<double>(step - warmup_steps) / span;
  if (kind == "linear") return base_lr * std::max(0.0, 1.0 - progress);
  if (kind == "cosine") return base_lr * std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
  throw std::invalid_argument("unknown lr schedule '" + kind + "' (expected constant, linear or cosine)");
}

int64_t warmup_steps_from_ratio(double ratio, int64_t total_steps) {
  return static_cast<int64_t>(std::ceil(ratio * static_cast<double>(total_steps)));
}

}  // namespace halo
