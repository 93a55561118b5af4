// NativeTrainer: LoRA or full fine-tuning of a NativeModel in place. new NativeTrainer(model, options);
// step(batches, onProgress) and loss(batches) -> Promise; trainable(), stateTensors(), mergedWeights()
// -> [{name, shape, data}]; loadTrainable(file); loadState(file, step, rng); rngState(); dispose().
// Plus trainChecks: gradCheck, chunkedLossCheck, adamwCheck (numerical self-checks driven by tests).
#include <napi.h>

#include <ATen/ATen.h>

#include <cstring>
#include <map>
#include <memory>

#include "core/errors.h"
#include "core/io/safetensors.h"
#include "core/train/grad_check.h"
#include "core/train/train_forward.h"
#include "core/train/trainer.h"
#include "napi/async_job.h"
#include "napi/errors.h"
#include "napi/exports.h"
#include "napi/model_handle.h"

namespace halo::napi {

namespace {

Napi::Value get(const Napi::Object& object, const char* name) {
  Napi::Value value = object.Get(name);
  if (value.IsUndefined()) throw make_error(object.Env(), "ERR_INVALID_ARG", "train", std::string("missing option ") + name);
  return value;
}
double num(const Napi::Object& object, const char* name) {
  Napi::Value value = get(object, name);
  if (!value.IsNumber()) throw make_error(object.Env(), "ERR_INVALID_ARG", "train", std::string(name) + " must be a number");
  return value.As<Napi::Number>().DoubleValue();
}

TrainOptions read_options(const Napi::Object& js) {
  TrainOptions options;
  options.full_finetune = get(js, "fullFinetune").ToBoolean().Value();
  options.lora.rank = static_cast<int64_t>(num(js, "rank"));
  options.lora.alpha = num(js, "alpha");
  options.lora.dropout = num(js, "dropout");
  options.lora.use_rslora = get(js, "useRslora").ToBoolean().Value();
  options.targets.clear();
  Napi::Array targets = get(js, "targets").As<Napi::Array>();
  for (uint32_t i = 0; i < targets.Length(); ++i) options.targets.push_back(targets.Get(i).ToString().Utf8Value());
  options.adamw.beta1 = num(js, "beta1");
  options.adamw.beta2 = num(js, "beta2");
  options.adamw.eps = num(js, "eps");
  options.adamw.weight_decay = num(js, "weightDecay");
  options.schedule.kind = get(js, "schedule").ToString().Utf8Value();
  options.schedule.base_lr = num(js, "lr");
  options.schedule.warmup_steps = static_cast<int64_t>(num(js, "warmupSteps"));
  options.schedule.total_steps = static_cast<int64_t>(num(js, "totalSteps"));
  options.max_grad_norm = num(js, "maxGradNorm");
  options.checkpointing = get(js, "checkpointing").ToBoolean().Value();
  options.loss_chunk_tokens = static_cast<int64_t>(num(js, "lossChunkTokens"));
  options.seed = static_cast<uint64_t>(num(js, "seed"));
  return options;
}

template <class Array, class T>
at::Tensor typed_tensor(const Napi::Object& js, const char* name, int64_t rows, int64_t cols, at::ScalarType type) {
  Napi::Value value = get(js, name);
  if (!value.IsTypedArray()) throw make_error(js.Env(), "ERR_INVALID_ARG", "train", std::string("batch.") + name + " must be a typed array");
  Array array = value.As<Array>();
  if (static_cast<int64_t>(array.ElementLength()) != rows * cols)
    throw make_error(js.Env(), "ERR_INVALID_ARG", "train", std::string("batch.") + name + " has " + std::to_string(array.ElementLength()) +
                                                               " values, expected rows x cols = " + std::to_string(rows * cols));
  return at::from_blob(array.Data(), {rows, cols}, type).clone();
}

std::vector<MicroBatch> read_batches(const Napi::Value& value) {
  Napi::Env env = value.Env();
  if (!value.IsArray()) throw make_error(env, "ERR_INVALID_ARG", "train", "batches must be an array");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<MicroBatch> batches;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Object js = array.Get(i).As<Napi::Object>();
    const int64_t rows = static_cast<int64_t>(num(js, "rows")), cols = static_cast<int64_t>(num(js, "cols"));
    MicroBatch batch;
    batch.tokens = typed_tensor<Napi::Int32Array, int32_t>(js, "tokens", rows, cols, at::kInt).to(at::kLong);
    batch.positions = typed_tensor<Napi::Int32Array, int32_t>(js, "positions", rows, cols, at::kInt).to(at::kLong);
    batch.segments = typed_tensor<Napi::Int32Array, int32_t>(js, "segments", rows, cols, at::kInt).to(at::kLong);
    batch.targets = typed_tensor<Napi::Int32Array, int32_t>(js, "targets", rows, cols, at::kInt).to(at::kLong);
    batch.weights = typed_tensor<Napi::Float32Array, float>(js, "weights", rows, cols, at::kFloat);
    batches.push_back(std::move(batch));
  }
  return batches;
}

Napi::Array named_to_js(Napi::Env env, const std::vector<std::pair<std::string, at::Tensor>>& named) {
  Napi::Array out = Napi::Array::New(env, named.size());
  for (size_t i = 0; i < named.size(); ++i) {
    at::Tensor tensor = named[i].second.detach().to(at::kCPU, at::kFloat).contiguous();
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("name", named[i].first);
    Napi::Array shape = Napi::Array::New(env, tensor.dim());
    for (int64_t d = 0; d < tensor.dim(); ++d) shape.Set(static_cast<uint32_t>(d), Napi::Number::New(env, static_cast<double>(tensor.size(d))));
    entry.Set("shape", shape);
    Napi::Float32Array data = Napi::Float32Array::New(env, static_cast<size_t>(tensor.numel()));
    std::memcpy(data.Data(), tensor.data_ptr<float>(), sizeof(float) * tensor.numel());
    entry.Set("data", data);
    out.Set(static_cast<uint32_t>(i), entry);
  }
  return out;
}

Napi::Object report_to_js(Napi::Env env, const StepReport& report) {
  Napi::Object js = Napi::Object::New(env);
  js.Set("step", Napi::Number::New(env, static_cast<double>(report.step)));
  js.Set("loss", Napi::Number::New(env, report.loss));
  js.Set("lr", Napi::Number::New(env, report.lr));
  js.Set("gradNorm", Napi::Number::New(env, report.grad_norm));
  js.Set("tokens", Napi::Number::New(env, static_cast<double>(report.tokens)));
  js.Set("countedTokens", Napi::Number::New(env, static_cast<double>(report.counted)));
  js.Set("seconds", Napi::Number::New(env, report.seconds));
  js.Set("skipped", Napi::Boolean::New(env, report.skipped));
  if (report.skipped) js.Set("skipReason", report.skip_reason);
  return js;
}

class StepJob : public AsyncJob<int> {
 public:
  StepJob(Napi::Env env, std::shared_ptr<Trainer> trainer, std::vector<MicroBatch> batches, bool update)
      : AsyncJob(env, update ? "trainStep" : "trainLoss", env.Undefined()), trainer_(std::move(trainer)), batches_(std::move(batches)), update_(update) {}

 protected:
  void Run(const ExecutionProgress&) override {
    if (update_) report_ = trainer_->step(batches_);
    else report_.loss = trainer_->loss(batches_, false);
  }
  Napi::Value Result(Napi::Env env) override { return update_ ? Napi::Value(report_to_js(env, report_)) : Napi::Value(Napi::Number::New(env, report_.loss)); }
  Napi::Value ProgressValue(Napi::Env env, const int&) override { return env.Undefined(); }

 private:
  std::shared_ptr<Trainer> trainer_;
  std::vector<MicroBatch> batches_;
  bool update_;
  StepReport report_;
};

std::map<std::string, at::Tensor> read_file_tensors(const std::string& file, at::ScalarType dtype, at::Device device) {
  std::map<std::string, at::Tensor> out;
  for (auto& [name, loaded] : read_safetensors({file}, dtype, device)) out[name] = loaded.tensor;
  return out;
}

// PEFT writes keys as ...q_proj.lora_A.weight; some versions keep the adapter name (lora_A.default.weight).
std::string peft_key(std::string name) {
  for (const char* part : {".lora_A.default.weight", ".lora_B.default.weight"}) {
    const std::string needle(part);
    const size_t at = name.find(needle);
    if (at != std::string::npos) name.replace(at, needle.size(), needle.substr(0, 7) + ".weight");
  }
  return name;
}

}  // namespace

class NativeTrainer : public Napi::ObjectWrap<NativeTrainer> {
 public:
  static void Register(Napi::Env env, Napi::Object exports) {
    Napi::Function constructor = DefineClass(
        env, "NativeTrainer",
        {InstanceMethod("step", &NativeTrainer::Step), InstanceMethod("loss", &NativeTrainer::Loss),
         InstanceMethod("trainable", &NativeTrainer::Trainable), InstanceMethod("loadTrainable", &NativeTrainer::LoadTrainable),
         InstanceMethod("stateTensors", &NativeTrainer::StateTensors), InstanceMethod("loadState", &NativeTrainer::LoadState),
         InstanceMethod("rngState", &NativeTrainer::RngState), InstanceMethod("stepCount", &NativeTrainer::StepCount),
         InstanceMethod("mergedWeights", &NativeTrainer::MergedWeights), InstanceMethod("dispose", &NativeTrainer::Dispose)});
    exports.Set("NativeTrainer", constructor);
  }

  explicit NativeTrainer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTrainer>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[1].IsObject()) throw make_error(env, "ERR_INVALID_ARG", "train", "expected (model, options)");
    std::shared_ptr<Decoder> model = unwrap_model(info[0]);
    TrainOptions options = read_options(info[1].As<Napi::Object>());
    trainer_ = coded(env, "train", [&]() { return std::make_shared<Trainer>(model, options); });
  }

 private:
  std::shared_ptr<Trainer> live(Napi::Env env, const char* op) {
    if (!trainer_) throw make_error(env, "ERR_DISPOSED", op, "the trainer was disposed");
    return trainer_;
  }

  Napi::Value Step(const Napi::CallbackInfo& info) { return queue(info, true); }
  Napi::Value Loss(const Napi::CallbackInfo& info) { return queue(info, false); }

  Napi::Value queue(const Napi::CallbackInfo& info, bool update) {
    Napi::Env env = info.Env();
    std::shared_ptr<Trainer> trainer = live(env, update ? "trainStep" : "trainLoss");
    auto* job = new StepJob(env, trainer, read_batches(info[0]), update);
    Napi::Promise promise = job->promise();
    job->Queue();
    return promise;
  }

  Napi::Value Trainable(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<Trainer> trainer = live(env, "trainable");
    return guarded(env, "trainable", [&]() -> Napi::Value { return named_to_js(env, trainer->trainable()); });
  }

  Napi::Value LoadTrainable(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<Trainer> trainer = live(env, "loadAdapter");
    const std::string file = info[0].ToString().Utf8Value();
    const bool require_all = info.Length() > 1 && info[1].ToBoolean().Value();
    return coded(env, "loadAdapter", [&]() -> Napi::Value {
      at::ScalarType dtype = trainer->optimizer().slots.empty() ? at::kFloat : trainer->optimizer().slots[0].master.scalar_type();
      std::map<std::string, at::Tensor> tensors;
      for (auto& [name, tensor] : read_file_tensors(file, dtype, trainer->model().device())) tensors[peft_key(name)] = tensor;
      try {
        trainer->set_trainable(tensors, require_all);
      } catch (const CodedError& e) {
        throw CodedError(e.code(), file + ": " + e.what());
      }
      return env.Undefined();
    });
  }

  Napi::Value StateTensors(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<Trainer> trainer = live(env, "stateTensors");
    return guarded(env, "stateTensors", [&]() -> Napi::Value { return named_to_js(env, trainer->state_tensors()); });
  }

  Napi::Value LoadState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<Trainer> trainer = live(env, "loadState");
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsTypedArray())
      throw make_error(env, "ERR_INVALID_ARG", "loadState", "expected (file, stepCount, rngState: Uint8Array)");
    const std::string file = info[0].As<Napi::String>().Utf8Value();
    const int64_t step = info[1].As<Napi::Number>().Int64Value();
    Napi::Uint8Array rng = info[2].As<Napi::Uint8Array>();
    at::Tensor rng_state = at::from_blob(rng.Data(), {static_cast<int64_t>(rng.ElementLength())}, at::kByte).clone();
    return coded(env, "loadState", [&]() -> Napi::Value {
      at::ScalarType dtype = trainer->optimizer().slots.empty() ? at::kFloat : trainer->optimizer().slots[0].master.scalar_type();
      try {
        trainer->load_state(read_file_tensors(file, dtype, trainer->model().device()), step, rng_state);
      } catch (const CodedError& e) {
        throw CodedError(e.code(), file + ": " + e.what());
      }
      return env.Undefined();
    });
  }

  Napi::Value RngState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<Trainer> trainer = live(env, "rngState");
    at::Tensor state = trainer->rng_state().contiguous();
    Napi::Uint8Array out = Napi::Uint8Array::New(env, static_cast<size_t>(state.numel()));
    std::memcpy(out.Data(), state.data_ptr<uint8_t>(), state.numel());
    return out;
  }

  Napi::Value StepCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(live(info.Env(), "stepCount")->step_count()));
  }

  // The model's weights under HF names with every adapter merged in (fp32), for a full export.
  Napi::Value MergedWeights(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<Trainer> trainer = live(env, "mergedWeights");
    return guarded(env, "mergedWeights", [&]() -> Napi::Value {
      std::vector<std::pair<std::string, at::Tensor>> named = named_weights(trainer->model());
      std::map<const at::TensorImpl*, const LoraAdapter*> adapters;
      for (DecoderLayer& layer : trainer->model().layers())
        for (Linear* linear : {&layer.attention.q_proj, &layer.attention.k_proj, &layer.attention.v_proj, &layer.attention.o_proj,
                               &layer.mlp.gate, &layer.mlp.up, &layer.mlp.down})
          if (auto* lora = dynamic_cast<const LoraAdapter*>(linear->adapter.get()))
            for (auto& [name, tensor] : named)
              if (tensor.unsafeGetTensorImpl() == linear->weight.unsafeGetTensorImpl()) tensor = merged_weight(*linear, *lora);
      return named_to_js(env, named);
    });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (trainer_) trainer_->detach();
    trainer_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<Trainer> trainer_;
};

static Napi::Value GradCheck(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6) throw make_error(env, "ERR_INVALID_ARG", "gradCheck", "expected (model, options, batches, perTensor, epsilon, seed)");
  std::shared_ptr<Decoder> model = unwrap_model(info[0]);
  TrainOptions options = read_options(info[1].As<Napi::Object>());
  std::vector<MicroBatch> batches = read_batches(info[2]);
  return coded(env, "gradCheck", [&]() -> Napi::Value {
    GradCheckResult result = gradient_check(*model, options, batches, info[3].As<Napi::Number>().Int64Value(),
                                            info[4].As<Napi::Number>().DoubleValue(), info[5].As<Napi::Number>().Int64Value());
    Napi::Object js = Napi::Object::New(env);
    js.Set("maxRelError", result.max_rel_error);
    js.Set("maxAbsError", result.max_abs_error);
    js.Set("checked", static_cast<double>(result.checked));
    js.Set("tensors", static_cast<double>(result.tensors));
    return js;
  });
}

static Napi::Value ChunkedLossCheckJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto arg = [&](size_t i) { return info[i].As<Napi::Number>().Int64Value(); };
  return guarded(env, "chunkedLossCheck", [&]() -> Napi::Value {
    ChunkedLossCheck check = chunked_loss_check(arg(0), arg(1), arg(2), arg(3), static_cast<uint64_t>(arg(4)));
    Napi::Object js = Napi::Object::New(env);
    js.Set("lossAbsDiff", check.loss_abs_diff);
    js.Set("gradHiddenMaxDiff", check.grad_hidden_max_diff);
    js.Set("gradWeightMaxDiff", check.grad_weight_max_diff);
    return js;
  });
}

static Napi::Value AdamWCheckJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "adamwCheck", [&]() -> Napi::Value {
    AdamWCheck check = adamw_check(info[0].As<Napi::Number>().Int64Value(), info[1].As<Napi::Number>().DoubleValue(),
                                   info[2].As<Napi::Number>().DoubleValue(), static_cast<uint64_t>(info[3].As<Napi::Number>().Int64Value()));
    Napi::Object js = Napi::Object::New(env);
    js.Set("maxAbsDiff", check.max_abs_diff);
    return js;
  });
}

static Napi::Value LrAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, "lrAt", [&]() -> Napi::Value {
    LrSchedule schedule;
    schedule.kind = info[0].ToString().Utf8Value();
    schedule.base_lr = info[1].As<Napi::Number>().DoubleValue();
    schedule.warmup_steps = info[2].As<Napi::Number>().Int64Value();
    schedule.total_steps = info[3].As<Napi::Number>().Int64Value();
    return Napi::Number::New(env, schedule.at(info[4].As<Napi::Number>().Int64Value()));
  });
}

void register_trainer(Napi::Env env, Napi::Object exports) {
  NativeTrainer::Register(env, exports);
  Napi::Object checks = Napi::Object::New(env);
  checks.Set("gradCheck", Napi::Function::New(env, GradCheck, "gradCheck"));
  checks.Set("chunkedLossCheck", Napi::Function::New(env, ChunkedLossCheckJs, "chunkedLossCheck"));
  checks.Set("adamwCheck", Napi::Function::New(env, AdamWCheckJs, "adamwCheck"));
  checks.Set("lrAt", Napi::Function::New(env, LrAt, "lrAt"));
  exports.Set("trainChecks", checks);
}

}  // namespace halo::napi
