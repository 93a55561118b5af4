// One register_* function per binding file; addon.cc calls each once.
#pragma once
#include <napi.h>

namespace halo::napi {

void register_runtime(Napi::Env env, Napi::Object exports);
void register_model(Napi::Env env, Napi::Object exports);
void register_trainer(Napi::Env env, Napi::Object exports);
void register_zstd(Napi::Env env, Napi::Object exports);
void register_quant(Napi::Env env, Napi::Object exports);
void register_weight_quant(Napi::Env env, Napi::Object exports);

}  // namespace halo::napi
