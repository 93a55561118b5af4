// The Decoder behind a JS NativeModel object (defined in napi/model.cc), for other bindings (the trainer).
#pragma once
#include <napi.h>

#include <memory>

#include "core/models/decoder.h"

namespace halo::napi {

std::shared_ptr<Decoder> unwrap_model(const Napi::Value& value);

}  // namespace halo::napi
