#include "core/runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#ifdef HALO_WITH_GPU
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#endif

namespace halo {

static std::vector<DeviceInfo> list_gpu_devices() {
  std::vector<DeviceInfo> devices;
#ifdef HALO_WITH_GPU
  int count = static_cast<int>(c10::cuda::device_count());
  for (int i = 0; i < count; ++i) {
    DeviceInfo info;
    info.index = i;
    cudaDeviceProp props;
    if (cudaGetDeviceProperties(&props, i) == cudaSuccess) info.name = props.name;
    size_t free_bytes = 0, total_bytes = 0;
    int previous = 0;
    cudaGetDevice(&previous);
    cudaSetDevice(i);
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
      info.free_memory_bytes = static_cast<int64_t>(free_bytes);
      info.total_memory_bytes = static_cast<int64_t>(total_bytes);
    }
    cudaSetDevice(previous);
    devices.push_back(info);
  }
#endif
  return devices;
}

RuntimeInfo runtime_info() {
  RuntimeInfo info;
  info.torch_version = TORCH_VERSION;
  info.torch_version_major = TORCH_VERSION_MAJOR;
  info.torch_version_minor = TORCH_VERSION_MINOR;
  info.backend = HALO_BACKEND_NAME;
  info.intra_op_threads = at::get_num_threads();
  info.inter_op_threads = at::get_num_interop_threads();
  info.gpu_available = at::hasCUDA();
  info.devices = list_gpu_devices();
  info.parallel_info = at::get_parallel_info();
  return info;
}

void set_intra_op_threads(int threads) {
  if (threads > 0) at::set_num_threads(threads);
}

}  // namespace halo
