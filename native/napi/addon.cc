// The halo_forge.node module: every binding file registers its functions and classes here.
#include <napi.h>

#include "napi/exports.h"

namespace halo::napi {

static void register_all(Napi::Env env, Napi::Object exports) {
  register_runtime(env, exports);
  register_model(env, exports);
  register_trainer(env, exports);
  register_zstd(env, exports);
  register_quant(env, exports);
  register_weight_quant(env, exports);
  exports.Set("abiVersion", Napi::Number::New(env, 1));
}

}  // namespace halo::napi

static Napi::Object InitHaloForge(Napi::Env env, Napi::Object exports) {
  halo::napi::register_all(env, exports);
  return exports;
}

NODE_API_MODULE(halo_forge, InitHaloForge)
