// GGUF block codecs for JS: ggmlQuantize(type, Float32Array, rowLength) -> Uint8Array and
// ggmlDequantize(type, Uint8Array, rowLength, count) -> Float32Array.
#include <napi.h>

#include <cstring>
#include <string>

#include "core/quant/ggml_blocks.h"
#include "napi/errors.h"
#include "napi/exports.h"

namespace halo::napi {

namespace {

quant::BlockGeometry checked_geometry(Napi::Env env, const Napi::Value& type_value, int64_t row_length, int64_t count) {
  if (!type_value.IsNumber()) throw make_error(env, "ERR_INVALID_ARG", "", "type must be a ggml type number");
  quant::BlockGeometry g{};
  const int type = type_value.As<Napi::Number>().Int32Value();
  if (!quant::block_geometry(type, &g)) throw make_error(env, "ERR_INVALID_ARG", "", "no block codec for ggml type " + std::to_string(type));
  if (row_length <= 0 || row_length % g.elements != 0)
    throw make_error(env, "ERR_INVALID_ARG", "", "rowLength " + std::to_string(row_length) + " is not a positive multiple of the block size " + std::to_string(g.elements));
  if (count % row_length != 0)
    throw make_error(env, "ERR_INVALID_ARG", "", std::to_string(count) + " values do not split into rows of " + std::to_string(row_length));
  return g;
}

Napi::Value ggml_quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array || !info[2].IsNumber())
    throw make_error(env, "ERR_INVALID_ARG", "", "ggmlQuantize(type, values: Float32Array, rowLength)");
  Napi::Float32Array values = info[1].As<Napi::Float32Array>();
  const int64_t row_length = info[2].As<Napi::Number>().Int64Value();
  const int64_t count = static_cast<int64_t>(values.ElementLength());
  const quant::BlockGeometry g = checked_geometry(env, info[0], row_length, count);
  const int64_t rows = count / row_length;
  Napi::Uint8Array out = Napi::Uint8Array::New(env, static_cast<size_t>(count / g.elements * g.bytes));
  const auto type = static_cast<quant::GgmlType>(info[0].As<Napi::Number>().Int32Value());
  guarded(env, "ggmlQuantize", [&] { quant::quantize_rows(type, values.Data(), rows, row_length, out.Data()); });
  return out;
}

Napi::Value ggml_dequantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || !info[2].IsNumber() || !info[3].IsNumber())
    throw make_error(env, "ERR_INVALID_ARG", "", "ggmlDequantize(type, data: Uint8Array, rowLength, count)");
  Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
  const int64_t row_length = info[2].As<Napi::Number>().Int64Value();
  const int64_t count = info[3].As<Napi::Number>().Int64Value();
  const quant::BlockGeometry g = checked_geometry(env, info[0], row_length, count);
  if (static_cast<int64_t>(data.ByteLength()) != count / g.elements * g.bytes)
    throw make_error(env, "ERR_INVALID_ARG", "", "data holds " + std::to_string(data.ByteLength()) + " bytes, " + std::to_string(count) + " values need " + std::to_string(count / g.elements * g.bytes));
  Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(count));
  const auto type = static_cast<quant::GgmlType>(info[0].As<Napi::Number>().Int32Value());
  guarded(env, "ggmlDequantize", [&] { quant::dequantize_rows(type, data.Data(), count / row_length, row_length, out.Data()); });
  return out;
}

}  // namespace

void register_quant(Napi::Env env, Napi::Object exports) {
  exports.Set("ggmlQuantize", Napi::Function::New(env, ggml_quantize, "ggmlQuantize"));
  exports.Set("ggmlDequantize", Napi::Function::New(env, ggml_dequantize, "ggmlDequantize"));
}

}  // namespace halo::napi
