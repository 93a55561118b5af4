// NativeModel: a loaded decoder. new NativeModel(config, files, device, dtype); generate(request,
// onProgress) -> {promise, cancel}; logits(sequences, positions) and score(contexts, continuations)
// -> Promise; prefillCount(); parameterCount(); dispose().
#include <napi.h>

#include <ATen/ATen.h>

#include <memory>

#include "core/generate/generate.h"
#include "core/generate/score.h"
#include "core/io/safetensors.h"
#include "core/models/decoder.h"
#include "napi/async_job.h"
#include "napi/errors.h"
#include "napi/exports.h"

namespace halo::napi {

namespace {

Napi::Value field(const Napi::Object& object, const char* name) {
  Napi::Value value = object.Get(name);
  if (value.IsUndefined()) throw make_error(object.Env(), "ERR_INVALID_ARG", "", std::string("missing field ") + name);
  return value;
}
double number_field(const Napi::Object& object, const char* name) {
  Napi::Value value = field(object, name);
  if (!value.IsNumber()) throw make_error(object.Env(), "ERR_INVALID_ARG", "", std::string(name) + " must be a number");
  return value.As<Napi::Number>().DoubleValue();
}
int64_t int_field(const Napi::Object& object, const char* name) { return static_cast<int64_t>(number_field(object, name)); }
bool bool_field(const Napi::Object& object, const char* name) { return field(object, name).ToBoolean().Value(); }
std::string string_field(const Napi::Object& object, const char* name) { return field(object, name).ToString().Utf8Value(); }

ModelConfig read_config(const Napi::Object& js) {
  ModelConfig config;
  config.architecture = string_field(js, "architecture");
  config.vocab_size = int_field(js, "vocabSize");
  config.hidden_size = int_field(js, "hiddenSize");
  config.intermediate_size = int_field(js, "intermediateSize");
  config.num_layers = int_field(js, "numLayers");
  config.num_heads = int_field(js, "numHeads");
  config.num_kv_heads = int_field(js, "numKvHeads");
  config.head_dim = int_field(js, "headDim");
  config.rms_norm_eps = number_field(js, "rmsNormEps");
  config.rope_theta = number_field(js, "ropeTheta");
  config.tie_word_embeddings = bool_field(js, "tieWordEmbeddings");
  config.attention_bias = bool_field(js, "attentionBias");
  config.qk_norm = bool_field(js, "qkNorm");
  config.sliding_window = int_field(js, "slidingWindow");
  config.max_position_embeddings = int_field(js, "maxPositionEmbeddings");
  Napi::Object scaling = field(js, "ropeScaling").As<Napi::Object>();
  RopeScaling& rope = config.rope_scaling;
  rope.type = string_field(scaling, "type");
  if (rope.type != "none") rope.factor = number_field(scaling, "factor");
  if (rope.type == "llama3") {
    rope.low_freq_factor = number_field(scaling, "lowFreqFactor");
    rope.high_freq_factor = number_field(scaling, "highFreqFactor");
  }
  if (rope.type == "llama3" || rope.type == "yarn") rope.original_max_position_embeddings = int_field(scaling, "originalMaxPositionEmbeddings");
  if (rope.type == "yarn") {
    rope.beta_fast = number_field(scaling, "betaFast");
    rope.beta_slow = number_field(scaling, "betaSlow");
    rope.attention_factor = number_field(scaling, "attentionFactor");
  }
  Napi::Value quantization = js.Get("quantization");
  if (quantization.IsObject()) {
    config.quant_bits = static_cast<int>(int_field(quantization.As<Napi::Object>(), "bits"));
    config.quant_group_size = int_field(quantization.As<Napi::Object>(), "groupSize");
  }
  if (config.num_kv_heads <= 0 || config.num_heads % config.num_kv_heads != 0)
    throw make_error(js.Env(), "ERR_INVALID_ARG", "", "numHeads must be a multiple of numKvHeads");
  return config;
}

std::vector<int64_t> read_ids(const Napi::Value& value, const std::string& what) {
  Napi::Env env = value.Env();
  std::vector<int64_t> ids;
  if (value.IsTypedArray()) {
    Napi::TypedArray typed = value.As<Napi::TypedArray>();
    if (typed.TypedArrayType() == napi_int32_array) {
      Napi::Int32Array array = value.As<Napi::Int32Array>();
      ids.assign(array.Data(), array.Data() + array.ElementLength());
      return ids;
    }
    if (typed.TypedArrayType() == napi_uint32_array) {
      Napi::Uint32Array array = value.As<Napi::Uint32Array>();
      ids.assign(array.Data(), array.Data() + array.ElementLength());
      return ids;
    }
  }
  if (!value.IsArray()) throw make_error(env, "ERR_INVALID_ARG", "", what + " must be an array of token ids");
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    double id = item.IsNumber() ? item.As<Napi::Number>().DoubleValue() : -1.5;
    if (!item.IsNumber() || id != static_cast<double>(static_cast<int64_t>(id)))
      throw make_error(env, "ERR_INVALID_ARG", "", what + "[" + std::to_string(i) + "] is not an integer token id");
    ids.push_back(static_cast<int64_t>(id));
  }
  return ids;
}

std::vector<std::vector<int64_t>> read_id_lists(const Napi::Value& value, const std::string& what) {
  if (!value.IsArray()) throw make_error(value.Env(), "ERR_INVALID_ARG", "", what + " must be an array of token-id arrays");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<std::vector<int64_t>> lists;
  for (uint32_t i = 0; i < array.Length(); ++i) lists.push_back(read_ids(array.Get(i), what + "[" + std::to_string(i) + "]"));
  return lists;
}

Napi::Array to_js_numbers(Napi::Env env, const std::vector<int64_t>& values) {
  Napi::Array array = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) array.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(values[i])));
  return array;
}

const char* finish_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    default: return "cancelled";
  }
}

class GenerateJob : public AsyncJob<GenerateProgress> {
 public:
  GenerateJob(Napi::Env env, std::shared_ptr<Decoder> model, GenerateRequest request, Napi::Value on_progress)
      : AsyncJob(env, "generate", on_progress), model_(std::move(model)), request_(std::move(request)) {}

 protected:
  void Run(const ExecutionProgress& progress) override {
    output_ = generate(*model_, model_->prefill_count, request_, cancelled(),
                       [&](const GenerateProgress& report) { progress.Send(&report, 1); });
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    Napi::Array sequences = Napi::Array::New(env, output_.sequences.size());
    for (size_t i = 0; i < output_.sequences.size(); ++i) {
      const GeneratedSequence& sequence = output_.sequences[i];
      Napi::Object js = Napi::Object::New(env);
      js.Set("promptIndex", Napi::Number::New(env, static_cast<double>(sequence.prompt_index)));
      js.Set("sampleIndex", Napi::Number::New(env, static_cast<double>(sequence.sample_index)));
      js.Set("tokens", to_js_numbers(env, sequence.tokens));
      Napi::Array logprobs = Napi::Array::New(env, sequence.logprobs.size());
      for (size_t j = 0; j < sequence.logprobs.size(); ++j) logprobs.Set(static_cast<uint32_t>(j), Napi::Number::New(env, sequence.logprobs[j]));
      js.Set("logprobs", logprobs);
      js.Set("finishReason", finish_name(sequence.finish));
      sequences.Set(static_cast<uint32_t>(i), js);
    }
    result.Set("sequences", sequences);
    result.Set("prefills", Napi::Number::New(env, static_cast<double>(output_.prefills)));
    result.Set("generatedTokens", Napi::Number::New(env, static_cast<double>(output_.generated_tokens)));
    result.Set("prefillMs", Napi::Number::New(env, output_.prefill_ms));
    result.Set("decodeMs", Napi::Number::New(env, output_.decode_ms));
    result.Set("sampleMs", Napi::Number::New(env, output_.sample_ms));
    result.Set("firstTokenMs", Napi::Number::New(env, output_.first_token_ms));
    Napi::Array step_ms = Napi::Array::New(env, output_.step_ms.size());
    for (size_t i = 0; i < output_.step_ms.size(); ++i) step_ms.Set(static_cast<uint32_t>(i), Napi::Number::New(env, output_.step_ms[i]));
    result.Set("stepMs", step_ms);
    return result;
  }

  Napi::Value ProgressValue(Napi::Env env, const GenerateProgress& progress) override {
    Napi::Object js = Napi::Object::New(env);
    js.Set("generatedTokens", Napi::Number::New(env, static_cast<double>(progress.generated_tokens)));
    js.Set("finishedSequences", Napi::Number::New(env, static_cast<double>(progress.finished_sequences)));
    js.Set("totalSequences", Napi::Number::New(env, static_cast<double>(progress.total_sequences)));
    return js;
  }

 private:
  std::shared_ptr<Decoder> model_;
  GenerateRequest request_;
  GenerateOutput output_;
};

class LogitsJob : public AsyncJob<int> {
 public:
  LogitsJob(Napi::Env env, std::shared_ptr<Decoder> model, std::vector<std::vector<int64_t>> sequences,
            std::vector<std::vector<int64_t>> positions)
      : AsyncJob(env, "logits", env.Undefined()), model_(std::move(model)), sequences_(std::move(sequences)), positions_(std::move(positions)) {}

 protected:
  void Run(const ExecutionProgress&) override { rows_ = position_logits(*model_, sequences_, positions_); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array rows = Napi::Array::New(env, rows_.size());
    for (size_t i = 0; i < rows_.size(); ++i) {
      Napi::Float32Array data = Napi::Float32Array::New(env, static_cast<size_t>(rows_[i].numel()));
      std::memcpy(data.Data(), rows_[i].data_ptr<float>(), sizeof(float) * rows_[i].numel());
      rows.Set(static_cast<uint32_t>(i), data);
    }
    return rows;
  }
  Napi::Value ProgressValue(Napi::Env env, const int&) override { return env.Undefined(); }

 private:
  std::shared_ptr<Decoder> model_;
  std::vector<std::vector<int64_t>> sequences_, positions_;
  std::vector<at::Tensor> rows_;
};

class ScoreJob : public AsyncJob<int> {
 public:
  ScoreJob(Napi::Env env, std::shared_ptr<Decoder> model, std::vector<std::vector<int64_t>> contexts,
           std::vector<std::vector<int64_t>> continuations)
      : AsyncJob(env, "score", env.Undefined()), model_(std::move(model)), contexts_(std::move(contexts)), continuations_(std::move(continuations)) {}

 protected:
  void Run(const ExecutionProgress&) override { scores_ = score_continuations(*model_, contexts_, continuations_); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, scores_.size());
    for (size_t i = 0; i < scores_.size(); ++i) {
      Napi::Object js = Napi::Object::New(env);
      js.Set("logprob", Napi::Number::New(env, scores_[i].logprob));
      js.Set("greedy", Napi::Boolean::New(env, scores_[i].greedy));
      out.Set(static_cast<uint32_t>(i), js);
    }
    return out;
  }
  Napi::Value ProgressValue(Napi::Env env, const int&) override { return env.Undefined(); }

 private:
  std::shared_ptr<Decoder> model_;
  std::vector<std::vector<int64_t>> contexts_, continuations_;
  std::vector<ContinuationScore> scores_;
};

at::ScalarType parse_dtype(Napi::Env env, const std::string& name) {
  if (name == "fp32") return at::kFloat;
  if (name == "bf16") return at::kBFloat16;
  if (name == "fp16") return at::kHalf;
  throw make_error(env, "ERR_INVALID_ARG", "", "dtype must be fp32, bf16 or fp16, got " + name);
}

}  // namespace

class NativeModel : public Napi::ObjectWrap<NativeModel> {
 public:
  static void Register(Napi::Env env, Napi::Object exports) {
    Napi::Function constructor = DefineClass(env, "NativeModel",
                                             {InstanceMethod("generate", &NativeModel::Generate), InstanceMethod("logits", &NativeModel::Logits),
                                              InstanceMethod("score", &NativeModel::Score), InstanceMethod("prefillCount", &NativeModel::PrefillCount),
                                              InstanceMethod("parameterCount", &NativeModel::ParameterCount),
                                              InstanceMethod("dispose", &NativeModel::Dispose)});
    exports.Set("NativeModel", constructor);
  }

  explicit NativeModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeModel>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsObject() || !info[1].IsArray() || !info[2].IsString() || !info[3].IsString())
      throw make_error(env, "ERR_INVALID_ARG", "load", "expected (config, files, device, dtype)");
    ModelConfig config = read_config(info[0].As<Napi::Object>());
    std::vector<std::string> files;
    Napi::Array list = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) files.push_back(list.Get(i).ToString().Utf8Value());
    at::ScalarType dtype = parse_dtype(env, info[3].As<Napi::String>().Utf8Value());
    std::string device_name = info[2].As<Napi::String>().Utf8Value();
    model_ = coded(env, "load", [&]() {
      at::Device device(device_name);
      return std::make_shared<Decoder>(config, read_safetensors(files, dtype, device), device, dtype);
    });
  }

 // The live decoder behind a JS NativeModel (the trainer attaches LoRA to it and trains it in place).
  std::shared_ptr<Decoder> decoder_of(Napi::Env env) { return live(env, "train"); }

 private:
  std::shared_ptr<Decoder> live(Napi::Env env, const char* op) {
    if (!model_) throw make_error(env, "ERR_DISPOSED", op, "the model was disposed");
    return model_;
  }

  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<Decoder> model = live(env, "generate");
    if (info.Length() < 1 || !info[0].IsObject()) throw make_error(env, "ERR_INVALID_ARG", "generate", "expected a request object");
    Napi::Object js = info[0].As<Napi::Object>();
    GenerateRequest request;
    request.prompts = read_id_lists(field(js, "prompts"), "prompts");
    request.samples_per_prompt = int_field(js, "n");
    request.max_new_tokens = int_field(js, "maxNewTokens");
    request.sampling.temperature = number_field(js, "temperature");
    request.sampling.top_k = int_field(js, "topK");
    request.sampling.top_p = number_field(js, "topP");
    request.sampling.min_p = number_field(js, "minP");
    request.sampling.repetition_penalty = number_field(js, "repetitionPenalty");
    request.stop_token_ids = read_ids(field(js, "stopTokenIds"), "stopTokenIds");
    request.seed = static_cast<uint64_t>(number_field(js, "seed"));
    auto* job = new GenerateJob(env, model, std::move(request), info.Length() > 1 ? info[1] : env.Undefined());
    Napi::Object handle = Napi::Object::New(env);
    handle.Set("promise", job->promise());
    std::shared_ptr<std::atomic<bool>> flag = job->cancel_flag();
    handle.Set("cancel", Napi::Function::New(env, [flag](const Napi::CallbackInfo&) { flag->store(true); }, "cancel"));
    job->Queue();
    return handle;
  }

  Napi::Value Logits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<Decoder> model = live(env, "logits");
    auto sequences = read_id_lists(info[0], "tokens");
    auto positions = read_id_lists(info[1], "positions");
    if (positions.size() != sequences.size())
      throw make_error(env, "ERR_INVALID_ARG", "logits", "positions must hold one list per sequence");
    auto* job = new LogitsJob(env, model, std::move(sequences), std::move(positions));
    Napi::Promise promise = job->promise();
    job->Queue();
    return promise;
  }

  Napi::Value Score(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<Decoder> model = live(env, "score");
    auto contexts = read_id_lists(info[0], "contexts");
    auto continuations = read_id_lists(info[1], "continuations");
    if (contexts.size() != continuations.size())
      throw make_error(env, "ERR_INVALID_ARG", "score", "contexts and continuations must have the same length");
    auto* job = new ScoreJob(env, model, std::move(contexts), std::move(continuations));
    Napi::Promise promise = job->promise();
    job->Queue();
    return promise;
  }

  Napi::Value PrefillCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(live(info.Env(), "prefillCount")->prefill_count.load()));
  }

  Napi::Value ParameterCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(live(info.Env(), "parameterCount")->parameter_count()));
  }

  // Drops this handle's reference; the weights are freed now, or when the last running job ends.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    model_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<Decoder> model_;
};

void register_model(Napi::Env env, Napi::Object exports) { NativeModel::Register(env, exports); }

std::shared_ptr<Decoder> unwrap_model(const Napi::Value& value) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || value.As<Napi::Object>().Get("constructor").ToObject().Get("name").ToString().Utf8Value() != "NativeModel")
    throw make_error(env, "ERR_INVALID_ARG", "train", "expected a NativeModel");
  return NativeModel::Unwrap(value.As<Napi::Object>())->decoder_of(env);
}

}  // namespace halo::napi
