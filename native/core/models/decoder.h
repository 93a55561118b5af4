// The decoder-only transformer shared by Llama, Mistral, Qwen2 and Qwen3.
#pragma once
#include <ATen/ATen.h>

#include <atomic>
#include <vector>

#include "core/io/safetensors.h"
#include "core/models/config.h"
#include "core/nn/attention.h"
#include "core/nn/kv_cache.h"
#include "core/nn/mlp.h"
#include "core/nn/rmsnorm.h"
#include "core/nn/rope.h"

namespace halo {

struct DecoderLayer {
  RMSNorm input_norm, post_attention_norm;
  Attention attention;
  SwiGluMlp mlp;
};

class Decoder {
 public:
  // Takes the weights by HF name; a missing tensor or a shape that disagrees with `config` is a
  // CodedError (ERR_MISSING_TENSOR / ERR_SHAPE_MISMATCH) naming the tensor and its file.
  Decoder(ModelConfig config, TensorMap weights, at::Device device, at::ScalarType dtype);

  const ModelConfig& config() const { return config_; }
  at::Device device() const { return device_; }
  at::ScalarType dtype() const { return dtype_; }
  int64_t parameter_count() const { return parameters_; }
  // Projections stored weight-only int8 / int4 (inference optimize): generation and scoring only.
  bool quantized() const { return config_.quant_bits != 0; }

  KVCache allocate_cache(int64_t rows, int64_t capacity) const;

  // tokens, positions [B, T] long on the model's device; returns final-normed hidden states [B, T, hidden].
  at::Tensor forward(const at::Tensor& tokens, const at::Tensor& positions, KVCache& cache, const CacheWrite& write) const;
  // hidden [..., hidden] -> logits [..., vocab] in fp32.
  at::Tensor logits(const at::Tensor& hidden) const;

  // The parts, for training (train/ attaches LoRA adapters, runs layers one at a time, computes the loss).
  std::vector<DecoderLayer>& layers() { return layers_; }
  at::Tensor& embed_weight() { return embed_; }
  RMSNorm& final_norm() { return final_norm_; }
  Linear& lm_head() { return lm_head_; }
  const Rope& rope() const { return rope_; }

  // Counts prompt prefills (generation); tests read it to prove the prefill is shared.
  std::atomic<int64_t> prefill_count{0};

 private:
  ModelConfig config_;
  at::Device device_;
  at::ScalarType dtype_;
  int64_t parameters_ = 0;
  at::Tensor embed_;
  std::vector<DecoderLayer> layers_;
  RMSNorm final_norm_;
  Linear lm_head_;
  Rope rope_;
};

}  // namespace halo
