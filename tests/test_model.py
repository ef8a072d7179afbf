"""Fast unit tests of the model API: outputs, custom heads, input and config errors, presets, and the
unpadded path against the padded one (fp32 and bf16 autocast, forward and training losses)."""
from __future__ import annotations

import logging
import re

import pytest
import torch
from torch import nn

from bertkit import (BertConfig, BertForMaskedLM, BertForPreTraining, BertForQuestionAnswering,
                     BertForSequenceClassification, BertForTokenClassification, BertModel, BertPreTrainedModel,
                     CheckpointError, ConfigError)
from bertkit.config import PRESETS
from bertkit.models import HEADS
from bertkit.models.outputs import SequenceClassifierOutput

V = 60


def tiny_config(**overrides) -> BertConfig:
    values = dict(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
                  max_position_embeddings=16, type_vocab_size=2, hidden_dropout_prob=0.0,
                  attention_probs_dropout_prob=0.0)
    values.update(overrides)
    return BertConfig(**values)


def make(cls, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    model = cls(tiny_config(**overrides))
    # move biases and LayerNorms off their init so that a dropped term would show
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model.eval()


def batch(lengths=(10, 6, 2, 9), T: int = 10, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    mask = (torch.arange(T)[None] < lengths[:, None]).long()
    ids = torch.randint(1, V, (len(lengths), T), generator=g).masked_fill(mask == 0, 0)
    types = ((torch.arange(T)[None] >= (lengths[:, None] // 2)) & mask.bool()).long()
    return dict(input_ids=ids, attention_mask=mask, token_type_ids=types)


def mlm_labels(inputs, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mask = inputs["attention_mask"].bool()
    picked = (torch.rand(mask.shape, generator=g) < 0.4) & mask
    picked[:, 0] = True
    return torch.randint(0, V, mask.shape, generator=g).masked_fill(~picked, -100)


def max_diff(a, b) -> float:
    return (a.float() - b.float()).abs().max().item()


def encoder_of(model) -> BertModel:
    return model.bert if hasattr(model, "bert") else model


# -- outputs --------------------------------------------------------------------------------------------

def test_outputs_index_like_tuples():
    model = make(BertForSequenceClassification)
    inputs = batch()
    labels = torch.tensor([0, 1, 1, 0])
    with torch.no_grad():
        without = model(**inputs)
        with_labels = model(**inputs, labels=labels)
    assert without.loss is None
    assert without[0] is without.logits
    assert without["logits"] is without.logits
    assert len(without) == 1 and without.keys() == ["logits"]
    assert with_labels[0] is with_labels.loss and with_labels[1] is with_labels.logits
    loss, logits = with_labels  # unpacks like a tuple
    assert loss is with_labels.loss and logits is with_labels.logits
    assert with_labels.keys() == ["loss", "logits"]
    assert with_labels[-1] is with_labels.logits and len(with_labels[:2]) == 2
    with pytest.raises(IndexError):
        without[1]


def test_base_model_output_order():
    model = make(BertModel)
    with torch.no_grad():
        out = model(**batch(), output_hidden_states=True, output_attentions=True)
    assert out[0] is out.last_hidden_state and out[1] is out.pooler_output
    assert out[2] is out.hidden_states and out[3] is out.attentions
    assert len(out.hidden_states) == 3 and len(out.attentions) == 2
    assert out.last_hidden_state.shape == (4, 10, 32) and out.pooler_output.shape == (4, 32)
    assert out.attentions[0].shape == (4, 4, 10, 10)


def test_pretraining_output_logits_alias():
    model = make(BertForPreTraining)
    with torch.no_grad():
        out = model(**batch())
    assert out.logits is out.prediction_logits
    assert out[0] is out.prediction_logits and out[1] is out.seq_relationship_logits


def _head_kwargs(name: str, inputs) -> dict:
    B, T = inputs["input_ids"].shape
    if name == "BertForPreTraining":
        return dict(labels=mlm_labels(inputs), next_sentence_label=torch.tensor([0, 1, 0, 1]))
    if name == "BertForMaskedLM":
        return dict(labels=mlm_labels(inputs))
    if name == "BertForSequenceClassification":
        return dict(labels=torch.tensor([0, 1, 1, 0]))
    if name == "BertForTokenClassification":
        return dict(labels=torch.randint(0, 2, (B, T)).masked_fill(inputs["attention_mask"] == 0, -100))
    if name == "BertForQuestionAnswering":
        return dict(start_positions=torch.tensor([1, 2, 0, 3]), end_positions=torch.tensor([2, 4, 1, 3]))
    return {}


@pytest.mark.parametrize("name", list(HEADS))
@pytest.mark.parametrize("with_labels", [False, True], ids=["no-labels", "labels"])
def test_return_dict_false_gives_tuples(name, with_labels):
    model = make(HEADS[name])
    inputs = batch()
    kwargs = _head_kwargs(name, inputs) if with_labels else {}
    with torch.no_grad():
        as_dict = model(**inputs, **kwargs)
        as_tuple = model(**inputs, **kwargs, return_dict=False)
    assert type(as_tuple) is tuple
    expected = as_dict.to_tuple()
    assert len(as_tuple) == len(expected) > 0
    for a, b in zip(as_tuple, expected):
        assert torch.equal(a, b)
    if with_labels and name != "BertModel":
        assert as_tuple[0].dim() == 0, "the loss comes first when labels are given"


@pytest.mark.parametrize("name", [n for n in HEADS if n != "BertModel"])
def test_loss_first_when_labels_given(name):
    model = make(HEADS[name])
    inputs = batch()
    with torch.no_grad():
        out = model(**inputs, **_head_kwargs(name, inputs))
    assert out[0] is out.loss and out.loss.dim() == 0 and torch.isfinite(out.loss)
    with torch.no_grad():
        out = model(**inputs)
    assert out.loss is None and out[0] is not None and out[0].dim() >= 2


def test_mlm_logits_only_at_scored_positions():
    model = make(BertForMaskedLM)
    inputs = batch()
    labels = mlm_labels(inputs)
    with torch.no_grad():
        full = model(**inputs).logits
        scored = model(**inputs, labels=labels).logits
    picked = labels != -100
    assert full.shape == (4, 10, V)
    assert scored.shape == (int(picked.sum()), V)
    assert max_diff(scored, full[picked]) < 1e-5


def _compare_sparse_to_full(cls, inputs: dict, **labels):
    """Run `cls` with the sparse last layer and with the full one on the same inputs and labels: loss,
    logits and every gradient must agree. Returns the two models (sparse, full)."""
    runs = []
    for sparse in (True, False):
        model = make(cls)
        model.sparse_last_layer = sparse
        out = model(**inputs, **labels)
        out.loss.backward()
        runs.append((model, out, {n: p.grad for n, p in model.named_parameters() if p.grad is not None}))
    (sparse_model, sparse_out, sparse_grads), (full_model, full_out, full_grads) = runs
    assert abs(sparse_out.loss.item() - full_out.loss.item()) < 1e-6
    assert max_diff(sparse_out[1], full_out[1]) < 1e-5
    assert sparse_grads.keys() == full_grads.keys()
    assert max(max_diff(sparse_grads[n], full_grads[n]) for n in full_grads) < 1e-5
    return sparse_model, full_model


@pytest.mark.parametrize("lengths", [(10, 6, 2, 9), (10, 10, 10, 10)], ids=["padded", "full"])
@pytest.mark.parametrize("cls", [BertForPreTraining, BertForMaskedLM])
def test_sparse_last_layer_gives_the_full_loss_and_gradients(cls, lengths):
    """With labels, the last layer runs only at the scored positions (and [CLS]); loss, logits and every
    gradient must be those of the full computation."""
    inputs = batch(lengths)
    labels = mlm_labels(inputs)
    labels[0, 0] = -100  # a row whose [CLS] is not scored: the pooler still needs it
    labels[2] = -100  # and a row with nothing scored
    if cls is BertForPreTraining:
        inputs["next_sentence_label"] = torch.tensor([0, 1, 1, 0])
    _compare_sparse_to_full(cls, inputs, labels=labels)


@pytest.mark.parametrize("lengths", [(10, 6, 2, 9), (10, 10, 10, 10)], ids=["padded", "full"])
def test_classification_runs_the_last_layer_at_cls_only(lengths):
    """The classifier reads [CLS] alone, so its last layer runs there only: the same logits, loss and
    gradients as the full layer, with labels and without."""
    inputs = batch(lengths)
    sparse, full = _compare_sparse_to_full(BertForSequenceClassification, inputs, labels=torch.tensor([0, 1, 1, 0]))
    with torch.no_grad():
        assert max_diff(sparse(**inputs).logits, full(**inputs).logits) < 1e-5


@pytest.mark.parametrize("lengths", [(10, 6, 2, 9), (10, 10, 10, 10)], ids=["padded", "full"])
def test_inference_projection_matches_training_one(lengths):
    """Without grad, Q, K and V come from three matmuls (less peak memory); with grad,
    from one fused matmul. Same hidden states."""
    model, inputs = make(BertModel), batch(lengths)
    with torch.no_grad():
        three = model(**inputs).last_hidden_state
    fused = model(**inputs).last_hidden_state
    assert fused.requires_grad and max_diff(three, fused) < 1e-6


def test_sparse_last_layer_refuses_to_return_every_state():
    model = make(BertForPreTraining)
    inputs = batch()
    with pytest.raises(ValueError, match="last_layer_at"):
        model.bert(**inputs, output_hidden_states=True, last_layer_at=inputs["attention_mask"].bool())
    out = model(**inputs, labels=mlm_labels(inputs), output_hidden_states=True)  # falls back to the full layer
    assert len(out.hidden_states) == 3


# -- custom heads ---------------------------------------------------------------------------------------

class MyModel(BertPreTrainedModel):
    """The docstring's custom head: a 3-way classifier on the [CLS] state."""

    def __init__(self, config):
        super().__init__(config)
        self.bert = BertModel(config)
        self.head = nn.Linear(config.hidden_size, 3)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        hidden = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        logits = self.head(hidden[:, 0])  # (B, 3)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def test_custom_head_subclass_trains():
    model = MyModel(tiny_config())
    assert model.head.bias.abs().max() == 0, "post_init applies BERT's init to the custom head"
    inputs = batch()
    out = model(**inputs, labels=torch.tensor([0, 1, 2, 1]))
    out.loss.backward()
    assert out.logits.shape == (4, 3)
    assert model.head.weight.grad is not None and model.bert.embeddings.word.weight.grad is not None


def test_custom_head_from_pretrained_encoder(tmp_path, caplog):
    encoder = make(BertModel)
    encoder.save_pretrained(tmp_path)
    with caplog.at_level(logging.WARNING, logger="bertkit"):
        model = MyModel.from_pretrained(tmp_path)
    assert isinstance(model, MyModel) and not model.training
    for key, value in encoder.state_dict().items():
        assert torch.equal(model.bert.state_dict()[key], value), key
    messages = [r.getMessage() for r in caplog.records if r.name == "bertkit"]
    assert len(messages) == 1 and "head.weight" in messages[0]
    inputs = batch()
    with torch.no_grad():
        assert max_diff(model.bert(**inputs).last_hidden_state, encoder(**inputs).last_hidden_state) == 0


def test_custom_head_save_and_reload(tmp_path):
    """A fine-tuned custom model saves and loads back with its head (as in transformers)."""
    model = make(MyModel)
    model.save_pretrained(tmp_path)
    again = MyModel.from_pretrained(tmp_path)
    for key, value in model.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key


# -- bad inputs -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_model():
    return make(BertForSequenceClassification)


def test_input_ids_out_of_vocab(tiny_model):
    ids = torch.tensor([[2, 5, V]])
    with pytest.raises(ValueError, match=rf"input_ids.*{V}.*vocabulary of size {V}"):
        tiny_model(ids)
    with pytest.raises(ValueError, match=r"input_ids.*-1.*vocabulary"):
        tiny_model(torch.tensor([[2, -1, 3]]))


def test_sequence_too_long(tiny_model):
    ids = torch.ones(1, 17, dtype=torch.long)
    with pytest.raises(ValueError, match=r"sequence length 17 exceeds max_position_embeddings 16.*truncat"):
        tiny_model(ids)
    tiny_model(torch.ones(1, 16, dtype=torch.long))  # exactly the maximum is fine


@pytest.mark.parametrize("shape", [(8,), (1, 2, 8)])
def test_input_ids_wrong_dims(tiny_model, shape):
    with pytest.raises(ValueError, match=r"input_ids must be 2-D \(batch, seq_len\).*" + re.escape(str(shape))):
        tiny_model(torch.ones(shape, dtype=torch.long))


def test_input_ids_not_a_tensor_or_not_integers(tiny_model):
    with pytest.raises(TypeError, match=r"torch\.Tensor.*list.*return_tensors='pt'"):
        tiny_model([[1, 2, 3]])
    with pytest.raises(TypeError, match=r"integers.*float32"):
        tiny_model(torch.ones(1, 3))


def test_mismatched_attention_mask(tiny_model):
    ids = torch.ones(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match=r"attention_mask has shape \(2, 4\), input_ids \(2, 5\)"):
        tiny_model(ids, attention_mask=torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"attention_mask has shape \(5,\)"):
        tiny_model(ids, attention_mask=torch.ones(5, dtype=torch.long))


def test_bad_token_type_ids(tiny_model):
    ids = torch.ones(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match=r"token_type_ids has shape \(2, 3\)"):
        tiny_model(ids, token_type_ids=torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token_type_ids hold 2.*type_vocab_size is 2"):
        tiny_model(ids, token_type_ids=torch.full((2, 5), 2))


# -- config ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, message", [
    (dict(hidden_size=30, num_attention_heads=4), r"hidden_size 30 is not a multiple of num_attention_heads 4"),
    (dict(hidden_act="mish"), r"hidden_act 'mish' is not supported.*gelu"),
    (dict(hidden_dropout_prob=1.0), r"hidden_dropout_prob must be in \[0, 1\)"),
    (dict(attention_probs_dropout_prob=-0.1), r"attention_probs_dropout_prob must be in \[0, 1\)"),
    (dict(vocab_size=0), r"vocab_size must be a positive integer, got 0"),
    (dict(num_hidden_layers=2.0), r"num_hidden_layers must be a positive integer, got 2\.0"),
    (dict(max_position_embeddings=True), r"max_position_embeddings must be a positive integer"),
    (dict(position_embedding_type="relative_key"), r"position_embedding_type 'relative_key' is not supported"),
    (dict(pad_token_id=60), r"pad_token_id 60 is outside the vocabulary \(size 60\)"),
    (dict(problem_type="ranking"), r"problem_type 'ranking' is not one of"),
    (dict(model_type="roberta"), r"model_type 'roberta' is not supported"),
])
def test_config_validation(overrides, message):
    with pytest.raises(ConfigError, match=message):
        tiny_config(**overrides)


def test_config_checked_again_when_model_built():
    cfg = tiny_config()
    cfg.num_attention_heads = 5  # mutable, as in transformers ...
    with pytest.raises(ConfigError, match=r"hidden_size 32 is not a multiple of num_attention_heads 5"):
        BertModel(cfg)  # ... and checked when a model is built


def test_num_labels():
    cfg = tiny_config()
    assert cfg.num_labels == 2
    cfg.num_labels = 5
    assert cfg.num_labels == 5 and cfg.id2label[4] == "LABEL_4" and cfg.label2id["LABEL_4"] == 4
    assert BertForSequenceClassification(cfg).classifier.out_features == 5
    assert BertForTokenClassification(cfg).classifier.out_features == 5
    with pytest.raises(ConfigError, match=r"num_labels must be a positive int, got 0"):
        cfg.num_labels = 0


def test_config_from_dict_names_the_source():
    with pytest.raises(ConfigError, match=r"my.json: hidden_size 30 is not a multiple"):
        BertConfig.from_dict({"hidden_size": 30, "num_attention_heads": 4}, source="my.json")
    with pytest.raises(ConfigError, match=r"my.json: model_type 'gpt2'"):
        BertConfig.from_dict({"model_type": "gpt2"}, source="my.json")
    cfg = BertConfig.from_dict({"hidden_size": 64, "num_attention_heads": 2, "num_labels": 4, "foo": 1})
    assert cfg.num_labels == 4 and cfg.extra == {"foo": 1} and cfg.to_dict()["foo"] == 1


def test_config_json_round_trip(tmp_path):
    cfg = tiny_config(hidden_act="gelu_new", classifier_dropout=0.2)
    cfg.num_labels = 3
    cfg.extra["note"] = "kept"
    cfg.save_pretrained(tmp_path)
    again = BertConfig.from_pretrained(tmp_path)
    assert again == cfg and again.extra == {"note": "kept"}
    assert BertConfig.from_pretrained(tmp_path, num_hidden_layers=1).num_hidden_layers == 1
    with pytest.raises(ConfigError, match=r"no config.json"):
        BertConfig.from_pretrained(tmp_path / "nothing")


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets(name):
    layers, hidden, heads = PRESETS[name]
    cfg = BertConfig.preset(name)
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads) == (layers, hidden, heads)
    assert cfg.intermediate_size == 4 * hidden and cfg.head_dim * heads == hidden
    assert cfg.vocab_size == 30522 and cfg.max_position_embeddings == 512


def test_preset_sizes_and_overrides():
    assert PRESETS["tiny"] == (2, 128, 2) and PRESETS["base"] == (12, 768, 12) and PRESETS["large"] == (24, 1024, 16)
    # the published parameter counts of bert-base-uncased and bert-large-uncased (BertModel with pooler)
    for name, count in (("base", 109_482_240), ("large", 335_141_888)):
        with torch.device("meta"):
            assert BertModel(BertConfig.preset(name)).num_parameters() == count, name
    cfg = BertConfig.preset("mini", vocab_size=1000, max_position_embeddings=128)
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.vocab_size, cfg.max_position_embeddings) == (4, 256, 1000, 128)
    model = BertModel(BertConfig.preset("tiny", vocab_size=100, max_position_embeddings=32))
    assert len(model.encoder.layers) == 2
    assert model.embeddings.word.weight.shape == (100, 128)
    assert model.encoder.layers[0].attn.qkv.weight.shape == (3 * 128, 128)
    assert model.encoder.layers[0].ffn.up.weight.shape == (512, 128)
    with pytest.raises(ConfigError, match=r"unknown preset 'huge'.*tiny"):
        BertConfig.preset("huge")


# -- unpadded vs padded ---------------------------------------------------------------------------------

@pytest.fixture(params=["per-run", "masked"])
def attention_path(request, monkeypatch):
    """Unpadded attention either runs a call per run of equal lengths, or one masked call on the padded
    layout (chosen by the number of runs and the padding); force each in turn."""
    import bertkit.models.attention as bert
    monkeypatch.setattr(bert, "MAX_RUNS", 10 ** 6 if request.param == "per-run" else 0)
    monkeypatch.setattr(bert, "MAX_ATTN_PADDING", 10.0)
    return request.param


def _both_paths(model, inputs, **kwargs):
    enc = encoder_of(model)
    outs = []
    for unpad in (True, False):
        enc.unpad = unpad
        outs.append(model(**inputs, **kwargs))
    enc.unpad = True
    return outs


def test_unpadded_matches_padded_fp32(attention_path):
    model = make(BertModel)
    inputs = batch()
    with torch.no_grad():
        a, b = _both_paths(model, inputs, output_hidden_states=True)
    real = inputs["attention_mask"].bool()
    assert max_diff(a.last_hidden_state[real], b.last_hidden_state[real]) <= 1e-5
    assert a.last_hidden_state[~real].abs().max() == 0, "padding positions are zeros on the unpadded path"
    for x, y in zip(a.hidden_states, b.hidden_states):
        assert max_diff(x[real], y[real]) <= 1e-5
    assert max_diff(a.pooler_output, b.pooler_output) <= 1e-5


def test_unpadded_matches_padded_bf16_autocast(attention_path):
    model = make(BertModel)
    inputs = batch()
    real = inputs["attention_mask"].bool()
    with torch.no_grad():
        reference = model(**inputs)  # fp32
        with torch.autocast("cpu", dtype=torch.bfloat16):
            a, b = _both_paths(model, inputs)
    # bf16 has an 8-bit mantissa (~4e-3 relative); LayerNorm outputs are O(1)
    assert max_diff(a.last_hidden_state[real], b.last_hidden_state[real]) <= 2e-2
    assert max_diff(a.pooler_output, b.pooler_output) <= 2e-2
    assert max_diff(a.last_hidden_state[real], reference.last_hidden_state[real]) <= 5e-2
    assert model.dtype == torch.float32, "autocast keeps fp32 master weights"


def test_row_of_only_padding(attention_path):
    """An all-padding row (e.g. a batch filled up to a fixed size) is not an error on either path."""
    model = make(BertModel)
    inputs = batch(lengths=(10, 0, 3))
    with torch.no_grad():
        a, b = _both_paths(model, inputs)
    real = inputs["attention_mask"].bool()
    assert max_diff(a.last_hidden_state[real], b.last_hidden_state[real]) <= 1e-5
    assert torch.isfinite(a.last_hidden_state).all() and torch.isfinite(b.last_hidden_state).all()


def test_no_padding_takes_the_same_path():
    model = make(BertModel)
    inputs = batch(lengths=(10, 10))
    with torch.no_grad():
        a = model(**inputs)
        b = model(inputs["input_ids"], token_type_ids=inputs["token_type_ids"])
    assert torch.equal(a.last_hidden_state, b.last_hidden_state)


def _train_step(model, inputs, kwargs):
    model.zero_grad()
    out = model(**inputs, **kwargs)
    out.loss.backward()
    return out.loss.detach(), {k: p.grad.clone() for k, p in model.named_parameters()}


@pytest.mark.parametrize("name", [n for n in HEADS if n != "BertModel"])
def test_training_losses_and_grads_agree_between_paths(name, attention_path):
    """In training mode (dropout 0 so the paths are comparable), the loss and every gradient agree."""
    model = make(HEADS[name]).train()
    inputs = batch()
    kwargs = _head_kwargs(name, inputs)
    results = []
    for unpad in (True, False):
        encoder_of(model).unpad = unpad
        results.append(_train_step(model, inputs, kwargs))
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert abs(loss_a.item() - loss_b.item()) <= 1e-5, f"{name}: loss {loss_a.item()} vs {loss_b.item()}"
    for key in grads_a:
        assert max_diff(grads_a[key], grads_b[key]) <= 1e-5, f"{name}: grad {key}"


def test_pretraining_loss_parts_agree_between_paths(attention_path):
    model = make(BertForPreTraining).train()
    inputs = batch()
    labels, nsp = mlm_labels(inputs), torch.tensor([1, 0, 0, 1])
    a, b = _both_paths(model, inputs, labels=labels, next_sentence_label=nsp)
    assert abs(a.loss.item() - b.loss.item()) <= 1e-5
    assert abs(a.mlm_loss.item() - b.mlm_loss.item()) <= 1e-5
    assert abs(a.nsp_loss.item() - b.nsp_loss.item()) <= 1e-5
    assert abs(a.loss.item() - (a.mlm_loss + a.nsp_loss).item()) <= 1e-6


def test_pretraining_loss_agrees_under_bf16_autocast():
    model = make(BertForPreTraining).train()
    inputs = batch()
    labels, nsp = mlm_labels(inputs), torch.tensor([1, 0, 0, 1])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a, b = _both_paths(model, inputs, labels=labels, next_sentence_label=nsp)
    assert a.prediction_logits.dtype == torch.bfloat16, "autocast is in effect"
    assert a.loss.dtype == torch.float32, "the loss is computed in fp32 under autocast"
    assert abs(a.loss.item() - b.loss.item()) <= 2e-2 * max(1.0, abs(b.loss.item()))


def test_dropout_active_in_train_mode_only():
    model = make(BertModel, hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.3)
    inputs = batch()
    with torch.no_grad():
        model.eval()
        e1, e2 = model(**inputs).pooler_output, model(**inputs).pooler_output
        model.train()
        t1, t2 = model(**inputs).pooler_output, model(**inputs).pooler_output
    assert torch.equal(e1, e2)
    assert not torch.equal(t1, t2)


def test_from_pretrained_bad_folder_is_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="no such model folder"):
        BertModel.from_pretrained(tmp_path / "absent")


def test_heads_have_expected_shapes():
    inputs = batch()
    with torch.no_grad():
        assert make(BertForQuestionAnswering)(**inputs).start_logits.shape == (4, 10)
        assert make(BertForTokenClassification)(**inputs).logits.shape == (4, 10, 2)
        assert make(BertForSequenceClassification)(**inputs).logits.shape == (4, 2)
        out = make(BertForPreTraining)(**inputs)
        assert out.prediction_logits.shape == (4, 10, V) and out.seq_relationship_logits.shape == (4, 2)


def test_mlm_decoder_is_tied_to_word_embeddings():
    model = make(BertForMaskedLM)
    inputs = batch()
    labels = mlm_labels(inputs)
    model(**inputs, labels=labels).loss.backward()
    # decoding uses the embedding matrix itself: rows of label tokens get gradient, even never-input ones
    unused = sorted(set(labels[labels != -100].tolist()) - set(inputs["input_ids"].unique().tolist()))
    grad = model.bert.embeddings.word.weight.grad
    assert grad.abs().sum(1).gt(0).sum() > len(inputs["input_ids"].unique())
    for token in unused:
        assert grad[token].abs().sum() > 0
    assert not any("decoder" in k for k in model.state_dict())
