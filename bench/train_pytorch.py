"""bench:train peer: the same llama-shape LoRA training step in PyTorch eager (Debian's python3-torch).

Reads a JSON spec on argv[1] (shape, rank, sequence, batch, steps, threads, prompt length); prints one
JSON line: {"tokens_per_second": ..., "losses": [...]}. Random init with the same shapes and init
scales as the tiny-model generator; the step is the textbook one: full logits, F.cross_entropy with
ignore_index for prompt tokens, backward, clip_grad_norm_, AdamW.
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

spec = json.loads(sys.argv[1])
torch.set_num_threads(spec["threads"])
torch.manual_seed(0)
H, L, NH, KV, D, I, V = (spec[k] for k in ("hidden", "layers", "heads", "kv_heads", "head_dim", "intermediate", "vocab"))
R, ALPHA = spec["rank"], spec["alpha"]


class LoraLinear(torch.nn.Module):
    def __init__(self, fan_in, fan_out):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(fan_out, fan_in) * 0.05, requires_grad=False)
        self.lora_A = torch.nn.Parameter(torch.empty(R, fan_in))
        torch.nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = torch.nn.Parameter(torch.zeros(fan_out, R))
        self.scaling = ALPHA / R

    def forward(self, x):
        return F.linear(x, self.weight) + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scaling


class RMSNorm(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n), requires_grad=False)

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.input_norm, self.post_norm = RMSNorm(H), RMSNorm(H)
        self.q, self.k, self.v, self.o = LoraLinear(H, NH * D), LoraLinear(H, KV * D), LoraLinear(H, KV * D), LoraLinear(NH * D, H)
        self.gate, self.up, self.down = LoraLinear(H, I), LoraLinear(H, I), LoraLinear(I, H)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        h = self.input_norm(x)
        q = self.q(h).view(B, T, NH, D).transpose(1, 2)
        k = self.k(h).view(B, T, KV, D).transpose(1, 2)
        v = self.v(h).view(B, T, KV, D).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(NH // KV, dim=1)
        v = v.repeat_interleave(NH // KV, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(D) + mask
        out = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, T, NH * D)
        x = x + self.o(out)
        h = self.post_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Parameter(torch.randn(V, H) * 0.02, requires_grad=False)
        self.layers = torch.nn.ModuleList(Layer() for _ in range(L))
        self.norm = RMSNorm(H)

    def forward(self, tokens):
        T = tokens.shape[1]
        inv = 1.0 / (10000.0 ** (torch.arange(0, D, 2).float() / D))
        angles = torch.arange(T).float()[:, None] * inv[None, :]
        emb = torch.cat((angles, angles), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = F.embedding(tokens, self.embed)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return F.linear(self.norm(x), self.embed)  # tied lm_head


model = Model()
params = [p for p in model.parameters() if p.requires_grad]
optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
B, T, P = spec["batch"], spec["sequence"], spec["prompt"]
g = torch.Generator().manual_seed(1)
tokens = torch.randint(1, V, (B, T), generator=g)
labels = tokens[:, 1:].clone()
labels[:, : P - 1] = -100  # prompt tokens are not learned

losses, times = [], []
for step in range(spec["warmup"] + spec["steps"]):
    start = time.perf_counter()
    logits = model(tokens)[:, :-1]
    loss = F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if step >= spec["warmup"]:
        times.append(time.perf_counter() - start)
    losses.append(loss.item())
print(json.dumps({"tokens_per_second": B * T * len(times) / sum(times), "step_seconds": times, "losses": losses}))
