"""ELECTRA against MLM + NSP at the same compute: pretrain both from scratch on the same corpus (the same
`mini` encoder: 4 layers, hidden 256), then fine-tune each, and a random-init encoder, on Rotten
Tomatoes with three seeds.

    .venv/bin/python scripts/electra_vs_mlm.py [--out runs/electra-vs-mlm] [--mlm-steps 1200] [--jobs 2]

Same compute means the same training FLOPs (train/pretrain.py's count, the one behind MFU): ELECTRA's
steps are the MLM run's steps × (MLM FLOPs per step / ELECTRA FLOPs per step) on the same batch shape,
so the generator's work is paid for out of the discriminator's budget. Both runs use the same corpus,
vocabulary, sequence length, batch, learning rate and schedule; each keeps its objective's own masking
(MLM: 40% of tokens, the rate this corpus's earlier MLM recipe found best; ELECTRA: the paper's 15%).

Prints (and writes to <out>/results.json) held-out MLM accuracy, NSP accuracy, replaced-token-detection
accuracy, and the Rotten Tomatoes dev/test accuracy of every fine-tuning run. Steps are skipped when
their output is there already, so a stopped experiment continues where it was. `--jobs 2` runs two
processes at a time with one thread each (the two pretraining runs side by side, same share of the CPU).
Needs `make data`.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bertkit.paths import DATA

TEXT = [DATA / "text" / name for name in ("wiki.txt", "pydoc.txt", "kernel.txt")]
SEQ, BATCH = 64, 64
SEEDS = (1, 2, 3)


def run(cmd: list[str], log: Path, threads: int) -> float:
    """Run a bertkit command (its output to `log`); return the minutes it took."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    t0 = time.time()
    with open(log, "w") as f:
        subprocess.run([sys.executable, "-m", "bertkit", *cmd], check=True, stdout=f, stderr=subprocess.STDOUT,
                       env=env)
    return (time.time() - t0) / 60


def flops_ratio(vocab_size: int) -> float:
    """MLM + NSP FLOPs per step / ELECTRA FLOPs per step, on a full batch of this shape."""
    import torch

    from bertkit.config import BertConfig, ElectraConfig
    from bertkit.train.pretrain import electra_pair, model_train_flops, train_flops
    g = torch.Generator().manual_seed(0)
    batch = {"attention_mask": torch.ones(BATCH, SEQ, dtype=torch.long)}
    mlm = dict(batch, labels=torch.where(torch.rand(BATCH, SEQ, generator=g) < 0.4, 5, -100))
    rtd = dict(batch, labels=torch.where(torch.rand(BATCH, SEQ, generator=g) < 0.15, 5, -100))
    bert = train_flops(BertConfig.preset("mini", vocab_size=vocab_size), mlm)
    electra = model_train_flops(electra_pair(ElectraConfig.preset("mini", vocab_size=vocab_size), 0.25), rtd)
    return bert / electra


def last_eval(run_dir: Path) -> dict:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().split("\n") if x.strip()]
    return [r for r in rows if "eval_mlm_acc" in r][-1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/electra-vs-mlm")
    p.add_argument("--mlm-steps", type=int, default=1200, help="optimizer steps of the MLM + NSP run")
    p.add_argument("--jobs", type=int, default=2, help="processes at a time (threads = cores / jobs)")
    p.add_argument("--finetune-lr", type=float, default=5e-4)
    p.add_argument("--epochs", type=float, default=1)
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    threads = max(1, (os.cpu_count() or 1) // a.jobs)
    vocab, shards = out / "vocab", out / "shards"
    if not (vocab / "vocab.txt").exists():
        run(["vocab", *map(str, TEXT), "--out", str(vocab), "--vocab-size", "8000"], out / "vocab.log", 2)
    if not (shards / "meta.json").exists():
        run(["prepare", *map(str, TEXT), "--tokenizer", str(vocab), "--out", str(shards)], out / "prepare.log", 2)
    from bertkit.tokenization import AutoTokenizer
    ratio = flops_ratio(len(AutoTokenizer.from_pretrained(vocab)))
    electra_steps = round(a.mlm_steps * ratio)
    common = ["--data", str(shards), "--vocab", str(vocab), "--config", "mini", "--max-seq-length", str(SEQ),
              "--batch-size", str(BATCH), "--schedule", "wsd", "--beta2", "0.98", "--eval-every", "200",
              "--save-every", "200", "--no-progress", "--threads", str(threads)]
    # each objective its own recipe: MLM + NSP this corpus's tuned one (docs/pretraining.md: lr 1e-3, 40%
    # masking, no dropout); ELECTRA the paper's ELECTRA-Small one (lr 5e-4, 15% masking, dropout 0.1), as
    # lr 1e-3 collapsed its discriminator here (every token's top-layer vector the same; docs/pretraining.md)
    runs = {
        "mlm": ["--model-type", "bert", "--steps", str(a.mlm_steps), "--mlm-probability", "0.4", "--lr", "1e-3",
                "--warmup", "100", "--dropout", "0", *common],
        "electra": ["--model-type", "electra", "--steps", str(electra_steps), "--mlm-probability", "0.15",
                    "--lr", "5e-4", "--warmup", "200", *common],
        "random": ["--model-type", "bert", "--steps", "0", *common],  # the same encoder, untrained
    }
    minutes: dict[str, float] = {}

    def pretrain(name: str) -> None:
        d = out / name
        if (d / "model" / "config.json").exists():
            return
        extra = ["--resume"] if (d / "checkpoint.pt").exists() else []
        minutes[name] = run(["pretrain", "--out", str(d), *runs[name], *extra], out / f"{name}.log", threads)
        print(f"pretrained {name} in {minutes[name]:.1f} min", flush=True)

    with ThreadPoolExecutor(a.jobs) as pool:
        list(pool.map(pretrain, runs))

    rt = DATA / "rt"
    jobs = [(name, seed) for name in runs for seed in SEEDS]

    def finetune(job) -> None:
        name, seed = job
        d = out / f"ft-{name}-{seed}"
        if (d / "test_metrics.json").exists():
            return
        run(["finetune", "--model", str(out / name / "model"), "--train", str(rt / "train.jsonl"),
             "--dev", str(rt / "dev.jsonl"), "--test", str(rt / "test.jsonl"), "--out", str(d),
             "--epochs", str(a.epochs), "--lr", str(a.finetune_lr), "--max-length", str(SEQ), "--seed", str(seed),
             "--quiet"], out / f"ft-{name}-{seed}.log", threads)
        print(f"fine-tuned {name} seed {seed}", flush=True)

    with ThreadPoolExecutor(a.jobs) as pool:
        list(pool.map(finetune, jobs))

    results = {"flops_ratio": ratio, "mlm_steps": a.mlm_steps, "electra_steps": electra_steps, "minutes": minutes}
    for name in runs:
        results[name] = {"held_out": {k: v for k, v in last_eval(out / name).items() if k.startswith("eval_")}
                         if name != "random" else {},
                         "rt": []}
        for seed in SEEDS:
            test = json.loads((out / f"ft-{name}-{seed}" / "test_metrics.json").read_text())
            rows = [json.loads(x) for x in (out / f"ft-{name}-{seed}" / "metrics.jsonl").read_text().split("\n")
                    if x.strip()]
            dev = max(r["accuracy"] for r in rows if r.get("event") == "eval")
            results[name]["rt"].append({"seed": seed, "dev": dev, "test": test["accuracy"]})
        accs = [r["test"] for r in results[name]["rt"]]
        results[name]["rt_test_mean"] = sum(accs) / len(accs)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"same compute: MLM {a.mlm_steps} steps, ELECTRA {electra_steps} steps (FLOPs ratio {ratio:.3f})")
    print("| encoder | held-out | RT test accuracy (seeds 1, 2, 3) | mean |")
    print("|---|---|---|---|")
    for name in runs:
        h = results[name]["held_out"]
        held = ", ".join(f"{k[5:]} {v:.3f}" for k, v in h.items() if k.endswith("acc"))
        accs = " / ".join(f"{r['test']:.3f}" for r in results[name]["rt"])
        print(f"| {name} | {held or '-'} | {accs} | {results[name]['rt_test_mean']:.4f} |")


if __name__ == "__main__":
    main()
