"""benchmarks/machine.py: the CPU peak the speed benchmarks compare against, from /proc/cpuinfo."""

import pytest

from benchmarks.machine import amx_peak, nominal_ghz, physical_cores, vector_peak


def cpuinfo(tmp_path, *, vendor, family, model_name, flags, cores, threads_per_core=1, mhz=None):
    blocks = []
    for index in range(cores * threads_per_core):
        lines = [
            f"processor\t: {index}",
            f"vendor_id\t: {vendor}",
            f"cpu family\t: {family}",
            f"model name\t: {model_name}",
            "physical id\t: 0",
            f"core id\t\t: {index // threads_per_core}",
            f"flags\t\t: fpu sse2 {flags}",
        ]
        if mhz:
            lines.append(f"cpu MHz\t\t: {mhz}")
        blocks.append("\n".join(lines))
    path = tmp_path / "cpuinfo"
    path.write_text("\n\n".join(blocks) + "\n")
    return path


ZEN3 = dict(vendor="AuthenticAMD", family=25, model_name="AMD EPYC", flags="avx2 fma", mhz=2445.4)
ZEN4 = dict(
    vendor="AuthenticAMD",
    family=25,
    model_name="AMD EPYC 9B14",
    flags="avx2 fma avx512f avx512_bf16",
    mhz=2600.0,
)
XEON_AMX = dict(
    vendor="GenuineIntel",
    family=6,
    model_name="Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz",
    flags="avx2 fma avx512f avx512_bf16 avx512_fp16 amx_tile amx_bf16",
    mhz=3100.0,
)


@pytest.mark.parametrize(
    ("machine", "precision", "per_core_cycle"),
    [
        (ZEN3, "float32", 32),
        (ZEN3, "bfloat16", 32),  # emulated: converted and computed in float32
        (ZEN4, "float32", 32),  # AVX-512 on 256-bit pipes
        (ZEN4, "bfloat16", 64),  # the bf16 dot product
        (ZEN4, "float16", 32),
        (XEON_AMX, "float32", 64),
        (XEON_AMX, "bfloat16", 128),
        (XEON_AMX, "float16", 128),
    ],
)
def test_vector_peak_per_core_and_cycle(tmp_path, machine, precision, per_core_cycle):
    path = cpuinfo(tmp_path, cores=2, **machine)
    ghz, _ = nominal_ghz(path)
    peak = vector_peak(precision, path, allowed={0, 1})
    assert peak.gflops == pytest.approx(2 * per_core_cycle * ghz)
    assert f"{per_core_cycle} FLOP/cycle" in peak.how


def test_the_model_names_clock_wins_over_the_current_one(tmp_path):
    assert nominal_ghz(cpuinfo(tmp_path, cores=1, **XEON_AMX))[0] == 2.7
    assert nominal_ghz(cpuinfo(tmp_path, cores=1, **ZEN3))[0] == pytest.approx(2.4454)


def test_hyperthreads_of_one_core_count_once(tmp_path):
    path = cpuinfo(tmp_path, cores=2, threads_per_core=2, **ZEN3)
    assert physical_cores(path, allowed={0, 1, 2, 3}) == 2
    assert physical_cores(path, allowed={0, 1}) == 1  # both threads of core 0
    assert physical_cores(path, allowed={1, 2}) == 2


def test_amx_peak_only_where_there_is_amx(tmp_path):
    assert amx_peak(cpuinfo(tmp_path, cores=2, **ZEN4), allowed={0, 1}) is None
    peak = amx_peak(cpuinfo(tmp_path, cores=2, **XEON_AMX), allowed={0, 1})
    assert peak.gflops == pytest.approx(2 * 1024 * 2.7)
