"""Masked-LM pretraining objectives: MLM alone (RoBERTa, `--no-nsp`), MLM + next-sentence prediction
(BERT, Devlin et al., 2019 §3.1) and MLM + sentence-order prediction (ALBERT, Lan et al., 2020 §4.2).

The pretraining heads compute their own loss (the MLM cross-entropy over the scored positions, plus the
pair task's cross-entropy when its labels are in the batch: `next_sentence_label` or
`sentence_order_label`); this objective reads the parts out for the logs.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ...labels import IGNORE_INDEX
from ..precision import autocast

# the pair task of a batch: its label key, the output's loss and logits fields, and the metric name
PAIR_TASKS = (("next_sentence_label", "nsp_loss", "seq_relationship_logits", "nsp"),
              ("sentence_order_label", "sop_loss", "sop_logits", "sop"))


def mlm_outputs(out) -> tuple[torch.Tensor, torch.Tensor]:
    """(MLM loss, MLM logits) of a *ForPreTraining output (mlm_loss, prediction_logits) or a *ForMaskedLM
    one (loss, logits); with labels, the logits are (n_scored, V), in the order of the scored labels."""
    if hasattr(out, "prediction_logits"):
        return out.mlm_loss, out.prediction_logits
    return out.loss, out.logits


class PreTrainingObjective:
    """The head's loss; metrics: loss, mlm_loss, and nsp_loss or sop_loss when the batch has that task."""

    def __call__(self, model: nn.Module, batch: dict):
        out = model(**batch)
        metrics = {"loss": out.loss.detach(), "mlm_loss": mlm_outputs(out)[0].detach()}
        for label, loss_field, _, name in PAIR_TASKS:
            if label in batch:
                metrics[f"{name}_loss"] = getattr(out, loss_field).detach()
        return out.loss, metrics


@torch.no_grad()
def evaluate_mlm(model: nn.Module, batches: list[dict], dtype: str, device) -> dict[str, float]:
    """Held-out MLM loss (per masked token), accuracy and perplexity; NSP or SOP accuracy when the batches
    carry that task's labels."""
    was = model.training
    model.eval()
    loss_sum = correct = masked = 0.0
    pair_ok: dict[str, float] = {}
    pair_n: dict[str, float] = {}
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast(device, dtype):
            out = model(**batch)
        mlm_loss, logits = mlm_outputs(out)
        labels = batch["labels"][batch["labels"] != IGNORE_INDEX]  # the order of the scored logits' rows
        n = labels.numel()
        loss_sum += float(mlm_loss) * n
        correct += float((logits.argmax(-1) == labels).sum())
        masked += n
        for label, _, logits_field, name in PAIR_TASKS:
            if label in batch:
                keep = batch[label] != IGNORE_INDEX
                got = getattr(out, logits_field).argmax(-1)
                pair_ok[name] = pair_ok.get(name, 0.0) + float((got == batch[label])[keep].sum())
                pair_n[name] = pair_n.get(name, 0.0) + float(keep.sum())
    model.train(was)
    mlm_loss = loss_sum / max(masked, 1)
    res = {"eval_mlm_loss": mlm_loss, "eval_mlm_acc": correct / max(masked, 1), "eval_ppl": math.exp(min(mlm_loss, 50))}
    for name, n in pair_n.items():
        if n:
            res[f"eval_{name}_acc"] = pair_ok[name] / n
    return res
