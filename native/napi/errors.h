// Turns C++ failures into JS errors with a stable `code`; the process never aborts on bad input.
#pragma once
#include <napi.h>
#include <c10/util/Exception.h>

#include <cstdlib>
#include <string>
#include <utility>

namespace halo::napi {

inline bool debug_enabled() {
  const char* flag = std::getenv("HALO_FORGE_DEBUG");
  return flag != nullptr && std::string(flag) == "1";
}

inline Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& op,
                              const std::string& message) {
  Napi::Error error = Napi::Error::New(env, op.empty() ? message : op + ": " + message);
  error.Set("code", Napi::String::New(env, code));
  if (!op.empty()) error.Set("op", Napi::String::New(env, op));
  error.Set("torchMessage", Napi::String::New(env, message));
  return error;
}

// Message of a caught exception: c10::Error without its C++ backtrace unless HALO_FORGE_DEBUG=1.
inline std::string describe(const c10::Error& e) {
  return debug_enabled() ? std::string(e.what()) : std::string(e.what_without_backtrace());
}

// Runs `body`; a c10::Error becomes ERR_TORCH, any other std::exception ERR_NATIVE.
template <class Body>
auto guarded(Napi::Env env, const char* op, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw make_error(env, "ERR_TORCH", op, describe(e));
  } catch (const std::exception& e) {
    throw make_error(env, "ERR_NATIVE", op, e.what());
  }
}

}  // namespace halo::napi
