// One model's training: LoRA adapters (or every weight, for full fine-tuning) updated by AdamW from
// masked, chunked cross-entropy, with gradient accumulation, clipping, an LR schedule, activation
// checkpointing and a state that resumes bit for bit.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/models/decoder.h"
#include "core/nn/lora_linear.h"
#include "core/train/adamw.h"
#include "core/train/schedule.h"

namespace halo {

// The seven projections LoRA can target, by PEFT's module names.
extern const std::vector<std::string> kLoraTargets;  // q_proj k_proj v_proj o_proj gate_proj up_proj down_proj

struct TrainOptions {
  bool full_finetune = false;
  LoraOptions lora;
  std::vector<std::string> targets = kLoraTargets;
  AdamWConfig adamw;
  LrSchedule schedule;
  double max_grad_norm = 1.0;  // 0 = no clipping
  bool checkpointing = true;   // recompute each decoder layer in the backward pass
  int64_t loss_chunk_tokens = 512;  // <= 0: all tokens at once (unchunked)
  uint64_t seed = 0;           // LoRA init and dropout
};

// One micro-batch, every tensor [B, T] on the CPU. targets[b][t] is the token to predict at (b, t);
// weights[b][t] is 0 where nothing is predicted (prompt, padding, segment end).
struct MicroBatch {
  at::Tensor tokens, positions, segments, targets;  // long
  at::Tensor weights;                               // float
};

struct StepReport {
  int64_t step = 0;          // optimizer updates applied so far (after this one)
  double loss = 0;           // mean over counted tokens
  double lr = 0;
  double grad_norm = 0;
  int64_t tokens = 0;        // non-padding tokens processed
  int64_t counted = 0;       // tokens the loss counted
  double seconds = 0;
  bool skipped = false;      // non-finite loss or gradient: nothing was updated
  std::string skip_reason;
};

class Trainer {
 public:
  Trainer(std::shared_ptr<Decoder> model, TrainOptions options);
  ~Trainer();

  // One optimizer update from these micro-batches (gradients accumulated; loss = mean over all
  // counted tokens of all of them).
  StepReport step(const std::vector<MicroBatch>& micro);

  // Loss (mean over counted tokens) and, when `with_grad`, the gradients left in each trainable .grad().
  double loss(const std::vector<MicroBatch>& micro, bool with_grad);

  // Trainable tensors under their export names: PEFT keys for LoRA
  // (base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight), HF names for full fine-tuning.
  std::vector<std::pair<std::string, at::Tensor>> trainable() const;
  // Copies tensors (by export name) into the trainable weights; every name must be known.
  void set_trainable(const std::map<std::string, at::Tensor>& tensors, bool require_all);

  // Optimizer and RNG state, for checkpoints: "param/<name>", "exp_avg/<name>", "exp_avg_sq/<name>".
  std::vector<std::pair<std::string, at::Tensor>> state_tensors() const;
  void load_state(const std::map<std::string, at::Tensor>& tensors, int64_t step_count, const at::Tensor& rng_state);
  at::Tensor rng_state() const;
  int64_t step_count() const { return optimizer_.step_count; }
  AdamW& optimizer() { return optimizer_; }
  const TrainOptions& options() const { return options_; }
  Decoder& model() { return *model_; }

  // Removes the adapters from the model (the model generates as the base again).
  void detach();

 private:
  struct Target {
    std::string name;  // export name prefix, e.g. base_model.model.model.layers.0.self_attn.q_proj
    Linear* linear;
    std::shared_ptr<LoraAdapter> adapter;
  };

  double forward_backward(const MicroBatch& batch, double scale, bool with_grad);
  void set_training(bool on);

  std::shared_ptr<Decoder> model_;
  TrainOptions options_;
  std::vector<Target> targets_;
  std::vector<std::pair<std::string, at::Tensor>> full_params_;  // full fine-tuning
  AdamW optimizer_;
  mutable at::Generator rng_;
};

}  // namespace halo
