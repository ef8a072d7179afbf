"""Task heads over any family's encoder. Each returns `.loss` when labels are given (-100 = ignore) and logits.

The generic head models below hold the family's bare encoder at `base_model_prefix` and reach it as
`self.base_model`; a family's head class is the family base plus one of these (BertForMaskedLM is
BertPreTrainedModel + MaskedLMModel), overriding only what its layout differs in (RoBERTa's and
DistilBERT's sequence classifiers, DistilBERT's QA dropout).

Every head takes `input_ids` (B, T) or, instead, `inputs_embeds` (B, T, C) (exactly one), as in
`transformers`; the rest of the arguments keep `transformers`' order for BERT.

The MLM decoder shares its weight with the word embeddings (weight tying, as in BERT). When labels are
given, the vocabulary is decoded only at the positions that are scored, about 15% of them in
pretraining, which gives the same loss for a fraction of the largest matmul; `logits` are then
(N_scored, V) rows in the order of `labels != -100`. Without labels every position is decoded.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import PretrainedConfig
from ..errors import BertkitError, ConfigError
from .base import PreTrainedModel
from .blocks import activation
from .dropout import Dropout
from .outputs import MaskedLMOutput, QuestionAnsweringOutput, SequenceClassifierOutput, TokenClassifierOutput
from ..labels import IGNORE_INDEX
from .sparse import first_positions, scored_positions

Tensor = torch.Tensor


class MLMHead(nn.Module):
    """dense → activation → LayerNorm → decoder tied to the word embeddings (+ its own bias).
    The same computation in every family (BERT's cls.predictions, RoBERTa's lm_head, DistilBERT's
    vocab_transform/vocab_layer_norm/vocab_projector, ELECTRA's generator_predictions/generator_lm_head);
    `act` overrides config.hidden_act (RoBERTa, ELECTRA: gelu). The transform maps hidden_size to the word
    embeddings' width: `width`, else the config's `embedding_size` where it has one (ALBERT's
    predictions.dense: H → E), else hidden_size; the decoder is the (V, E) embedding table."""

    def __init__(self, config: PretrainedConfig, act: str | None = None, width: int | None = None):
        super().__init__()
        E = width or getattr(config, "embedding_size", None) or config.hidden_size
        self.dense = nn.Linear(config.hidden_size, E)
        self.act = activation(act or config.hidden_act)
        self.norm = nn.LayerNorm(E, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden: Tensor, word_embeddings: Tensor) -> Tensor:
        h = self.norm(self.act(self.dense(hidden)))  # (..., C) → (..., E)
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


def encode(model, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, output_hidden_states,
           output_attentions, read: Tensor | None = None):
    """The model's encoder; with `read` (B, T) bool (the positions the heads will read) and nothing else
    asked for, the last layer runs at those positions only (sparse.py): same loss, less work."""
    if read is not None and (output_hidden_states or output_attentions or not model.sparse_last_layer
                             or torch.compiler.is_exporting()):  # an exported graph has no data-dependent shapes
        read = None
    return model.base_model(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                            position_ids=position_ids, inputs_embeds=inputs_embeds,
                            output_hidden_states=output_hidden_states, output_attentions=output_attentions,
                            last_layer_at=read)


def masked_lm(model, hidden: Tensor, labels: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """Decode the vocabulary where it is scored (all positions without labels); return logits and loss."""
    weight = model.base_model.embeddings.word.weight
    if labels is None:
        return model.mlm(hidden, weight), None  # (B, T, V)
    picked = labels != IGNORE_INDEX
    logits = model.mlm(hidden[picked], weight)  # (N_scored, V) instead of (B·T, V)
    return logits, F.cross_entropy(logits.float(), labels[picked])


def classifier_dropout(config: PretrainedConfig) -> Dropout:
    """config.classifier_dropout, or the hidden dropout when unset (as `transformers`)."""
    p = getattr(config, "classifier_dropout", None)
    return Dropout(config.hidden_dropout_prob if p is None else p)


class MaskedLMModel(PreTrainedModel):
    """Any family's encoder (no pooler) + MLMHead. `mlm_activation` None = config.hidden_act."""

    mlm_activation: str | None = None

    def __init__(self, config: PretrainedConfig):
        super().__init__(config)
        self.add_base_model(add_pooling_layer=False)
        self.mlm = self.make_mlm_head(config)
        self.post_init()

    def make_mlm_head(self, config: PretrainedConfig) -> MLMHead:
        return MLMHead(config, self.mlm_activation)

    def get_output_embeddings(self) -> TiedDecoder:
        return TiedDecoder(self.base_model.embeddings.word, self.mlm)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_hidden_states=False, output_attentions=False,
                return_dict=True):
        out = encode(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                     output_hidden_states, output_attentions, scored_positions(labels, cls=False))
        logits, loss = masked_lm(self, out.last_hidden_state, labels)
        result = MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states,
                                attentions=out.attentions)
        return result if return_dict else result.to_tuple()


class SequenceClassificationModel(PreTrainedModel):
    """A label (or labels, or a number) per sequence. Single-label (cross-entropy), multi-label (BCE) or
    regression (MSE), chosen by `config.problem_type`, or from the labels as `transformers` does when unset.

    The classifier reads position 0 only ([CLS], <s>), so the last layer runs there alone (its keys and
    values still come from every token): the same logits for about one layer less of work. A family
    builds its classifier in `add_classifier` and applies it in `classify`; BERT's (here) reads the pooler."""

    reads_pooler: bool = True

    def __init__(self, config: PretrainedConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.add_base_model(add_pooling_layer=self.reads_pooler)
        self.add_classifier(config)
        self.post_init()

    def add_classifier(self, config: PretrainedConfig) -> None:
        self.dropout = classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def classify(self, out) -> Tensor:
        """The encoder's output → logits (B, num_labels)."""
        return self.classifier(self.dropout(out.pooler_output))

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
        if attention_mask is not None and attention_mask.dim() == 2 and attention_mask.shape[1] \
                and not torch.compiler.is_exporting() and not bool(attention_mask[:, 0].all()):
            row = int((attention_mask[:, 0] == 0).nonzero()[0])
            raise BertkitError(f"attention_mask row {row} is padding at position 0, where the classifier reads "
                               "[CLS] (<s>): the batch is padded on the left; pad on the right "
                               "(tokenizer.padding_side = 'right', the default)")
        out = encode(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                     output_hidden_states, output_attentions, first_positions(input_ids, inputs_embeds))
        logits = self.classify(out)  # (B, num_labels)
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


class TokenClassificationModel(PreTrainedModel):
    """Per-token labels (NER): dropout → linear on every position; -100 labels are ignored."""

    def __init__(self, config: PretrainedConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.add_base_model(add_pooling_layer=False)
        self.dropout = classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, output_hidden_states=False, output_attentions=False,
                return_dict=True):
        out = encode(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                     output_hidden_states, output_attentions)
        logits = self.classifier(self.dropout(out.last_hidden_state))  # (B, T, num_labels)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.float().view(-1, self.num_labels), labels.view(-1),
                                   ignore_index=IGNORE_INDEX)
        result = TokenClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states,
                                       attentions=out.attentions)
        return result if return_dict else result.to_tuple()


class QuestionAnsweringModel(PreTrainedModel):
    """Extractive QA: a start and an end logit for every token; the answer is the best valid span.

    Unlike `transformers`, padding positions get the lowest logit, so they take no part in the
    start/end softmax: an answer can never lie in padding, and the loss is then the same whether or
    not the encoder computed anything at padding (see EncoderModel.unpad). At real positions the logits
    are those of `transformers`. `qa_dropout` is the dropout before qa_outputs (DistilBERT has one).
    """

    def __init__(self, config: PretrainedConfig):
        super().__init__(config)
        if config.num_labels != 2:
            raise ConfigError(f"num_labels {config.num_labels}: question answering has two outputs, a start and "
                              "an end logit per token; use num_labels=2 (the default)")
        self.add_base_model(add_pooling_layer=False)
        p = self.qa_dropout_prob(config)
        self.qa_dropout = Dropout(p) if p else nn.Identity()
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def qa_dropout_prob(self, config: PretrainedConfig) -> float:
        return 0.0

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, start_positions=None, end_positions=None, output_hidden_states=False,
                output_attentions=False, return_dict=True):
        out = encode(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds,
                     output_hidden_states, output_attentions)
        logits = self.qa_outputs(self.qa_dropout(out.last_hidden_state))  # (B, T, 2)
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
