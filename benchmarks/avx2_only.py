"""benchmarks/answers.py as on a CPU with AVX2 and no AVX-512, VNNI or AMX (most laptops before 2022): oneDNN,
ATen and MKL are held to AVX2, and bluebot sees AVX2 but no VNNI, AMX or bf16 flags, so the model runs as it would
there: in int8 with 7-bit weights (float32 with BLUEBOT_INT8=0). An emulation on this machine's cores, caches and
memory, not a measurement of such a CPU.

    .venv/bin/python benchmarks/avx2_only.py --backend local --per-lang 3
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

# Read by torch and its libraries when they load: set before anything imports torch.
os.environ.update(ONEDNN_MAX_CPU_ISA="AVX2", ATEN_CPU_CAPABILITY="avx2", MKL_ENABLE_INSTRUCTIONS="AVX2")

import bluebot.generation as generation  # noqa: E402

AVX2_FLAGS = {"sse4_2", "avx", "avx2", "fma", "f16c", "bmi2"}
generation._cpu_flags = lambda: set(AVX2_FLAGS)  # what /proc/cpuinfo says on such a CPU

if __name__ == "__main__":
    print(f"emulating a CPU with {', '.join(sorted(AVX2_FLAGS))} only (oneDNN, ATen and MKL held to AVX2)")
    script = Path(__file__).with_name("answers.py")
    sys.argv[0] = str(script)
    runpy.run_path(str(script), run_name="__main__")
