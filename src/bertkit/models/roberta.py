"""RoBERTa (Liu et al., 2019): BERT's architecture, trained differently; two things differ in the model.

- Position ids count real tokens only, starting at pad_token_id + 1, and padding takes position
  pad_token_id (fairseq's `make_positions`): roberta-base's table has 514 rows for 512 tokens.
- One segment (type_vocab_size 1) in the released models, and no NSP head.

The weights have BERT's names inside the encoder; the heads are named lm_head.* and, for sequence
classification, a two-layer head on <s> (classifier.dense, classifier.out_proj) instead of the pooler.
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import RobertaConfig
from .base import EncoderModel, KeyTable, PreTrainedModel
from .bert import BERT_ENCODER_KEYS, BERT_QKV
from .blocks import Embeddings
from .heads import (MaskedLMModel, QuestionAnsweringModel, SequenceClassificationModel, TokenClassificationModel,
                    classifier_dropout)

Tensor = torch.Tensor

ROBERTA_KEYS = KeyTable(
    encoder=BERT_ENCODER_KEYS,
    qkv=BERT_QKV,
    heads=(
        ("lm_head.dense", "mlm.dense"),
        ("lm_head.layer_norm", "mlm.norm"),
        ("lm_head.bias", "mlm.bias"),
        ("classifier", "classifier"),  # token classification's linear, sequence classification's dense/out_proj
        ("qa_outputs", "qa_outputs"),
    ),
    derived=("lm_head.decoder.weight", "lm_head.decoder.bias",
             "embeddings.position_ids", "embeddings.token_type_ids"),
)


class RobertaPreTrainedModel(PreTrainedModel):
    config_class = RobertaConfig
    base_model_prefix = "roberta"
    key_table = ROBERTA_KEYS


class RobertaModel(RobertaPreTrainedModel, EncoderModel):
    """The bare RoBERTa encoder: BERT's, with position ids that skip padding."""

    def make_embeddings(self, config: RobertaConfig) -> Embeddings:
        return Embeddings(config, position_padding_idx=config.pad_token_id)

    def position_ids(self, input_ids: Tensor | None, B: int, T: int, device: torch.device) -> Tensor:
        """(B, T): real tokens count from pad_token_id + 1 (wherever padding sits); padding gets
        pad_token_id. From inputs_embeds, which cannot show padding: pad_token_id + 1, ..., as transformers."""
        pad = self.config.pad_token_id
        if input_ids is None:
            return torch.arange(pad + 1, pad + 1 + T, device=device).expand(B, T)
        real = input_ids.ne(pad)
        return real.cumsum(1) * real + pad


class RobertaForMaskedLM(RobertaPreTrainedModel, MaskedLMModel):
    """RoBERTa + lm_head (dense → gelu → LayerNorm → decoder tied to the word embeddings)."""

    mlm_activation = "gelu"  # fixed in RoBERTa's lm_head, whatever hidden_act says


class RobertaClassificationHead(nn.Module):
    """On <s>: dropout → dense → tanh → dropout → out_proj (fairseq's sentence classification head)."""

    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = nn.Tanh()  # ELECTRA's head is this one with gelu
        self.dropout = classifier_dropout(config)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, hidden: Tensor) -> Tensor:
        x = self.dropout(hidden[:, 0])  # (B, T, C) → (B, C)
        x = self.dropout(self.act(self.dense(x)))
        return self.out_proj(x)  # (B, num_labels)


class RobertaForSequenceClassification(RobertaPreTrainedModel, SequenceClassificationModel):
    """RoBERTa + RobertaClassificationHead (no pooler)."""

    reads_pooler = False

    def add_classifier(self, config: RobertaConfig) -> None:
        self.classifier = RobertaClassificationHead(config)

    def classify(self, out) -> Tensor:
        return self.classifier(out.last_hidden_state)


class RobertaForTokenClassification(RobertaPreTrainedModel, TokenClassificationModel):
    """Dropout → linear on every position."""


class RobertaForQuestionAnswering(RobertaPreTrainedModel, QuestionAnsweringModel):
    """A linear layer gives a start and an end logit for every token."""


RobertaPreTrainedModel.base_model_class = RobertaModel
