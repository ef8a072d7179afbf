"""Checkpoint folders move both ways between bertkit and `transformers`, and bad folders fail clearly.

- a folder written by `transformers` loads into bertkit and gives the same outputs;
- a folder written by bertkit loads into `transformers` with no missing or unexpected keys and gives the
  same logits; its config.json reads back with the same fields;
- legacy `pytorch_model.bin` folders load (weights only);
- loading a bare encoder into a head initialises the head and says so in one line; loading a head
  checkpoint into a bare encoder drops the head and says so in one line;
- a missing, unexpected or misshaped tensor, a corrupt file, an unknown model_type, a missing folder or
  a folder without weights is a CheckpointError naming the tensor or file.
"""
from __future__ import annotations

import json
import logging

import pytest
import torch

transformers = pytest.importorskip("transformers")
from safetensors.torch import load_file, save_file  # noqa: E402

import bertkit  # noqa: E402
from bertkit import BertConfig, CheckpointError  # noqa: E402
from bertkit.checkpoint import ours_to_hf  # noqa: E402
from bertkit.models import HEADS  # noqa: E402

transformers.logging.disable_progress_bar()

HF_CONFIG = dict(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=40,
                 max_position_embeddings=24, type_vocab_size=2, hidden_act="gelu")
HEAD_NAMES = list(HEADS)
# extra config per head, so label counts other than the default 2 travel through config.json too
HEAD_EXTRA = {"BertForSequenceClassification": dict(num_labels=3), "BertForTokenClassification": dict(num_labels=5)}


def _perturb(model: torch.nn.Module, seed: int) -> None:
    """Move every weight off its trivial init (zero biases, unit LayerNorm) so a swapped tensor shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1.0 + 0.2 * noise if name.endswith(("LayerNorm.weight", "norm.weight")) else 0.1 * noise)


def hf_model(head: str, seed: int = 0, **extra):
    torch.manual_seed(seed)
    cfg = transformers.BertConfig(**HF_CONFIG, **{**HEAD_EXTRA.get(head, {}), **extra})
    model = getattr(transformers, head)(cfg)
    _perturb(model, seed + 1)
    return model.eval()


def our_model(head: str, seed: int = 0, **extra):
    cfg = BertConfig(**{**HF_CONFIG, **extra})
    if head in HEAD_EXTRA:
        cfg.num_labels = HEAD_EXTRA[head]["num_labels"]
    torch.manual_seed(seed)
    model = HEADS[head](cfg)
    _perturb(model, seed + 1)
    return model.eval()


def inputs():
    g = torch.Generator().manual_seed(5)
    lengths = torch.tensor([9, 4, 2])
    B, T = len(lengths), 9
    mask = (torch.arange(T)[None] < lengths[:, None]).long()
    ids = torch.randint(1, HF_CONFIG["vocab_size"], (B, T), generator=g).masked_fill(mask == 0, 0)
    types = ((torch.arange(T)[None] >= (lengths[:, None] // 2)) & mask.bool()).long()
    return dict(input_ids=ids, attention_mask=mask, token_type_ids=types)


def outputs_of(model, head: str, batch) -> dict[str, torch.Tensor]:
    """The head's main outputs as a dict (name → tensor), from either library."""
    with torch.no_grad():
        out = model(**batch)
    if head == "BertModel":
        names = ("last_hidden_state", "pooler_output")
    elif head == "BertForPreTraining":
        names = ("prediction_logits", "seq_relationship_logits")
    elif head == "BertForQuestionAnswering":
        names = ("start_logits", "end_logits")
    else:
        names = ("logits",)
    result = {n: getattr(out, n) for n in names}
    if head == "BertForQuestionAnswering":
        # bertkit gives padding the lowest span logit (transformers does not); compare like with like
        pad = batch["attention_mask"] == 0
        result = {n: t.masked_fill(pad, torch.finfo(t.dtype).min) for n, t in result.items()}
    return result


def assert_outputs_close(mine: dict, theirs: dict, tol: float) -> None:
    assert mine.keys() == theirs.keys()
    for name in mine:
        a, b = mine[name], theirs[name]
        assert a.shape == b.shape, f"{name}: {tuple(a.shape)} vs {tuple(b.shape)}"
        diff = (a - b).abs().max().item()
        assert diff <= tol, f"{name}: max abs diff {diff:.3g} > {tol}"


def save_hf(tmp_path, head: str = "BertForSequenceClassification", **extra):
    folder = tmp_path / "hf"
    model = hf_model(head, **extra)
    model.save_pretrained(folder)
    return folder, model


# -- transformers → bertkit -------------------------------------------------------------------------

@pytest.mark.parametrize("head", HEAD_NAMES)
def test_transformers_folder_loads_into_bertkit(tmp_path, head):
    folder, hf = save_hf(tmp_path, head)
    ours = getattr(bertkit, head).from_pretrained(folder)
    assert not ours.training, "from_pretrained gives a model in eval mode"
    (ours.bert if hasattr(ours, "bert") else ours).unpad = False  # compare at padding too
    batch = inputs()
    assert_outputs_close(outputs_of(ours, head, batch), outputs_of(hf, head, batch), tol=1e-5)
    if head in HEAD_EXTRA:
        assert ours.config.num_labels == HEAD_EXTRA[head]["num_labels"]


# -- bertkit → transformers -------------------------------------------------------------------------

@pytest.mark.parametrize("head", HEAD_NAMES)
def test_bertkit_folder_loads_into_transformers(tmp_path, head):
    ours = our_model(head)
    (ours.bert if hasattr(ours, "bert") else ours).unpad = False
    ours.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "config.json").is_file()
    assert not list(tmp_path.glob("*.tmp")), "temporary files left behind"
    hf, info = getattr(transformers, head).from_pretrained(tmp_path, output_loading_info=True,
                                                           attn_implementation="eager")
    assert not info["missing_keys"], info
    assert not info["unexpected_keys"], info
    assert not info["mismatched_keys"], info
    assert not info["error_msgs"], info
    hf.eval()
    # the tensors arrive unchanged (fused QKV split into query/key/value)
    hf_state = hf.state_dict()
    for key, value in ours_to_hf(ours.state_dict(), ours).items():
        assert torch.equal(hf_state[key], value), key
    batch = inputs()
    assert_outputs_close(outputs_of(ours, head, batch), outputs_of(hf, head, batch), tol=1e-6)
    # and back into bertkit, unchanged
    again = getattr(bertkit, head).from_pretrained(tmp_path)
    for key, value in ours.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key


def test_saved_config_reads_in_transformers_with_the_same_fields(tmp_path):
    ours = our_model("BertForSequenceClassification", hidden_act="gelu_new", layer_norm_eps=1e-7,
                     classifier_dropout=0.3, pad_token_id=3)
    ours.config.id2label = {0: "neg", 1: "neutral", 2: "pos"}
    ours.config.label2id = {"neg": 0, "neutral": 1, "pos": 2}
    ours.config.problem_type = "single_label_classification"
    ours.save_pretrained(tmp_path)
    hf_cfg = transformers.BertConfig.from_pretrained(tmp_path)
    ours_cfg = ours.config
    for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                 "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings",
                 "type_vocab_size", "initializer_range", "layer_norm_eps", "pad_token_id", "classifier_dropout",
                 "id2label", "label2id", "problem_type", "model_type", "num_labels"):
        assert getattr(hf_cfg, name) == getattr(ours_cfg, name), name
    assert hf_cfg.architectures == ["BertForSequenceClassification"]


def test_transformers_config_survives_a_bertkit_round_trip(tmp_path):
    """config.json written by transformers → bertkit load → bertkit save: transformers reads the same config."""
    folder, hf = save_hf(tmp_path, "BertForSequenceClassification")
    original = json.loads((folder / "config.json").read_text())
    ours = bertkit.BertForSequenceClassification.from_pretrained(folder)
    out = tmp_path / "ours"
    ours.save_pretrained(out)
    saved = json.loads((out / "config.json").read_text())
    for key, value in original.items():
        if value is not None:  # a null field may be left out: transformers reads absence as None
            assert saved.get(key) == value, key
    before = transformers.BertConfig.from_pretrained(folder).to_dict()
    after = transformers.BertConfig.from_pretrained(out).to_dict()
    after.pop("position_embedding_type", None)  # bertkit writes the (only) value explicitly
    assert after == before


def test_unknown_config_fields_survive(tmp_path):
    folder, _ = save_hf(tmp_path, "BertModel")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["my_project_note"] = {"trained_on": "wiki", "steps": [1, 2, 3]}
    cfg["gradient_checkpointing"] = False
    (folder / "config.json").write_text(json.dumps(cfg))
    model = bertkit.BertModel.from_pretrained(folder)
    assert model.config.extra["my_project_note"] == {"trained_on": "wiki", "steps": [1, 2, 3]}
    out = tmp_path / "out"
    model.save_pretrained(out)
    saved = json.loads((out / "config.json").read_text())
    assert saved["my_project_note"] == {"trained_on": "wiki", "steps": [1, 2, 3]}
    assert saved["gradient_checkpointing"] is False
    assert saved["transformers_version"] == cfg["transformers_version"]
    # and it still loads, in both libraries
    bertkit.BertModel.from_pretrained(out)
    assert transformers.BertConfig.from_pretrained(out).my_project_note["trained_on"] == "wiki"


# -- legacy .bin ------------------------------------------------------------------------------------

def test_pytorch_model_bin_folder_loads(tmp_path):
    hf = hf_model("BertForMaskedLM")
    hf.config.save_pretrained(tmp_path)
    torch.save(hf.state_dict(), tmp_path / "pytorch_model.bin")
    ours = bertkit.BertForMaskedLM.from_pretrained(tmp_path)
    ours.bert.unpad = False
    batch = inputs()
    assert_outputs_close(outputs_of(ours, "BertForMaskedLM", batch), outputs_of(hf, "BertForMaskedLM", batch), 1e-5)


class _NotATensor:
    pass


def test_pytorch_model_bin_with_objects_is_refused(tmp_path):
    hf = hf_model("BertModel")
    hf.config.save_pretrained(tmp_path)
    torch.save({"weights": hf.state_dict(), "extra": _NotATensor()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin.*weights_only"):
        bertkit.BertModel.from_pretrained(tmp_path)


def test_safetensors_preferred_over_bin(tmp_path):
    folder, hf = save_hf(tmp_path, "BertModel")
    (folder / "pytorch_model.bin").write_bytes(b"not a pickle")  # would fail if it were read
    bertkit.BertModel.from_pretrained(folder)


# -- heads added and dropped ------------------------------------------------------------------------

def test_bare_encoder_into_classifier_initialises_head_with_one_warning(tmp_path, caplog):
    folder, hf = save_hf(tmp_path, "BertModel")
    with caplog.at_level(logging.INFO, logger="bertkit"):
        ours = bertkit.BertForSequenceClassification.from_pretrained(folder)
    records = [r for r in caplog.records if r.name == "bertkit"]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].levelno == logging.WARNING
    message = records[0].getMessage()
    assert "\n" not in message
    assert "classifier.weight" in message and "classifier.bias" in message
    assert "encoder" not in message.replace(str(folder), "")  # only the head is fresh
    # the encoder is the checkpoint's; the classifier has BERT's init (std initializer_range, zero bias)
    assert torch.equal(ours.bert.encoder.layers[0].ffn.up.weight, hf.encoder.layer[0].intermediate.dense.weight)
    assert torch.equal(ours.bert.pooler.dense.weight, hf.pooler.dense.weight)
    assert ours.classifier.bias.abs().max() == 0
    assert 0.005 < ours.classifier.weight.std().item() < 0.05


def test_pretraining_folder_into_base_model_drops_heads_with_one_warning(tmp_path, caplog):
    folder, hf = save_hf(tmp_path, "BertForPreTraining")
    with caplog.at_level(logging.INFO, logger="bertkit"):
        ours = bertkit.BertModel.from_pretrained(folder)
    records = [r for r in caplog.records if r.name == "bertkit"]
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    assert records[0].levelno == logging.WARNING and "\n" not in message
    assert "cls.predictions" in message and "cls.seq_relationship" in message
    ours.unpad = False
    batch = inputs()
    assert_outputs_close(outputs_of(ours, "BertModel", batch), outputs_of(hf.bert, "BertModel", batch), 1e-5)


CROSS_HEAD = [  # (checkpoint head, target head, a fresh tensor, a dropped tensor), as named in the file
    ("BertModel", "BertForTokenClassification", "classifier.weight", "bert.pooler.dense.weight"),
    ("BertForMaskedLM", "BertForQuestionAnswering", "qa_outputs.weight", "cls.predictions.transform.dense.weight"),
    ("BertForPreTraining", "BertForSequenceClassification", "classifier.weight", "cls.seq_relationship.weight"),
    ("BertForSequenceClassification", "BertForMaskedLM", "cls.predictions.transform.dense.weight",
     "classifier.weight"),
]


def _cross_load(tmp_path, caplog, source, target):
    folder, hf = save_hf(tmp_path, source)
    with caplog.at_level(logging.INFO, logger="bertkit"):
        ours = getattr(bertkit, target).from_pretrained(folder)
    messages = [r.getMessage() for r in caplog.records if r.name == "bertkit"]
    return hf, ours, messages


@pytest.mark.parametrize("source, target", [c[:2] for c in CROSS_HEAD])
def test_cross_head_load_keeps_encoder(tmp_path, caplog, source, target):
    """Checkpoint heads the target lacks are dropped, its own heads start fresh: one line each."""
    hf, ours, messages = _cross_load(tmp_path, caplog, source, target)
    assert len(messages) == 2 and all("\n" not in m for m in messages), messages
    assert sum("fresh" in m for m in messages) == 1 and sum("dropped" in m for m in messages) == 1, messages
    encoder = hf.bert if hasattr(hf, "bert") else hf
    ours.bert.unpad = False
    batch = inputs()
    with torch.no_grad():
        a, b = ours.bert(**batch).last_hidden_state, encoder(**batch).last_hidden_state
    assert (a - b).abs().max().item() <= 1e-5


@pytest.mark.parametrize("source, target, fresh, dropped", CROSS_HEAD)
def test_cross_head_warnings_use_the_names_in_the_file(tmp_path, caplog, source, target, fresh, dropped):
    """The warnings name tensors as Hugging Face spells them, as the bare-encoder cases already do."""
    _, _, messages = _cross_load(tmp_path, caplog, source, target)
    fresh_line = next(m for m in messages if "fresh" in m)
    dropped_line = next(m for m in messages if "dropped" in m)
    assert fresh in fresh_line, fresh_line
    assert dropped in dropped_line, dropped_line


def test_exact_match_loads_silently(tmp_path, caplog):
    folder, _ = save_hf(tmp_path, "BertForTokenClassification")
    with caplog.at_level(logging.INFO, logger="bertkit"):
        bertkit.BertForTokenClassification.from_pretrained(folder)
    assert [r for r in caplog.records if r.name == "bertkit" and r.levelno >= logging.WARNING] == []


# -- errors -----------------------------------------------------------------------------------------

def _edit_weights(folder, edit) -> None:
    path = folder / "model.safetensors"
    state = dict(load_file(path))
    edit(state)
    save_file(state, path, metadata={"format": "pt"})


def test_missing_tensor_is_named(tmp_path):
    folder, _ = save_hf(tmp_path)
    _edit_weights(folder, lambda s: s.pop("bert.encoder.layer.1.output.dense.weight"))
    with pytest.raises(CheckpointError) as err:
        bertkit.BertForSequenceClassification.from_pretrained(folder)
    msg = str(err.value)
    assert "missing" in msg and "bert.encoder.layer.1.output.dense.weight" in msg
    assert "model.safetensors" in msg


def test_missing_embedding_is_named(tmp_path):
    folder, _ = save_hf(tmp_path, "BertModel")
    _edit_weights(folder, lambda s: s.pop("embeddings.word_embeddings.weight"))
    with pytest.raises(CheckpointError, match=r"missing.*embeddings\.word_embeddings\.weight"):
        bertkit.BertModel.from_pretrained(folder)


def test_missing_attention_part_is_named(tmp_path):
    folder, _ = save_hf(tmp_path)
    _edit_weights(folder, lambda s: s.pop("bert.encoder.layer.0.attention.self.key.bias"))
    with pytest.raises(CheckpointError) as err:
        bertkit.BertForSequenceClassification.from_pretrained(folder)
    msg = str(err.value)
    assert "model.safetensors" in msg and "key" in msg and "bias" in msg and ".0." in msg


def test_unexpected_tensor_is_named(tmp_path):
    folder, _ = save_hf(tmp_path)
    _edit_weights(folder, lambda s: s.update({"bert.encoder.layer.0.adapter.down.weight": torch.zeros(4, 32)}))
    with pytest.raises(CheckpointError) as err:
        bertkit.BertForSequenceClassification.from_pretrained(folder)
    assert "bert.encoder.layer.0.adapter.down.weight" in str(err.value)
    assert "model.safetensors" in str(err.value)


def test_unexpected_non_bert_tensor_is_named(tmp_path):
    folder, _ = save_hf(tmp_path)
    _edit_weights(folder, lambda s: s.update({"lm_head.weight": torch.zeros(4, 32)}))
    with pytest.raises(CheckpointError, match=r"unexpected.*lm_head\.weight"):
        bertkit.BertForSequenceClassification.from_pretrained(folder)


def test_extra_layer_is_unexpected(tmp_path):
    """A checkpoint deeper than config.json says: the extra layer's tensors are named."""
    folder, _ = save_hf(tmp_path, "BertModel")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["num_hidden_layers"] = 1
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"unexpected.*encoder\.layers?\.1\."):
        bertkit.BertModel.from_pretrained(folder)


def test_misshaped_tensor_is_named(tmp_path):
    folder, _ = save_hf(tmp_path)
    _edit_weights(folder, lambda s: s.update({"bert.encoder.layer.0.intermediate.dense.weight": torch.zeros(41, 32)}))
    with pytest.raises(CheckpointError) as err:
        bertkit.BertForSequenceClassification.from_pretrained(folder)
    msg = str(err.value)
    assert "shape" in msg and "(41, 32)" in msg and "(40, 32)" in msg
    assert "intermediate" in msg or "ffn.up" in msg, msg


def test_misshaped_classifier_is_named(tmp_path):
    """A checkpoint with 3 labels loaded with config saying 3 but classifier of 2 rows."""
    folder, _ = save_hf(tmp_path)
    _edit_weights(folder, lambda s: s.update({"classifier.weight": torch.zeros(2, 32),
                                              "classifier.bias": torch.zeros(2)}))
    with pytest.raises(CheckpointError, match=r"classifier\.(weight|bias).*\(2"):
        bertkit.BertForSequenceClassification.from_pretrained(folder)


def test_misshaped_query_is_named(tmp_path):
    folder, _ = save_hf(tmp_path, "BertModel")
    _edit_weights(folder, lambda s: s.update({"encoder.layer.1.attention.self.query.weight": torch.zeros(16, 32)}))
    with pytest.raises(CheckpointError) as err:
        bertkit.BertModel.from_pretrained(folder)
    msg = str(err.value)
    assert "model.safetensors" in msg and "query" in msg and "(16, 32)" in msg


# The error names each bad tensor as it is spelled in the file, which is what a user can look for
# (DESIGN: "a missing, unexpected or wrongly shaped tensor is an error that names the tensor"; missing
# and unexpected tensors are reported with their Hugging Face names already).
def _misshape_ffn(s):
    s["bert.encoder.layer.0.intermediate.dense.weight"] = torch.zeros(41, 32)


def _misshape_qkv(s):
    for part in ("query", "key", "value"):
        s[f"bert.encoder.layer.1.attention.self.{part}.weight"] = torch.zeros(16, 32)


def _misshape_query(s):
    s["bert.encoder.layer.1.attention.self.query.weight"] = torch.zeros(16, 32)


def _drop_key_bias(s):
    del s["bert.encoder.layer.0.attention.self.key.bias"]


@pytest.mark.parametrize("edit, name", [
    (_misshape_ffn, "bert.encoder.layer.0.intermediate.dense.weight"),
    (_misshape_qkv, "bert.encoder.layer.1.attention.self.query.weight"),
    (_misshape_query, "bert.encoder.layer.1.attention.self.query.weight"),
    (_drop_key_bias, "bert.encoder.layer.0.attention.self.key.bias"),
], ids=["misshaped-ffn", "misshaped-qkv", "misshaped-query", "missing-key-bias"])
def test_errors_use_the_names_in_the_file(tmp_path, edit, name):
    folder, _ = save_hf(tmp_path)
    _edit_weights(folder, edit)
    with pytest.raises(CheckpointError) as err:
        bertkit.BertForSequenceClassification.from_pretrained(folder)
    assert name in str(err.value)


def test_truncated_safetensors(tmp_path):
    folder, _ = save_hf(tmp_path)
    path = folder / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        bertkit.BertForSequenceClassification.from_pretrained(folder)


def test_garbage_safetensors(tmp_path):
    folder, _ = save_hf(tmp_path)
    (folder / "model.safetensors").write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        bertkit.BertForSequenceClassification.from_pretrained(folder)


def test_empty_safetensors(tmp_path):
    folder, _ = save_hf(tmp_path)
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        bertkit.BertForSequenceClassification.from_pretrained(folder)


def test_unknown_model_type(tmp_path):
    folder, _ = save_hf(tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["model_type"] = "gpt2"
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError) as err:
        bertkit.BertForSequenceClassification.from_pretrained(folder)
    msg = str(err.value)
    assert "model_type" in msg and "gpt2" in msg and "config.json" in msg


def test_bad_config_json(tmp_path):
    folder, _ = save_hf(tmp_path)
    (folder / "config.json").write_text('{"hidden_size": 32,')
    with pytest.raises(CheckpointError, match=r"config\.json.*JSON"):
        bertkit.BertForSequenceClassification.from_pretrained(folder)


def test_missing_folder(tmp_path):
    with pytest.raises(CheckpointError) as err:
        bertkit.BertModel.from_pretrained(tmp_path / "no-such-model")
    assert "no-such-model" in str(err.value)


def test_folder_without_weights(tmp_path):
    folder, _ = save_hf(tmp_path)
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError) as err:
        bertkit.BertForSequenceClassification.from_pretrained(folder)
    msg = str(err.value)
    assert str(folder) in msg and "model.safetensors" in msg and "pytorch_model.bin" in msg


def test_folder_without_config(tmp_path):
    folder, _ = save_hf(tmp_path)
    (folder / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"config\.json"):
        bertkit.BertForSequenceClassification.from_pretrained(folder)


def test_failed_save_leaves_old_checkpoint(tmp_path, monkeypatch):
    """A save that fails midway keeps the folder's previous weights."""
    ours = our_model("BertModel")
    ours.save_pretrained(tmp_path)
    before = (tmp_path / "model.safetensors").read_bytes()
    import safetensors.torch

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        our_model("BertModel", seed=3).save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))
