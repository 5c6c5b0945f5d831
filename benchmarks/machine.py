"""What a benchmark prints beside its figures: the CPU's model, the cores it may use, its flags.

Figures on this project's machines differ by CPU (AVX2 only, AVX-512, AVX-512 BF16, AMX), so
every figure goes out with this line.
"""

import os
from pathlib import Path

from models.precision import cpu_flags

FLAGS_OF_NOTE = (
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
)


def cpu_model(cpuinfo="/proc/cpuinfo"):
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return "unknown CPU"


def describe_cpu():
    """``<model>, <n> cores; flags: <the flags of note it has>``."""
    flags = " ".join(flag for flag in FLAGS_OF_NOTE if flag in cpu_flags()) or "none of note"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu_model()}, {cores} cores; flags: {flags}"
