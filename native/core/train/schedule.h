// Learning-rate schedules as transformers defines them: linear warmup from 0, then constant, linear
// decay to 0, or half-cosine decay to 0, over `total_steps` optimizer updates.
#pragma once
#include <cstdint>
#include <string>

namespace halo {

struct LrSchedule {
  std::string kind = "constant";  // constant | linear | cosine
  double base_lr = 1e-4;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;

  // The learning rate of update number `step` (0-based).
  double at(int64_t step) const;
};

// warmup_ratio of total_steps, rounded up (transformers' get_warmup_steps).
int64_t warmup_steps_from_ratio(double ratio, int64_t total_steps);

}  // namespace halo
