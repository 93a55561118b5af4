#include "core/train/train_forward.h"

#include <limits>

namespace halo {

at::Tensor packed_attention_mask(const at::Tensor& segments, const at::Tensor& positions, int64_t sliding_window,
                                 at::ScalarType dtype) {
  const int64_t B = segments.size(0), T = segments.size(1);
  at::Tensor index = at::arange(T, segments.options());
  at::Tensor allowed = segments.unsqueeze(2).eq(segments.unsqueeze(1));                 // [B, Tq, Tk]
  allowed = allowed.logical_and(index.view({1, 1, T}).le(index.view({1, T, 1})));     // causal by index
  if (sliding_window > 0)
    allowed = allowed.logical_and((positions.unsqueeze(2) - positions.unsqueeze(1)).lt(sliding_window));
  at::Tensor mask = at::zeros({B, T, T}, segments.options().dtype(dtype));
  mask.masked_fill_(allowed.logical_not(), -std::numeric_limits<double>::infinity());
  return mask.view({B, 1, 1, T, T});
}

at::Tensor layer_forward(const DecoderLayer& layer, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                         const at::Tensor& mask) {
  const int64_t B = x.size(0), T = x.size(1);
  const Attention& attention = layer.attention;
  at::TensorOptions options = at::TensorOptions().dtype(x.scalar_type()).device(x.device());
  at::Tensor keys = at::empty({B, attention.num_kv_heads, T, attention.head_dim}, options);
  at::Tensor values = at::empty({B, attention.num_kv_heads, T, attention.head_dim}, options);
  CacheWrite write;
  write.used = T;
  at::Tensor h = x + attention.forward(layer.input_norm.forward(x), cos, sin, mask, keys, values, write);
  return h + layer.mlp.forward(layer.post_attention_norm.forward(h));
}

std::vector<std::pair<std::string, at::Tensor>> named_weights(Decoder& model) {
  std::vector<std::pair<std::string, at::Tensor>> named;
  named.emplace_back("model.embed_tokens.weight", model.embed_weight());
  auto linear = [&](const std::string& name, const Linear& layer) {
    named.emplace_back(name + ".weight", layer.weight);
    if (layer.bias.defined()) named.emplace_back(name + ".bias", layer.bias);
  };
  std::vector<DecoderLayer>& layers = model.layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    DecoderLayer& layer = layers[i];
    named.emplace_back(prefix + "input_layernorm.weight", layer.input_norm.weight);
    named.emplace_back(prefix + "post_attention_layernorm.weight", layer.post_attention_norm.weight);
    linear(prefix + "self_attn.q_proj", layer.attention.q_proj);
    linear(prefix + "self_attn.k_proj", layer.attention.k_proj);
    linear(prefix + "self_attn.v_proj", layer.attention.v_proj);
    linear(prefix + "self_attn.o_proj", layer.attention.o_proj);
    if (layer.attention.q_norm.weight.defined()) {
      named.emplace_back(prefix + "self_attn.q_norm.weight", layer.attention.q_norm.weight);
      named.emplace_back(prefix + "self_attn.k_norm.weight", layer.attention.k_norm.weight);
    }
    linear(prefix + "mlp.gate_proj", layer.mlp.gate);
    linear(prefix + "mlp.up_proj", layer.mlp.up);
    linear(prefix + "mlp.down_proj", layer.mlp.down);
  }
  named.emplace_back("model.norm.weight", model.final_norm().weight);
  if (!model.config().tie_word_embeddings) named.emplace_back("lm_head.weight", model.lm_head().weight);
  return named;
}

std::shared_ptr<Decoder> clone_decoder(Decoder& model, at::ScalarType dtype) {
  at::NoGradGuard no_grad;
  TensorMap weights;
  for (auto& [name, tensor] : named_weights(model)) weights[name] = LoadedTensor{tensor.detach().to(dtype, /*non_blocking=*/false, /*copy=*/true), "clone"};
  return std::make_shared<Decoder>(model.config(), std::move(weights), model.device(), dtype);
}

}  // namespace halo
