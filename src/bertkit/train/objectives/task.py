"""Fine-tuning's objective: the task head's own loss (cross-entropy, CRF, span loss), `model(**batch).loss`."""
from __future__ import annotations

from torch import nn


class TaskObjective:
    """(loss, {"loss"}) of a head called with its labels in the batch."""

    def __call__(self, model: nn.Module, batch: dict):
        loss = model(**batch).loss
        return loss, ({"loss": loss.detach()} if loss is not None else {})
