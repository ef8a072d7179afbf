"""DistilBERT (Sanh et al., 2019): a BERT with half the layers, trained by distillation.

The same post-LN layers under other names (q_lin/k_lin/v_lin/out_lin, sa_layer_norm, ffn.lin1/lin2,
output_layer_norm), and:
- no segment embeddings (token_type_ids are accepted and ignored, as users pass a BERT tokenizer's
  output) and no pooler;
- no dropout on the attention output (only on the attention weights and after the FFN);
- optionally a fixed sinusoidal position table (`sinusoidal_pos_embds`);
- heads named vocab_transform/vocab_layer_norm/vocab_projector (MLM), pre_classifier + classifier
  (sequence classification, ReLU between), and a dropout before qa_outputs.
"""
from __future__ import annotations


import torch
from torch import nn

from ..config import DistilBertConfig
from .base import EncoderModel, KeyTable, PreTrainedModel
from .blocks import Embeddings, Layer
from .dropout import Dropout
from .heads import MaskedLMModel, QuestionAnsweringModel, SequenceClassificationModel, TokenClassificationModel

Tensor = torch.Tensor

DISTILBERT_KEYS = KeyTable(
    encoder=(
        ("embeddings.word_embeddings", "embeddings.word"),
        ("embeddings.position_embeddings", "embeddings.position"),
        ("embeddings.LayerNorm", "embeddings.norm"),
        ("transformer.layer.{}.attention.out_lin", "encoder.layers.{}.attn.out"),
        ("transformer.layer.{}.sa_layer_norm", "encoder.layers.{}.attn_norm"),
        ("transformer.layer.{}.ffn.lin1", "encoder.layers.{}.ffn.up"),
        ("transformer.layer.{}.ffn.lin2", "encoder.layers.{}.ffn.down"),
        ("transformer.layer.{}.output_layer_norm", "encoder.layers.{}.ffn_norm"),
    ),
    qkv=("transformer.layer.{}.attention.{}", ("q_lin", "k_lin", "v_lin")),
    heads=(
        ("vocab_transform", "mlm.dense"),
        ("vocab_layer_norm", "mlm.norm"),
        ("vocab_projector.bias", "mlm.bias"),
        ("pre_classifier", "pre_classifier"),
        ("classifier", "classifier"),
        ("qa_outputs", "qa_outputs"),
    ),
    derived=("vocab_projector.weight", "embeddings.position_ids"),
)


def sinusoids(n_positions: int, dim: int) -> Tensor:
    """(n_positions, dim): sin at even, cos at odd columns, wavelengths 2π·10000^(2i/dim) (Vaswani et al., 2017)."""
    pos = torch.arange(n_positions, dtype=torch.float64)[:, None]  # (P, 1)
    rate = torch.pow(10000.0, -(torch.arange(dim) // 2 * 2).double() / dim)  # (dim,)
    angles = pos * rate  # (P, dim)
    out = torch.empty(n_positions, dim, dtype=torch.float64)
    out[:, 0::2], out[:, 1::2] = angles[:, 0::2].sin(), angles[:, 1::2].cos()
    return out.float()


class DistilBertPreTrainedModel(PreTrainedModel):
    config_class = DistilBertConfig
    base_model_prefix = "distilbert"
    key_table = DISTILBERT_KEYS

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, Embeddings) and self.config.sinusoidal_pos_embds:
            # apply() reaches the Embeddings after its tables: this replaces the random position table
            table = module.position.weight
            table.copy_(sinusoids(*table.shape))
            table.requires_grad_(False)


class DistilBertLayer(Layer):
    """BERT's layer without dropout on the attention output."""

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.attn_dropout = nn.Identity()


class DistilBertModel(DistilBertPreTrainedModel, EncoderModel):
    """The bare DistilBERT encoder: `last_hidden_state` (B, T, C); no pooler (pooler_output is None)."""

    layer_class = DistilBertLayer
    has_pooler = False


class DistilBertForMaskedLM(DistilBertPreTrainedModel, MaskedLMModel):
    """DistilBERT + vocab_transform → activation → vocab_layer_norm → vocab_projector (tied)."""


class DistilBertForSequenceClassification(DistilBertPreTrainedModel, SequenceClassificationModel):
    """On [CLS]: pre_classifier → ReLU → dropout (seq_classif_dropout) → classifier."""

    reads_pooler = False

    def add_classifier(self, config: DistilBertConfig) -> None:
        self.pre_classifier = nn.Linear(config.dim, config.dim)
        self.dropout = Dropout(config.seq_classif_dropout)
        self.classifier = nn.Linear(config.dim, config.num_labels)

    def classify(self, out) -> Tensor:
        h = torch.relu(self.pre_classifier(out.last_hidden_state[:, 0]))  # (B, C)
        return self.classifier(self.dropout(h))  # (B, num_labels)


class DistilBertForTokenClassification(DistilBertPreTrainedModel, TokenClassificationModel):
    """Dropout → linear on every position."""


class DistilBertForQuestionAnswering(DistilBertPreTrainedModel, QuestionAnsweringModel):
    """Dropout (qa_dropout) → a linear layer giving a start and an end logit for every token."""

    def qa_dropout_prob(self, config: DistilBertConfig) -> float:
        return config.qa_dropout


DistilBertPreTrainedModel.base_model_class = DistilBertModel
