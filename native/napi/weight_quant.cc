// Weight-only quantization for JS (inference optimize and its tests):
//   weightOnlyQuantize(values: Float32Array, rows, cols, bits, groupSize)
//     -> {data: Int8Array (bits 8) | Uint8Array (bits 4), scale: Float32Array, min?: Float32Array}
//   weightOnlyLinear({bits, groupSize, rows, cols, data, scale, min?}, x: Float32Array, m, tensorOps?) -> Float32Array [m, rows]
//     (the engine's QuantizedWeight::forward: the direct kernel for m <= 8, dequantized GEMM above; with
//     tensorOps the weight is dequantized by the device-generic tensor ops GPUs use, then GEMM)
//   weightOnlySimd() -> whether the AVX2 kernels run on this CPU.
#include <napi.h>

#include <ATen/ATen.h>

#include <cstring>
#include <string>

#include "core/nn/quant_linear.h"
#include "core/quant/weight_only.h"
#include "napi/errors.h"
#include "napi/exports.h"

namespace halo::napi {

namespace {

int64_t integer_arg(const Napi::Value& value, const std::string& what) {
  if (!value.IsNumber()) throw make_error(value.Env(), "ERR_INVALID_ARG", "", what + " must be a number");
  double number = value.As<Napi::Number>().DoubleValue();
  if (number != static_cast<double>(static_cast<int64_t>(number))) throw make_error(value.Env(), "ERR_INVALID_ARG", "", what + " must be an integer");
  return static_cast<int64_t>(number);
}

// bits 8 -> group = cols; bits 4 -> group must be a positive multiple of 16 dividing cols.
int64_t checked_group(Napi::Env env, int64_t bits, int64_t group, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) throw make_error(env, "ERR_INVALID_ARG", "", "rows and cols must be positive");
  if (bits == 8) return cols;
  if (bits != 4) throw make_error(env, "ERR_INVALID_ARG", "", "bits must be 8 or 4, got " + std::to_string(bits));
  if (group <= 0 || group % 16 != 0 || cols % group != 0)
    throw make_error(env, "ERR_INVALID_ARG", "", "groupSize " + std::to_string(group) + " must be a positive multiple of 16 dividing cols " + std::to_string(cols));
  return group;
}

Napi::Value weight_only_quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw make_error(env, "ERR_INVALID_ARG", "", "weightOnlyQuantize(values: Float32Array, rows, cols, bits, groupSize)");
  Napi::Float32Array values = info[0].As<Napi::Float32Array>();
  const int64_t rows = integer_arg(info[1], "rows"), cols = integer_arg(info[2], "cols"), bits = integer_arg(info[3], "bits");
  const int64_t group = checked_group(env, bits, integer_arg(info[4], "groupSize"), rows, cols);
  if (static_cast<int64_t>(values.ElementLength()) != rows * cols)
    throw make_error(env, "ERR_INVALID_ARG", "", std::to_string(values.ElementLength()) + " values do not make " + std::to_string(rows) + " x " + std::to_string(cols));
  Napi::Object result = Napi::Object::New(env);
  if (bits == 8) {
    Napi::Int8Array data = Napi::Int8Array::New(env, static_cast<size_t>(rows * cols));
    Napi::Float32Array scale = Napi::Float32Array::New(env, static_cast<size_t>(rows));
    guarded(env, "weightOnlyQuantize", [&] { quant::quantize_int8(values.Data(), rows, cols, data.Data(), scale.Data()); });
    result.Set("data", data);
    result.Set("scale", scale);
    return result;
  }
  const size_t groups = static_cast<size_t>(rows * (cols / group));
  Napi::Uint8Array data = Napi::Uint8Array::New(env, static_cast<size_t>(rows * cols / 2));
  Napi::Float32Array scale = Napi::Float32Array::New(env, groups);
  Napi::Float32Array min = Napi::Float32Array::New(env, groups);
  guarded(env, "weightOnlyQuantize", [&] { quant::quantize_int4(values.Data(), rows, cols, group, data.Data(), scale.Data(), min.Data()); });
  result.Set("data", data);
  result.Set("scale", scale);
  result.Set("min", min);
  return result;
}

at::Tensor copy_of(const void* bytes, std::vector<int64_t> shape, at::ScalarType dtype) {
  at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(dtype));
  std::memcpy(tensor.data_ptr(), bytes, tensor.numel() * tensor.element_size());
  return tensor;
}

template <typename Array>
Array typed_field(const Napi::Object& object, const char* name, napi_typedarray_type type, size_t length) {
  Napi::Value value = object.Get(name);
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != type || value.As<Napi::TypedArray>().ElementLength() != length)
    throw make_error(object.Env(), "ERR_INVALID_ARG", "", std::string("weight.") + name + " must be a typed array of " + std::to_string(length) + " elements of the right type");
  return value.As<Array>();
}

Napi::Value weight_only_linear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw make_error(env, "ERR_INVALID_ARG", "", "weightOnlyLinear(weight, x: Float32Array, m)");
  Napi::Object js = info[0].As<Napi::Object>();
  QuantizedWeight weight;
  weight.bits = static_cast<int>(integer_arg(js.Get("bits"), "weight.bits"));
  weight.out_features = integer_arg(js.Get("rows"), "weight.rows");
  weight.in_features = integer_arg(js.Get("cols"), "weight.cols");
  weight.group_size = checked_group(env, weight.bits, integer_arg(js.Get("groupSize"), "weight.groupSize"), weight.out_features, weight.in_features);
  const int64_t out = weight.out_features, in = weight.in_features;
  if (weight.bits == 8) {
    weight.data = copy_of(typed_field<Napi::Int8Array>(js, "data", napi_int8_array, out * in).Data(), {out, in}, at::kChar);
    weight.scale = copy_of(typed_field<Napi::Float32Array>(js, "scale", napi_float32_array, out).Data(), {out}, at::kFloat);
  } else {
    const int64_t groups = in / weight.group_size;
    weight.data = copy_of(typed_field<Napi::Uint8Array>(js, "data", napi_uint8_array, out * in / 2).Data(), {out, in / 2}, at::kByte);
    weight.scale = copy_of(typed_field<Napi::Float32Array>(js, "scale", napi_float32_array, out * groups).Data(), {out, groups}, at::kFloat);
    weight.min = copy_of(typed_field<Napi::Float32Array>(js, "min", napi_float32_array, out * groups).Data(), {out, groups}, at::kFloat);
  }
  Napi::Float32Array x = info[1].As<Napi::Float32Array>();
  const int64_t m = integer_arg(info[2], "m");
  if (m <= 0 || static_cast<int64_t>(x.ElementLength()) != m * in)
    throw make_error(env, "ERR_INVALID_ARG", "", "x must hold m x cols = " + std::to_string(m) + " x " + std::to_string(in) + " values");
  const bool tensor_ops = info.Length() > 3 && info[3].ToBoolean().Value();
  Napi::Float32Array y = Napi::Float32Array::New(env, static_cast<size_t>(m * out));
  guarded(env, "weightOnlyLinear", [&] {
    at::Tensor input = copy_of(x.Data(), {m, in}, at::kFloat);
    at::Tensor result = (tensor_ops ? at::matmul(input, weight.dequantize_with_tensor_ops(0, out).t()) : weight.forward(input)).contiguous();
    std::memcpy(y.Data(), result.data_ptr<float>(), sizeof(float) * m * out);
  });
  return y;
}

}  // namespace

void register_weight_quant(Napi::Env env, Napi::Object exports) {
  exports.Set("weightOnlyQuantize", Napi::Function::New(env, weight_only_quantize, "weightOnlyQuantize"));
  exports.Set("weightOnlyLinear", Napi::Function::New(env, weight_only_linear, "weightOnlyLinear"));
  exports.Set("weightOnlySimd", Napi::Function::New(env, [](const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), quant::weight_only_simd()); }, "weightOnlySimd"));
}

}  // namespace halo::napi
