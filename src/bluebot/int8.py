"""int8 weights and arithmetic for the local model's linear layers.

Each linear layer of the decoder, and the output head, keeps its weight in int8 only (one scale per output
channel), prepacked for oneDNN's int8 matrix product, and quantizes its input one row (one token) at a time: a
token with large activations does not crush the precision of the others. The decoder layers' bf16 weights are
freed; the head's weight is the embedding table (tied), which stays.

Why: decoding is bound by reading the weights (a step reads all of them for one row, or for 1 + up to 10
prompt-lookup guesses), and the prompt's pass by arithmetic; int8 halves the bytes read and VNNI doubles the
arithmetic. One 1536 -> 8960 layer, cycled through 8 copies so that it is read from memory as in decoding, one
thread, torch 2.13, 2-core AMD EPYC Zen 5 (AVX512-VNNI, AVX512-BF16, no AMX), ms per product
(benchmarks/int8_kernels.py):

    rows (tokens)                                   1      11     512
    bf16 F.linear                                1.49    1.86    30.0
    oneDNN int8, prepacked weight (used here)    0.41    0.63    14.4
    torch._int_mm (the prompt pass until now)    0.39    1.71    15.3
    torch._weight_int8pack_mm (bf16 inputs)      0.85    2.33    78.0

The output head (151936 rows) for one token: 24.8 ms in bf16, 6.1 ms here. oneDNN's int8 product is given uint8
inputs with a zero point of 128 (int8 + 128): with int8 (s8) inputs it takes a reference path some 500x slower.

Without VNNI or AMX (AVX2 only), oneDNN adds each pair of uint8 x int8 products in a 16-bit sum, which saturates
above 32767: 255 x 127 x 2 does. There the weights take 7 bits (-63..63; 255 x 63 x 2 = 32130 fits), as oneDNN's
own int8 convolutions do on such CPUs. With 8 bits, results were off by half their largest value; with 7, by 1%.
The same layer there (AMD EPYC Zen 3, AVX2, one thread): 512 rows 146 ms against 357 ms in float32; 11 rows 18 ms
against 30 ms; one row 7.1 ms against 7.9 ms.

oneDNN's AVX2 kernel is slow for few rows, fbgemm's (torch's other x86 int8 engine) is not: on that CPU one row
1.4 ms against 6.6 ms, 11 rows 2.7 ms against 9.6 ms, 64 rows about equal, 512 rows 15-20% slower. So without VNNI
the same 7-bit weights are packed for fbgemm too, and inputs of up to FEW_ROWS rows (decoding steps) go there; the
prompt's pass stays with oneDNN. fbgemm quantizes its input with one scale for all rows (8 bits, with a zero
point); each row is divided by its largest value first, so that one row with large values does not crush the
others' precision. The second packed copy costs the weights' size again in memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import warnings
from typing import Any

import torch
from torch import nn

ZERO_POINT = 128  # inputs go to oneDNN as uint8 = int8 + 128


def weight_levels() -> int:
    """The largest weight value: 127 where the CPU sums int8 products in 32 bits (VNNI, AMX), else 63."""
    from bluebot.generation import VNNI_FLAGS, _cpu_flags

    return 127 if _cpu_flags() & VNNI_FLAGS else 63


def quantize_rows(x: torch.Tensor, zero_point: int = 0, levels: int = 127) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric 8-bit values and the float32 scale of each row of a 2-D tensor: x ~= (values - zero_point) * scale,
    the values within -levels..levels; int8 values with no zero point, uint8 ones with a zero point of 128."""
    scale = x.abs().amax(dim=1, keepdim=True).float().clamp_(min=1e-8).div_(levels)
    values = x.to(torch.float32, copy=True).div_(scale).round_()  # x itself stays
    return (values.add_(zero_point).to(torch.uint8) if zero_point else values.to(torch.int8)), scale


class _LastInput:
    """The quantized form of the latest input: q, k and v (and gate and up) read the same tensor."""

    def __init__(self) -> None:
        self.source: torch.Tensor | None = None
        self.values = self.scale = torch.empty(0)

    def quantized(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x is not self.source:
            self.values, self.scale = quantize_rows(x.reshape(-1, x.shape[-1]), ZERO_POINT)
            self.source = x  # held, so its id cannot be reused by another tensor while it is compared
        return self.values, self.scale


class Int8Linear(nn.Module):
    """A linear layer computed in int8 for inputs of any number of rows; it keeps no float copy of its weight. Its
    weight values lie within -levels..levels (weight_levels() by default)."""

    def __init__(self, linear: nn.Linear, last: _LastInput | None = None, levels: int | None = None) -> None:
        super().__init__()
        self.out_features = linear.out_features
        self.bias = linear.bias  # added in the input's dtype, after the product
        self.last = last or _LastInput()
        weight, levels = linear.weight.detach(), levels or weight_levels()
        values = torch.empty(weight.shape, dtype=torch.int8)
        self.register_buffer("scale", torch.empty(self.out_features), persistent=False)
        for rows in range(0, self.out_features, 512):  # a block at a time keeps the float32 copies in the cache
            values[rows : rows + 512], scale = quantize_rows(weight[rows : rows + 512], levels=levels)
            self.scale[rows : rows + 512] = scale.reshape(-1)
        self.register_buffer("packed", torch.ops.onednn.qlinear_prepack(values, None), persistent=False)
        self.register_buffer("zeros", torch.zeros(self.out_features, dtype=torch.long), persistent=False)
        self.few_rows = _fbgemm_pack(values, self.scale) if levels < 127 and fbgemm_available() else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.few_rows is not None and x.numel() <= FEW_ROWS * x.shape[-1]:
            return self._few_rows(x)
        values, scale = self.last.quantized(x)
        # Each row times its input's scale, in the output's dtype: a float32 scale made mul_ copy the output to float32
        # and back, a quarter of the prompt's pass (torch.profiler, 755 tokens).
        out = torch.ops.onednn.qlinear_pointwise(
            values, 1.0, ZERO_POINT, self.packed, self.scale, self.zeros, None, 1.0, 0, x.dtype, "none", [], ""
        ).mul_(scale.to(x.dtype))
        if self.bias is not None:
            out = out.add_(self.bias)
        return out.reshape(*x.shape[:-1], self.out_features)

    def _few_rows(self, x: torch.Tensor) -> torch.Tensor:
        """fbgemm's product, which takes one input scale for all rows: each row is divided by its largest value
        first and its result multiplied back, so that each row keeps its own scale, as in forward()."""
        rows = x.reshape(-1, x.shape[-1]).float()
        scale = rows.abs().amax(dim=1, keepdim=True).clamp_(min=1e-8)
        out = torch.ops.quantized.linear_dynamic(rows / scale, self.few_rows, False).mul_(scale).to(x.dtype)
        if self.bias is not None:
            out = out.add_(self.bias)
        return out.reshape(*x.shape[:-1], self.out_features)


FEW_ROWS = 16  # without VNNI or AMX, inputs of up to this many rows (decoding steps) go to fbgemm; 0: never


def fbgemm_available() -> bool:
    """Whether this torch carries fbgemm, the x86 int8 engine whose small products are used without VNNI."""
    return FEW_ROWS > 0 and "fbgemm" in torch.backends.quantized.supported_engines


def _fbgemm_pack(values: torch.Tensor, scale: torch.Tensor) -> Any:
    """The int8 weight with one scale per output channel, packed for fbgemm's dynamic int8 product."""
    zero_points = torch.zeros(values.shape[0], dtype=torch.long)
    engine = torch.backends.quantized.engine  # "x86" chooses between fbgemm and oneDNN by itself
    try:
        torch.backends.quantized.engine = "fbgemm"  # the packed weight's engine computes its products
        with warnings.catch_warnings():  # quantized tensors are deprecated in later torch; torch is pinned (2.13)
            warnings.simplefilter("ignore")
            weight = torch._make_per_channel_quantized_tensor(values, scale.double(), zero_points, 0)
        return torch.ops.quantized.linear_prepack(weight, None)
    finally:
        torch.backends.quantized.engine = engine


def quantize_model(model: Any, head: bool = True) -> int:
    """Replace every linear layer inside the model's decoder layers, and the output head unless head is False, by an
    Int8Linear; the embeddings stay as they are. Returns how many layers were replaced."""
    changed, levels = 0, weight_levels()
    last = _LastInput()
    for layer in model.model.layers:
        for parent in layer.modules():
            for name, child in list(parent.named_children()):
                if type(child) is nn.Linear:
                    setattr(parent, name, Int8Linear(child, last, levels))
                    changed += 1
    if head and type(model.lm_head) is nn.Linear:
        model.lm_head = Int8Linear(model.lm_head, levels=levels)
        changed += 1
    # transformers maps the weights file into memory: its pages stay in the process (RSS 4.9 GB, measured) while any
    # tensor points into it. The tensors left (embeddings, norms, biases: 0.5 GB) are copied out and it closes.
    model.requires_grad_(False)
    for parameter in model.parameters():
        parameter.data = parameter.data.clone()
    _release_freed_memory()
    return changed


def _release_freed_memory() -> None:
    """glibc keeps the pages of the int8 copies freed once packed (0.9 GB of RSS, measured) for later allocations;
    malloc_trim gives them back to the system. Elsewhere (another C library) nothing is done."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
