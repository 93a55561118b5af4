// Facts about the libtorch runtime this process runs on: version, backend, threads, devices.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace halo {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int64_t total_memory_bytes = 0;
  int64_t free_memory_bytes = 0;
};

struct RuntimeInfo {
  std::string torch_version;  // from torch/version.h of the headers we compiled against
  int torch_version_major = 0;
  int torch_version_minor = 0;
  std::string backend;  // cpu | cuda | rocm: what this binary was linked for
  int intra_op_threads = 0;
  int inter_op_threads = 0;
  bool gpu_available = false;
  std::vector<DeviceInfo> devices;
  std::string parallel_info;  // at::get_parallel_info(): OpenMP / MKL / thread settings
};

RuntimeInfo runtime_info();

// Sets libtorch's intra-op thread pool size (the cores a single op may use).
void set_intra_op_threads(int threads);

}  // namespace halo
