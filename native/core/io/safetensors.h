// Safetensors reader: mmaps each file, checks the header against the file size, and copies every
// tensor (F32 / BF16 / F16 stored) into a tensor of the target dtype on the target device. Weight-only
// quantized folders (inference optimize) add I8 / U8 tensors, kept as they are, and `*.weight_scale` /
// `*.weight_min` tensors, loaded as fp32.
#pragma once
#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

namespace halo {

struct LoadedTensor {
  at::Tensor tensor;
  std::string file;  // where it came from, for error messages
};

using TensorMap = std::map<std::string, LoadedTensor>;

// Reads every tensor of every file (a single model.safetensors or all shards of an index).
// Errors (code ERR_SAFETENSORS) name the file and, where known, the tensor.
TensorMap read_safetensors(const std::vector<std::string>& files, at::ScalarType dtype, at::Device device);

}  // namespace halo
