"""Shared pieces of the side-by-side benchmarks: the machine's matmul peak, timing, FLOP counts, tables.

Every benchmark runs bertkit and `transformers` in one process, on the same weights and inputs,
after warm-up, alternating between the two, and reports the best of several repeats (the least
disturbed by other work on the machine).
"""
from __future__ import annotations

import json
import re
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bertkit.paths import DATA  # noqa: E402  ($BERTKIT_CACHE/data, where `make data` writes)


def matmul_runner(dtype: torch.dtype, n: int = 2048):
    """A callable that does one n×n matmul in `dtype`; `.flops` is its FLOP count."""
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)

    def run():
        a @ b
    run.flops = 2 * n ** 3
    return run


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of an n×n matmul in `dtype`: the peak the MFU figures are measured against."""
    run = matmul_runner(dtype, n)
    return run.flops / best_times({"peak": run}, repeats)["peak"]


def native_bf16() -> bool:
    """Whether this CPU does bf16 matmuls natively (AVX-512 BF16 or AMX). Without, bf16 is emulated and
    hundreds of times slower than fp32, so the benchmarks measure fp32 only."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def bench_dtypes(quick: bool) -> tuple[str, ...]:
    """Quick: the dtype `--dtype auto` trains in here (bf16 where its matmul is faster than fp32, as with
    AMX; fp32 on AVX-512 BF16 alone, where bf16 is slower). Full: fp32 and bf16 where bf16 is native."""
    from bertkit.train.precision import bf16_pays
    if not native_bf16():
        print("bf16 is not native on this CPU (no AVX-512 BF16 / AMX): measuring fp32 only", flush=True)
        return ("fp32",)
    if quick:
        fast = bf16_pays(torch.device("cpu"))
        if not fast:
            print("bf16 matmuls are not faster than fp32 on this CPU (no AMX): measuring fp32", flush=True)
        return ("bf16",) if fast else ("fp32",)
    return ("fp32", "bf16")


def add_dtype_arg(parser) -> None:
    parser.add_argument("--dtype", choices=("auto", "fp32", "bf16"), default="auto",
                        help="auto: bf16 where its matmul is faster than fp32 here, else fp32")


def chosen_dtype(name: str) -> str:
    """The dtype of a training benchmark: `--dtype`, or for auto what `--dtype auto` trains in here."""
    return bench_dtypes(quick=True)[0] if name == "auto" else name


def autocast(dtype: str):
    return torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16" else nullcontext()


def train_steps(model, data, dtype: str, optimizer=None):
    """A function running one training step per batch of `data`: forward (under `dtype` autocast),
    backward, optimizer step. The optimizer is fused AdamW at lr 1e-4 (what each side uses by default)
    unless one is given."""
    opt = optimizer or torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)

    def run():
        for b in data:
            with autocast(dtype):
                loss = model(**b).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    return run


def encoder_flops(config, lengths, backward: bool = False) -> float:
    """Model FLOPs of the encoder on sequences of the given real lengths (padding not counted).

    Per layer and token: 2·(4C² + 2C·I) for the projections and FFN, plus 4·L·C for QKᵀ and AV.
    A backward pass costs twice the forward.
    """
    C, I, n = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    total = sum(n * (2 * L * (4 * C * C + 2 * C * I) + 4 * L * L * C) for L in lengths)
    return total * (3 if backward else 1)


def best_times(runs: dict, repeats: int) -> dict:
    """Warm each runner up, then alternate between them `repeats` times; the best time of each (the
    least disturbed by other work on the machine)."""
    for run in runs.values():
        run()
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for k, run in runs.items():
            t = time.perf_counter()
            run()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def best_times_and_peak(runs: dict, repeats: int, dtype: str, peak: float) -> tuple[dict, float]:
    """`best_times`, with a 2048² matmul in `dtype` timed in every round beside the runs. Returns the best
    times and the matmul peak to divide by: the higher of `peak` (measured at the start) and the
    matmul's best reading among the runs. This machine's speed drifts by 10-40% over minutes, so a peak
    read only at the start can fall in a slow spell and inflate every MFU after it."""
    probe = matmul_runner(torch.bfloat16 if dtype == "bf16" else torch.float32)
    best = best_times({**runs, "peak": probe}, repeats)
    return best, max(peak, probe.flops / best.pop("peak"))


def real_sentences(n: int, seed: int = 0) -> list[str]:
    """Random lines of real prose (the Wikipedia sample), split into sentences of mixed length."""
    import random
    path = DATA / "text" / "wiki.txt"
    if not path.exists():
        raise SystemExit(f"{path} is absent: run `make data`")
    text = path.read_text(encoding="utf-8")
    sents = [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s) > 15]
    rng = random.Random(seed)
    rng.shuffle(sents)
    return sents[:n]


def report(rows: list[dict], title: str, columns: list[str]) -> None:
    for r in rows:
        print(json.dumps(r))
    print(f"\n### {title}\n")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in rows:
        print("| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
    return str(v)
