"""Where one layer's time goes on variable-length real text: the dense layers against attention,
and attention done four ways on the same packed q, k, v. bertkit only; fp32, no grad.

    python benchmarks/attention.py              # all-MiniLM-L6-v2 (head size 32), batch 32 in input order
    python benchmarks/attention.py --model base # bert-base shape (head size 64), random weights

It prints milliseconds per layer and batch, and GFLOP/s against the matmul peak timed beside the runs.
The ways of doing attention, all exact to ~1e-6:
- runs: bertkit's way, one SDPA call per run of equal lengths, no padding and no mask;
- padded: one masked SDPA call on the (B, T) padded layout, as a padded model computes it;
- buckets: sequences sorted by length, grouped while padding costs at most 1.5× the real
  attention FLOPs, one masked SDPA call per group;
- math: per run of equal lengths, q·kᵀ, softmax and ·v spelled out.
"""
from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F
from common import DATA, best_times_and_peak, matmul_peak, real_sentences
from inference import batches, models

import transformers
from bertkit.models.padding import Packing


def bucket_plan(lengths: list[int], waste: float = 1.5):
    """Groups of sequence numbers, by length, each padded to its longest at ≤ `waste` × the real L² work."""
    groups, cur = [], []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if cur and (len(cur) + 1) * lengths[i] ** 2 > waste * sum(lengths[j] ** 2 for j in cur + [i]):
            groups.append(cur)
            cur = []
        cur.append(i)
    starts = [0]
    for L in lengths:
        starts.append(starts[-1] + L)
    plan = []
    for g in groups + [cur]:
        T = max(lengths[j] for j in g)
        mask = torch.zeros(len(g), T, dtype=torch.bool)
        rows = torch.full((len(g), T), starts[-1], dtype=torch.long)  # the row after the last: zeros
        for r, j in enumerate(g):
            mask[r, :lengths[j]] = True
            rows[r, :lengths[j]] = torch.arange(starts[j], starts[j + 1])
        plan.append((rows.view(-1), mask, rows[mask]))
    return plan


def buckets(q, k, v, plan, H: int, D: int):
    zero = q.new_zeros(1, q.shape[1])
    q, k, v = (torch.cat([t, zero]) for t in (q, k, v))  # (N + 1, C): the last row pads
    out = q.new_empty(q.shape[0] - 1, q.shape[1])
    for rows, mask, dst in plan:
        n, T = mask.shape
        q_, k_, v_ = (t[rows].view(n, T, H, D).transpose(1, 2) for t in (q, k, v))  # 3 × (n, H, T, D)
        ctx = F.scaled_dot_product_attention(q_, k_, v_, attn_mask=mask.view(n, 1, 1, T))
        out[dst] = ctx.transpose(1, 2).reshape(n * T, H * D)[mask.view(-1)]
    return out


def spelled_out(q, k, v, p: Packing, H: int, D: int):
    out, start = [], 0
    for L, n in p.runs:
        q_, k_, v_ = (t[start:start + n * L].view(n, L, H, D).transpose(1, 2) for t in (q, k, v))
        start += n * L
        probs = (q_ @ k_.transpose(-2, -1)).mul_(1 / math.sqrt(D)).softmax(-1)  # (n, H, L, L)
        out.append((probs @ v_).transpose(1, 2).reshape(n * L, H * D))
    return torch.cat(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=("minilm", "base"), default="minilm")
    ap.add_argument("--batches", type=int, default=6, help="batches of 32 real sentences")
    ap.add_argument("--repeats", type=int, default=8)
    args = ap.parse_args()
    torch.manual_seed(0)
    _, ours = models(args.model)
    tok = transformers.AutoTokenizer.from_pretrained(DATA / "minilm")
    data = batches(tok, real_sentences(32 * args.batches), 32, 128, full=False)
    layer, cfg = ours.encoder.layers[0], ours.config
    H, D, C = cfg.num_attention_heads, cfg.head_dim, cfg.hidden_size
    cases = []
    with torch.no_grad():
        for b in data:
            p = Packing.from_mask(b["attention_mask"].bool())
            x = torch.randn(p.num_tokens, C)  # (N, C) packed hidden states
            cases.append((x, p, layer.attn._project(x), bucket_plan(p.lengths)))
    lengths = [L for _, p, _, _ in cases for L in p.lengths]
    real = sum(lengths)
    dense_flops = 2 * real * (4 * C * C + 2 * C * cfg.intermediate_size)
    attn_flops = sum(4 * L * L * C for L in lengths)

    def each(f):
        def run():
            with torch.no_grad():
                for x, p, qkv, plan in cases:
                    f(x, p, qkv, plan)
        return run
    ways = {
        "runs": lambda x, p, qkv, plan: layer.attn._per_run(*qkv, p),
        "padded": lambda x, p, qkv, plan: layer.attn._padded(*qkv, p),
        "buckets": lambda x, p, qkv, plan: buckets(*qkv, plan, H, D),
        "math": lambda x, p, qkv, plan: spelled_out(*qkv, p, H, D),
    }
    x, p, qkv, plan = cases[0]
    ref = ways["runs"](x, p, qkv, plan)
    for name, f in ways.items():
        err = float((f(x, p, qkv, plan) - ref).abs().max())
        assert err < 1e-4, f"{name} differs from runs by {err}"

    def matmuls(x, p, qkv, plan):  # the layer's six weight matmuls alone: no bias, no elementwise work
        for w in (*layer.attn.qkv.weight.split(C), layer.attn.out.weight):
            x @ w.t()
        h = x @ layer.ffn.up.weight.t()  # (N, I)
        h @ layer.ffn.down.weight.t()

    runs = {"layer": each(lambda x, p, qkv, plan: layer(x, None, p)), "matmuls": each(matmuls)}
    runs.update({f"attention, {k}": each(f) for k, f in ways.items()})
    best, peak = best_times_and_peak(runs, args.repeats, "fp32", matmul_peak(torch.float32))
    n = len(cases)
    dense = best["layer"] - best["attention, runs"]
    print(f"{args.model}: {n} batches of 32, {real} real tokens, mean length {real / len(lengths):.1f}; "
          f"matmul peak {peak / 1e9:.0f} GFLOP/s\n")
    print("| part | ms per layer and batch | GFLOP | GFLOP/s | of the peak |\n|---|---|---|---|---|")
    rows = [("whole layer (bertkit)", best["layer"], dense_flops + attn_flops),
            ("everything but attention", dense, dense_flops),
            ("its weight matmuls alone", best["matmuls"], dense_flops)]
    rows += [(k, t, attn_flops) for k, t in best.items() if k.startswith("attention")]
    for name, t, flops in rows:
        print(f"| {name} | {t / n * 1e3:.2f} | {flops / n / 1e9:.3f} | {flops / t / 1e9:.0f} | {flops / t / peak:.2f} |")
    print(f"\nMFU of the layer if attention took no time: {(dense_flops + attn_flops) / dense / peak:.2f}; "
          f"if only the weight matmuls took time: {(dense_flops + attn_flops) / best['matmuls'] / peak:.2f}")


if __name__ == "__main__":
    main()
