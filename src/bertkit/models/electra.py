"""ELECTRA (Clark et al., 2020; google-research/electra): BERT's encoder, pretrained as a discriminator.

A small generator (a masked LM) fills masked positions with samples; the discriminator, the model
kept for fine-tuning, tells for every token whether it was replaced. In the model, two things differ
from BERT:
- the token, position and segment embeddings are `embedding_size` wide, and a linear layer
  (`embeddings_project`) maps them to hidden_size when the two differ (ELECTRA-Small: 128 → 256);
  a generator and its discriminator share these tables;
- no pooler. The heads: the discriminator's (ElectraForPreTraining: dense → hidden_act → one logit
  per token), the generator's MLM head (dense to embedding_size → gelu → LayerNorm → decoder tied to
  the word embeddings), and a sequence classifier on [CLS] shaped like RoBERTa's but with gelu.
`share_embeddings(generator, discriminator)` ties a generator's embeddings to its discriminator's.

The layers are BERT's, under BERT's names (encoder.layer.N...) with the prefix `electra.` in head models.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ElectraConfig
from ..errors import BertkitError, ConfigError
from .base import EncoderModel, KeyTable, PreTrainedModel
from .bert import BERT_ENCODER_KEYS, BERT_QKV
from .blocks import Embeddings, activation
from .heads import (MaskedLMModel, MLMHead, QuestionAnsweringModel, SequenceClassificationModel,
                    TokenClassificationModel, encode)
from .outputs import ReplacedTokenDetectionOutput
from .roberta import RobertaClassificationHead

Tensor = torch.Tensor

ELECTRA_KEYS = KeyTable(
    encoder=tuple(pair for pair in BERT_ENCODER_KEYS if not pair[0].startswith("pooler."))
    + (("embeddings_project", "embeddings.project"),),
    qkv=BERT_QKV,
    heads=(
        ("discriminator_predictions.dense_prediction", "discriminator.out"),
        ("discriminator_predictions.dense", "discriminator.dense"),
        ("generator_predictions.dense", "mlm.dense"),
        ("generator_predictions.LayerNorm", "mlm.norm"),
        ("generator_lm_head.bias", "mlm.bias"),
        ("classifier", "classifier"),  # token classification's linear, sequence classification's dense/out_proj
        ("qa_outputs", "qa_outputs"),
    ),
    # the generator's decoder is tied to the word embeddings (its bias is generator_lm_head.bias);
    # position_ids and token_type_ids are buffers in old files
    derived=("generator_lm_head.weight", "embeddings.position_ids", "embeddings.token_type_ids"),
)


class ElectraPreTrainedModel(PreTrainedModel):
    config_class = ElectraConfig
    base_model_prefix = "electra"
    key_table = ELECTRA_KEYS


class ElectraEmbeddings(Embeddings):
    """BERT's embeddings in embedding_size (E), then E → hidden_size when they differ. (..., E or C) → (..., C)"""

    def __init__(self, config: ElectraConfig):
        super().__init__(config, width=config.embedding_size)
        E, C = config.embedding_size, config.hidden_size
        self.project = nn.Linear(E, C) if E != C else None

    def forward(self, input_ids, token_type_ids, position_ids, inputs_embeds=None) -> Tensor:
        x = super().forward(input_ids, token_type_ids, position_ids, inputs_embeds)  # (..., E)
        return x if self.project is None else self.project(x)  # (..., C)


def share_embeddings(generator: PreTrainedModel, discriminator: PreTrainedModel) -> None:
    """Make `generator` use `discriminator`'s token, position and segment tables and their LayerNorm, as
    google-research/electra shares its "electra/embeddings" scope between the two; each keeps its own
    embeddings_project (E → its hidden size). Any ELECTRA models (bare or heads) work; the generator's
    MLM decoder, tied to the word embeddings, follows. The modules are shared, not copied: one
    backward over both losses sums both gradients there (an optimizer over the two models' parameters
    must take each shared one once). Raises ConfigError when the tables' shapes differ."""
    g, d = generator.base_model.embeddings, discriminator.base_model.embeddings
    for name in ("word", "position", "token_type", "norm"):
        a, b = getattr(g, name), getattr(d, name)
        if a.weight.shape != b.weight.shape:
            raise ConfigError(f"share_embeddings: the generator's {name} embeddings are {tuple(a.weight.shape)}, "
                              f"the discriminator's {tuple(b.weight.shape)}; build the generator's config with "
                              "discriminator_config.generator_config()")
    for name in ("word", "position", "token_type", "norm"):
        setattr(g, name, getattr(d, name))


class ElectraModel(ElectraPreTrainedModel, EncoderModel):
    """The bare ELECTRA encoder: `last_hidden_state` (B, T, C); no pooler (pooler_output is None).
    `inputs_embeds` are (B, T, embedding_size), as the word embeddings."""

    has_pooler = False

    def make_embeddings(self, config: ElectraConfig) -> ElectraEmbeddings:
        return ElectraEmbeddings(config)


class DiscriminatorHead(nn.Module):
    """dense → hidden_act → one logit per token: > 0 means "replaced". (..., C) → (...)"""

    def __init__(self, config: ElectraConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = activation(config.hidden_act)
        self.out = nn.Linear(config.hidden_size, 1)

    def forward(self, hidden: Tensor) -> Tensor:
        return self.out(self.act(self.dense(hidden))).squeeze(-1)


class ElectraForPreTraining(ElectraPreTrainedModel):
    """The discriminator: replaced-token detection, a logit per token (B, T).

    `labels` (B, T): 1 where the token was replaced, 0 where it is the original. The loss is binary
    cross-entropy with logits, averaged over the real tokens (attention_mask 1; every token without a
    mask), as `transformers` computes it; padding's labels are not read."""

    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.add_base_model(add_pooling_layer=False)
        self.discriminator = DiscriminatorHead(config)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_hidden_states=False, output_attentions=False,
                return_dict=True):
        out = encode(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                     output_hidden_states, output_attentions)
        logits = self.discriminator(out.last_hidden_state)  # (B, T)
        loss = None
        if labels is not None:
            if labels.shape != logits.shape:
                raise BertkitError(f"labels has shape {tuple(labels.shape)}, expected {tuple(logits.shape)} "
                                   "(batch, seq_len): one label per token, 1 = replaced, 0 = original")
            real = attention_mask.bool() if attention_mask is not None else torch.ones_like(logits, dtype=torch.bool)
            loss = F.binary_cross_entropy_with_logits(logits[real].float(), labels[real].float())
        result = ReplacedTokenDetectionOutput(loss=loss, logits=logits, hidden_states=out.hidden_states,
                                              attentions=out.attentions)
        return result if return_dict else result.to_tuple()


class ElectraForMaskedLM(ElectraPreTrainedModel, MaskedLMModel):
    """The generator: ELECTRA + generator_predictions (dense to embedding_size → gelu → LayerNorm) +
    generator_lm_head (tied to the word embeddings, its own bias). With labels, the vocabulary is decoded
    at the scored positions only (see heads.py)."""

    mlm_activation = "gelu"  # fixed in ELECTRA's generator head, whatever hidden_act says

    def make_mlm_head(self, config: ElectraConfig) -> MLMHead:
        return MLMHead(config, self.mlm_activation, width=config.embedding_size)


class ElectraClassificationHead(RobertaClassificationHead):
    """On [CLS]: dropout → dense → gelu → dropout → out_proj: RoBERTa's head with gelu, as ELECTRA's
    authors have it (and `transformers`)."""

    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.act = activation("gelu")


class ElectraForSequenceClassification(ElectraPreTrainedModel, SequenceClassificationModel):
    """ELECTRA + ElectraClassificationHead (no pooler); the last layer runs at [CLS] only."""

    reads_pooler = False

    def add_classifier(self, config: ElectraConfig) -> None:
        self.classifier = ElectraClassificationHead(config)

    def classify(self, out) -> Tensor:
        return self.classifier(out.last_hidden_state)


class ElectraForTokenClassification(ElectraPreTrainedModel, TokenClassificationModel):
    """Dropout → linear on every position."""


class ElectraForQuestionAnswering(ElectraPreTrainedModel, QuestionAnsweringModel):
    """A linear layer gives a start and an end logit for every token."""


ElectraPreTrainedModel.base_model_class = ElectraModel
