// One register_* function per binding file; addon.cc calls each once.
#pragma once
#include <napi.h>

namespace halo::napi {

void register_runtime(Napi::Env env, Napi::Object exports);

}  // namespace halo::napi
