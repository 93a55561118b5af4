// Base for native work that runs off the event loop: resolves a Promise, reports progress on the
// main thread (latest value wins) and exposes an atomic cancel flag. Errors keep their stable code.
#pragma once
#include <napi.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <memory>
#include <string>

#include "core/errors.h"
#include "napi/errors.h"

namespace halo::napi {

template <class Progress>
class AsyncJob : public Napi::AsyncProgressWorker<Progress> {
 public:
  using Base = Napi::AsyncProgressWorker<Progress>;
  using ExecutionProgress = typename Base::ExecutionProgress;

  AsyncJob(Napi::Env env, const char* op, Napi::Value on_progress)
      : Base(env, op),
        deferred_(Napi::Promise::Deferred::New(env)),
        op_(op),
        cancel_(std::make_shared<std::atomic<bool>>(false)),
        threads_(at::get_num_threads()) {
    if (on_progress.IsFunction()) progress_callback_ = Napi::Persistent(on_progress.As<Napi::Function>());
  }

  Napi::Promise promise() const { return deferred_.Promise(); }
  std::shared_ptr<std::atomic<bool>> cancel_flag() const { return cancel_; }

 protected:
  // Runs on the worker thread.
  virtual void Run(const ExecutionProgress& progress) = 0;
  // Back on the main thread after Run returned.
  virtual Napi::Value Result(Napi::Env env) = 0;
  virtual Napi::Value ProgressValue(Napi::Env env, const Progress& progress) = 0;

  const std::atomic<bool>& cancelled() const { return *cancel_; }

 private:
  void Execute(const ExecutionProgress& progress) override {
    try {
      at::set_num_threads(threads_);  // the thread-pool size is per thread under OpenMP
      Run(progress);
    } catch (const halo::CodedError& e) {
      fail(e.code(), e.what());
    } catch (const c10::Error& e) {
      fail("ERR_TORCH", describe(e));
    } catch (const std::exception& e) {
      fail("ERR_NATIVE", e.what());
    }
  }

  void fail(const std::string& code, const std::string& message) {
    code_ = code;
    message_ = message;
    this->SetError(message);
  }

  void OnOK() override {
    Napi::Env env = this->Env();
    Napi::HandleScope scope(env);
    if (!callback_error_.IsEmpty()) {
      deferred_.Reject(callback_error_.Value());
      return;
    }
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error&) override {
    Napi::HandleScope scope(this->Env());
    deferred_.Reject(make_error(this->Env(), code_, op_, message_).Value());
  }

  void OnProgress(const Progress* data, size_t count) override {
    if (progress_callback_.IsEmpty() || count == 0 || !callback_error_.IsEmpty()) return;
    Napi::Env env = this->Env();
    Napi::HandleScope scope(env);
    try {
      progress_callback_.Call({ProgressValue(env, data[count - 1])});
    } catch (const Napi::Error& e) {
      // A throwing progress callback cancels the job; the Promise rejects with its error.
      callback_error_ = Napi::Reference<Napi::Value>::New(e.Value(), 1);
      cancel_->store(true);
    }
  }

  Napi::Promise::Deferred deferred_;
  std::string op_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  int threads_;
  Napi::FunctionReference progress_callback_;
  Napi::Reference<Napi::Value> callback_error_;
  std::string code_, message_;
};

// Like guarded(), but a halo::CodedError keeps its own code.
template <class Body>
auto coded(Napi::Env env, const char* op, Body&& body) -> decltype(body()) {
  return guarded(env, op, [&]() -> decltype(body()) {
    try {
      return body();
    } catch (const halo::CodedError& e) {
      throw make_error(env, e.code(), op, e.what());
    }
  });
}

}  // namespace halo::napi
