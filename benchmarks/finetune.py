"""Classification fine-tuning steps, bertkit vs transformers: all-MiniLM-L6-v2 on Rotten Tomatoes.

    python benchmarks/finetune.py            # 12 steps per measurement, best of 5
    python benchmarks/finetune.py --quick    # 4 steps, best of 3

A step is forward, backward and an AdamW update, batch 32, max_length 128, under bf16 autocast where a
bf16 matmul is faster than fp32 here (fp32 elsewhere; `--dtype` chooses). The two libraries alternate,
and each figure is the best of several repeats.
Two comparisons on the same weights:
- "same batches": random batches padded to their longest row, fed to both models (model speed);
- "grouped": bertkit's length-grouped batches (rows of similar length together, as its trainer makes
  them) against transformers on random batches (what each does by default).
Tokens/s count real tokens. Accuracy after full fine-tuning is compared in benchmarks/finetune_reference.py.
"""
from __future__ import annotations

import argparse
import json
import random

import torch
from common import DATA, add_dtype_arg, best_times_and_peak, chosen_dtype, encoder_flops, matmul_peak, report, train_steps

import transformers
from bertkit import BertConfig, BertForSequenceClassification
from bertkit.checkpoint import load_state


def rt_texts() -> tuple[list[str], list[int]]:
    path = DATA / "rt" / "train.jsonl"
    if not path.exists():
        raise SystemExit(f"{path} is absent: run `make data`")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [r["text"] for r in rows], [int(r["label"] == "positive") for r in rows]


def make_batches(tok, texts, labels, order, batch_size):
    out = []
    for i in range(0, len(order) - batch_size + 1, batch_size):
        idx = order[i:i + batch_size]
        b = dict(tok([texts[j] for j in idx], padding=True, truncation=True, max_length=128, return_tensors="pt"))
        b["labels"] = torch.tensor([labels[j] for j in idx])
        out.append(b)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    add_dtype_arg(p)
    a = p.parse_args()
    steps = 4 if a.quick else 12
    tok = transformers.AutoTokenizer.from_pretrained(DATA / "minilm")
    hf = transformers.BertForSequenceClassification.from_pretrained(DATA / "minilm", num_labels=2).train()
    ours = BertForSequenceClassification(BertConfig.from_dict(hf.config.to_dict()))
    load_state(ours, hf.state_dict())
    ours.train()
    texts, labels = rt_texts()
    rng = random.Random(0)
    order = list(range(len(texts)))
    rng.shuffle(order)
    order = order[:steps * 32 * 4]
    random_batches = make_batches(tok, texts, labels, order, 32)[:steps]
    # length-grouped: sort a pool of rows by length, cut into batches, take batches in random order
    pool = sorted(order, key=lambda j: len(tok(texts[j])["input_ids"]))
    grouped = make_batches(tok, texts, labels, pool, 32)
    rng.shuffle(grouped)
    grouped = grouped[:steps]
    dtype = chosen_dtype(a.dtype)
    peak = matmul_peak(torch.bfloat16 if dtype == "bf16" else torch.float32)
    rows = []
    for name, ours_data in (("same batches", random_batches), ("grouped", grouped)):
        real_hf = sum(int(b["attention_mask"].sum()) for b in random_batches)
        real_ours = sum(int(b["attention_mask"].sum()) for b in ours_data)
        best, peak = best_times_and_peak(
            {"hf": train_steps(hf, random_batches, dtype), "ours": train_steps(ours, ours_data, dtype)},
            repeats=3 if a.quick else 5, dtype=dtype, peak=peak)
        t_hf, t_ours = best["hf"], best["ours"]
        lengths = [int(n) for b in ours_data for n in b["attention_mask"].sum(1)]
        flops = encoder_flops(ours.config, lengths, backward=True)
        rows.append({"batches": name, "tok_s_hf": real_hf / t_hf, "tok_s_bertkit": real_ours / t_ours,
                     "ratio": (real_ours / t_ours) / (real_hf / t_hf), "mfu_bertkit": flops / t_ours / peak,
                     "peak_gflops": peak / 1e9})
        print(rows[-1], flush=True)
    report(rows, f"Fine-tuning steps, MiniLM on Rotten Tomatoes, batch 32, {dtype}",
           ["batches", "tok_s_hf", "tok_s_bertkit", "ratio", "mfu_bertkit", "peak_gflops"])


if __name__ == "__main__":
    main()
