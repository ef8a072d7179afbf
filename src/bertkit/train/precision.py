"""Precision: bf16 autocast where the hardware has it, and whether it pays here.

Training and inference keep fp32 weights and run the matmuls in bfloat16 under `torch.autocast` when
asked (`--bf16`, `--dtype bf16`) or, by default, where a bf16 matmul is clearly faster than an fp32 one
on this machine (`bf16_pays`). One copy of these for the fine-tuning loop, pretraining, prediction and
embedding.
"""
from __future__ import annotations

import functools
import time
from contextlib import nullcontext

import torch


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def matmul_peak(dtype: torch.dtype, device: torch.device, n: int = 1024, seconds: float = 0.3) -> float:
    """The machine's own matmul throughput (FLOP/s) for this dtype: the denominator of MFU."""
    a = torch.randn(n, n, device=device, dtype=torch.float32, generator=torch.Generator(device).manual_seed(0)).to(dtype)
    b = a.T.contiguous()
    for _ in range(2):
        a @ b
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n ** 3 * reps / (time.perf_counter() - t0)


@functools.lru_cache(maxsize=None)
def bf16_pays(device: torch.device) -> bool:
    """Whether bf16 autocast is worth having here: on a GPU, where it is supported; on a CPU, where a bf16
    matmul runs at least 1.2× faster than fp32. CPUs with AMX do bf16 several times faster; AVX-512 BF16
    alone can be slower than fp32, and without either bf16 is emulated, hundreds of times slower."""
    if not bf16_supported(device):
        return False
    if device.type != "cpu":
        return True
    return matmul_peak(torch.bfloat16, device, seconds=0.2) >= 1.2 * matmul_peak(torch.float32, device, seconds=0.2)


def autocast_for(device: torch.device, bf16: bool | None):
    """bf16 autocast on `device` when `bf16` and the device supports it; otherwise no autocast."""
    if bf16 and bf16_supported(device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


DTYPES = ("auto", "bf16", "fp16", "fp32")


def resolve_dtype(name: str, device: torch.device, option: str = "--dtype") -> str:
    """The precision a run trains in: fp32, bf16 or fp16 (`auto`: bf16 where it pays here, else fp32).

    fp16 is autocast with a gradient scaler (torch.amp.GradScaler: fp16's 5-bit exponent underflows small
    gradients without one), on CUDA only: a CPU has no fast fp16 matmul, so asking for it elsewhere is an
    OptionError rather than a silent fallback."""
    from ..errors import OptionError
    if name not in DTYPES:
        raise OptionError(f"{option} {name!r}: use one of {', '.join(DTYPES)}")
    if name == "auto":
        return "bf16" if bf16_pays(device) else "fp32"
    if name == "fp16" and device.type != "cuda":
        instead = f"{option} bf16 or fp32" if bf16_supported(device) else f"{option} fp32"
        raise OptionError(f"{option} fp16: needs a CUDA GPU (fp16 autocast with a gradient scaler), and this "
                          f"run is on {device.type}; use {instead}")
    if name == "bf16" and not bf16_supported(device):
        raise OptionError(f"{option} bf16: this {device.type} has no bfloat16 support; use {option} fp32")
    return name


def autocast(device: torch.device, dtype: str):
    """The autocast context of a resolved precision: bf16 or fp16 matmuls over fp32 weights, or none."""
    if dtype == "fp32":
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if dtype == "bf16" else torch.float16)
