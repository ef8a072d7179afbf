"""BERT (Devlin et al., 2019; google-research/bert): the family every other one here varies.

BERT is the shared blocks as they are (blocks.py): word + position + segment embeddings, post-LN
layers, a tanh pooler over [CLS]. This file names BERT's classes and declares how `transformers`
names BERT's weights (BERT_KEYS); the heads are the generic ones of heads.py, plus BERT's own
pretraining head (masked LM + next sentence prediction).
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from ..config import BertConfig
from .base import EncoderModel, KeyTable, PreTrainedModel
from .heads import (MaskedLMModel, MLMHead, QuestionAnsweringModel, SequenceClassificationModel,
                    TiedDecoder, TokenClassificationModel, encode, masked_lm)
from .outputs import PreTrainingOutput
from .sparse import scored_positions

# (Hugging Face, bertkit) module paths; "{}" is a layer number.
BERT_ENCODER_KEYS = (
    ("embeddings.word_embeddings", "embeddings.word"),
    ("embeddings.position_embeddings", "embeddings.position"),
    ("embeddings.token_type_embeddings", "embeddings.token_type"),
    ("embeddings.LayerNorm", "embeddings.norm"),
    ("encoder.layer.{}.attention.output.dense", "encoder.layers.{}.attn.out"),
    ("encoder.layer.{}.attention.output.LayerNorm", "encoder.layers.{}.attn_norm"),
    ("encoder.layer.{}.intermediate.dense", "encoder.layers.{}.ffn.up"),
    ("encoder.layer.{}.output.dense", "encoder.layers.{}.ffn.down"),
    ("encoder.layer.{}.output.LayerNorm", "encoder.layers.{}.ffn_norm"),
    ("pooler.dense", "pooler.dense"),
)
BERT_QKV = ("encoder.layer.{}.attention.self.{}", ("query", "key", "value"))
BERT_KEYS = KeyTable(
    encoder=BERT_ENCODER_KEYS,
    qkv=BERT_QKV,
    heads=(
        ("cls.predictions.transform.dense", "mlm.dense"),
        ("cls.predictions.transform.LayerNorm", "mlm.norm"),
        ("cls.predictions.bias", "mlm.bias"),
        ("cls.seq_relationship", "nsp"),
        ("classifier", "classifier"),
        ("qa_outputs", "qa_outputs"),
    ),
    # the decoder is tied to the word embeddings and its bias is cls.predictions.bias; position_ids and
    # token_type_ids are buffers in old files
    derived=("cls.predictions.decoder.weight", "cls.predictions.decoder.bias",
             "embeddings.position_ids", "embeddings.token_type_ids"),
)


class BertPreTrainedModel(PreTrainedModel):
    """Base of BERT's models and heads (and of custom heads, as in `transformers` tutorials)."""

    config_class = BertConfig
    base_model_prefix = "bert"
    key_table = BERT_KEYS


class BertModel(BertPreTrainedModel, EncoderModel):
    """The bare BERT encoder: `last_hidden_state` (B, T, C), `pooler_output` (B, C)."""


class BertForPreTraining(BertPreTrainedModel):
    """Masked language model + next sentence prediction, the two BERT pretraining objectives."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.add_base_model()
        self.mlm = MLMHead(config)
        self.nsp = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def get_output_embeddings(self) -> TiedDecoder:
        return TiedDecoder(self.base_model.embeddings.word, self.mlm)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, next_sentence_label=None, output_hidden_states=False,
                output_attentions=False, return_dict=True):
        out = encode(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                     output_hidden_states, output_attentions, scored_positions(labels, cls=True))
        logits, mlm_loss = masked_lm(self, out.last_hidden_state, labels)
        nsp_logits = self.nsp(out.pooler_output)  # (B, 2)
        nsp_loss = None
        if next_sentence_label is not None:
            nsp_loss = F.cross_entropy(nsp_logits.float(), next_sentence_label.view(-1))
        parts = [x for x in (mlm_loss, nsp_loss) if x is not None]
        result = PreTrainingOutput(
            loss=sum(parts) if parts else None, prediction_logits=logits, seq_relationship_logits=nsp_logits,
            hidden_states=out.hidden_states, attentions=out.attentions, mlm_loss=mlm_loss, nsp_loss=nsp_loss)
        return result if return_dict else result.to_tuple()


class BertForMaskedLM(BertPreTrainedModel, MaskedLMModel):
    """BERT + the masked-LM head (no pooler)."""


class BertForSequenceClassification(BertPreTrainedModel, SequenceClassificationModel):
    """[CLS] pooler → dropout → linear."""


class BertForTokenClassification(BertPreTrainedModel, TokenClassificationModel):
    """Dropout → linear on every position."""


class BertForQuestionAnswering(BertPreTrainedModel, QuestionAnsweringModel):
    """A linear layer gives a start and an end logit for every token."""


BertPreTrainedModel.base_model_class = BertModel
