#include "core/models/decoder.h"

#include <sstream>

#include "core/errors.h"

namespace halo {

namespace {

std::string shape_text(at::IntArrayRef shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

// Pulls one tensor out of the map, checking its shape against the config.
class WeightTaker {
 public:
  explicit WeightTaker(TensorMap& weights) : weights_(weights) {}

  // `parameters`: how many model parameters the tensor stands for (-1: its element count);
  // `quantized`: the tensor holds integer levels (a quantized projection) rather than floats.
  at::Tensor take(const std::string& name, std::vector<int64_t> shape, int64_t parameters = -1, bool quantized = false) {
    auto found = weights_.find(name);
    if (found == weights_.end()) {
      std::string files;
      for (const auto& entry : weights_) {
        if (files.find(entry.second.file) == std::string::npos) files += (files.empty() ? "" : ", ") + entry.second.file;
      }
      throw CodedError("ERR_MISSING_TENSOR", "tensor " + name + " not found in " + (files.empty() ? "the checkpoint" : files));
    }
    at::Tensor tensor = found->second.tensor;
    if (at::isIntegralType(tensor.scalar_type(), /*includeBool=*/true) != quantized)
      throw CodedError("ERR_QUANT_FORMAT", found->second.file + ": tensor " + name + (quantized ? " should hold quantized integer levels but is stored as floats"
                                                                                                : " is stored as integers, but config.json has no quantization_config for it"));
    if (tensor.sizes() != at::IntArrayRef(shape))
      throw CodedError("ERR_SHAPE_MISMATCH", found->second.file + ": tensor " + name + " has shape " + shape_text(tensor.sizes()) +
                                                 " but config.json implies " + shape_text(shape));
    file_ = found->second.file;
    weights_.erase(found);
    count_ += parameters < 0 ? tensor.numel() : parameters;
    return tensor;
  }

  bool has(const std::string& name) const { return weights_.count(name) != 0; }
  const std::string& last_file() const { return file_; }
  int64_t count() const { return count_; }

 private:
  TensorMap& weights_;
  int64_t count_ = 0;
  std::string file_;
};

// A weight-only quantized projection: name.weight (I8 [out, in] or U8 [out, in / 2]), name.weight_scale
// and, for int4, name.weight_min ([out] for int8, [out, in / group] for int4).
std::shared_ptr<const QuantizedWeight> take_quantized(WeightTaker& take, const ModelConfig& c, const std::string& name, int64_t out, int64_t in) {
  if (c.quant_bits != 8 && c.quant_bits != 4)
    throw CodedError("ERR_QUANT_FORMAT", "config.json quantization_config.bits " + std::to_string(c.quant_bits) + " is not supported (8 or 4)");
  auto weight = std::make_shared<QuantizedWeight>();
  weight->bits = c.quant_bits;
  weight->out_features = out;
  weight->in_features = in;
  weight->group_size = c.quant_bits == 8 ? in : c.quant_group_size;
  if (c.quant_bits == 4 && (weight->group_size <= 0 || weight->group_size % 16 != 0 || in % weight->group_size != 0))
    throw CodedError("ERR_QUANT_FORMAT", "config.json quantization_config.group_size " + std::to_string(weight->group_size) +
                                             " must be a positive multiple of 16 that divides " + name + "'s input size " + std::to_string(in));
  if (c.quant_bits == 8) {
    weight->data = take.take(name + ".weight", {out, in}, -1, true);
    weight->scale = take.take(name + ".weight_scale", {out}, 0);
  } else {
    const int64_t groups = in / weight->group_size;
    weight->data = take.take(name + ".weight", {out, in / 2}, out * in, true);
    weight->scale = take.take(name + ".weight_scale", {out, groups}, 0);
    weight->min = take.take(name + ".weight_min", {out, groups}, 0);
  }
  validate_quantized_weight(*weight, name, take.last_file());
  return weight;
}

}  // namespace

Decoder::Decoder(ModelConfig config, TensorMap weights, at::Device device, at::ScalarType dtype)
    : config_(std::move(config)), device_(device), dtype_(dtype) {
  const ModelConfig& c = config_;
  const int64_t H = c.hidden_size, D = c.head_dim, I = c.intermediate_size;
  WeightTaker take(weights);
  embed_ = take.take("model.embed_tokens.weight", {c.vocab_size, H});
  auto linear = [&](const std::string& name, int64_t out, int64_t in, bool bias) {
    Linear layer;
    if (c.quant_bits != 0) layer.quantized = take_quantized(take, c, name, out, in);
    else layer.weight = take.take(name + ".weight", {out, in});
    if (bias) layer.bias = take.take(name + ".bias", {out});
    return layer;
  };
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    DecoderLayer layer;
    layer.input_norm = RMSNorm{take.take(prefix + "input_layernorm.weight", {H}), c.rms_norm_eps};
    layer.post_attention_norm = RMSNorm{take.take(prefix + "post_attention_layernorm.weight", {H}), c.rms_norm_eps};
    Attention& attention = layer.attention;
    attention.num_heads = c.num_heads;
    attention.num_kv_heads = c.num_kv_heads;
    attention.head_dim = D;
    attention.q_proj = linear(prefix + "self_attn.q_proj", c.num_heads * D, H, c.attention_bias);
    attention.k_proj = linear(prefix + "self_attn.k_proj", c.num_kv_heads * D, H, c.attention_bias);
    attention.v_proj = linear(prefix + "self_attn.v_proj", c.num_kv_heads * D, H, c.attention_bias);
    attention.o_proj = linear(prefix + "self_attn.o_proj", H, c.num_heads * D, false);
    if (c.qk_norm) {
      attention.q_norm = RMSNorm{take.take(prefix + "self_attn.q_norm.weight", {D}), c.rms_norm_eps};
      attention.k_norm = RMSNorm{take.take(prefix + "self_attn.k_norm.weight", {D}), c.rms_norm_eps};
    }
    layer.mlp.gate = linear(prefix + "mlp.gate_proj", I, H, false);
    layer.mlp.up = linear(prefix + "mlp.up_proj", I, H, false);
    layer.mlp.down = linear(prefix + "mlp.down_proj", H, I, false);
    layers_.push_back(std::move(layer));
  }
  final_norm_ = RMSNorm{take.take("model.norm.weight", {H}), c.rms_norm_eps};
  if (c.tie_word_embeddings) {
    lm_head_.weight = embed_;
  } else {
    lm_head_.weight = take.take("lm_head.weight", {c.vocab_size, H});
  }
  parameters_ = take.count();
  rope_ = Rope::build(c, device_);
}

KVCache Decoder::allocate_cache(int64_t rows, int64_t capacity) const {
  return KVCache::allocate(config_.num_layers, rows, config_.num_kv_heads, capacity, config_.head_dim,
                           at::TensorOptions().dtype(dtype_).device(device_));
}

at::Tensor Decoder::forward(const at::Tensor& tokens, const at::Tensor& positions, KVCache& cache, const CacheWrite& write) const {
  at::Tensor x = at::embedding(embed_, tokens);
  auto [cos, sin] = rope_.tables(positions, dtype_);
  at::Tensor mask = attention_mask(positions, write.used, config_.sliding_window, dtype_);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const DecoderLayer& layer = layers_[i];
    x = x + layer.attention.forward(layer.input_norm.forward(x), cos, sin, mask, cache.k[i], cache.v[i], write);
    x = x + layer.mlp.forward(layer.post_attention_norm.forward(x));
  }
  return final_norm_.forward(x);
}

at::Tensor Decoder::logits(const at::Tensor& hidden) const {
  at::Tensor out = lm_head_.forward(hidden);
  return out.scalar_type() == at::kFloat ? out : out.to(at::kFloat);
}

}  // namespace halo
