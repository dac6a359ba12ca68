"""int8 arithmetic for the local model's prompt pass.

On this machine the prompt's forward pass is most of the time to the first token, and its matrix products run at
the CPU's bf16 peak. int8 products (`torch._int_mm`, VNNI) run about twice as fast. Each linear layer of the
decoder keeps its bf16 weights for the one-token decoding steps and gains an int8 copy (one scale per output
channel) for passes over many tokens, whose activations are quantized one token at a time (one scale per row):
a token with large activations does not crush the precision of the others.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

MIN_TOKENS = 32  # passes over fewer tokens (decoding steps, prompt-lookup guesses) stay in bf16


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 values and the float32 scale of each row of a 2-D tensor: x ~= values * scale."""
    scale = x.abs().amax(dim=1, keepdim=True).float().clamp_(min=1e-8).div_(127)
    return x.to(torch.float32, copy=True).div_(scale).round_().to(torch.int8), scale  # x itself stays


class _LastInput:
    """The quantized form of the latest input: q, k and v (and gate and up) read the same tensor."""

    def __init__(self) -> None:
        self.source: torch.Tensor | None = None
        self.values = self.scale = torch.empty(0)

    def quantized(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x is not self.source:
            self.values, self.scale = quantize_rows(x.reshape(-1, x.shape[-1]))
            self.source = x  # held, so its id cannot be reused by another tensor while it is compared
        return self.values, self.scale


class Int8PrefillLinear(nn.Module):
    """A linear layer computed in int8 for inputs of at least min_tokens rows, in the original dtype otherwise."""

    def __init__(self, linear: nn.Linear, min_tokens: int = MIN_TOKENS, last: _LastInput | None = None) -> None:
        super().__init__()
        self.weight = linear.weight
        self.bias = linear.bias
        self.min_tokens = min_tokens
        self.last = last or _LastInput()
        # a block of rows at a time keeps the float32 copies in the cache: 1.3 s for the 1.5B model, not 7 s
        blocks = [quantize_rows(block) for block in linear.weight.detach().split(512)]
        values, scale = torch.cat([v for v, _ in blocks]), torch.cat([s for _, s in blocks])
        self.register_buffer("qweight", values, persistent=False)  # (out, in); used transposed, column-major
        self.register_buffer("qscale", scale.reshape(1, -1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() // x.shape[-1] < self.min_tokens:
            return F.linear(x, self.weight, self.bias)
        values, scale = self.last.quantized(x)
        out = torch.mul(torch._int_mm(values, self.qweight.t()), scale).mul_(self.qscale).to(x.dtype)
        if self.bias is not None:
            out = out.add_(self.bias)
        return out.reshape(*x.shape[:-1], out.shape[-1])


def quantize_decoder(model: Any, min_tokens: int = MIN_TOKENS) -> int:
    """Give every linear layer inside the model's decoder layers an int8 path for long inputs (the embeddings and
    the output head stay as they are). Returns how many layers were changed."""
    changed = 0
    last = _LastInput()
    for layer in model.model.layers:
        for parent in layer.modules():
            for name, child in list(parent.named_children()):
                if type(child) is nn.Linear:
                    setattr(parent, name, Int8PrefillLinear(child, min_tokens, last))
                    changed += 1
    return changed
