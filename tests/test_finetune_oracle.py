"""The fine-tuning recipe against `transformers`: with dropout off, bertkit's model, loss, AdamW groups,
schedule and clipping give the same losses step by step as BertForSequenceClassification trained with
torch AdamW and transformers' get_linear_schedule_with_warmup on the same batches."""
import random

import pytest
import torch

from _finetune_util import FILLER, tiny_folder, write_jsonl
from bertkit.tasks.finetune import FinetuneArgs, _Classify, _resolve
from bertkit.tokenization import BertTokenizer
from bertkit.train.optim import OptimConfig, make_optimizer, make_scheduler

transformers = pytest.importorskip("transformers")


def _no_dropout(model):
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        if hasattr(m, "dropout_p"):
            m.dropout_p = 0.0


def test_training_losses_match_transformers(tmp_path):
    folder = tiny_folder(tmp_path / "base")
    rng = random.Random(0)
    rows = [{"text": " ".join(rng.choice(FILLER + ["good", "bad"]) for _ in range(rng.randint(3, 20))),
             "label": rng.choice(["pos", "neg"])} for _ in range(96)]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    a = _resolve(FinetuneArgs(model=str(folder), train=str(train), out=str(tmp_path / "out"), epochs=1, batch_size=16))
    task = _Classify(a)
    task.read()
    torch.manual_seed(0)
    task.build(BertTokenizer.from_pretrained(folder))
    hf = transformers.BertForSequenceClassification.from_pretrained(folder, num_labels=2)
    with torch.no_grad():
        hf.classifier.weight.copy_(task.module.model.classifier.weight)
        hf.classifier.bias.copy_(task.module.model.classifier.bias)
    for m in (task.module, hf):
        _no_dropout(m)
    batches = task.batches(0, torch.Generator().manual_seed(1))  # length-grouped, ragged padding
    keep = ("input_ids", "attention_mask", "token_type_ids", "labels")

    def run(model, hf_schedule):
        cfg = OptimConfig(lr=1e-3, eps=1e-6, warmup=0.25)
        opt = make_optimizer(model, cfg)
        sched = (transformers.get_linear_schedule_with_warmup(opt, int(0.25 * len(batches)), len(batches))
                 if hf_schedule else make_scheduler(opt, cfg, len(batches)))
        model.train()
        losses = []
        for b in batches:
            loss = model(**{k: v for k, v in b.items() if k in keep}).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            losses.append(float(loss.detach()))
        return losses

    ours, theirs = run(task.module, False), run(hf, True)
    assert len(ours) == 6
    assert ours == pytest.approx(theirs, abs=2e-5)
