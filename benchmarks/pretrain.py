"""MLM + NSP training steps, bertkit vs transformers, same weights, same real-text batches.

    python benchmarks/pretrain.py            # small and base shapes, seq 128 and 512
    python benchmarks/pretrain.py --quick    # small shape, seq 128 (make bench)

A step is forward, backward and an AdamW update under bf16 autocast (fp32 master weights; plain fp32
on a CPU without native bf16), on
batches of real text cut to the sequence length with 15% of tokens masked, as in pretraining.
Tokens/s counts all tokens of the batch; MFU counts the encoder and the MLM decoder at the masked
positions (the FLOPs pretraining needs), forward and backward, against the matmul peak of the dtype.
"""
from __future__ import annotations

import argparse

import torch
from common import (DATA, add_dtype_arg, autocast, best_times_and_peak, chosen_dtype, encoder_flops, matmul_peak,
                    real_sentences, report)

import transformers
from bertkit import BertConfig, BertForPreTraining
from bertkit.checkpoint import load_state
from bertkit.config import PRESETS


def models(shape: str):
    layers, hidden, heads = PRESETS[shape]
    torch.manual_seed(0)
    hf = transformers.BertForPreTraining(transformers.BertConfig(
        num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads, intermediate_size=4 * hidden))
    ours = BertForPreTraining(BertConfig.from_dict(hf.config.to_dict()))
    load_state(ours, hf.state_dict())
    return hf.train(), ours.train()


def batches(tok, seq: int, batch_size: int, n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = tok(" ".join(real_sentences(4000)), add_special_tokens=False)["input_ids"]
    out, step = [], seq - 3
    for b in range(n):
        rows = []
        for r in range(batch_size):
            i = (b * batch_size + r) * step % (len(ids) - 2 * step)
            half = step // 2
            rows.append([tok.cls_token_id] + ids[i:i + half] + [tok.sep_token_id]
                        + ids[i + half:i + step] + [tok.sep_token_id])
        x = torch.tensor(rows)
        types = torch.zeros_like(x)
        types[:, step // 2 + 2:] = 1
        special = (x == tok.cls_token_id) | (x == tok.sep_token_id)
        picked = (torch.rand(x.shape, generator=g) < 0.15) & ~special
        labels = torch.where(picked, x, torch.full_like(x, -100))
        x = torch.where(picked, torch.full_like(x, tok.mask_token_id), x)
        out.append({"input_ids": x, "token_type_ids": types, "attention_mask": torch.ones_like(x),
                    "labels": labels, "next_sentence_label": torch.randint(0, 2, (batch_size,), generator=g)})
    return out


def step_fn(model, data, dtype):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)  # what each uses by default

    def run():
        for b in data:
            with autocast(dtype):
                loss = model(**b).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    return run


def run_case(shape, seq, batch_size, n_batches, dtype, peak, repeats, tok):
    hf, ours = models(shape)
    data = batches(tok, seq, batch_size, n_batches)
    tokens = sum(b["input_ids"].numel() for b in data)
    masked = sum(int((b["labels"] != -100).sum()) for b in data)
    cfg = ours.config
    flops = encoder_flops(cfg, [seq] * batch_size * n_batches, backward=True) \
        + 3 * masked * 2 * (cfg.hidden_size * cfg.hidden_size + cfg.hidden_size * cfg.vocab_size)
    # the warm-up also allocates the optimizers' state
    best, peak = best_times_and_peak({"hf": step_fn(hf, data, dtype), "ours": step_fn(ours, data, dtype)},
                                     repeats, dtype, peak)
    return {"shape": shape, "seq": seq, "batch": batch_size, "dtype": dtype,
            "tok_s_hf": tokens / best["hf"], "tok_s_bertkit": tokens / best["ours"],
            "ratio": best["hf"] / best["ours"],
            "mfu_hf": flops / best["hf"] / peak, "mfu_bertkit": flops / best["ours"] / peak, "peak_gflops": peak / 1e9}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small shape, seq 128 only")
    p.add_argument("--batch-size", type=int, default=32)
    add_dtype_arg(p)
    a = p.parse_args()
    tok = transformers.AutoTokenizer.from_pretrained(DATA / "minilm")
    dtype = chosen_dtype(a.dtype)
    peak = matmul_peak(torch.bfloat16 if dtype == "bf16" else torch.float32)
    print(f"{dtype} matmul peak {peak / 1e9:.0f} GFLOP/s, {torch.get_num_threads()} threads", flush=True)
    grid = [("small", 128)] if a.quick else [("small", 128), ("small", 512), ("base", 128), ("base", 512)]
    rows = []
    for shape, seq in grid:
        bs = a.batch_size if seq == 128 else max(1, a.batch_size // 4)
        rows.append(run_case(shape, seq, bs, 2 if a.quick else 3, dtype, peak, 2 if a.quick else 3, tok))
        print(rows[-1], flush=True)
    report(rows, f"Pretraining steps (MLM + NSP), {dtype}, AdamW",
           ["shape", "seq", "batch", "dtype", "tok_s_hf", "tok_s_bertkit", "ratio", "mfu_hf", "mfu_bertkit", "peak_gflops"])


if __name__ == "__main__":
    main()
