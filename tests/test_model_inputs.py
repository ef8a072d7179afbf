"""Fast unit tests of what models take besides token ids, without `transformers` (its parity is in
tests/parity/test_model_inputs_parity.py): `inputs_embeds` (errors, fast paths, gradients, attribution),
BertConfig built from `transformers` keywords, and `resize_token_embeddings`."""
from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import re

import pytest
import torch
from torch import nn

import bertkit
from bertkit import (BertConfig, BertForMaskedLM, BertForPreTraining, BertForSequenceClassification, BertkitError,
                     BertModel, ConfigError)
from bertkit.models import HEADS, BertPreTrainedModel
from bertkit.models import padding as padding_module
from bertkit.models import sparse as sparse_module
from bertkit.models.heads import TiedDecoder
from test_model import V, MyModel, batch, make, max_diff, mlm_labels, tiny_config


pytestmark = pytest.mark.usefixtures("one_thread")


def words(model, input_ids):
    return model.get_input_embeddings()(input_ids).detach()


# -- inputs_embeds: errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("head", list(HEADS))
def test_exactly_one_of_input_ids_and_inputs_embeds(head):
    model = make(HEADS[head])
    inputs = batch()
    embeds = words(model, inputs["input_ids"])
    with pytest.raises(BertkitError, match=r"input_ids, inputs_embeds: both were given; pass exactly one of "
                                           r"input_ids or inputs_embeds"):
        model(inputs["input_ids"], inputs_embeds=embeds)
    with pytest.raises(ValueError, match=r"input_ids, inputs_embeds: neither was given; pass exactly one of "
                                         r"input_ids or inputs_embeds"):
        model(attention_mask=inputs["attention_mask"])


def test_inputs_embeds_shape_and_type_errors():
    model = make(BertModel)
    with pytest.raises(BertkitError, match=r"inputs_embeds must be 3-D \(batch, seq_len, hidden_size 32\), "
                                           r"got shape \(2, 32\)"):
        model(inputs_embeds=torch.zeros(2, 32))
    with pytest.raises(BertkitError, match=r"hidden_size 32\), got shape \(2, 5, 31\)"):
        model(inputs_embeds=torch.zeros(2, 5, 31))
    with pytest.raises(TypeError, match=r"inputs_embeds must hold floating-point numbers, got torch.int64"):
        model(inputs_embeds=torch.zeros(2, 5, 32, dtype=torch.long))
    with pytest.raises(TypeError, match=r"inputs_embeds must be a torch.Tensor, got list"):
        model(inputs_embeds=[[[0.0] * 32]])
    with pytest.raises(BertkitError, match=r"sequence length 17 exceeds max_position_embeddings 16"):
        model(inputs_embeds=torch.zeros(1, 17, 32))
    with pytest.raises(BertkitError, match=r"attention_mask has shape \(2, 4\), inputs_embeds \(2, 5, 32\)"):
        model(inputs_embeds=torch.zeros(2, 5, 32), attention_mask=torch.ones(2, 4))
    with pytest.raises(BertkitError, match=r"token_type_ids hold 2, but type_vocab_size is 2"):
        model(inputs_embeds=torch.zeros(2, 5, 32), token_type_ids=torch.full((2, 5), 2))


# -- inputs_embeds: the same numbers as input_ids, through every path -------------------------------------

@pytest.mark.parametrize("head", list(HEADS))
def test_word_embeddings_give_what_the_ids_give(head):
    model = make(HEADS[head])
    inputs = batch()
    labels = {"BertForPreTraining": dict(labels=mlm_labels(inputs), next_sentence_label=torch.tensor([0, 1, 1, 0])),
              "BertForMaskedLM": dict(labels=mlm_labels(inputs)),
              "BertForSequenceClassification": dict(labels=torch.tensor([0, 1, 1, 0])),
              "BertForTokenClassification": dict(labels=mlm_labels(inputs) % 2),
              "BertForQuestionAnswering": dict(start_positions=torch.tensor([1, 2, 0, 3]),
                                               end_positions=torch.tensor([2, 4, 1, 3]))}.get(head, {})
    rest = {k: inputs[k] for k in ("attention_mask", "token_type_ids")}
    with torch.no_grad():
        by_ids = model(input_ids=inputs["input_ids"], **rest, **labels)
        by_embeds = model(inputs_embeds=words(model, inputs["input_ids"]), **rest, **labels)
    assert by_ids.keys() == by_embeds.keys()
    for a, b in zip(by_ids.to_tuple(), by_embeds.to_tuple()):
        assert max_diff(a, b) <= 1e-6


def test_unpadded_and_padded_paths_agree_with_inputs_embeds():
    model = make(BertModel)
    inputs = batch()
    embeds = torch.randn(4, 10, 32, generator=torch.Generator().manual_seed(1))
    rest = {k: inputs[k] for k in ("attention_mask", "token_type_ids")}
    with torch.no_grad():
        unpadded = model(inputs_embeds=embeds, **rest)
        model.unpad = False
        padded = model(inputs_embeds=embeds, **rest)
    real = inputs["attention_mask"].bool()
    assert max_diff(unpadded.last_hidden_state[real], padded.last_hidden_state[real]) <= 1e-5
    assert unpadded.last_hidden_state[~real].abs().max() == 0  # padding skipped, zeros as with input_ids
    assert max_diff(unpadded.pooler_output, padded.pooler_output) <= 1e-5


def test_padding_vectors_change_nothing_at_real_positions():
    model = make(BertForSequenceClassification)
    inputs = batch()
    real = inputs["attention_mask"].bool()
    embeds = torch.randn(4, 10, 32, generator=torch.Generator().manual_seed(2))
    other = embeds.clone()
    other[~real] = 1e3  # anything at padding
    rest = {k: inputs[k] for k in ("attention_mask", "token_type_ids")}
    with torch.no_grad():
        assert max_diff(model(inputs_embeds=embeds, **rest).logits, model(inputs_embeds=other, **rest).logits) == 0


def _count_calls(monkeypatch, cls, name):
    calls = []
    original = getattr(cls, name)

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(cls, name, spy)
    return calls


@pytest.mark.parametrize("head", ["BertForSequenceClassification", "BertForMaskedLM", "BertForPreTraining"])
def test_fast_paths_run_with_inputs_embeds(head, monkeypatch):
    """Unpadding, and the last layer at the read positions only ([CLS]; scored MLM positions)."""
    model = make(HEADS[head])
    inputs = batch()
    packings = _count_calls(monkeypatch, padding_module.Packing, "from_mask")
    sparse = _count_calls(monkeypatch, sparse_module, "layer_at")
    labels = dict(labels=mlm_labels(inputs)) if head != "BertForSequenceClassification" else {}
    out = model(inputs_embeds=words(model, inputs["input_ids"]), attention_mask=inputs["attention_mask"], **labels)
    assert packings == [1] and sparse == [1]
    if labels:
        assert out.logits.shape == (int((labels["labels"] != -100).sum()), V)  # decoded at scored positions


# -- gradients to inputs_embeds ---------------------------------------------------------------------------

def test_gradient_reaches_inputs_embeds_at_real_positions_only():
    model = make(BertForSequenceClassification)
    inputs = batch()
    embeds = words(model, inputs["input_ids"]).requires_grad_()
    out = model(inputs_embeds=embeds, attention_mask=inputs["attention_mask"], labels=torch.tensor([0, 1, 1, 0]))
    out.loss.backward()
    real = inputs["attention_mask"].bool()
    assert (embeds.grad[real].abs().sum(-1) > 0).all()  # every real token matters to its row's [CLS]
    assert embeds.grad[~real].abs().max() == 0
    assert model.bert.embeddings.word.weight.grad is None  # the table was not looked up


def test_integrated_gradients_are_complete():
    """Attribution as users do it: integrated gradients from a zero baseline. Their sum over tokens and
    features equals f(x) - f(baseline) (the completeness axiom, Sundararajan et al., 2017), up to the
    Riemann-sum error, which shrinks with the number of steps."""
    model = make(BertForSequenceClassification)
    inputs = batch(lengths=(8,), T=8)
    x = words(model, inputs["input_ids"])  # (1, T, C)
    baseline = torch.zeros_like(x)

    def f(e):  # the class-1 logit of each row
        return model(inputs_embeds=e, attention_mask=inputs["attention_mask"].expand(e.shape[0], -1)).logits[:, 1]

    steps = 64
    alphas = (torch.arange(steps) + 0.5) / steps  # midpoint rule
    path = (baseline + alphas[:, None, None] * (x - baseline)).requires_grad_()  # (steps, T, C)
    f(path).sum().backward()
    attributions = (x - baseline) * path.grad.mean(0, keepdim=True)  # (1, T, C)
    with torch.no_grad():
        gap = (f(x) - f(baseline)).item()
    assert abs(gap) > 1e-3
    assert abs(attributions.sum().item() - gap) <= 1e-3 * max(1.0, abs(gap))


# -- BertConfig takes what transformers.BertConfig takes ------------------------------------------------

def test_config_num_labels_keyword():
    cfg = BertConfig(num_labels=3)
    assert cfg.num_labels == 3
    assert cfg.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    assert cfg.label2id == {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}
    assert BertForSequenceClassification(tiny_config(num_labels=3)).classifier.out_features == 3
    named = BertConfig(num_labels=2, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1})
    assert named.id2label == {0: "neg", 1: "pos"}  # a matching label map is kept
    assert BertConfig().num_labels == 2 and BertConfig().id2label == {0: "LABEL_0", 1: "LABEL_1"}
    cfg.num_labels = 2  # assignment still works
    assert cfg.id2label == {0: "LABEL_0", 1: "LABEL_1"} and cfg.label2id == {"LABEL_0": 0, "LABEL_1": 1}
    with pytest.raises(ConfigError, match=r"num_labels must be a positive int, got 0"):
        BertConfig(num_labels=0)


OTHER_KEYWORDS = dict(output_hidden_states=True, use_cache=False, torch_dtype="float16", is_decoder=True,
                      chunk_size_feed_forward=0, my_made_up_key={"a": [1, 2]})


def test_config_other_keywords_go_to_extra_and_round_trip(tmp_path):
    cfg = tiny_config(num_labels=4, **OTHER_KEYWORDS)
    assert cfg.extra == OTHER_KEYWORDS
    assert cfg.use_cache is False and cfg.my_made_up_key == {"a": [1, 2]}  # read as attributes
    d = cfg.to_dict()
    assert all(d[k] == v for k, v in OTHER_KEYWORDS.items()) and "extra" not in d
    assert BertConfig.from_dict(d) == cfg
    cfg.save_pretrained(tmp_path / "config")
    saved = json.loads((tmp_path / "config" / "config.json").read_text())
    assert {k: saved[k] for k in OTHER_KEYWORDS} == OTHER_KEYWORDS and saved["id2label"]["3"] == "LABEL_3"
    assert BertConfig.from_pretrained(tmp_path / "config") == cfg
    model = BertForSequenceClassification(cfg)
    model.save_pretrained(tmp_path / "model")
    again = BertForSequenceClassification.from_pretrained(tmp_path / "model").config
    assert again.extra == OTHER_KEYWORDS and again.num_labels == 4
    assert json.loads((tmp_path / "model" / "config.json").read_text())["use_cache"] is False


def test_config_extra_as_attributes():
    cfg = BertConfig(extra={"a": 1}, b=2)  # an extra dict and keywords merge
    assert cfg.extra == {"a": 1, "b": 2}
    cfg.use_cache = True  # an attribute bertkit does not know is kept in extra, so it is saved
    assert cfg.extra["use_cache"] is True and cfg.to_dict()["use_cache"] is True
    cfg.layer_norm_eps = 1e-6  # fields stay fields
    assert cfg.layer_norm_eps == 1e-6 and "layer_norm_eps" not in cfg.extra
    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        cfg.not_there
    assert BertConfig(100).vocab_size == 100  # fields in order, as before
    for twin in (copy.deepcopy(cfg), pickle.loads(pickle.dumps(cfg)), dataclasses.replace(cfg)):
        assert twin == cfg and twin.extra == cfg.extra and twin.extra is not cfg.extra


def test_config_bad_field_still_an_error_with_extra_keywords():
    with pytest.raises(ConfigError, match=r"hidden_size 30 is not a multiple of num_attention_heads 4"):
        BertConfig(hidden_size=30, num_attention_heads=4, use_cache=True, num_labels=3)


def test_config_torch_dtype_written_by_name():
    cfg = BertConfig(torch_dtype=torch.float16)
    assert cfg.torch_dtype is torch.float16
    assert json.loads(cfg.to_json())["torch_dtype"] == "float16"


def test_preset_takes_num_labels():
    cfg = BertConfig.preset("tiny", num_labels=5, output_attentions=False)
    assert cfg.num_labels == 5 and cfg.extra == {"output_attentions": False} and cfg.hidden_size == 128


# -- resize_token_embeddings ----------------------------------------------------------------------------

def test_resize_grows_keeps_rows_and_ties_the_decoder():
    model = make(BertForMaskedLM)
    old = model.get_input_embeddings().weight.detach().clone()
    old_bias = model.mlm.bias.detach().clone()
    weight, bias = model.get_input_embeddings().weight, model.mlm.bias
    emb = model.resize_token_embeddings(V + 3)
    assert emb is model.get_input_embeddings() and emb.weight.shape == (V + 3, 32) and emb.num_embeddings == V + 3
    assert emb.weight is weight and model.mlm.bias is bias  # resized in place: holders keep the parameters
    assert torch.equal(emb.weight[:V], old) and torch.equal(model.mlm.bias[:V], old_bias)
    assert torch.equal(emb.weight[V:], old.mean(0).expand(3, -1))
    assert (model.mlm.bias[V:] == 0).all()
    assert model.config.vocab_size == V + 3 and model.bert.config.vocab_size == V + 3
    decoder = model.get_output_embeddings()
    assert isinstance(decoder, TiedDecoder) and decoder.weight is emb.weight and decoder.out_features == V + 3
    ids = torch.tensor([[2, V, V + 1, V + 2]])  # the added tokens are now valid ids
    with torch.no_grad():
        logits = model(ids).logits
    assert logits.shape == (1, 4, V + 3)
    h = torch.randn(2, 32)
    assert max_diff(decoder(h), h @ emb.weight.T + model.mlm.bias) <= 1e-6


def test_resize_then_train_updates_the_new_rows():
    model = make(BertForMaskedLM)
    params = list(model.parameters())  # taken before the resize, as an optimizer built then holds them
    model.resize_token_embeddings(V + 2)
    before = model.get_input_embeddings().weight.detach().clone()
    ids = torch.tensor([[2, V, V + 1, 5]])
    labels = torch.tensor([[-100, V + 1, V, -100]])
    model.train()
    model(ids, labels=labels).loss.backward()
    with torch.no_grad():  # one plain SGD step (torch.optim would import torch._dynamo: seconds)
        for p in params:
            p -= 0.1 * p.grad
    after = model.get_input_embeddings().weight.detach()
    assert (after[V:] != before[V:]).any(dim=1).all()


def test_resize_shrinks():
    model = make(BertForPreTraining)
    old = model.get_input_embeddings().weight.detach().clone()
    model.resize_token_embeddings(V - 10)
    assert torch.equal(model.get_input_embeddings().weight, old[:V - 10])
    assert model.mlm.bias.shape == (V - 10,) and model.config.vocab_size == V - 10
    with pytest.raises(BertkitError, match=rf"input_ids hold .*{V - 5}.*vocabulary of size {V - 10}"):
        model(torch.tensor([[1, V - 5]]))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "70"])
def test_resize_refuses_a_bad_size(bad):
    model = make(BertModel)
    with pytest.raises(BertkitError, match=re.escape("resize_token_embeddings: new_num_tokens must be a positive "
                                                     f"integer, got {bad!r}; pass the tokenizer's size")):
        model.resize_token_embeddings(bad)
    assert model.config.vocab_size == V


def test_resize_refuses_to_drop_the_pad_token():
    model = make(BertModel, pad_token_id=7)
    with pytest.raises(BertkitError, match=r"new_num_tokens 5 would drop pad_token_id 7; keep at least 8 tokens"):
        model.resize_token_embeddings(5)
    with pytest.raises(BertkitError, match=r"pad_to_multiple_of must be a positive integer, got 0"):
        model.resize_token_embeddings(64, pad_to_multiple_of=0)
    assert model.resize_token_embeddings(8).padding_idx == 7


def test_resize_a_custom_head_and_save(tmp_path):
    model = make(MyModel)
    assert model.get_input_embeddings() is model.bert.embeddings.word and model.get_output_embeddings() is None
    model.resize_token_embeddings(V + 4)
    model.save_pretrained(tmp_path)
    again = MyModel.from_pretrained(tmp_path)
    assert again.config.vocab_size == V + 4
    for key, value in model.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key


def test_resize_needs_an_encoder():
    class NoEncoder(BertPreTrainedModel):
        def __init__(self, config):
            super().__init__(config)
            self.linear = nn.Linear(4, 4)

    with pytest.raises(NotImplementedError, match=r"NoEncoder has no BertModel at \.bert"):
        NoEncoder(tiny_config()).resize_token_embeddings(V + 1)


def test_set_input_embeddings_is_followed_by_the_decoder():
    model = make(BertForMaskedLM)
    table = nn.Embedding(V, 32, padding_idx=0)
    model.set_input_embeddings(table)
    assert model.get_input_embeddings() is table and model.bert.embeddings.word is table
    assert model.get_output_embeddings().weight is table.weight
    base = make(BertModel)
    base.set_input_embeddings(table)
    assert base.get_input_embeddings() is table and bertkit.BertModel.get_output_embeddings(base) is None
