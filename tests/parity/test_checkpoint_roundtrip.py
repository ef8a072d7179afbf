"""Checkpoint folders move both ways between bertkit and `transformers`, and bad folders fail clearly,
for every head of every family (families.py: BERT, RoBERTa, DistilBERT, ALBERT).

- a folder written by `transformers` loads into bertkit (the family's class, and bertkit's Auto classes)
  and gives the same outputs;
- a folder written by bertkit loads into `transformers` (the class, and transformers' Auto classes) with
  no missing or unexpected keys and gives the same logits; its config.json reads back with the same
  fields, in the family's own names (DistilBERT's dim, n_layers, ...);
- legacy `pytorch_model.bin` folders load (weights only), with the buffers and tied decoders old files hold;
- loading a bare encoder into a head initialises the head and says so in one line; loading a head
  checkpoint into a bare encoder drops the head and says so in one line;
- a folder of another family is a one-line CheckpointError that names the class (or AutoModel) to use;
- a missing, unexpected or misshaped tensor, a corrupt file, an unknown model_type, a missing folder or
  a folder without weights is a CheckpointError naming the tensor or file.
"""
from __future__ import annotations

import copy
import json
import logging
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")
from safetensors.torch import load_file, save_file  # noqa: E402

import bertkit  # noqa: E402
import bertkit.registry  # noqa: E402
from bertkit import CheckpointError  # noqa: E402
from bertkit.checkpoint import ours_to_hf  # noqa: E402
from families import FAMILIES, HEAD_CASES, round_trip_params  # noqa: E402

transformers.logging.disable_progress_bar()

BERT = FAMILIES["bert"]
HF_CONFIG = BERT.small
# extra config per head, so label counts other than the default 2 travel through config.json too
HEAD_EXTRA = {"ForSequenceClassification": dict(num_labels=3), "ForTokenClassification": dict(num_labels=5)}
# the Auto class of each head, in bertkit.registry and in transformers
AUTO = {"Model": "AutoModel", "ForPreTraining": "AutoModelForPreTraining", "ForMaskedLM": "AutoModelForMaskedLM",
        "ForSequenceClassification": "AutoModelForSequenceClassification",
        "ForTokenClassification": "AutoModelForTokenClassification",
        "ForQuestionAnswering": "AutoModelForQuestionAnswering"}
FAMILY_IDS = list(FAMILIES)
# the same weights in both libraries: BERT's and RoBERTa's computations agree to 1e-6 here; DistilBERT's
# attention divides the queries by √d before the product (bertkit scales the scores), which rounds
# differently, within the suite's 1e-5
SAME_WEIGHTS_TOL = {"bert": 1e-6, "roberta": 1e-6, "distilbert": 1e-5, "albert": 1e-6, "electra": 1e-6}


def _perturb(model: torch.nn.Module, seed: int) -> None:
    """Move every weight off its trivial init (zero biases, unit LayerNorm) so a swapped tensor shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1.0 + 0.2 * noise if name.endswith(("LayerNorm.weight", "norm.weight")) else 0.1 * noise)


def hf_model(head: str, seed: int = 0, fam=BERT, **extra):
    """A random `transformers` model of the family's small shape; `head` is the class-name suffix."""
    torch.manual_seed(seed)
    cfg = fam.hf_config_class(**fam.small, **{**HEAD_EXTRA.get(head, {}), **extra})
    model = fam.hf_class(head)(cfg)
    _perturb(model, seed + 1)
    return model.eval()


def our_model(head: str, seed: int = 0, fam=BERT, **extra):
    cfg = fam.config_class(**{**fam.small, **extra})
    if head in HEAD_EXTRA:
        cfg.num_labels = HEAD_EXTRA[head]["num_labels"]
    torch.manual_seed(seed)
    model = fam.our_class(head)(cfg)
    _perturb(model, seed + 1)
    return model.eval()


def inputs(fam=BERT):
    """Three rows of 9, 4 and 2 tokens; two segments where the family has them."""
    g = torch.Generator().manual_seed(5)
    config = fam.config_class(**fam.small)
    pad = config.pad_token_id
    lengths = torch.tensor([9, 4, 2])
    B, T = len(lengths), 9
    mask = (torch.arange(T)[None] < lengths[:, None]).long()
    ids = torch.randint(1, fam.small["vocab_size"], (B, T), generator=g)
    ids[ids == pad] = pad + 1
    ids = ids.masked_fill(mask == 0, pad)
    out = dict(input_ids=ids, attention_mask=mask)
    if config.type_vocab_size > 1:
        out["token_type_ids"] = ((torch.arange(T)[None] >= (lengths[:, None] // 2)) & mask.bool()).long()
    return out


def outputs_of(model, head: str, batch, fam=BERT) -> dict[str, torch.Tensor]:
    """The head's main outputs as a dict (name → tensor), from either library."""
    with torch.no_grad():
        out = model(**batch)
    if head == "Model":
        names = ("last_hidden_state", "pooler_output") if fam.pooler else ("last_hidden_state",)
    elif head == "ForPreTraining" and fam.replaced_token_detection:
        names = ("logits",)  # ELECTRA's discriminator: a logit per token
    elif head == "ForPreTraining":
        names = ("prediction_logits", fam.sentence_task[1])  # seq_relationship_logits, sop_logits
    elif head == "ForQuestionAnswering":
        names = ("start_logits", "end_logits")
    else:
        names = ("logits",)
    result = {n: getattr(out, n) for n in names}
    if head == "ForQuestionAnswering":
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


_SAVED = tempfile.TemporaryDirectory(prefix="bertkit-hf-folders-")
_SAVED_FOLDERS: dict = {}


def save_hf(tmp_path, head: str = "ForSequenceClassification", fam=BERT, **extra):
    """A folder written by transformers' save_pretrained, at tmp_path / "hf" (the test's own copy: it
    may edit it), and the model. Written once per arguments and copied."""
    key = (fam.model_type, head, tuple(sorted(extra.items())))
    if key not in _SAVED_FOLDERS:
        saved = Path(_SAVED.name) / str(len(_SAVED_FOLDERS))
        model = hf_model(head, fam=fam, **extra)
        model.save_pretrained(saved)
        _SAVED_FOLDERS[key] = (saved, model)
    saved, model = _SAVED_FOLDERS[key]
    folder = tmp_path / "hf"
    shutil.copytree(saved, folder)
    return folder, copy.deepcopy(model)


# -- transformers → bertkit -------------------------------------------------------------------------

@pytest.mark.parametrize("case", round_trip_params(HEAD_CASES))
def test_transformers_folder_loads_into_bertkit(tmp_path, case):
    fam, head = case
    folder, hf = save_hf(tmp_path, head, fam)
    ours = getattr(bertkit, fam.name(head)).from_pretrained(folder)
    assert not ours.training, "from_pretrained gives a model in eval mode"
    ours.base_model.unpad = False  # compare at padding too
    batch = inputs(fam)
    assert_outputs_close(outputs_of(ours, head, batch, fam), outputs_of(hf, head, batch, fam), tol=1e-5)
    if head in HEAD_EXTRA:
        assert ours.config.num_labels == HEAD_EXTRA[head]["num_labels"]


@pytest.mark.parametrize("case", round_trip_params(HEAD_CASES))
def test_transformers_folder_loads_through_bertkit_auto_classes(tmp_path, case, caplog):
    """bertkit's AutoModel* read config.json's model_type and build the family's class for the head (the
    class transformers' own Auto class picks: test_bertkit_folder_loads_through_transformers_auto_classes),
    loaded silently with the same outputs."""
    fam, head = case
    folder, hf = save_hf(tmp_path, head, fam)
    auto = getattr(bertkit.registry, AUTO[head])
    with caplog.at_level(logging.INFO, logger="bertkit"):
        ours = auto.from_pretrained(folder)
    assert type(ours) is fam.our_class(head)
    assert [r for r in caplog.records if r.name == "bertkit" and r.levelno >= logging.WARNING] == []
    config = bertkit.registry.AutoConfig.from_pretrained(folder)
    assert type(config) is fam.config_class and config.model_type == fam.model_type
    ours.base_model.unpad = False
    batch = inputs(fam)
    assert_outputs_close(outputs_of(ours, head, batch, fam), outputs_of(hf, head, batch, fam), tol=1e-5)


# -- bertkit → transformers -------------------------------------------------------------------------

@pytest.mark.parametrize("case", round_trip_params(HEAD_CASES))
def test_bertkit_folder_loads_into_transformers(tmp_path, case):
    fam, head = case
    ours = our_model(head, fam=fam)
    ours.base_model.unpad = False
    ours.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "config.json").is_file()
    assert not list(tmp_path.glob("*.tmp")), "temporary files left behind"
    hf, info = fam.hf_class(head).from_pretrained(tmp_path, output_loading_info=True,
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
    batch = inputs(fam)
    assert_outputs_close(outputs_of(ours, head, batch, fam), outputs_of(hf, head, batch, fam),
                         tol=SAME_WEIGHTS_TOL[fam.model_type])
    # and back into bertkit, unchanged
    again = getattr(bertkit, fam.name(head)).from_pretrained(tmp_path)
    for key, value in ours.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key


@pytest.mark.parametrize("case", round_trip_params(HEAD_CASES))
def test_bertkit_folder_loads_through_transformers_auto_classes(tmp_path, case):
    """transformers' AutoModel* read bertkit's config.json (model_type, architectures) and load the
    weights completely; the config holds the family's own field names."""
    fam, head = case
    ours = our_model(head, fam=fam)
    ours.base_model.unpad = False
    ours.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == fam.model_type
    assert saved["architectures"] == [fam.name(head)]
    for key, value in fam.small.items():
        assert saved[key] == value, key
    assert type(transformers.AutoConfig.from_pretrained(tmp_path)) is fam.hf_config_class
    hf, info = getattr(transformers, AUTO[head]).from_pretrained(tmp_path, output_loading_info=True,
                                                                 attn_implementation="eager")
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    # the class bertkit's Auto class of the same name picks (AutoModelForPreTraining of RoBERTa and
    # DistilBERT is their masked LM, in both libraries)
    assert type(hf).__name__ == getattr(bertkit.registry, AUTO[head]).model_class(ours.config).__name__
    if head != "ForPreTraining" or fam is BERT:
        assert type(hf).__name__ == fam.name(head)
    hf.eval()
    batch = inputs(fam)
    assert_outputs_close(outputs_of(ours, head, batch, fam), outputs_of(hf, head, batch, fam),
                         tol=SAME_WEIGHTS_TOL[fam.model_type])


SAVED_FIELDS = {  # the fields of each family's config.json, in its own names
    "bert": ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
             "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings",
             "type_vocab_size", "initializer_range", "layer_norm_eps", "pad_token_id", "classifier_dropout"),
    "distilbert": ("vocab_size", "dim", "n_layers", "n_heads", "hidden_dim", "activation", "dropout",
                   "attention_dropout", "max_position_embeddings", "initializer_range", "pad_token_id",
                   "qa_dropout", "seq_classif_dropout", "sinusoidal_pos_embds"),
}
SAVED_FIELDS["roberta"] = SAVED_FIELDS["bert"] + ("bos_token_id", "eos_token_id")
SAVED_FIELDS["albert"] = tuple(f for f in SAVED_FIELDS["bert"] if f != "classifier_dropout") + (
    "embedding_size", "num_hidden_groups", "inner_group_num", "classifier_dropout_prob", "bos_token_id",
    "eos_token_id")
SAVED_FIELDS["electra"] = SAVED_FIELDS["bert"] + ("embedding_size", "summary_type", "summary_use_proj",
                                                  "summary_activation", "summary_last_dropout")
SAVED_EXTRA = {
    "bert": dict(hidden_act="gelu_new", layer_norm_eps=1e-7, classifier_dropout=0.3, pad_token_id=3),
    "roberta": dict(hidden_act="gelu_new", layer_norm_eps=1e-7, classifier_dropout=0.3, pad_token_id=3,
                    bos_token_id=5, eos_token_id=6),
    "distilbert": dict(activation="gelu_new", qa_dropout=0.2, seq_classif_dropout=0.3, dropout=0.15,
                       pad_token_id=3, sinusoidal_pos_embds=True),
    "albert": dict(hidden_act="gelu", layer_norm_eps=1e-7, classifier_dropout_prob=0.3, pad_token_id=3,
                   bos_token_id=5, eos_token_id=6, embedding_size=8, num_hidden_groups=1, inner_group_num=3),
    "electra": dict(hidden_act="gelu_new", layer_norm_eps=1e-7, classifier_dropout=0.3, pad_token_id=3,
                    embedding_size=24, summary_type="mean", summary_use_proj=False, summary_activation="tanh",
                    summary_last_dropout=0.2),
}


@pytest.mark.parametrize("family", FAMILY_IDS)
def test_saved_config_reads_in_transformers_with_the_same_fields(tmp_path, family):
    fam = FAMILIES[family]
    ours = our_model("ForSequenceClassification", fam=fam, **SAVED_EXTRA[family])
    ours.config.id2label = {0: "neg", 1: "neutral", 2: "pos"}
    ours.config.label2id = {"neg": 0, "neutral": 1, "pos": 2}
    ours.config.problem_type = "single_label_classification"
    ours.save_pretrained(tmp_path)
    hf_cfg = fam.hf_config_class.from_pretrained(tmp_path)
    ours_cfg = ours.config
    for name in SAVED_FIELDS[family] + ("id2label", "label2id", "problem_type", "model_type", "num_labels"):
        assert getattr(hf_cfg, name) == getattr(ours_cfg, name), name
    assert hf_cfg.architectures == [fam.name("ForSequenceClassification")]
    for name, value in SAVED_EXTRA[family].items():
        assert getattr(hf_cfg, name) == value, name


@pytest.mark.parametrize("family", FAMILY_IDS)
def test_transformers_config_survives_a_bertkit_round_trip(tmp_path, family):
    """config.json written by transformers → bertkit load → bertkit save: transformers reads the same config."""
    fam = FAMILIES[family]
    folder, hf = save_hf(tmp_path, "ForSequenceClassification", fam)
    original = json.loads((folder / "config.json").read_text())
    ours = getattr(bertkit, fam.name("ForSequenceClassification")).from_pretrained(folder)
    out = tmp_path / "ours"
    ours.save_pretrained(out)
    saved = json.loads((out / "config.json").read_text())
    for key, value in original.items():
        if value is not None:  # a null field may be left out: transformers reads absence as None
            assert saved.get(key) == value, key
    before = fam.hf_config_class.from_pretrained(folder).to_dict()
    after = fam.hf_config_class.from_pretrained(out).to_dict()
    after.pop("position_embedding_type", None)  # bertkit writes the (only) value explicitly
    assert after == before


@pytest.mark.parametrize("family", FAMILY_IDS)
def test_unknown_config_fields_survive(tmp_path, family):
    fam = FAMILIES[family]
    model_class = getattr(bertkit, fam.name("Model"))
    folder, _ = save_hf(tmp_path, "Model", fam)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["my_project_note"] = {"trained_on": "wiki", "steps": [1, 2, 3]}
    cfg["gradient_checkpointing"] = False
    (folder / "config.json").write_text(json.dumps(cfg))
    model = model_class.from_pretrained(folder)
    assert model.config.extra["my_project_note"] == {"trained_on": "wiki", "steps": [1, 2, 3]}
    out = tmp_path / "out"
    model.save_pretrained(out)
    saved = json.loads((out / "config.json").read_text())
    assert saved["my_project_note"] == {"trained_on": "wiki", "steps": [1, 2, 3]}
    assert saved["gradient_checkpointing"] is False
    assert saved["transformers_version"] == cfg["transformers_version"]
    # and it still loads, in both libraries
    model_class.from_pretrained(out)
    assert fam.hf_config_class.from_pretrained(out).my_project_note["trained_on"] == "wiki"


# -- legacy .bin ------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", FAMILY_IDS)
def test_pytorch_model_bin_folder_loads(tmp_path, family):
    """An old folder: pytorch_model.bin with the tied decoder's tensors and the position-id (and
    token-type-id) buffers that older transformers versions saved; they are skipped."""
    fam = FAMILIES[family]
    hf = hf_model("ForMaskedLM", fam=fam)
    hf.config.save_pretrained(tmp_path)
    state = hf.state_dict()
    if family != "bert":  # BERT's case as it always was
        base = fam.base + ".embeddings."
        state[base + "position_ids"] = torch.arange(fam.small["max_position_embeddings"])[None]
        if family in ("roberta", "electra"):
            state[base + "token_type_ids"] = torch.zeros(1, fam.small["max_position_embeddings"], dtype=torch.long)
    torch.save(state, tmp_path / "pytorch_model.bin")
    ours = getattr(bertkit, fam.name("ForMaskedLM")).from_pretrained(tmp_path)
    ours.base_model.unpad = False
    batch = inputs(fam)
    assert_outputs_close(outputs_of(ours, "ForMaskedLM", batch, fam), outputs_of(hf, "ForMaskedLM", batch, fam),
                         1e-5)


class _NotATensor:
    pass


def test_pytorch_model_bin_with_objects_is_refused(tmp_path):
    hf = hf_model("Model")
    hf.config.save_pretrained(tmp_path)
    torch.save({"weights": hf.state_dict(), "extra": _NotATensor()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin.*weights_only"):
        bertkit.BertModel.from_pretrained(tmp_path)


def test_safetensors_preferred_over_bin(tmp_path):
    folder, hf = save_hf(tmp_path, "Model")
    (folder / "pytorch_model.bin").write_bytes(b"not a pickle")  # would fail if it were read
    bertkit.BertModel.from_pretrained(folder)


# -- heads added and dropped ------------------------------------------------------------------------

def test_bare_encoder_into_classifier_initialises_head_with_one_warning(tmp_path, caplog):
    folder, hf = save_hf(tmp_path, "Model")
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
    folder, hf = save_hf(tmp_path, "ForPreTraining")
    with caplog.at_level(logging.INFO, logger="bertkit"):
        ours = bertkit.BertModel.from_pretrained(folder)
    records = [r for r in caplog.records if r.name == "bertkit"]
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    assert records[0].levelno == logging.WARNING and "\n" not in message
    assert "cls.predictions" in message and "cls.seq_relationship" in message
    ours.unpad = False
    batch = inputs()
    assert_outputs_close(outputs_of(ours, "Model", batch), outputs_of(hf.bert, "Model", batch), 1e-5)


# Every family: a bare encoder's folder into each head model gives a fresh head, named in one line;
# a head model's folder into the bare encoder drops the head, named in one line. RoBERTa's bare encoder
# has a pooler its heads lack (dropped, and fresh the other way round); DistilBERT has none.
# (family, head) → the head's tensors as the file names them (a few of them)
HEAD_TENSORS = {
    ("bert", "ForPreTraining"): ("cls.predictions.transform.dense.weight", "cls.seq_relationship.weight"),
    ("bert", "ForMaskedLM"): ("cls.predictions.transform.dense.weight", "cls.predictions.bias"),
    ("bert", "ForSequenceClassification"): ("classifier.weight", "classifier.bias"),
    ("bert", "ForTokenClassification"): ("classifier.weight", "classifier.bias"),
    ("bert", "ForQuestionAnswering"): ("qa_outputs.weight", "qa_outputs.bias"),
    ("roberta", "ForMaskedLM"): ("lm_head.dense.weight", "lm_head.layer_norm.weight", "lm_head.bias"),
    ("roberta", "ForSequenceClassification"): ("classifier.dense.weight", "classifier.out_proj.weight",
                                               "classifier.out_proj.bias"),
    ("roberta", "ForTokenClassification"): ("classifier.weight", "classifier.bias"),
    ("roberta", "ForQuestionAnswering"): ("qa_outputs.weight", "qa_outputs.bias"),
    ("distilbert", "ForMaskedLM"): ("vocab_transform.weight", "vocab_layer_norm.weight", "vocab_projector.bias"),
    ("distilbert", "ForSequenceClassification"): ("pre_classifier.weight", "classifier.weight", "classifier.bias"),
    ("distilbert", "ForTokenClassification"): ("classifier.weight", "classifier.bias"),
    ("distilbert", "ForQuestionAnswering"): ("qa_outputs.weight", "qa_outputs.bias"),
    ("albert", "ForPreTraining"): ("predictions.dense.weight", "predictions.LayerNorm.weight", "predictions.bias",
                                   "sop_classifier.classifier.weight"),
    ("albert", "ForMaskedLM"): ("predictions.dense.weight", "predictions.LayerNorm.weight", "predictions.bias"),
    ("albert", "ForSequenceClassification"): ("classifier.weight", "classifier.bias"),
    ("albert", "ForTokenClassification"): ("classifier.weight", "classifier.bias"),
    ("albert", "ForQuestionAnswering"): ("qa_outputs.weight", "qa_outputs.bias"),
    ("electra", "ForPreTraining"): ("discriminator_predictions.dense.weight",
                                    "discriminator_predictions.dense_prediction.weight"),
    ("electra", "ForMaskedLM"): ("generator_predictions.dense.weight", "generator_predictions.LayerNorm.weight",
                                 "generator_lm_head.bias"),
    ("electra", "ForSequenceClassification"): ("classifier.dense.weight", "classifier.out_proj.weight",
                                               "classifier.out_proj.bias"),
    ("electra", "ForTokenClassification"): ("classifier.weight", "classifier.bias"),
    ("electra", "ForQuestionAnswering"): ("qa_outputs.weight", "qa_outputs.bias"),
}
HEADS_ONLY = [c for c in HEAD_CASES if c[1] != "Model"]


def _head_has_pooler(fam, head: str) -> bool:
    """BERT's and ALBERT's sentence task and sequence classifier read the pooler; no other head does (as
    in transformers)."""
    return head in fam.pooled_heads


def _lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bertkit" and r.levelno >= logging.WARNING]


def _encoder_outputs_equal(ours, hf, fam) -> None:
    ours.base_model.unpad = False
    batch = inputs(fam)
    with torch.no_grad():
        a = ours.base_model(**batch).last_hidden_state
        b = getattr(hf, fam.base, hf)(**batch).last_hidden_state
    assert (a - b).abs().max().item() <= 1e-5


@pytest.mark.parametrize("case", round_trip_params(HEADS_ONLY))
def test_base_folder_into_head_model_gives_a_fresh_head(tmp_path, caplog, case):
    fam, head = case
    folder, hf = save_hf(tmp_path, "Model", fam)
    with caplog.at_level(logging.INFO, logger="bertkit"):
        ours = getattr(bertkit, fam.name(head)).from_pretrained(folder)
    lines = _lines(caplog)
    assert all("\n" not in m for m in lines), lines
    fresh = [m for m in lines if "fresh" in m]
    assert len(fresh) == 1, lines
    for name in HEAD_TENSORS[fam.model_type, head]:
        assert name in fresh[0], (name, fresh[0])
    assert "encoder" not in fresh[0].replace(str(folder), "")  # only the head is fresh
    dropped = [m for m in lines if "dropped" in m]
    if fam.pooler and not _head_has_pooler(fam, head):  # the folder's pooler has no place in the head model
        assert len(dropped) == 1 and fam.pooler_key in dropped[0], lines
    else:
        assert dropped == [], lines
    _encoder_outputs_equal(ours, hf, fam)
    # the encoder is the checkpoint's, tensor for tensor
    hf_state = hf.state_dict()
    for key, value in ours_to_hf(ours.base_model.state_dict(), ours.base_model).items():
        if key in hf_state:
            assert torch.equal(value, hf_state[key]), key


@pytest.mark.parametrize("case", round_trip_params(HEADS_ONLY))
def test_head_folder_into_base_model_drops_the_head(tmp_path, caplog, case):
    fam, head = case
    folder, hf = save_hf(tmp_path, head, fam)
    with caplog.at_level(logging.INFO, logger="bertkit"):
        ours = getattr(bertkit, fam.name("Model")).from_pretrained(folder)
    lines = _lines(caplog)
    assert all("\n" not in m for m in lines), lines
    dropped = [m for m in lines if "dropped" in m]
    assert len(dropped) == 1, lines
    for name in HEAD_TENSORS[fam.model_type, head]:
        assert name in dropped[0], (name, dropped[0])
    fresh = [m for m in lines if "fresh" in m]
    if fam.pooler and not _head_has_pooler(fam, head):  # the bare encoder's pooler is not in the head's folder
        assert len(fresh) == 1 and fam.pooler_key in fresh[0], lines
    else:
        assert fresh == [], lines
    _encoder_outputs_equal(ours, hf, fam)


CROSS_HEAD = [  # (checkpoint head, target head, a fresh tensor, a dropped tensor), as named in the file
    ("BertModel", "BertForTokenClassification", "classifier.weight", "bert.pooler.dense.weight"),
    ("BertForMaskedLM", "BertForQuestionAnswering", "qa_outputs.weight", "cls.predictions.transform.dense.weight"),
    ("BertForPreTraining", "BertForSequenceClassification", "classifier.weight", "cls.seq_relationship.weight"),
    ("BertForSequenceClassification", "BertForMaskedLM", "cls.predictions.transform.dense.weight",
     "classifier.weight"),
    ("RobertaModel", "RobertaForTokenClassification", "classifier.weight", "roberta.pooler.dense.weight"),
    ("RobertaForMaskedLM", "RobertaForQuestionAnswering", "qa_outputs.weight", "lm_head.dense.weight"),
    ("RobertaForSequenceClassification", "RobertaForMaskedLM", "lm_head.dense.weight", "classifier.out_proj.weight"),
    ("RobertaForSequenceClassification", "RobertaForTokenClassification", "classifier.weight",
     "classifier.dense.weight"),
    ("DistilBertForMaskedLM", "DistilBertForQuestionAnswering", "qa_outputs.weight", "vocab_transform.weight"),
    ("DistilBertForSequenceClassification", "DistilBertForMaskedLM", "vocab_transform.weight",
     "pre_classifier.weight"),
    ("DistilBertForQuestionAnswering", "DistilBertForTokenClassification", "classifier.weight", "qa_outputs.weight"),
    ("AlbertForPreTraining", "AlbertForSequenceClassification", "classifier.weight",
     "sop_classifier.classifier.weight"),
    ("AlbertForMaskedLM", "AlbertForQuestionAnswering", "qa_outputs.weight", "predictions.dense.weight"),
    ("AlbertModel", "AlbertForTokenClassification", "classifier.weight", "albert.pooler.weight"),
    # ELECTRA's discriminator and generator load into each other's heads (the encoder is the same)
    ("ElectraForPreTraining", "ElectraForMaskedLM", "generator_predictions.dense.weight",
     "discriminator_predictions.dense.weight"),
    ("ElectraForMaskedLM", "ElectraForSequenceClassification", "classifier.out_proj.weight", "generator_lm_head.bias"),
    ("ElectraForPreTraining", "ElectraForTokenClassification", "classifier.weight",
     "discriminator_predictions.dense_prediction.weight"),
]


def _split(name: str):
    """A class name → (its family, its head suffix)."""
    fam = max((f for f in FAMILIES.values() if name.startswith(f.prefix)), key=lambda f: len(f.prefix))
    return fam, name[len(fam.prefix):]


def _cross_load(tmp_path, caplog, source, target):
    fam, head = _split(source)
    folder, hf = save_hf(tmp_path, head, fam)
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
    fam, _ = _split(source)
    encoder = getattr(hf, fam.base, hf)
    ours.base_model.unpad = False
    batch = inputs(fam)
    with torch.no_grad():
        a, b = ours.base_model(**batch).last_hidden_state, encoder(**batch).last_hidden_state
    assert (a - b).abs().max().item() <= 1e-5


@pytest.mark.parametrize("source, target, fresh, dropped", CROSS_HEAD)
def test_cross_head_warnings_use_the_names_in_the_file(tmp_path, caplog, source, target, fresh, dropped):
    """The warnings name tensors as Hugging Face spells them, as the bare-encoder cases already do."""
    _, _, messages = _cross_load(tmp_path, caplog, source, target)
    fresh_line = next(m for m in messages if "fresh" in m)
    dropped_line = next(m for m in messages if "dropped" in m)
    assert fresh in fresh_line, fresh_line
    assert dropped in dropped_line, dropped_line


@pytest.mark.parametrize("family", FAMILY_IDS)
def test_exact_match_loads_silently(tmp_path, caplog, family):
    fam = FAMILIES[family]
    folder, _ = save_hf(tmp_path, "ForTokenClassification", fam)
    with caplog.at_level(logging.INFO, logger="bertkit"):
        getattr(bertkit, fam.name("ForTokenClassification")).from_pretrained(folder)
    assert [r for r in caplog.records if r.name == "bertkit" and r.levelno >= logging.WARNING] == []


# -- a folder of another family ---------------------------------------------------------------------

WRONG_FAMILY = [(a, b) for a in FAMILY_IDS for b in FAMILY_IDS if a != b]


@pytest.mark.parametrize("head", ["Model", "ForSequenceClassification"])
@pytest.mark.parametrize("saved, loader", WRONG_FAMILY, ids=[f"{a}-into-{b}" for a, b in WRONG_FAMILY])
def test_folder_of_another_family_is_a_clear_error(tmp_path, saved, loader, head):
    """A roberta folder given to BertModel.from_pretrained (and every other mix): one line that names
    the folder's model_type and says what to load it with (the right class, or AutoModel)."""
    folder, _ = save_hf(tmp_path, head, FAMILIES[saved])
    with pytest.raises(CheckpointError) as err:
        getattr(bertkit, FAMILIES[loader].name(head)).from_pretrained(folder)
    msg = str(err.value)
    assert "\n" not in msg, msg
    assert repr(saved) in msg or saved in msg.split(), msg
    right_class, auto = FAMILIES[saved].name(head), AUTO[head]
    assert right_class in msg or "AutoModel" in msg, f"names neither {right_class} nor {auto}: {msg}"


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
    folder, _ = save_hf(tmp_path, "Model")
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
    folder, _ = save_hf(tmp_path, "Model")
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
    folder, _ = save_hf(tmp_path, "Model")
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
    ours = our_model("Model")
    ours.save_pretrained(tmp_path)
    before = (tmp_path / "model.safetensors").read_bytes()
    import safetensors.torch

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        our_model("Model", seed=3).save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))
