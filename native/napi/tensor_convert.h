// Float32Array + shape <-> at::Tensor (CPU, fp32). Copies; the JS side keeps ownership of its buffers.
#pragma once
#include <napi.h>
#include <ATen/core/Tensor.h>

#include <vector>

namespace halo::napi {

std::vector<int64_t> read_shape(const Napi::Value& value, const char* field);
at::Tensor tensor_from_float32(const Napi::Value& data, const Napi::Value& shape, const char* field);
Napi::Object tensor_to_js(Napi::Env env, const at::Tensor& tensor);

}  // namespace halo::napi
