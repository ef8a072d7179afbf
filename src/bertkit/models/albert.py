"""ALBERT (Lan et al., 2020): BERT's post-LN layers with fewer parameters, in two ways.

- Factorised embeddings: the token, position and segment tables are `embedding_size` (E) wide, not
  `hidden_size` (H); LayerNorm and dropout work at E, and one linear map E → H (`transformers`'
  encoder.embedding_hidden_mapping_in) feeds the first layer. Here that map belongs to the embeddings
  module, so every path of the encoder (padded, unpadded, the sparse last layer) starts from H-wide
  vectors, and hidden_states[0] is the projected embeddings, as in `transformers`.
- Cross-layer sharing: `num_hidden_groups` (G) groups of `inner_group_num` layers hold every layer
  weight. Layer i of `num_hidden_layers` (L) runs group int(i / (L / G)), which runs its inner layers
  in turn: L × inner_group_num layer passes over G × inner_group_num layers' weights. The encoder's
  `layers` is that running order (the same module appearing more than once), so the shared Encoder
  loop and sparse.encoder_last_at (the last pass, at a few positions) serve ALBERT unchanged.

The layer itself is BERT's without dropout after the FFN (`transformers`' AlbertLayer has none). The
heads: an MLM head that maps H → E before the decoder tied to the (V, E) embedding table
(`predictions.*`), sentence-order prediction on the pooler (`sop_classifier.classifier`, dropout
classifier_dropout_prob), and the generic classification, token and QA heads.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import AlbertConfig
from .base import EncoderModel, KeyTable, PreTrainedModel
from .blocks import Embeddings, Encoder, Layer
from .heads import (MaskedLMModel, MLMHead, QuestionAnsweringModel, SequenceClassificationModel, TiedDecoder,
                    TokenClassificationModel, classifier_dropout, encode, masked_lm)
from .outputs import AlbertPreTrainingOutput
from .sparse import scored_positions

Tensor = torch.Tensor

_LAYER = "encoder.albert_layer_groups.{}.albert_layers.{}"  # group, then layer within the group
_OURS = "encoder.groups.{}.layers.{}"
ALBERT_KEYS = KeyTable(
    encoder=(
        ("embeddings.word_embeddings", "embeddings.word"),
        ("embeddings.position_embeddings", "embeddings.position"),
        ("embeddings.token_type_embeddings", "embeddings.token_type"),
        ("embeddings.LayerNorm", "embeddings.norm"),
        ("encoder.embedding_hidden_mapping_in", "embeddings.project"),
        (f"{_LAYER}.attention.dense", f"{_OURS}.attn.out"),
        (f"{_LAYER}.attention.LayerNorm", f"{_OURS}.attn_norm"),
        (f"{_LAYER}.ffn", f"{_OURS}.ffn.up"),
        (f"{_LAYER}.ffn_output", f"{_OURS}.ffn.down"),
        (f"{_LAYER}.full_layer_layer_norm", f"{_OURS}.ffn_norm"),
        ("pooler", "pooler.dense"),  # a bare linear layer in transformers' AlbertModel
    ),
    qkv=(f"{_LAYER}.attention.{{}}", ("query", "key", "value")),
    our_qkv=f"{_OURS}.attn.qkv",
    heads=(
        ("predictions.dense", "mlm.dense"),
        ("predictions.LayerNorm", "mlm.norm"),
        ("predictions.bias", "mlm.bias"),
        ("sop_classifier.classifier", "sop"),
        ("classifier", "classifier"),
        ("qa_outputs", "qa_outputs"),
    ),
    # the decoder is tied to the word embeddings and its bias is predictions.bias; buffers of old files
    derived=("predictions.decoder.weight", "predictions.decoder.bias",
             "embeddings.position_ids", "embeddings.token_type_ids"),
)


class AlbertPreTrainedModel(PreTrainedModel):
    """Base of ALBERT's models and heads (and of custom heads)."""

    config_class = AlbertConfig
    base_model_prefix = "albert"
    key_table = ALBERT_KEYS


class AlbertEmbeddings(Embeddings):
    """Word + position + segment embeddings at embedding_size E, LayerNorm and dropout at E, then the
    linear map E → hidden_size. (..., ) ids → (..., H)."""

    def __init__(self, config: AlbertConfig):
        super().__init__(config, width=config.embedding_size)
        self.project = nn.Linear(config.embedding_size, config.hidden_size)

    def forward(self, input_ids, token_type_ids, position_ids, inputs_embeds=None) -> Tensor:
        x = super().forward(input_ids, token_type_ids, position_ids, inputs_embeds)  # (..., E)
        return self.project(x)  # (..., H)


class AlbertLayer(Layer):
    """BERT's layer without dropout after the FFN, as `transformers`' AlbertLayer."""

    def __init__(self, config: AlbertConfig):
        super().__init__(config)
        self.ffn_dropout = nn.Identity()


class AlbertLayerGroup(nn.Module):
    """inner_group_num layers with their own weights, run one after another each time the group runs."""

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.layers = nn.ModuleList(AlbertLayer(config) for _ in range(config.inner_group_num))


class AlbertEncoder(Encoder):
    """G groups of shared layers; `layers` lists the L × inner_group_num passes in running order."""

    def __init__(self, config: AlbertConfig):
        nn.Module.__init__(self)
        self.groups = nn.ModuleList(AlbertLayerGroup(config) for _ in range(config.num_hidden_groups))
        self.group_of_layer = [config.group_of_layer(i) for i in range(config.num_hidden_layers)]

    @property
    def layers(self) -> list[AlbertLayer]:
        """Every layer pass in order: group int(i / (L / G))'s inner layers for i = 0 .. L - 1. The same
        module appears once per pass; it is registered (and counted) once, under `groups`."""
        return [layer for g in self.group_of_layer for layer in self.groups[g].layers]


class AlbertModel(AlbertPreTrainedModel, EncoderModel):
    """The bare ALBERT encoder: `last_hidden_state` (B, T, H), `pooler_output` (B, H). hidden_states
    (when asked) holds the projected embeddings and one entry per layer pass (L × inner_group_num),
    attentions one map per pass, as in `transformers`. inputs_embeds are (B, T, embedding_size)."""

    layer_class = AlbertLayer

    def make_embeddings(self, config: AlbertConfig) -> AlbertEmbeddings:
        return AlbertEmbeddings(config)

    def make_encoder(self, config: AlbertConfig) -> AlbertEncoder:
        return AlbertEncoder(config)


class AlbertForPreTraining(AlbertPreTrainedModel):
    """Masked language model + sentence-order prediction (SOP), ALBERT's two pretraining objectives.

    `labels` (B, T): MLM targets, -100 = not scored; `sentence_order_label` (B,): 0 = the two segments
    in their order, 1 = swapped (transformers' names). loss = mlm_loss + sop_loss, or whichever of the
    two has its labels (transformers needs both). With labels the vocabulary is decoded only at scored
    positions: prediction_logits is then (N_scored, V), in the order of `labels != -100`."""

    def __init__(self, config: AlbertConfig):
        super().__init__(config)
        self.add_base_model()
        self.mlm = MLMHead(config)
        self.sop_dropout = classifier_dropout(config)
        self.sop = nn.Linear(config.hidden_size, config.num_labels)  # transformers: num_labels outputs (2)
        self.post_init()

    def get_output_embeddings(self) -> TiedDecoder:
        return TiedDecoder(self.base_model.embeddings.word, self.mlm)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, sentence_order_label=None, output_hidden_states=False,
                output_attentions=False, return_dict=True):
        out = encode(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                     output_hidden_states, output_attentions, scored_positions(labels, cls=True))
        logits, mlm_loss = masked_lm(self, out.last_hidden_state, labels)
        sop_logits = self.sop(self.sop_dropout(out.pooler_output))  # (B, num_labels)
        sop_loss = None
        if sentence_order_label is not None:
            sop_loss = F.cross_entropy(sop_logits.float().view(-1, sop_logits.shape[-1]),
                                       sentence_order_label.view(-1))
        parts = [x for x in (mlm_loss, sop_loss) if x is not None]
        result = AlbertPreTrainingOutput(
            loss=sum(parts) if parts else None, prediction_logits=logits, sop_logits=sop_logits,
            hidden_states=out.hidden_states, attentions=out.attentions, mlm_loss=mlm_loss, sop_loss=sop_loss)
        return result if return_dict else result.to_tuple()


class AlbertForMaskedLM(AlbertPreTrainedModel, MaskedLMModel):
    """ALBERT (no pooler) + predictions: dense H → E, activation, LayerNorm, decoder tied to the embeddings."""


class AlbertForSequenceClassification(AlbertPreTrainedModel, SequenceClassificationModel):
    """Pooler → dropout (classifier_dropout_prob) → linear."""


class AlbertForTokenClassification(AlbertPreTrainedModel, TokenClassificationModel):
    """Dropout (classifier_dropout_prob) → linear on every position."""


class AlbertForQuestionAnswering(AlbertPreTrainedModel, QuestionAnsweringModel):
    """A linear layer gives a start and an end logit for every token."""


AlbertPreTrainedModel.base_model_class = AlbertModel
