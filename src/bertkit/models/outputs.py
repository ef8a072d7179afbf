"""Model outputs: dataclasses that also index like tuples, as `transformers` outputs do.

`outputs.logits`, `outputs["logits"]` and `outputs[0]` all work. Integer indexing counts only the
fields that are set, in declaration order, so `loss` is `outputs[0]` when labels were given and
absent otherwise, exactly as in `transformers`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch

Tensor = torch.Tensor


class ModelOutput:
    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None)

    def keys(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def __getitem__(self, key):
        if isinstance(key, str):
            return getattr(self, key)
        return self.to_tuple()[key]

    def __iter__(self):
        return iter(self.to_tuple())

    def __len__(self) -> int:
        return len(self.to_tuple())


@dataclass
class BaseModelOutput(ModelOutput):
    last_hidden_state: Tensor | None = None  # (B, T, C)
    pooler_output: Tensor | None = None  # (B, C)
    hidden_states: tuple[Tensor, ...] | None = None  # num_layers + 1 of (B, T, C)
    attentions: tuple[Tensor, ...] | None = None  # num_layers of (B, H, T, T)


@dataclass
class PreTrainingOutput(ModelOutput):
    loss: Tensor | None = None
    prediction_logits: Tensor | None = None  # (B, T, V), or (N_masked, V) when labels were given
    seq_relationship_logits: Tensor | None = None  # (B, 2)
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None
    mlm_loss: Tensor | None = None
    nsp_loss: Tensor | None = None

    @property
    def logits(self) -> Tensor | None:
        return self.prediction_logits


@dataclass
class AlbertPreTrainingOutput(ModelOutput):
    """ALBERT's pretraining output: masked LM + sentence-order prediction (transformers'
    AlbertForPreTrainingOutput, plus the two losses apart)."""

    loss: Tensor | None = None
    prediction_logits: Tensor | None = None  # (B, T, V), or (N_masked, V) when labels were given
    sop_logits: Tensor | None = None  # (B, 2): 0 = the segments in order, 1 = swapped
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None
    mlm_loss: Tensor | None = None
    sop_loss: Tensor | None = None

    @property
    def logits(self) -> Tensor | None:
        return self.prediction_logits


@dataclass
class MaskedLMOutput(ModelOutput):
    loss: Tensor | None = None
    logits: Tensor | None = None  # (B, T, V), or (N_masked, V) when labels were given
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass
class SequenceClassifierOutput(ModelOutput):
    loss: Tensor | None = None
    logits: Tensor | None = None  # (B, num_labels)
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass
class TokenClassifierOutput(ModelOutput):
    loss: Tensor | None = None
    logits: Tensor | None = None  # (B, T, num_labels)
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass
class QuestionAnsweringOutput(ModelOutput):
    loss: Tensor | None = None
    start_logits: Tensor | None = None  # (B, T)
    end_logits: Tensor | None = None  # (B, T)
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass
class ReplacedTokenDetectionOutput(ModelOutput):
    """ELECTRA's discriminator (transformers' ElectraForPreTrainingOutput)."""

    loss: Tensor | None = None
    logits: Tensor | None = None  # (B, T): > 0 where the token is predicted replaced
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None
