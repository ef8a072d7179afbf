"""Task heads on top of BertModel. Each returns `.loss` when labels are given (-100 = ignore) and logits.

Every head takes `input_ids` (B, T) or, instead, `inputs_embeds` (B, T, C) (exactly one), as in
`transformers`; the rest of the arguments keep `transformers`' order.

The MLM decoder shares its weight with the word embeddings (weight tying, as in BERT). When labels are
given, the vocabulary is decoded only at the positions that are scored, about 15% of them in
pretraining, which gives the same loss for a fraction of the largest matmul; `logits` are then
(N_scored, V) rows in the order of `labels != -100`. Without labels every position is decoded.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import BertConfig
from .bert import BertModel, BertPreTrainedModel, activation
from .dropout import Dropout
from .outputs import (MaskedLMOutput, PreTrainingOutput, QuestionAnsweringOutput, SequenceClassifierOutput,
                      TokenClassifierOutput)

Tensor = torch.Tensor
IGNORE = -100


class MLMHead(nn.Module):
    """dense → activation → LayerNorm → decoder tied to the word embeddings (+ its own bias)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = activation(config.hidden_act)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden: Tensor, word_embeddings: Tensor) -> Tensor:
        h = self.norm(self.act(self.dense(hidden)))  # (..., C)
        return F.linear(h, word_embeddings, self.bias)  # (..., V)


class TiedDecoder(nn.Module):
    """What `get_output_embeddings()` gives for an MLM head: the vocabulary decoder seen as a linear
    layer (C → V). Its `weight` is the word-embedding table itself (tied) and its `bias` the head's
    own (V,) bias; it holds no parameters of its own and is not part of the model's state dict."""

    def __init__(self, word_embeddings: nn.Embedding, head: MLMHead):
        super().__init__()
        self._parts = (word_embeddings, head)  # a tuple, so not registered as submodules

    @property
    def weight(self) -> nn.Parameter:
        return self._parts[0].weight  # (V, C)

    @property
    def bias(self) -> nn.Parameter:
        return self._parts[1].bias  # (V,)

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    def forward(self, h: Tensor) -> Tensor:
        return F.linear(h, self.weight, self.bias)  # (..., C) → (..., V)


def _mlm(model, hidden: Tensor, labels: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """Decode the vocabulary where it is scored (all positions without labels); return logits and loss."""
    weight = model.bert.embeddings.word.weight
    if labels is None:
        return model.mlm(hidden, weight), None  # (B, T, V)
    picked = labels != IGNORE
    logits = model.mlm(hidden[picked], weight)  # (N_scored, V) instead of (B·T, V)
    return logits, F.cross_entropy(logits.float(), labels[picked])


def _encode(model, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, output_hidden_states,
            output_attentions, read: Tensor | None = None):
    """The encoder; with `read` (B, T) bool (the positions the heads will read) and nothing else asked
    for, the last layer runs at those positions only: same loss, less work."""
    if read is not None and (output_hidden_states or output_attentions or not model.sparse_last_layer):
        read = None
    return model.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                      position_ids=position_ids, inputs_embeds=inputs_embeds,
                      output_hidden_states=output_hidden_states, output_attentions=output_attentions,
                      last_layer_at=read)


def _read_positions(labels: Tensor | None, cls: bool) -> Tensor | None:
    """(B, T) bool: the positions the MLM loss scores, plus [CLS] (position 0) when the pooler reads it."""
    if labels is None:
        return None
    read = labels != IGNORE
    if cls:
        read[:, 0] = True
    return read


def _cls_positions(input_ids, inputs_embeds=None) -> Tensor | None:
    """(B, T) bool, True at [CLS] (position 0): what the pooler reads. None for input that is not one
    non-empty (B, T) id tensor or (B, T, C) embedding tensor; BertModel then says what is wrong with it."""
    given, dims = (input_ids, 2) if inputs_embeds is None else (inputs_embeds, 3)
    if (input_ids is not None and inputs_embeds is not None) or not isinstance(given, Tensor) \
            or given.dim() != dims or given.shape[1] == 0:
        return None
    read = torch.zeros(given.shape[:2], dtype=torch.bool, device=given.device)
    read[:, 0] = True
    return read


class BertForPreTraining(BertPreTrainedModel):
    """Masked language model + next sentence prediction, the two BERT pretraining objectives."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)
        self.mlm = MLMHead(config)
        self.nsp = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def get_output_embeddings(self) -> TiedDecoder:
        return TiedDecoder(self.bert.embeddings.word, self.mlm)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, next_sentence_label=None, output_hidden_states=False,
                output_attentions=False, return_dict=True):
        out = _encode(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                      output_hidden_states, output_attentions, _read_positions(labels, cls=True))
        logits, mlm_loss = _mlm(self, out.last_hidden_state, labels)
        nsp_logits = self.nsp(out.pooler_output)  # (B, 2)
        nsp_loss = None
        if next_sentence_label is not None:
            nsp_loss = F.cross_entropy(nsp_logits.float(), next_sentence_label.view(-1))
        parts = [x for x in (mlm_loss, nsp_loss) if x is not None]
        result = PreTrainingOutput(
            loss=sum(parts) if parts else None, prediction_logits=logits, seq_relationship_logits=nsp_logits,
            hidden_states=out.hidden_states, attentions=out.attentions, mlm_loss=mlm_loss, nsp_loss=nsp_loss)
        return result if return_dict else result.to_tuple()


class BertForMaskedLM(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.mlm = MLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> TiedDecoder:
        return TiedDecoder(self.bert.embeddings.word, self.mlm)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_hidden_states=False, output_attentions=False,
                return_dict=True):
        out = _encode(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                      output_hidden_states, output_attentions, _read_positions(labels, cls=False))
        logits, loss = _mlm(self, out.last_hidden_state, labels)
        result = MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states,
                                attentions=out.attentions)
        return result if return_dict else result.to_tuple()


def _classifier_dropout(config: BertConfig) -> nn.Dropout:
    p = config.classifier_dropout
    return Dropout(config.hidden_dropout_prob if p is None else p)


class BertForSequenceClassification(BertPreTrainedModel):
    """[CLS] pooler → dropout → linear. Single-label (cross-entropy), multi-label (BCE) or regression
    (MSE), chosen by `config.problem_type`, or from the labels as `transformers` does when unset.

    Only [CLS] is read, so the last layer runs at [CLS] alone (its keys and values still come from
    every token): the same logits for about one layer less of work."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
        self.dropout = _classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def _problem_type(self, labels: Tensor) -> str:
        if self.config.problem_type is None:
            if self.num_labels == 1:
                self.config.problem_type = "regression"
            elif labels.dtype in (torch.long, torch.int):
                self.config.problem_type = "single_label_classification"
            else:
                self.config.problem_type = "multi_label_classification"
        return self.config.problem_type

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_hidden_states=False, output_attentions=False,
                return_dict=True):
        out = _encode(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                      output_hidden_states, output_attentions, _cls_positions(input_ids, inputs_embeds))
        logits = self.classifier(self.dropout(out.pooler_output))  # (B, num_labels)
        loss = None
        if labels is not None:
            kind = self._problem_type(labels)
            if kind == "regression":
                target = labels.float()
                loss = F.mse_loss(logits.float().squeeze(-1), target.view(-1)) if self.num_labels == 1 \
                    else F.mse_loss(logits.float(), target)
            elif kind == "single_label_classification":
                loss = F.cross_entropy(logits.float().view(-1, self.num_labels), labels.view(-1))
            else:
                loss = F.binary_cross_entropy_with_logits(logits.float(), labels.float())
        result = SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states,
                                          attentions=out.attentions)
        return result if return_dict else result.to_tuple()


class BertForTokenClassification(BertPreTrainedModel):
    """Per-token labels (NER): dropout → linear on every position; -100 labels are ignored."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = _classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_hidden_states=False, output_attentions=False,
                return_dict=True):
        out = _encode(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                      output_hidden_states, output_attentions)
        logits = self.classifier(self.dropout(out.last_hidden_state))  # (B, T, num_labels)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.float().view(-1, self.num_labels), labels.view(-1),
                                   ignore_index=IGNORE)
        result = TokenClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states,
                                       attentions=out.attentions)
        return result if return_dict else result.to_tuple()


class BertForQuestionAnswering(BertPreTrainedModel):
    """Extractive QA: a start and an end logit for every token; the answer is the best valid span.

    Unlike `transformers`, padding positions get the lowest logit, so they take no part in the
    start/end softmax: an answer can never lie in padding, and the loss is then the same whether or
    not the encoder computed anything at padding (see BertModel.unpad). At real positions the logits
    are those of `transformers`.
    """

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, start_positions=None, end_positions=None, output_hidden_states=False,
                output_attentions=False, return_dict=True):
        out = _encode(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                      output_hidden_states, output_attentions)
        logits = self.qa_outputs(out.last_hidden_state)  # (B, T, 2)
        if attention_mask is not None:
            pad = ~attention_mask.bool().unsqueeze(-1)  # (B, T, 1)
            logits = logits.masked_fill(pad, torch.finfo(logits.dtype).min)
        start_logits, end_logits = (t.squeeze(-1).contiguous() for t in logits.split(1, dim=-1))  # 2 × (B, T)
        loss = None
        if start_positions is not None and end_positions is not None:
            # positions outside the sequence (answer cut off by truncation) are ignored, as in transformers
            T = start_logits.size(1)
            start = start_positions.view(-1).clamp(0, T)
            end = end_positions.view(-1).clamp(0, T)
            loss = (F.cross_entropy(start_logits.float(), start, ignore_index=T)
                    + F.cross_entropy(end_logits.float(), end, ignore_index=T)) / 2
        result = QuestionAnsweringOutput(loss=loss, start_logits=start_logits, end_logits=end_logits,
                                         hidden_states=out.hidden_states, attentions=out.attentions)
        return result if return_dict else result.to_tuple()


HEADS = {
    "BertModel": BertModel,
    "BertForPreTraining": BertForPreTraining,
    "BertForMaskedLM": BertForMaskedLM,
    "BertForSequenceClassification": BertForSequenceClassification,
    "BertForTokenClassification": BertForTokenClassification,
    "BertForQuestionAnswering": BertForQuestionAnswering,
}
