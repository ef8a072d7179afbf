"""Pretraining steps, bertkit vs transformers, same weights, same real-text batches: BERT (MLM + NSP),
ALBERT (MLM + SOP) and ELECTRA (generator MLM + 50 × replaced-token detection).

    python benchmarks/pretrain.py            # BERT at the small and base shapes, seq 128 and 512;
                                             # ALBERT and ELECTRA at the small shape, seq 128 and 512
    python benchmarks/pretrain.py --quick    # each family at the small shape, seq 128 (make bench)
    python benchmarks/pretrain.py --quick --family albert   # one family
    python benchmarks/pretrain.py --loop-overhead           # bertkit's Loop.train_step vs a hand-written step

A step is forward, backward and an AdamW update under bf16 autocast (fp32 master weights; plain fp32
on a CPU without native bf16), on
batches of real text cut to the sequence length with 15% of tokens masked, as in pretraining.
Tokens/s counts all tokens of the batch; MFU counts the encoder and the MLM decoder at the masked
positions (the FLOPs pretraining needs), forward and backward, against the matmul peak of the dtype.

ALBERT: `AlbertForPreTraining` on both sides, the small preset's layers, width and heads with
embedding_size 128 (transformers' AlbertConfig defaults otherwise: dropout 0, gelu_new, one group of
shared layers), batches with `sentence_order_label` (label 1: the two segments swapped).
ELECTRA: bertkit's `ElectraPretrainer` (train.pretrain.electra_pair, generator at 1/4 of the width)
against the same step written with transformers' ElectraForMaskedLM (generator) and
ElectraForPreTraining (discriminator) sharing their embeddings as google-research/electra does; the
generator samples a replacement at every masked position from the softmax of its logits
(torch.multinomial), loss = MLM + 50 × BCE; one AdamW over both models (shared parameters once).
ELECTRA's masking: 85% of the picked tokens become [MASK], 15% stay. MFU there counts
train.pretrain.model_train_flops (generator + discriminator).
"""
from __future__ import annotations

import argparse

import torch
from common import (DATA, add_dtype_arg, autocast, best_times, best_times_and_peak, chosen_dtype, encoder_flops, matmul_peak,
                    real_sentences, report, train_steps)

import transformers
from bertkit import BertConfig, BertForPreTraining
from bertkit.checkpoint import load_state
from bertkit.config import PRESETS, AlbertConfig, ElectraConfig
from bertkit.models.albert import AlbertForPreTraining
from bertkit.train.pretrain import electra_pair, model_train_flops

RTD_WEIGHT = 50.0  # ELECTRA's λ


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


def run_case(shape, seq, batch_size, n_batches, dtype, peak, repeats, tok):
    hf, ours = models(shape)
    data = batches(tok, seq, batch_size, n_batches)
    tokens = sum(b["input_ids"].numel() for b in data)
    masked = sum(int((b["labels"] != -100).sum()) for b in data)
    cfg = ours.config
    flops = encoder_flops(cfg, [seq] * batch_size * n_batches, backward=True) \
        + 3 * masked * 2 * (cfg.hidden_size * cfg.hidden_size + cfg.hidden_size * cfg.vocab_size)
    # the warm-up also allocates the optimizers' state
    best, peak = best_times_and_peak({"hf": train_steps(hf, data, dtype), "ours": train_steps(ours, data, dtype)},
                                     repeats, dtype, peak)
    return {"shape": shape, "seq": seq, "batch": batch_size, "dtype": dtype,
            "tok_s_hf": tokens / best["hf"], "tok_s_bertkit": tokens / best["ours"],
            "ratio": best["hf"] / best["ours"],
            "mfu_hf": flops / best["hf"] / peak, "mfu_bertkit": flops / best["ours"] / peak, "peak_gflops": peak / 1e9}


# -- ALBERT and ELECTRA ----------------------------------------------------------------------------------

def albert_models(shape: str, vocab_size: int):
    """transformers' and bertkit's AlbertForPreTraining at a preset's layers/width/heads, embedding_size 128,
    the same weights."""
    layers, hidden, heads = PRESETS[shape]
    torch.manual_seed(0)
    hf = transformers.AlbertForPreTraining(transformers.AlbertConfig(
        vocab_size=vocab_size, embedding_size=128, num_hidden_layers=layers, hidden_size=hidden,
        num_attention_heads=heads, intermediate_size=4 * hidden))
    ours = AlbertForPreTraining(AlbertConfig.from_dict(hf.config.to_dict()))
    load_state(ours, hf.state_dict())
    return hf.train(), ours.train()


def _hf_config(ours: ElectraConfig) -> transformers.ElectraConfig:
    d = ours.to_dict()
    d.pop("model_type")
    return transformers.ElectraConfig(**d)


def electra_models(shape: str, vocab_size: int, fraction: float = 0.25):
    """(transformers' generator, transformers' discriminator) sharing one embeddings module as
    google-research/electra does, and bertkit's ElectraPretrainer (electra_pair) with the same weights."""
    config = ElectraConfig.preset(shape, vocab_size=vocab_size)  # embedding_size 128, projected to the width
    torch.manual_seed(0)
    hf_disc = transformers.ElectraForPreTraining(_hf_config(config))
    hf_gen = transformers.ElectraForMaskedLM(_hf_config(config.generator_config(fraction)))
    hf_gen.electra.embeddings = hf_disc.electra.embeddings  # word, position, segment tables and their LayerNorm
    hf_gen.generator_lm_head.weight = hf_disc.electra.embeddings.word_embeddings.weight  # the decoder follows
    ours = electra_pair(config, fraction)  # shares the discriminator's embeddings with the generator
    load_state(ours.discriminator, hf_disc.state_dict())
    load_state(ours.generator, hf_gen.state_dict())
    return (hf_gen.train(), hf_disc.train()), ours.train()


def hf_electra_step(gen, disc, b: dict, sampler: torch.Generator) -> torch.Tensor:
    """ELECTRA's loss written with transformers' two models: the generator's MLM, a sample from the softmax
    of its logits at each masked position, the discriminator on the corrupted input."""
    inputs = {"attention_mask": b["attention_mask"], "token_type_ids": b["token_type_ids"]}
    g = gen(input_ids=b["input_ids"], labels=b["labels"], **inputs)
    scored = b["labels"] != -100
    with torch.no_grad():
        probs = torch.softmax(g.logits[scored].detach().float(), dim=-1)  # (N_masked, V)
        sampled = torch.multinomial(probs, 1, generator=sampler).squeeze(-1)
    corrupted = b["input_ids"].clone()
    corrupted[scored] = sampled
    replaced = torch.zeros_like(corrupted)
    replaced[scored] = (sampled != b["labels"][scored]).long()
    d = disc(input_ids=corrupted, labels=replaced, **inputs)
    return g.loss + RTD_WEIGHT * d.loss


def family_batches(tok, seq: int, batch_size: int, n: int, family: str, seed: int = 0):
    """BERT's benchmark batches, recast: ALBERT's carry `sentence_order_label` (1: the segments swapped);
    ELECTRA's have no pair label and keep 15% of the picked tokens as they are (85% [MASK])."""
    g = torch.Generator().manual_seed(seed + 1)
    out = []
    for b in batches(tok, seq, batch_size, n, seed):
        labels = b["labels"]
        picked = labels != -100
        original = torch.where(picked, labels, b["input_ids"])
        ids, types = original.clone(), b["token_type_ids"].clone()
        extra = {}
        if family == "albert":
            order = torch.randint(0, 2, (batch_size,), generator=g)
            T = ids.shape[1]
            first = int((types[0] == 0).sum())  # [CLS] A [SEP]: the first segment with its specials
            for r in torch.nonzero(order).flatten().tolist():  # [CLS] B [SEP] A [SEP]
                a, bb = original[r, 1:first - 1], original[r, first:T - 1]
                ids[r] = torch.cat([original[r, :1], bb, original[r, first - 1:first], a, original[r, T - 1:]])
                types[r] = 0
                types[r, 1 + len(bb) + 1:] = 1
            special = (ids == tok.cls_token_id) | (ids == tok.sep_token_id)
            picked = (torch.rand(ids.shape, generator=g) < 0.15) & ~special
            masked = picked
            extra["sentence_order_label"] = order
        else:  # electra: 85% of the picked positions masked, 15% kept
            masked = picked & (torch.rand(ids.shape, generator=g) < 0.85)
        out.append({"input_ids": torch.where(masked, torch.full_like(ids, tok.mask_token_id), ids),
                    "token_type_ids": types, "attention_mask": b["attention_mask"],
                    "labels": torch.where(picked, ids, torch.full_like(ids, -100)), **extra})
    return out


def electra_step_fns(hf_pair, ours, data, dtype):
    hf_gen, hf_disc = hf_pair
    shared = list({id(p): p for m in (hf_gen, hf_disc) for p in m.parameters()}.values())
    hf_opt = torch.optim.AdamW(shared, lr=1e-4, fused=True)
    our_opt = torch.optim.AdamW(ours.parameters(), lr=1e-4, fused=True)  # a module's parameters: each once
    hf_sampler, our_sampler = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)

    def run_hf():
        for b in data:
            with autocast(dtype):
                loss = hf_electra_step(hf_gen, hf_disc, b, hf_sampler)
            loss.backward()
            hf_opt.step()
            hf_opt.zero_grad(set_to_none=True)

    def run_ours():
        for b in data:
            with autocast(dtype):
                loss = ours(**b, sampler=our_sampler).loss
            loss.backward()
            our_opt.step()
            our_opt.zero_grad(set_to_none=True)
    return {"hf": run_hf, "ours": run_ours}, sum(p.numel() for p in shared), sum(p.numel() for p in ours.parameters())


@torch.no_grad()
def check_same_loss(family: str, hf, ours, b: dict) -> tuple[float, float]:
    """Both sides' loss on one batch in eval mode (no dropout; ELECTRA: samplers of the same seed): the
    two run the same model, so they must agree before their speed is compared."""
    if family == "electra":
        hf_gen, hf_disc = hf
        for m in (hf_gen, hf_disc, ours):
            m.eval()
        theirs = hf_electra_step(hf_gen, hf_disc, b, torch.Generator().manual_seed(7))
        mine = ours(**b, sampler=torch.Generator().manual_seed(7)).loss
        for m in (hf_gen, hf_disc, ours):
            m.train()
    else:
        hf.eval(), ours.eval()
        theirs, mine = hf(**b).loss, ours(**b).loss
        hf.train(), ours.train()
    if not torch.allclose(mine, theirs, rtol=1e-3, atol=1e-3):
        raise SystemExit(f"{family}: bertkit's loss {float(mine):.6f} differs from transformers' {float(theirs):.6f} "
                         "on the same batch: the two are not running the same model")
    return float(mine), float(theirs)


def run_family_case(family, shape, seq, batch_size, n_batches, dtype, peak, repeats, tok):
    """One ALBERT or ELECTRA row: the same batches through both sides, alternating."""
    vocab = tok.vocab_size
    data = family_batches(tok, seq, batch_size, n_batches, family)
    if family == "albert":
        hf, ours = albert_models(shape, vocab)
        runs = {"hf": train_steps(hf, data, dtype), "ours": train_steps(ours, data, dtype)}
        flops = sum(model_train_flops(ours, b) for b in data)
    else:
        hf, ours = electra_models(shape, vocab)
        runs, n_hf, n_ours = electra_step_fns(hf, ours, data, dtype)
        if n_hf != n_ours:
            raise SystemExit(f"electra: transformers' optimizer updates {n_hf:,} numbers, bertkit's {n_ours:,}")
        flops = sum(model_train_flops(ours, b) for b in data)
    mine, theirs = check_same_loss(family, hf, ours, data[0])
    tokens = sum(b["input_ids"].numel() for b in data)
    best, peak = best_times_and_peak(runs, repeats, dtype, peak)
    return {"family": family, "shape": shape, "seq": seq, "batch": batch_size, "dtype": dtype,
            "tok_s_hf": tokens / best["hf"], "tok_s_bertkit": tokens / best["ours"],
            "ratio": best["hf"] / best["ours"],
            "mfu_hf": flops / best["hf"] / peak, "mfu_bertkit": flops / best["ours"] / peak,
            "peak_gflops": peak / 1e9, "loss_check": f"{mine:.4f}/{theirs:.4f}"}


# -- the one training loop's overhead ------------------------------------------------------------------

def loop_overhead(tok, dtype: str, batch_size: int, repeats: int) -> dict:
    """bertkit's BERT small at seq 128: the hand-written step of this benchmark against Loop.train_step
    (what `bertkit pretrain` runs: the objective, metrics read out, gradient clipping at 1.0, the
    schedule), on the same batches, alternating. Both sides are bertkit; the ratio is the loop's cost."""
    from bertkit.train.loop import Loop, LoopConfig, StepBatches
    from bertkit.train.objectives.mlm import PreTrainingObjective
    from bertkit.train.optim import OptimConfig, make_optimizer, make_scheduler
    _, ours = models("small")
    _, plain = models("small")
    data = batches(tok, 128, batch_size, 2)
    loops = {}
    for name, clip in (("loop", 1.0), ("loop_noclip", 0.0)):
        opt = make_optimizer(ours, OptimConfig(lr=1e-4))
        sched = make_scheduler(opt, OptimConfig(lr=1e-4, warmup=0), 10 ** 6)
        loop = Loop(ours, PreTrainingObjective(), None, opt, sched,
                    LoopConfig(steps=10 ** 6, dtype=dtype, max_grad_norm=clip, progress=False),
                    device=torch.device("cpu"))

        def run_loop(loop=loop):
            for b in data:
                loop.train_step(StepBatches([b], 0.0))
        loops[name] = run_loop
    # the same optimizer, no loop around it
    run_hand = train_steps(plain, data, dtype, make_optimizer(plain, OptimConfig(lr=1e-4)))
    best = best_times({"hand": run_hand, **loops}, repeats)
    return {"dtype": dtype, "batch": batch_size, "hand_s": best["hand"] / len(data),
            "loop_s": best["loop"] / len(data), "loop_noclip_s": best["loop_noclip"] / len(data),
            "loop_over_hand": best["loop"] / best["hand"], "loop_noclip_over_hand": best["loop_noclip"] / best["hand"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small shape, seq 128 only")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--family", default="bert,albert,electra",
                   help="comma-separated: bert (MLM + NSP), albert (MLM + SOP), electra (replaced-token detection)")
    p.add_argument("--loop-overhead", action="store_true",
                   help="only measure bertkit's Loop.train_step against a hand-written step (BERT small, seq 128)")
    add_dtype_arg(p)
    a = p.parse_args()
    tok = transformers.AutoTokenizer.from_pretrained(DATA / "minilm")
    dtype = chosen_dtype(a.dtype)
    if a.loop_overhead:
        row = loop_overhead(tok, dtype, a.batch_size, 3 if a.quick else 5)
        report([row], f"bertkit's Loop.train_step against a hand-written step, BERT small, seq 128, {dtype}",
               list(row))
        return
    families = [f.strip() for f in a.family.split(",") if f.strip()]
    unknown = set(families) - {"bert", "albert", "electra"}
    if unknown:
        raise SystemExit(f"--family {a.family!r}: {', '.join(sorted(unknown))} unknown; use bert, albert, electra")
    peak = matmul_peak(torch.bfloat16 if dtype == "bf16" else torch.float32)
    print(f"{dtype} matmul peak {peak / 1e9:.0f} GFLOP/s, {torch.get_num_threads()} threads", flush=True)
    n_batches, repeats = (2, 2) if a.quick else (3, 3)
    if "bert" in families:
        grid = [("small", 128)] if a.quick else [("small", 128), ("small", 512), ("base", 128), ("base", 512)]
        rows = []
        for shape, seq in grid:
            bs = a.batch_size if seq == 128 else max(1, a.batch_size // 4)
            rows.append(run_case(shape, seq, bs, n_batches, dtype, peak, repeats, tok))
            print(rows[-1], flush=True)
        report(rows, f"Pretraining steps (MLM + NSP), {dtype}, AdamW",
               ["shape", "seq", "batch", "dtype", "tok_s_hf", "tok_s_bertkit", "ratio", "mfu_hf", "mfu_bertkit",
                "peak_gflops"])
    rows = []
    for family in (f for f in families if f != "bert"):
        for shape, seq in [("small", 128)] if a.quick else [("small", 128), ("small", 512)]:
            bs = a.batch_size if seq == 128 else max(1, a.batch_size // 4)
            rows.append(run_family_case(family, shape, seq, bs, n_batches, dtype, peak, repeats, tok))
            print(rows[-1], flush=True)
    if rows:
        report(rows, f"Pretraining steps, ALBERT (MLM + SOP) and ELECTRA (MLM + 50 × RTD), {dtype}, AdamW",
               ["family", "shape", "seq", "batch", "dtype", "tok_s_hf", "tok_s_bertkit", "ratio", "mfu_hf",
                "mfu_bertkit", "peak_gflops", "loss_check"])


if __name__ == "__main__":
    main()
