"""Matrix products shaped like the local model's, in bf16 and with the int8 kernels torch 2.13 offers on CPU.

    .venv/bin/python benchmarks/int8_kernels.py [--threads 1] [--rows 1,11,512] [--dtype float32]

Rows are tokens: 1 for a decoding step, 11 for a step with 10 prompt-lookup guesses, hundreds for the prompt's pass.
Each layer shape (Qwen2.5-1.5B: gate/up 1536 -> 8960, down 8960 -> 1536, the output head 1536 -> 151936) is held
in enough copies to fill 200 MB, cycled, so that the weights come from memory as in decoding and not from the 32 MB
cache. The candidates run in turns, alternating the order, and the best and median time per product are printed
(the machine's other core may be busy: the best is the least disturbed). GB/s is the weight's bytes over the best.
--dtype float32: activations (and the float weights) in float32, as LocalGenerator runs on CPUs without AVX512-BF16.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import torch
from torch.nn import functional as F

from bluebot.int8 import ZERO_POINT, quantize_rows

Candidate = tuple[Callable[..., torch.Tensor], list[tuple[object, ...]], float]  # function, arguments, bytes/weight


def candidates(out_features: int, in_features: int, rows: int, dtype: torch.dtype) -> dict[str, Candidate]:
    copies = max(1, round(200e6 / (2 * out_features * in_features)))
    weights = [torch.randn(out_features, in_features, dtype=dtype) * 0.02 for _ in range(copies)]
    inputs = [torch.randn(rows, in_features, dtype=dtype) for _ in range(copies)]
    int8 = [quantize_rows(w) for w in weights]  # (out, in) int8, (out, 1) float32
    shifted = [quantize_rows(x, ZERO_POINT)[0] for x in inputs]
    signed = [quantize_rows(x)[0] for x in inputs]
    zeros = torch.zeros(out_features, dtype=torch.long)
    packed = [torch.ops.onednn.qlinear_prepack(q, None) for q, _ in int8]

    def onednn(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return torch.ops.onednn.qlinear_pointwise(
            x, 1.0, ZERO_POINT, w, scale, zeros, None, 1.0, 0, dtype, "none", [], ""
        )

    with warnings.catch_warnings():  # torch.ao's quantized tensors are deprecated in torch 2.13
        warnings.simplefilter("ignore")
        fbgemm = [
            torch.ops.quantized.linear_prepack(
                torch._make_per_channel_quantized_tensor(q, s.reshape(-1).double(), zeros, 0), None
            )
            for q, s in int8
        ]
    int4 = []
    for w in weights:  # asymmetric 4 bits, a scale and a zero per 32 inputs (the layout torch's kernel wants)
        groups = w.float().reshape(out_features, in_features // 32, 32)
        low, high = groups.amin(-1), groups.amax(-1)
        step = ((high - low) / 15).clamp(min=1e-8)
        q = ((groups - low[..., None]) / step[..., None]).round().clamp(0, 15).to(torch.int32)
        scales_zeros = torch.stack([step, low + 8 * step], -1).transpose(0, 1).contiguous().to(torch.bfloat16)
        int4.append((torch._convert_weight_to_int4pack_for_cpu(q.reshape(out_features, in_features), 1), scales_zeros))
    return {
        f"{str(dtype).removeprefix('torch.')} F.linear": (
            F.linear, list(zip(inputs, weights, strict=True)), weights[0].element_size()
        ),
        "oneDNN int8, prepacked (int8.py)": (
            onednn, [(x, p, s.reshape(-1)) for x, p, (_, s) in zip(shifted, packed, int8, strict=True)], 1
        ),
        "torch._int_mm": (torch._int_mm, [(x, q.t()) for x, (q, _) in zip(signed, int8, strict=True)], 1),
        "torch._weight_int8pack_mm": (
            torch._weight_int8pack_mm,
            [(x, q, s.reshape(-1).to(dtype)) for x, (q, s) in zip(inputs, int8, strict=True)],
            1,
        ),
        "fbgemm dynamic int8 (deprecated)": (
            lambda x, p: torch.ops.quantized.linear_dynamic(x, p, False),
            [(x.float(), p) for x, p in zip(inputs, fbgemm, strict=True)],
            1,
        ),
        "int4, groups of 32": (
            lambda x, p, sz: torch._weight_int4pack_mm_for_cpu(x.to(torch.bfloat16), p, 32, sz),
            [(x, p, sz) for x, (p, sz) in zip(inputs, int4, strict=True)],
            0.5 + 4 / 32,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rows", default="1,11,512")
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float32"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    capability = torch.backends.cpu.get_cpu_capability()
    print(f"torch {torch.__version__}, {args.threads} thread(s), CPU capability {capability}")
    shapes = [(8960, 1536, "gate/up 1536 -> 8960"), (1536, 8960, "down 8960 -> 1536"), (151936, 1536, "head")]
    for out_features, in_features, label in shapes:
        for rows in (int(r) for r in args.rows.split(",")):
            if out_features > 100_000 and rows > 11:
                continue  # the head computes the last position's logits only in the prompt's pass
            tried = candidates(out_features, in_features, rows, getattr(torch, args.dtype))
            times: dict[str, list[float]] = {name: [] for name in tried}
            for turn in range(args.turns + 1):
                for name in list(tried) if turn % 2 == 0 else list(tried)[::-1]:
                    fn, calls, _ = tried[name]
                    start = time.perf_counter()
                    for call in calls:
                        fn(*call)
                    if turn:  # the first turn warms up
                        times[name].append((time.perf_counter() - start) / len(calls))
            print(f"{label}, {rows} row(s): ms per product, best and median")
            for name, spent in times.items():
                gbs = out_features * in_features * tried[name][2] / min(spent) / 1e9
                print(f"  {name:<34} {min(spent) * 1e3:8.3f} {statistics.median(spent) * 1e3:8.3f}  {gbs:5.1f} GB/s")


if __name__ == "__main__":
    main()
