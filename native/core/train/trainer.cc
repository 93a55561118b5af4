#include "core/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cmath>
#include <algorithm>

#include "core/errors.h"
#include "core/train/chunked_loss.h"
#include "core/train/train_forward.h"

namespace halo {

const std::vector<std::string> kLoraTargets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

namespace {

Linear* projection(DecoderLayer& layer, const std::string& name) {
  if (name == "q_proj") return &layer.attention.q_proj;
  if (name == "k_proj") return &layer.attention.k_proj;
  if (name == "v_proj") return &layer.attention.v_proj;
  if (name == "o_proj") return &layer.attention.o_proj;
  if (name == "gate_proj") return &layer.mlp.gate;
  if (name == "up_proj") return &layer.mlp.up;
  if (name == "down_proj") return &layer.mlp.down;
  return nullptr;
}

const char* block_of(const std::string& name) {
  return name == "gate_proj" || name == "up_proj" || name == "down_proj" ? "mlp" : "self_attn";
}

}  // namespace

Trainer::Trainer(std::shared_ptr<Decoder> model, TrainOptions options)
    : model_(std::move(model)), options_(std::move(options)), rng_(at::detail::createCPUGenerator(options_.seed)) {
  if (model_->quantized())
    throw CodedError("ERR_QUANTIZED_MODEL", "this model's projections are weight-only int" + std::to_string(model_->config().quant_bits) +
                                               " (an inference optimize folder): it can generate and score, not train or carry LoRA adapters");
  optimizer_.config = options_.adamw;
  if (options_.full_finetune) {
    for (auto& [name, tensor] : named_weights(*model_)) {
      tensor.requires_grad_(true);
      full_params_.emplace_back(name, tensor);
      optimizer_.add(name, tensor);
    }
    return;
  }
  for (const std::string& target : options_.targets)
    if (projection(model_->layers()[0], target) == nullptr)
      throw CodedError("ERR_LORA_TARGET", "unknown LoRA target module '" + target +
                                              "' (expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)");
  std::vector<DecoderLayer>& layers = model_->layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    for (const std::string& target : kLoraTargets) {  // fixed order: init draws do not depend on the list order
      if (std::find(options_.targets.begin(), options_.targets.end(), target) == options_.targets.end()) continue;
      Linear* linear = projection(layers[i], target);
      if (linear->adapter) throw CodedError("ERR_LORA_ATTACHED", "the model already has an adapter on layer " + std::to_string(i) + " " + target + "; dispose the other trainer first");
      std::shared_ptr<LoraAdapter> adapter = make_lora(*linear, options_.lora, rng_);
      adapter->dropout_rng = rng_;
      adapter->A.requires_grad_(true);
      adapter->B.requires_grad_(true);
      const std::string name = "base_model.model.model.layers." + std::to_string(i) + "." + block_of(target) + "." + target;
      linear->adapter = adapter;
      targets_.push_back(Target{name, linear, adapter});
      optimizer_.add(name + ".lora_A.weight", adapter->A);
      optimizer_.add(name + ".lora_B.weight", adapter->B);
    }
  }
}

Trainer::~Trainer() { detach(); }

void Trainer::detach() {
  for (Target& target : targets_)
    if (target.linear->adapter == target.adapter) target.linear->adapter.reset();
  targets_.clear();
  for (auto& [name, tensor] : full_params_) {
    tensor.mutable_grad() = at::Tensor();
    tensor.requires_grad_(false);
  }
  full_params_.clear();
}

void Trainer::set_training(bool on) {
  for (Target& target : targets_) target.adapter->training = on;
}

double Trainer::forward_backward(const MicroBatch& batch, double scale, bool with_grad) {
  Decoder& model = *model_;
  const at::Device device = model.device();
  const at::ScalarType dtype = model.embed_weight().scalar_type();
  at::Tensor tokens = batch.tokens.to(device), positions = batch.positions.to(device);
  const int64_t B = tokens.size(0), T = tokens.size(1), H = model.config().hidden_size;
  at::Tensor mask = packed_attention_mask(batch.segments.to(device), positions, model.config().sliding_window, dtype);
  auto [cos, sin] = model.rope().tables(positions, dtype);
  std::vector<DecoderLayer>& layers = model.layers();
  Linear& head = model.lm_head();
  const bool head_grad = with_grad && head.weight.requires_grad();
  auto loss_of = [&](const at::Tensor& hidden) {
    return chunked_cross_entropy(hidden.reshape({B * T, H}), head.weight.detach(), batch.targets.reshape({-1}).to(device),
                                 batch.weights.reshape({-1}).to(device), scale, options_.loss_chunk_tokens, head_grad);
  };
  auto add_head_grad = [&](const ChunkedLoss& result) {
    if (!head_grad) return;
    at::Tensor grad = result.grad_weight.to(head.weight.scalar_type());
    if (head.weight.grad().defined()) head.weight.mutable_grad().add_(grad);
    else head.weight.mutable_grad() = grad;
  };

  if (!with_grad) {
    at::NoGradGuard no_grad;
    at::Tensor x = at::embedding(model.embed_weight(), tokens);
    for (const DecoderLayer& layer : layers) x = layer_forward(layer, x, cos, sin, mask);
    return loss_of(model.final_norm().forward(x)).loss_sum;
  }

  at::Tensor x0 = at::embedding(model.embed_weight(), tokens);  // recorded only when the embedding trains
  if (!options_.checkpointing) {
    at::Tensor x = x0;
    for (const DecoderLayer& layer : layers) x = layer_forward(layer, x, cos, sin, mask);
    at::Tensor hidden = model.final_norm().forward(x);
    ChunkedLoss result = loss_of(hidden.detach());
    if (!std::isfinite(result.loss_sum)) return result.loss_sum;
    if (hidden.requires_grad()) hidden.backward(result.grad_hidden.view_as(hidden));
    add_head_grad(result);
    return result.loss_sum;
  }

  // Checkpointed: keep only each layer's input; recompute the layer with autograd on the way back,
  // replaying the dropout RNG from where that layer's forward started.
  std::vector<at::Tensor> inputs;
  std::vector<at::Tensor> rng_states;
  at::Tensor x = x0.detach();
  {
    at::NoGradGuard no_grad;
    for (const DecoderLayer& layer : layers) {
      inputs.push_back(x);
      rng_states.push_back(rng_.get_state());
      x = layer_forward(layer, x, cos, sin, mask);
    }
  }
  at::Tensor after_forward = rng_.get_state();
  at::Tensor last = x.detach().requires_grad_(true);
  at::Tensor hidden = model.final_norm().forward(last);
  ChunkedLoss result = loss_of(hidden.detach());
  if (!std::isfinite(result.loss_sum)) return result.loss_sum;
  hidden.backward(result.grad_hidden.view_as(hidden));
  add_head_grad(result);
  at::Tensor grad = last.grad();
  for (size_t i = layers.size(); i-- > 0;) {
    rng_.set_state(rng_states[i]);
    at::Tensor input = inputs[i].detach().requires_grad_(true);
    at::Tensor output = layer_forward(layers[i], input, cos, sin, mask);
    output.backward(grad);
    grad = input.grad();
    inputs[i] = at::Tensor();
  }
  rng_.set_state(after_forward);
  if (x0.requires_grad()) x0.backward(grad);
  return result.loss_sum;
}

double Trainer::loss(const std::vector<MicroBatch>& micro, bool with_grad) {
  double counted = 0;
  for (const MicroBatch& batch : micro) counted += batch.weights.ne(0).sum().item<double>();
  TORCH_CHECK(counted > 0, "train: no token in the batch is counted by the loss mask");
  if (with_grad) optimizer_.zero_grad();
  set_training(with_grad);
  double sum = 0;
  try {
    for (const MicroBatch& batch : micro) sum += forward_backward(batch, 1.0 / counted, with_grad);
  } catch (...) {
    set_training(false);
    throw;
  }
  set_training(false);
  return sum / counted;
}

StepReport Trainer::step(const std::vector<MicroBatch>& micro) {
  const auto start = std::chrono::steady_clock::now();
  StepReport report;
  for (const MicroBatch& batch : micro) {
    report.counted += batch.weights.ne(0).sum().item<int64_t>();
    report.tokens += batch.segments.ge(0).sum().item<int64_t>();
  }
  report.lr = options_.schedule.at(optimizer_.step_count);
  report.loss = loss(micro, /*with_grad=*/true);
  if (!std::isfinite(report.loss)) {
    report.skipped = true;
    report.skip_reason = "non-finite loss";
  } else {
    report.grad_norm = clip_grad_norm(optimizer_, options_.max_grad_norm);
    if (!std::isfinite(report.grad_norm)) {
      report.skipped = true;
      report.skip_reason = "non-finite gradient norm";
    } else {
      optimizer_.step(report.lr);
    }
  }
  optimizer_.zero_grad();
  report.step = optimizer_.step_count;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

std::vector<std::pair<std::string, at::Tensor>> Trainer::trainable() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const AdamWSlot& slot : optimizer_.slots) out.emplace_back(slot.name, slot.master.detach());
  return out;
}

void Trainer::set_trainable(const std::map<std::string, at::Tensor>& tensors, bool require_all) {
  at::NoGradGuard no_grad;
  size_t used = 0;
  for (AdamWSlot& slot : optimizer_.slots) {
    auto found = tensors.find(slot.name);
    if (found == tensors.end()) {
      if (require_all) throw CodedError("ERR_ADAPTER_MISSING", "tensor " + slot.name + " is missing");
      continue;
    }
    if (found->second.sizes() != slot.master.sizes())
      throw CodedError("ERR_ADAPTER_SHAPE", "tensor " + slot.name + " has shape " + c10::str(found->second.sizes()) +
                                                " but this model and rank need " + c10::str(slot.master.sizes()));
    slot.master.detach().copy_(found->second);
    if (!slot.master.is_same(slot.param)) slot.param.detach().copy_(slot.master);
    ++used;
  }
  if (used != tensors.size()) {
    for (const auto& [name, tensor] : tensors) {
      bool known = false;
      for (const AdamWSlot& slot : optimizer_.slots) known = known || slot.name == name;
      if (!known) throw CodedError("ERR_ADAPTER_UNKNOWN", "tensor " + name + " matches no trainable weight of this model and target list");
    }
  }
}

std::vector<std::pair<std::string, at::Tensor>> Trainer::state_tensors() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const AdamWSlot& slot : optimizer_.slots) {
    out.emplace_back("param/" + slot.name, slot.master.detach());
    out.emplace_back("exp_avg/" + slot.name, slot.exp_avg);
    out.emplace_back("exp_avg_sq/" + slot.name, slot.exp_avg_sq);
  }
  return out;
}

void Trainer::load_state(const std::map<std::string, at::Tensor>& tensors, int64_t step_count, const at::Tensor& rng_state) {
  at::NoGradGuard no_grad;
  auto take = [&](const std::string& name, at::Tensor& into) {
    auto found = tensors.find(name);
    if (found == tensors.end()) throw CodedError("ERR_TRAINER_STATE", "trainer state lacks tensor " + name);
    if (found->second.sizes() != into.sizes())
      throw CodedError("ERR_TRAINER_STATE", "trainer state tensor " + name + " has shape " + c10::str(found->second.sizes()) +
                                                " but this trainer needs " + c10::str(into.sizes()));
    into.detach().copy_(found->second);
  };
  for (AdamWSlot& slot : optimizer_.slots) {
    take("param/" + slot.name, slot.master);
    if (!slot.master.is_same(slot.param)) slot.param.detach().copy_(slot.master);
    take("exp_avg/" + slot.name, slot.exp_avg);
    take("exp_avg_sq/" + slot.name, slot.exp_avg_sq);
  }
  optimizer_.step_count = step_count;
  rng_.set_state(rng_state);
}

at::Tensor Trainer::rng_state() const {
  return rng_.get_state();
}

}  // namespace halo
