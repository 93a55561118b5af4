// JS functions about the runtime: info(), setThreads(n), matmul(a, aShape, b, bShape), timeMatmul(n, iters, seed).
#include <napi.h>

#include "core/runtime.h"
#include "core/selftest.h"
#include "napi/errors.h"
#include "napi/exports.h"
#include "napi/tensor_convert.h"

namespace halo::napi {

static Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "info", [&]() -> Napi::Value {
    RuntimeInfo runtime = runtime_info();
    Napi::Object result = Napi::Object::New(env);
    result.Set("torchVersion", runtime.torch_version);
    result.Set("torchVersionMajor", runtime.torch_version_major);
    result.Set("torchVersionMinor", runtime.torch_version_minor);
    result.Set("backend", runtime.backend);
    result.Set("intraOpThreads", runtime.intra_op_threads);
    result.Set("interOpThreads", runtime.inter_op_threads);
    result.Set("gpuAvailable", runtime.gpu_available);
    result.Set("parallelInfo", runtime.parallel_info);
    Napi::Array devices = Napi::Array::New(env, runtime.devices.size());
    for (size_t i = 0; i < runtime.devices.size(); ++i) {
      Napi::Object device = Napi::Object::New(env);
      device.Set("index", runtime.devices[i].index);
      device.Set("name", runtime.devices[i].name);
      device.Set("totalMemoryBytes", static_cast<double>(runtime.devices[i].total_memory_bytes));
      device.Set("freeMemoryBytes", static_cast<double>(runtime.devices[i].free_memory_bytes));
      devices.Set(static_cast<uint32_t>(i), device);
    }
    result.Set("devices", devices);
    return result;
  });
}

static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() < 1)
    throw make_error(env, "ERR_INVALID_ARG", "setThreads", "threads must be a positive integer");
  return guarded(env, "setThreads", [&]() -> Napi::Value {
    set_intra_op_threads(info[0].As<Napi::Number>().Int32Value());
    return env.Undefined();
  });
}

static Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4) throw make_error(env, "ERR_INVALID_ARG", "matmul", "expected (a, aShape, b, bShape)");
  at::Tensor a = tensor_from_float32(info[0], info[1], "a");
  at::Tensor b = tensor_from_float32(info[2], info[3], "b");
  return guarded(env, "matmul", [&]() -> Napi::Value { return tensor_to_js(env, halo::matmul(a, b)); });
}

static Napi::Value TimeMatmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t n = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int64Value() : 1024;
  int iterations = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 10;
  uint64_t seed = info.Length() > 2 && info[2].IsNumber() ? static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value()) : 0;
  return guarded(env, "timeMatmul", [&]() -> Napi::Value {
    MatmulTiming timing = time_matmul(n, iterations, seed);
    Napi::Object result = Napi::Object::New(env);
    result.Set("n", static_cast<double>(timing.n));
    result.Set("iterations", timing.iterations);
    result.Set("bestMs", timing.best_ms);
    result.Set("medianMs", timing.median_ms);
    result.Set("gflops", timing.gflops);
    result.Set("maxAbsError", timing.max_abs_error);
    return result;
  });
}

void register_runtime(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("matmul", Napi::Function::New(env, Matmul, "matmul"));
  exports.Set("timeMatmul", Napi::Function::New(env, TimeMatmul, "timeMatmul"));
}

}  // namespace halo::napi
