#include "napi/tensor_convert.h"

#include <ATen/ATen.h>

#include <cstring>

#include "napi/errors.h"

namespace halo::napi {

std::vector<int64_t> read_shape(const Napi::Value& value, const char* field) {
  if (!value.IsArray()) throw make_error(value.Env(), "ERR_INVALID_ARG", "", std::string(field) + " must be an array of integers");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value dim = array.Get(i);
    if (!dim.IsNumber() || dim.As<Napi::Number>().Int64Value() < 0)
      throw make_error(value.Env(), "ERR_INVALID_ARG", "", std::string(field) + "[" + std::to_string(i) + "] must be a non-negative integer");
    shape.push_back(dim.As<Napi::Number>().Int64Value());
  }
  return shape;
}

at::Tensor tensor_from_float32(const Napi::Value& data, const Napi::Value& shape_value, const char* field) {
  Napi::Env env = data.Env();
  if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw make_error(env, "ERR_INVALID_ARG", "", std::string(field) + " must be a Float32Array");
  Napi::Float32Array array = data.As<Napi::Float32Array>();
  std::vector<int64_t> shape = read_shape(shape_value, field);
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  if (count != static_cast<int64_t>(array.ElementLength()))
    throw make_error(env, "ERR_INVALID_ARG", "", std::string(field) + ": shape holds " + std::to_string(count) +
                                                     " elements but the array has " + std::to_string(array.ElementLength()));
  return at::from_blob(array.Data(), shape, at::kFloat).clone();
}

Napi::Object tensor_to_js(Napi::Env env, const at::Tensor& tensor) {
  at::Tensor contiguous = tensor.to(at::kCPU, at::kFloat).contiguous();
  Napi::Float32Array data = Napi::Float32Array::New(env, static_cast<size_t>(contiguous.numel()));
  std::memcpy(data.Data(), contiguous.data_ptr<float>(), sizeof(float) * contiguous.numel());
  Napi::Array shape = Napi::Array::New(env, contiguous.dim());
  for (int64_t i = 0; i < contiguous.dim(); ++i) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(contiguous.size(i))));
  Napi::Object result = Napi::Object::New(env);
  result.Set("data", data);
  result.Set("shape", shape);
  return result;
}

}  // namespace halo::napi
