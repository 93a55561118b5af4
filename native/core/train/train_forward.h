// The decoder's forward pass for training: no KV cache kept, packed rows (attention blocked across
// segment boundaries, positions restarting per segment), and per-layer activation checkpointing.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/models/decoder.h"

namespace halo {

// Additive attention mask [B, 1, 1, T, T]: query i sees key j iff j <= i, both carry the same
// segment id, and (sliding_window > 0) positions[i] - positions[j] < sliding_window.
at::Tensor packed_attention_mask(const at::Tensor& segments, const at::Tensor& positions, int64_t sliding_window,
                                 at::ScalarType dtype);

// x [B, T, H] -> the layer's output, recorded by autograd when grad mode is on.
at::Tensor layer_forward(const DecoderLayer& layer, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                         const at::Tensor& mask);

// Every weight of the model under its Hugging Face name (lm_head.weight only when untied).
std::vector<std::pair<std::string, at::Tensor>> named_weights(Decoder& model);

// A separate copy of `model` in another dtype (float64 for gradient checks). Adapters are not copied.
std::shared_ptr<Decoder> clone_decoder(Decoder& model, at::ScalarType dtype);

}  // namespace halo
