"""bertkit fine-tuning against `transformers` on the same split with the same recipe.

    nice -n 10 python benchmarks/finetune_reference.py rt --epochs 3
    nice -n 10 python benchmarks/finetune_reference.py wnut --epochs 3
    nice -n 10 python benchmarks/finetune_reference.py wnut_qa --epochs 3

Recipe (both sides): all-MiniLM-L6-v2, AdamW lr 1e-4 (weight decay 0.01, none on biases/LayerNorm),
10% warmup then linear decay, batch 32, max_length 128 (QA: 384, doc_stride 128), bf16 autocast,
the same seed; dev evaluated each epoch and the best epoch's weights scored on test.
Both sides see the same features and the same length-grouped batches in the same order (the
batches come from bertkit's feature code); the `transformers` side is a plain PyTorch loop around
BertForSequenceClassification / BertForTokenClassification / BertForQuestionAnswering with
transformers' get_linear_schedule_with_warmup. Test metrics of both are printed and appended as one
JSON line to benchmarks/finetune_results.jsonl.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bertkit import paths  # noqa: E402
from bertkit.tasks.finetune import FinetuneArgs, _Classify, _Ner, _QA, finetune  # noqa: E402

TASK = {"rt": ("classify", "jsonl", _Classify), "sms": ("classify", "jsonl", _Classify),
        "wnut": ("ner", "conll", _Ner), "wnut_qa": ("qa", "json", _QA)}
HF_CLASS = {"classify": "BertForSequenceClassification", "ner": "BertForTokenClassification",
            "qa": "BertForQuestionAnswering"}


def tokenizer(model: str):
    try:
        from bertkit.tokenization import BertTokenizer
        return BertTokenizer.from_pretrained(model), "bertkit"
    except ImportError:
        from transformers import BertTokenizer
        return BertTokenizer.from_pretrained(model), "transformers (bertkit.tokenization absent)"


def run_transformers(args: FinetuneArgs, tok) -> dict:
    """The same task object (features, batches, metrics) with a transformers model and loop."""
    import transformers
    from transformers import get_linear_schedule_with_warmup

    from bertkit.tasks.finetune import _resolve
    a = _resolve(args)
    task = TASK_OBJ[a.task](a)
    task.read()
    torch.manual_seed(a.seed)
    cls = getattr(transformers, HF_CLASS[a.task])
    kw = {}
    if a.task == "classify":
        kw = dict(id2label={i: n for n, i in task.label2id.items()}, label2id=task.label2id,
                  problem_type=task.kind)
    elif a.task == "ner":
        kw = dict(id2label=dict(enumerate(task.labels)), label2id=task.label2id)
    hf = cls.from_pretrained(a.model, **kw)
    # build bertkit's features with a placeholder module, then swap in the transformers model
    task.build(tok)
    if a.task == "classify":
        from bertkit.tasks.classification import WindowClassifier
        task.module = WindowClassifier(hf, a.pool)
        module = task.module
    elif a.task == "ner":
        from bertkit.tasks.ner import Tagger
        task.module = Tagger(hf)
        module = hf
    else:
        task.module = hf
        module = hf
    keep = {"classify": ("input_ids", "attention_mask", "token_type_ids", "doc_index", "labels"),
            "ner": ("input_ids", "attention_mask", "token_type_ids", "labels"),
            "qa": ("input_ids", "attention_mask", "token_type_ids", "start_positions", "end_positions")}[a.task]
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    decay = [p for n, p in hf.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in hf.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=a.lr, eps=1e-6, foreach=True)
    first = task.batches(0, gen)
    total = math.ceil(len(first) * a.epochs)
    sched = get_linear_schedule_with_warmup(opt, int(a.warmup * total), total)
    best, best_state, step = None, None, 0
    t0 = time.time()
    for epoch in range(math.ceil(a.epochs)):
        batches = first if epoch == 0 else task.batches(epoch, gen)
        task.module.train()
        for b in batches:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = module(**{k: v for k, v in b.items() if k in keep})
            out.loss.float().backward()
            torch.nn.utils.clip_grad_norm_(hf.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            if step >= total:
                break
        task.module.eval()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            m = task.evaluate(task.module, split="dev")
        print(f"[transformers] epoch {epoch + 1}: dev {task.metric} {m[task.metric]:.4f} "
              f"({time.time() - t0:.0f} s)", flush=True)
        if best is None or m[task.metric] > best:
            best = m[task.metric]
            best_state = {k: v.detach().clone() for k, v in hf.state_dict().items()}
    hf.load_state_dict(best_state)
    task.module.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        m = task.evaluate(task.module, split="test")
    return {k: v for k, v in m.items() if isinstance(v, (int, float))} | {"elapsed_s": round(time.time() - t0, 1)}


TASK_OBJ = {"classify": _Classify, "ner": _Ner, "qa": _QA}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", choices=sorted(TASK))
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--limit", type=int, default=None, help="first N training examples only")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--only", choices=["bertkit", "transformers"], default=None)
    a = p.parse_args()
    task, ext, _ = TASK[a.data]
    d = paths.DATA / a.data
    tok, tok_name = tokenizer(str(paths.MINILM))
    args = FinetuneArgs(task=task, model=str(paths.MINILM), train=str(d / f"train.{ext}"),
                        dev=str(d / f"dev.{ext}"), test=str(d / f"test.{ext}"), epochs=a.epochs, limit=a.limit,
                        seed=a.seed, lr=1e-4, warmup=0.1, batch_size=32, quiet=True)
    result = {"data": a.data, "task": task, "epochs": a.epochs, "limit": a.limit, "seed": a.seed,
              "tokenizer": tok_name, "torch_threads": torch.get_num_threads()}
    if a.only != "transformers":
        with tempfile.TemporaryDirectory() as out:
            args.out = str(Path(out) / "model")
            t0 = time.time()
            s = finetune(args, tokenizer=tok)
            result["bertkit"] = s["test"] | {"elapsed_s": round(time.time() - t0, 1)}
        print(f"[bertkit] test {result['bertkit']}", flush=True)
    if a.only != "bertkit":
        result["transformers"] = run_transformers(args, tok)
        print(f"[transformers] test {result['transformers']}", flush=True)
    print(json.dumps(result))
    with open(Path(__file__).with_name("finetune_results.jsonl"), "a", encoding="utf-8") as f:
        f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
