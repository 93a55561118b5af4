#include "core/train/chunked_loss.h"

namespace halo {

ChunkedLoss chunked_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                                  const at::Tensor& token_weights, double scale, int64_t chunk_tokens,
                                  bool need_weight_grad) {
  TORCH_CHECK(hidden.dim() == 2 && weight.dim() == 2 && hidden.size(1) == weight.size(1),
              "chunked_cross_entropy: hidden ", hidden.sizes(), " and weight ", weight.sizes(), " do not match");
  TORCH_CHECK(targets.numel() == hidden.size(0) && token_weights.numel() == hidden.size(0),
              "chunked_cross_entropy: targets and weights need one entry per hidden row");
  at::NoGradGuard no_grad;
  const at::ScalarType acc = hidden.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const int64_t vocab = weight.size(0);

  ChunkedLoss result;
  result.grad_hidden = at::zeros_like(hidden);
  if (need_weight_grad) result.grad_weight = at::zeros(weight.sizes(), weight.options().dtype(acc));

  at::Tensor rows = token_weights.ne(0).nonzero().view(-1).to(hidden.device());
  const int64_t counted = rows.numel();
  if (counted == 0) return result;
  TORCH_CHECK(targets.index_select(0, rows).ge(0).all().item<bool>() &&
                  targets.index_select(0, rows).lt(vocab).all().item<bool>(),
              "chunked_cross_entropy: a counted target id is outside [0, ", vocab, ")");
  const int64_t chunk = chunk_tokens > 0 ? chunk_tokens : counted;

  double loss_sum = 0;
  for (int64_t begin = 0; begin < counted; begin += chunk) {
    const int64_t n = std::min(chunk, counted - begin);
    at::Tensor idx = rows.narrow(0, begin, n);
    at::Tensor h = hidden.index_select(0, idx);                          // [n, H]
    at::Tensor t = targets.index_select(0, idx).to(at::kLong).view({n, 1});
    at::Tensor w = token_weights.index_select(0, idx).to(acc).view({n, 1});

    at::Tensor logits = at::matmul(h, weight.t());                       // [n, V]
    if (logits.scalar_type() != acc) logits = logits.to(acc);
    // Everything below reuses the one [n, V] buffer: shift by the row max, exponentiate, normalise.
    at::Tensor maxes = std::get<0>(logits.max(1, /*keepdim=*/true));
    logits.sub_(maxes);
    at::Tensor target_shifted = logits.gather(1, t);
    at::Tensor sums = logits.exp_().sum(1, /*keepdim=*/true);
    loss_sum += ((sums.log() - target_shifted) * w).sum().item<double>();

    // d loss / d logits = w * (softmax - onehot).
    at::Tensor grad = logits.div_(sums);
    grad.scatter_add_(1, t, at::full({n, 1}, -1.0, grad.options()));
    grad.mul_(w * scale);

    at::Tensor grad_h = at::matmul(grad.to(weight.scalar_type()), weight);  // [n, H]
    result.grad_hidden.index_copy_(0, idx, grad_h.to(hidden.scalar_type()));
    if (need_weight_grad) result.grad_weight.addmm_(grad.t(), h.to(acc));
  }
  result.loss_sum = loss_sum;
  return result;
}

}  // namespace halo
