"""Encoder inference, bertkit vs transformers, side by side on the same weights and real-text batches.

    python benchmarks/inference.py            # the full grid
    python benchmarks/inference.py --quick    # a short version (make bench)
    python benchmarks/inference.py --memory   # peak memory at batch 64 × seq 512, each in a fresh process
    python benchmarks/inference.py --embed 10000   # sentence embeddings of 10,000 lines given at once
    python benchmarks/inference.py --quick --model-type roberta   # the same grid for another family

Tokens/s count real tokens only. MFU is model FLOPs over real tokens divided by time and by the
matmul peak of this same run: a 2048² matmul timed at the start and again between the repeats, the
higher reading counting. "variable" batches are consecutive real sentences in input order (no
sorting), padded to the longest in the batch; "full" batches have no padding.

--model-type roberta|distilbert runs the same grid on that family's encoder with the same shapes:
"minilm" is then all-MiniLM-L6-v2's shape (6 layers, hidden 384) with random weights, "base" bert-base's
(DistilBERT: 6 layers of bert-base's width), both in `transformers` and bertkit; the MiniLM tokenizer
makes the batches (RoBERTa's pad id is set to its pad id, 0).
"""
from __future__ import annotations

import argparse
import gc
import resource
import subprocess
import sys
from pathlib import Path

import torch
from common import (autocast, bench_dtypes, best_times_and_peak, encoder_flops, matmul_peak, real_sentences, report, DATA)

import transformers
from bertkit import AutoConfig, AutoModel
from bertkit.checkpoint import load_state

MINILM_SHAPE = dict(num_hidden_layers=6, hidden_size=384, num_attention_heads=12, intermediate_size=1536)


def hf_config(model_type: str, name: str):
    """A transformers config of `model_type` with the shape of `name` (minilm or base)."""
    shape = MINILM_SHAPE if name == "minilm" else {}
    if model_type == "roberta":
        return transformers.RobertaConfig(vocab_size=30522, pad_token_id=0, max_position_embeddings=514, **shape)
    if model_type == "distilbert":
        return transformers.DistilBertConfig(
            dim=shape.get("hidden_size", 768), hidden_dim=shape.get("intermediate_size", 3072),
            n_heads=shape.get("num_attention_heads", 12), n_layers=6)
    return transformers.BertConfig(**shape)


def models(name: str, model_type: str = "bert"):
    """(transformers model, bertkit model) with identical weights, in eval mode."""
    if name == "minilm" and model_type == "bert":
        hf = transformers.BertModel.from_pretrained(DATA / "minilm")
    else:
        torch.manual_seed(0)
        hf = transformers.AutoModel.from_config(hf_config(model_type, name))  # random weights
    hf.eval()
    ours = AutoModel.from_config(AutoConfig.from_dict(hf.config.to_dict()))
    load_state(ours, hf.state_dict())
    return hf, ours.eval()


def batches(tok, sentences, batch_size: int, seq: int, full: bool):
    if full:
        # fill every row with real tokens: consecutive text cut into seq-long pieces
        ids = tok(" ".join(sentences), add_special_tokens=False)["input_ids"]
        rows = [[tok.cls_token_id] + ids[i:i + seq - 2] + [tok.sep_token_id]
                for i in range(0, len(ids) - seq, seq - 2)]
        out = []
        for i in range(0, len(rows) - batch_size + 1, batch_size):
            x = torch.tensor(rows[i:i + batch_size])
            out.append({"input_ids": x, "attention_mask": torch.ones_like(x), "token_type_ids": torch.zeros_like(x)})
        return out
    return [tok(sentences[i:i + batch_size], padding=True, truncation=True, max_length=seq, return_tensors="pt")
            for i in range(0, len(sentences) - batch_size + 1, batch_size)]


def run_case(hf, ours, data, dtype, peak, repeats):
    if ours.config.model_type == "distilbert":  # its transformers forward takes no token_type_ids
        data = [{k: v for k, v in b.items() if k != "token_type_ids"} for b in data]
    lengths = [int(n) for b in data for n in b["attention_mask"].sum(1)]
    real = sum(lengths)
    padded = sum(b["input_ids"].numel() for b in data)
    flops = encoder_flops(ours.config, lengths)

    def go(model):
        def f():
            with torch.no_grad(), autocast(dtype):
                for b in data:
                    model(**b)
        return f

    best, peak = best_times_and_peak({"hf": go(hf), "ours": go(ours)}, repeats, dtype, peak)
    t_hf, t_ours = best["hf"], best["ours"]
    return {
        "tok_s_hf": real / t_hf, "tok_s_bertkit": real / t_ours, "ratio": t_hf / t_ours,
        "pad_ceiling": padded / real,
        "mfu_hf": flops / t_hf / peak, "mfu_bertkit": flops / t_ours / peak, "peak_gflops": peak / 1e9,
    }


def embed_case(n: int, dtype: str, peak: float) -> dict:
    """MiniLM sentence embeddings of n real lines given at once: `transformers` the usual way (batches of
    32 in input order, padded to the longest, mean pooling) vs bertkit.inference.sentence_embeddings
    (length-sorted batches, unpadded); tokenization included on both sides."""
    from bertkit import BertTokenizer
    from bertkit.inference import mean_pool, sentence_embeddings
    lines = real_sentences(n, seed=1)
    hf, ours = models("minilm")
    hf_tok = transformers.AutoTokenizer.from_pretrained(DATA / "minilm")
    our_tok = BertTokenizer.from_pretrained(DATA / "minilm")

    got = {}  # each library's embeddings from its last run, to compare them

    def run_hf():
        out = []
        with torch.no_grad(), autocast(dtype):
            for i in range(0, n, 32):
                b = hf_tok(lines[i:i + 32], padding=True, truncation=True, max_length=128, return_tensors="pt")
                out.append(torch.nn.functional.normalize(
                    mean_pool(hf(**b).last_hidden_state.float(), b["attention_mask"]), dim=-1))
        got["hf"] = torch.cat(out)

    def run_ours():
        with torch.no_grad():
            got["ours"] = sentence_embeddings(ours, our_tok, lines, batch_size=32, max_length=128, dtype=dtype)

    # a warm-up, then one timed run each
    best, peak = best_times_and_peak({"hf": run_hf, "ours": run_ours}, 1, dtype, peak)
    t_hf, t_ours = best["hf"], best["ours"]
    enc = hf_tok(lines, truncation=True, max_length=128)["input_ids"]
    lengths = [len(x) for x in enc]
    padded = sum(len(lengths[i:i + 32]) * max(lengths[i:i + 32]) for i in range(0, n, 32))
    real = sum(lengths)
    flops = encoder_flops(ours.config, lengths)
    return {"model": "minilm", "dtype": dtype, "lines": n, "tok_s_hf": real / t_hf, "tok_s_bertkit": real / t_ours,
            "ratio": t_hf / t_ours, "pad_ceiling": padded / real, "mfu_hf": flops / t_hf / peak,
            "mfu_bertkit": flops / t_ours / peak, "peak_gflops": peak / 1e9,
            "min_cosine": float((got["hf"] * got["ours"]).sum(-1).min())}


def _vm_kib(field: str) -> int:
    """A field of /proc/self/status, e.g. VmRSS (resident now) or VmHWM (resident at most), in KiB."""
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def memory_child(which: str, name: str, dtype: str) -> None:
    """Print the resident-memory growth of one forward pass, in MiB above the loaded model.

    The high-water mark is reset to the current RSS first (Linux: `5` into /proc/self/clear_refs);
    otherwise the peak of loading the model would hide part of the forward's growth, by an amount
    that differs between runs. Without that file, fall back to ru_maxrss (the peak since start)."""
    hf, ours = models(name)
    model = hf if which == "transformers" else ours
    x = torch.randint(1000, 20000, (64, 512))
    batch = {"input_ids": x, "attention_mask": torch.ones_like(x), "token_type_ids": torch.zeros_like(x)}
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        base, peak = _vm_kib("VmRSS"), lambda: _vm_kib("VmHWM")
    except OSError:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # noqa: E731
    with torch.no_grad(), autocast(dtype):
        model(**batch)
    print((peak() - base) / 1024)


def memory(name: str, dtype: str, repeats: int = 3) -> dict:
    """Peak growth of each library, each pass in a fresh process, alternating; the median of `repeats`."""
    got = {"transformers": [], "bertkit": []}
    for _ in range(repeats):
        for which in got:
            r = subprocess.run([sys.executable, __file__, "--memory-child", which, name, dtype],
                               capture_output=True, text=True, check=True)
            got[which].append(float(r.stdout.strip().splitlines()[-1]))
    out = {"model": name, "dtype": dtype, "shape": "64x512"}
    for which, values in got.items():
        out[f"peak_MiB_{which}"] = sorted(values)[len(values) // 2]
        out[f"range_MiB_{which}"] = [min(values), max(values)]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="MiniLM and bert-base, batch 32, fewer repeats, in bf16 where it is faster than fp32 here (AMX), else fp32")
    p.add_argument("--memory", action="store_true", help="only the peak-memory comparison")
    p.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    p.add_argument("--embed", type=int, default=0, metavar="N",
                   help="only the sentence-embedding comparison, on N lines given at once")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--model-type", default="bert", choices=("bert", "roberta", "distilbert"),
                   help="the family whose encoder is timed (default: bert)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.memory_child:
        return memory_child(*a.memory_child)
    if a.memory:
        rows = [memory(m, d) for m in ("base", "minilm") for d in bench_dtypes(quick=False)]
        title = ("Peak memory, inference at batch 64 × seq 512 (MiB of RSS growth above the loaded model, "
                 "median of 3 fresh processes each)")
        return report(rows, title, ["model", "dtype", "shape", "peak_MiB_transformers", "peak_MiB_bertkit"])

    if a.embed:
        dtype = bench_dtypes(quick=True)[0]
        peak = matmul_peak(torch.float32 if dtype == "fp32" else torch.bfloat16)
        rows = [embed_case(a.embed, dtype, peak)]
        return report(rows, f"Sentence embeddings of {a.embed:,} lines given at once, all-MiniLM-L6-v2",
                      ["model", "dtype", "lines", "tok_s_hf", "tok_s_bertkit", "ratio", "pad_ceiling",
                       "mfu_hf", "mfu_bertkit", "min_cosine", "peak_gflops"])
    tok = transformers.AutoTokenizer.from_pretrained(DATA / "minilm")
    sentences = real_sentences(2048)
    dtypes = bench_dtypes(a.quick)
    peaks = {d: matmul_peak(torch.float32 if d == "fp32" else torch.bfloat16) for d in dtypes}
    print("matmul peak: " + ", ".join(f"{d} {v / 1e9:.0f} GFLOP/s" for d, v in peaks.items())
          + f", {torch.get_num_threads()} threads", flush=True)
    grid = []
    for name in ("base", "minilm"):
        for dtype in dtypes:
            for bs in ((32,) if a.quick else (1, 32)):
                for full in (False, True):
                    if bs == 1 and full:
                        continue
                    grid.append((name, dtype, bs, full))
    rows, loaded = [], {}
    for name, dtype, bs, full in grid:
        if name not in loaded:
            loaded = {name: models(name, a.model_type)}
        hf, ours = loaded[name]
        n_batches = (3 if a.quick else 6) if bs == 32 else 48
        data = batches(tok, sentences, bs, 128, full)[:n_batches]
        r = run_case(hf, ours, data, dtype, peaks[dtype], repeats=2 if a.quick else 3)
        rows.append({"model": name if a.model_type == "bert" else f"{a.model_type}-{name}", "dtype": dtype, "batch": bs, "lengths": "full" if full else "variable", **r})
        print(rows[-1], flush=True)
    report(rows, "Encoder inference, real text, seq ≤ 128, input order",
           ["model", "dtype", "batch", "lengths", "tok_s_hf", "tok_s_bertkit", "ratio", "pad_ceiling",
            "mfu_hf", "mfu_bertkit", "peak_gflops"])


if __name__ == "__main__":
    main()
