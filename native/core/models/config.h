// A decoder-only transformer's shape, fully resolved by the TypeScript side from config.json.
#pragma once
#include <cstdint>
#include <string>

namespace halo {

struct RopeScaling {
  std::string type = "none";  // none | linear | llama3 | yarn
  double factor = 1.0;
  double low_freq_factor = 1.0;   // llama3
  double high_freq_factor = 4.0;  // llama3
  int64_t original_max_position_embeddings = 0;
  double beta_fast = 32.0;  // yarn
  double beta_slow = 1.0;   // yarn
  double attention_factor = 1.0;  // yarn: scales cos and sin
};

struct ModelConfig {
  std::string architecture;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // qwen2: q/k/v bias
  bool qk_norm = false;         // qwen3: per-head RMSNorm on q and k
  int64_t sliding_window = 0;   // 0 = full attention
  int64_t max_position_embeddings = 0;
  // Weight-only quantized projections (config.json quantization_config, halo-forge-weight-only):
  // 0 = float weights; 8 = int8 per row; 4 = int4 in groups of quant_group_size inputs.
  int quant_bits = 0;
  int64_t quant_group_size = 0;
};

}  // namespace halo
