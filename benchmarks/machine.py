"""What a benchmark prints beside its figures: the CPU's model, the cores it may use, its flags.

Figures on this project's machines differ by CPU (AVX2 only, AVX-512, AVX-512 BF16, AMX), so
every figure goes out with this line.
"""

import os
import re
from pathlib import Path
from typing import NamedTuple

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


class Peak(NamedTuple):
    gflops: float  # operations per second / 1e9 (a multiply-add is two)
    how: str  # cores x operations per cycle x clock, and where each came from


def _processors(cpuinfo):
    """One dict of ``key: value`` per processor block of /proc/cpuinfo."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return []
    blocks = []
    for chunk in text.split("\n\n"):
        entries = dict(
            (key.strip(), value.strip())
            for key, _, value in (line.partition(":") for line in chunk.splitlines())
        )
        if "processor" in entries:
            blocks.append(entries)
    return blocks


def physical_cores(cpuinfo="/proc/cpuinfo", allowed=None):
    """Distinct physical cores among the processors this process may run on: two hyperthreads
    of one core share its vector units, so they count once."""
    if allowed is None:
        allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    blocks = [b for b in _processors(cpuinfo) if allowed is None or int(b["processor"]) in allowed]
    if not blocks:
        return len(allowed) if allowed else os.cpu_count() or 1
    return len({(b.get("physical id"), b.get("core id", b["processor"])) for b in blocks})


def nominal_ghz(cpuinfo="/proc/cpuinfo"):
    """(GHz, where it came from): the model name's "@ 2.60GHz" where it has one, else the
    kernel's "cpu MHz" (the clock it last read; in a VM usually the nominal one)."""
    blocks = _processors(cpuinfo)
    first = blocks[0] if blocks else {}
    match = re.search(r"@\s*([\d.]+)\s*GHz", first.get("model name", ""))
    if match:
        return float(match.group(1)), "the model name's nominal clock"
    if "cpu MHz" in first:
        return float(first["cpu MHz"]) / 1000, "/proc/cpuinfo's cpu MHz"
    return 0.0, "no clock in /proc/cpuinfo"


def float32_per_cycle(cpuinfo="/proc/cpuinfo"):
    """(float32 operations per cycle per core of the widest FMA units, why)."""
    blocks = _processors(cpuinfo)
    first = blocks[0] if blocks else {}
    flags = cpu_flags(cpuinfo)
    amd = first.get("vendor_id") == "AuthenticAMD"
    family = int(first.get("cpu family", 0) or 0)
    if "avx512f" in flags:
        if amd and family < 26:
            return 32, "AVX-512 on Zen 4's two 256-bit FMA pipes: 2 x 8 lanes x 2"
        return 64, "AVX-512: two 512-bit FMA units x 16 lanes x 2 (Xeons with one unit: half)"
    if "avx2" in flags and "fma" in flags:
        return 32, "AVX2: two 256-bit FMA units x 8 lanes x 2"
    return 8, "no FMA units of note: SSE, 4 lanes x 2"


def vector_peak(precision, cpuinfo="/proc/cpuinfo", allowed=None):
    """The vector units' peak for ``precision`` (``float32``, ``bfloat16``, ``float16``).

    bfloat16 doubles float32's rate only where the CPU has the bf16 dot product
    (AVX512_BF16's VDPBF16PS: two bf16 products per float32 lane); float16 only with
    AVX512_FP16. Elsewhere the low precision is converted to float32 and computed there, so
    float32's peak is the ceiling.
    """
    flags = cpu_flags(cpuinfo)
    per_cycle, why = float32_per_cycle(cpuinfo)
    if precision == "bfloat16" and "avx512_bf16" in flags:
        per_cycle, why = 2 * per_cycle, f"{why}, x2 for the bf16 dot product (AVX512_BF16)"
    elif precision == "float16" and "avx512_fp16" in flags:
        per_cycle, why = 2 * per_cycle, f"{why}, x2 for AVX512_FP16"
    cores = physical_cores(cpuinfo, allowed)
    ghz, clock = nominal_ghz(cpuinfo)
    how = f"{cores} cores x {per_cycle} FLOP/cycle ({why}) x {ghz:.2f} GHz ({clock})"
    return Peak(cores * per_cycle * ghz, how)


def amx_peak(cpuinfo="/proc/cpuinfo", allowed=None):
    """AMX's bf16 peak where the CPU has it (else None): 1,024 operations per cycle per core
    (a 16x32 by 32x16 bf16 tile product, 8,192 multiply-adds, every 16 cycles)."""
    if "amx_bf16" not in cpu_flags(cpuinfo):
        return None
    cores = physical_cores(cpuinfo, allowed)
    ghz, clock = nominal_ghz(cpuinfo)
    how = f"{cores} cores x 1024 bf16 FLOP/cycle (AMX tiles) x {ghz:.2f} GHz ({clock})"
    return Peak(cores * 1024 * ghz, how)
