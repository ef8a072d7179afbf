"""The family registry: AutoConfig and AutoModel* pick each family's classes by config.json's model_type.

Which class transformers' own Auto classes pick for the same folder is checked in
parity/test_checkpoint_roundtrip.py; here: every model_type × every Auto class, from a config, a dict and
a folder; unknown model types as one-line errors; DistilBERT's own field names beside the shared ones;
RoBERTa's presets with 514-style position tables.
"""
from __future__ import annotations

import json

import pytest
import torch

import bertkit
from bertkit import (AlbertConfig, BertConfig, CheckpointError, ConfigError, DistilBertConfig, ElectraConfig,
                     RobertaConfig)
from bertkit.config import CONFIGS, PretrainedConfig
from bertkit.registry import (FAMILIES, MODEL_TYPES, AutoConfig, AutoModel, AutoModelForMaskedLM,
                              AutoModelForPreTraining, AutoModelForQuestionAnswering,
                              AutoModelForSequenceClassification, AutoModelForTokenClassification, family)

pytestmark = pytest.mark.usefixtures("one_thread")

# a tiny model of each family, in its own config.json names
TINY = {
    "bert": dict(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20,
                 max_position_embeddings=16),
    "roberta": dict(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20,
                    max_position_embeddings=18, type_vocab_size=1),
    "distilbert": dict(vocab_size=40, dim=16, n_layers=1, n_heads=2, hidden_dim=20, max_position_embeddings=16),
    "albert": dict(vocab_size=40, embedding_size=8, hidden_size=16, num_hidden_layers=2, num_hidden_groups=2,
                   num_attention_heads=2, intermediate_size=20, max_position_embeddings=16),
    "electra": dict(vocab_size=40, embedding_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=20, max_position_embeddings=16),
}
CONFIG_CLASS = {"bert": BertConfig, "roberta": RobertaConfig, "distilbert": DistilBertConfig, "albert": AlbertConfig,
                "electra": ElectraConfig}
PREFIX = {"bert": "Bert", "roberta": "Roberta", "distilbert": "DistilBert", "albert": "Albert", "electra": "Electra"}
# Auto class → the class-name suffix it gives; AutoModelForPreTraining gives RoBERTa's and DistilBERT's
# masked LM, as in transformers (they have no NSP head); BERT's and ALBERT's their ForPreTraining, and
# ELECTRA's discriminator
AUTOS = {AutoModel: "Model", AutoModelForPreTraining: "ForPreTraining", AutoModelForMaskedLM: "ForMaskedLM",
         AutoModelForSequenceClassification: "ForSequenceClassification",
         AutoModelForTokenClassification: "ForTokenClassification",
         AutoModelForQuestionAnswering: "ForQuestionAnswering"}


def expected_class(model_type: str, auto) -> str:
    suffix = AUTOS[auto]
    if suffix == "ForPreTraining" and model_type not in ("bert", "albert", "electra"):
        suffix = "ForMaskedLM"
    return PREFIX[model_type] + suffix


def one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


def test_the_registered_families():
    assert MODEL_TYPES == ("bert", "roberta", "distilbert", "albert", "electra")
    assert set(CONFIGS) == set(FAMILIES) == set(MODEL_TYPES)
    for model_type, fam in FAMILIES.items():
        assert fam.config_class is CONFIG_CLASS[model_type] and fam.config_class.model_type == model_type
        for task, cls in fam.models.items():
            assert cls.config_class is fam.config_class, (model_type, task)
            assert cls.__name__.startswith(PREFIX[model_type]), (model_type, task)
            assert getattr(bertkit, cls.__name__) is cls


# -- AutoConfig -------------------------------------------------------------------------------------

@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_auto_config_for_model_from_dict_and_from_pretrained(model_type, tmp_path):
    cls = CONFIG_CLASS[model_type]
    config = AutoConfig.for_model(model_type, **TINY[model_type])
    assert type(config) is cls and config.model_type == model_type
    for key, value in TINY[model_type].items():
        assert getattr(config, key) == value, key
    d = config.to_dict()
    assert d["model_type"] == model_type
    from_dict = AutoConfig.from_dict(d)
    assert type(from_dict) is cls and from_dict == config
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert type(loaded) is cls and loaded == config
    assert type(AutoConfig.from_pretrained(tmp_path / "config.json")) is cls  # the file itself
    three = AutoConfig.from_pretrained(tmp_path, num_labels=3)  # overrides are set on the result
    assert type(three) is cls and three.num_labels == 3
    # the family's own class reads the same folder; the base class dispatches as AutoConfig does
    assert cls.from_pretrained(tmp_path) == config
    assert type(PretrainedConfig.from_pretrained(tmp_path)) is cls


def test_auto_config_without_model_type_is_bert(tmp_path):
    """Old config.json files carry no model_type: they are BERT's."""
    d = dict(TINY["bert"])
    assert type(AutoConfig.from_dict(d)) is BertConfig
    (tmp_path / "config.json").write_text(json.dumps(d))
    assert type(AutoConfig.from_pretrained(tmp_path)) is BertConfig


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_family_config_refuses_another_model_type(model_type):
    other = next(t for t in MODEL_TYPES if t != model_type)
    d = dict(CONFIG_CLASS[other](**TINY[other]).to_dict())
    with pytest.raises(ConfigError) as err:
        CONFIG_CLASS[model_type].from_dict(d)
    msg = one_line(err)
    assert repr(other) in msg and "AutoConfig" in msg
    with pytest.raises(ConfigError) as err:
        CONFIG_CLASS[model_type](model_type=other)
    assert repr(other) in one_line(err)


# -- AutoModel* -------------------------------------------------------------------------------------

@pytest.mark.parametrize("auto", list(AUTOS), ids=lambda a: a.__name__)
@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_auto_model_from_config_picks_the_family_class(model_type, auto):
    config = AutoConfig.for_model(model_type, **TINY[model_type])
    model = auto.from_config(config)
    assert type(model).__name__ == expected_class(model_type, auto)
    assert type(model) is getattr(bertkit, expected_class(model_type, auto))
    assert auto.model_class(config) is type(model)
    assert model.config is config


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A saved bertkit folder per family: its masked LM (encoder and head)."""
    out = {}
    for model_type in MODEL_TYPES:
        torch.manual_seed(0)
        model = getattr(bertkit, PREFIX[model_type] + "ForMaskedLM")(CONFIG_CLASS[model_type](**TINY[model_type]))
        folder = tmp_path_factory.mktemp(model_type)
        model.save_pretrained(folder)
        out[model_type] = (folder, model)
    return out


@pytest.mark.parametrize("auto", list(AUTOS), ids=lambda a: a.__name__)
@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_auto_model_from_pretrained_picks_the_family_class(folders, model_type, auto):
    folder, saved = folders[model_type]
    fresh: list[str] = []
    model = auto.from_pretrained(folder, fresh=fresh)
    assert type(model).__name__ == expected_class(model_type, auto)
    assert not model.training
    assert type(model.config) is CONFIG_CLASS[model_type]
    # the encoder is the folder's
    for key, value in saved.base_model.state_dict().items():
        assert torch.equal(model.base_model.state_dict()[key], value), key
    if expected_class(model_type, auto).endswith("ForMaskedLM"):
        assert fresh == []  # the whole masked LM was in the folder


def test_auto_model_from_pretrained_takes_config_overrides(folders):
    folder, _ = folders["roberta"]
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=4, fresh=[])
    assert type(model) is bertkit.RobertaForSequenceClassification
    assert model.config.num_labels == 4 and model.classifier.out_proj.out_features == 4


def test_auto_model_is_not_built_directly():
    with pytest.raises(TypeError, match="from_pretrained"):
        AutoModel(BertConfig(**TINY["bert"]))


# -- unknown model types ----------------------------------------------------------------------------

@pytest.mark.parametrize("model_type", ["gpt2", "BERT", "", None, 3])
def test_unknown_model_type_is_a_one_line_config_error(model_type, tmp_path):
    d = dict(TINY["bert"], model_type=model_type)
    with pytest.raises(ConfigError) as err:
        AutoConfig.from_dict(d)
    msg = one_line(err)
    assert repr(model_type) in msg and "'bert', 'roberta', 'distilbert'" in msg, msg
    with pytest.raises(ConfigError) as err:
        AutoConfig.for_model(model_type, **TINY["bert"])
    assert repr(model_type) in one_line(err)
    (tmp_path / "config.json").write_text(json.dumps(d))
    with pytest.raises(ConfigError) as err:
        AutoConfig.from_pretrained(tmp_path)
    msg = one_line(err)
    assert "config.json" in msg and repr(model_type) in msg
    with pytest.raises(ConfigError):
        family(model_type)


@pytest.mark.parametrize("auto", list(AUTOS), ids=lambda a: a.__name__)
def test_unknown_model_type_folder_is_a_one_line_checkpoint_error(folders, auto, tmp_path):
    folder, _ = folders["bert"]
    for name in ("model.safetensors",):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    d = json.loads((folder / "config.json").read_text())
    d["model_type"] = "xlnet"
    (tmp_path / "config.json").write_text(json.dumps(d))
    with pytest.raises(CheckpointError) as err:
        auto.from_pretrained(tmp_path)
    msg = one_line(err)
    assert "'xlnet'" in msg and "config.json" in msg and "'bert', 'roberta', 'distilbert'" in msg


def test_auto_model_missing_folder_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError) as err:
        AutoModel.from_pretrained(tmp_path / "nothing-here")
    assert "nothing-here" in one_line(err)


# -- a model class given another family's config ----------------------------------------------------

@pytest.mark.parametrize("given", MODEL_TYPES)
@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_model_class_refuses_another_family_config(model_type, given):
    """BertModel(RobertaConfig(...)) would build BERT's position ids on a RoBERTa config and save a folder
    that AutoModel then loads as a RobertaModel with other outputs: every mix is a ConfigError that
    names the classes to use."""
    config = CONFIG_CLASS[given](**TINY[given])
    cls = getattr(bertkit, PREFIX[model_type] + "Model")
    if given == model_type:
        assert cls(config).config is config
        return
    with pytest.raises(ConfigError) as err:
        cls(config)
    msg = one_line(err)
    assert CONFIG_CLASS[model_type].__name__ in msg and "AutoModel" in msg, msg


# -- DistilBERT's own names and the shared ones -----------------------------------------------------

SHARED_TO_DISTILBERT = {"hidden_size": "dim", "num_hidden_layers": "n_layers", "num_attention_heads": "n_heads",
                        "intermediate_size": "hidden_dim", "hidden_act": "activation",
                        "hidden_dropout_prob": "dropout", "attention_probs_dropout_prob": "attention_dropout"}
SHARED_VALUES = dict(hidden_size=48, num_hidden_layers=3, num_attention_heads=3, intermediate_size=100,
                     hidden_act="relu", hidden_dropout_prob=0.2, attention_probs_dropout_prob=0.3)


def test_distilbert_config_accepts_shared_names_and_writes_its_own(tmp_path):
    config = DistilBertConfig(vocab_size=50, **SHARED_VALUES)
    for shared, own in SHARED_TO_DISTILBERT.items():
        assert getattr(config, own) == SHARED_VALUES[shared], own
        assert getattr(config, shared) == SHARED_VALUES[shared], shared  # read by the shared name too
    assert config.extra == {}  # nothing went astray
    d = config.to_dict()
    for shared, own in SHARED_TO_DISTILBERT.items():
        assert d[own] == SHARED_VALUES[shared] and shared not in d, shared
    assert d["model_type"] == "distilbert"
    for key in ("sinusoidal_pos_embds", "qa_dropout", "seq_classif_dropout", "max_position_embeddings"):
        assert key in d, key
    # the same through AutoConfig and setattr, by either name
    assert AutoConfig.for_model("distilbert", vocab_size=50, **SHARED_VALUES) == config
    config.hidden_size = 32
    config.n_heads = 4
    assert config.dim == 32 and config.num_attention_heads == 4 and config.head_dim == 8
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["dim"] == 32 and saved["n_heads"] == 4 and "hidden_size" not in saved
    again = AutoConfig.from_pretrained(tmp_path)
    assert type(again) is DistilBertConfig and again == config


def test_distilbert_config_reads_its_own_names_and_shared_ones_in_a_file(tmp_path):
    """A config.json in DistilBERT's names loads; a shared name in the file is kept as an extra key, as
    transformers keeps it (its own fields win)."""
    d = dict(model_type="distilbert", vocab_size=50, dim=64, n_layers=2, n_heads=4, hidden_dim=128,
             activation="gelu", sinusoidal_pos_embds=True)
    (tmp_path / "config.json").write_text(json.dumps(d))
    config = AutoConfig.from_pretrained(tmp_path)
    assert (config.dim, config.n_layers, config.n_heads, config.hidden_dim) == (64, 2, 4, 128)
    assert (config.hidden_size, config.num_hidden_layers, config.intermediate_size) == (64, 2, 128)
    assert config.sinusoidal_pos_embds is True


def test_distilbert_config_errors_name_its_own_fields():
    with pytest.raises(ConfigError) as err:
        DistilBertConfig(dim=30, n_heads=4)
    msg = one_line(err)
    assert "dim 30" in msg and "n_heads 4" in msg, msg
    with pytest.raises(ConfigError) as err:
        DistilBertConfig(n_layers=0)
    assert "n_layers" in one_line(err)
    with pytest.raises(ConfigError) as err:
        DistilBertConfig(dim=33, n_heads=3, sinusoidal_pos_embds=True)
    assert "sinusoidal_pos_embds" in one_line(err)
    with pytest.raises(ConfigError) as err:
        DistilBertConfig(seq_classif_dropout=1.5)
    assert "seq_classif_dropout" in one_line(err)


def test_distilbert_preset_in_its_own_names():
    config = DistilBertConfig.preset("mini")
    assert (config.n_layers, config.dim, config.n_heads, config.hidden_dim) == (4, 256, 4, 1024)
    config = DistilBertConfig.preset("mini", n_layers=2, hidden_size=128, n_heads=2)
    assert (config.n_layers, config.dim, config.n_heads) == (2, 128, 2)


# -- RoBERTa's positions ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, layers, hidden, heads", [("base", 12, 768, 12), ("large", 24, 1024, 16),
                                                         ("tiny", 2, 128, 2)])
def test_roberta_preset_has_514_style_positions(name, layers, hidden, heads):
    """roberta-base's config.json: 514 positions (512 tokens after pad_token_id 1), one segment,
    LayerNorm eps 1e-5, vocabulary 50265, <s> 0 and </s> 2."""
    config = RobertaConfig.preset(name)
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (layers, hidden, heads)
    assert config.intermediate_size == 4 * hidden
    assert config.max_position_embeddings == 514 and config.max_sequence_length == 512
    assert config.type_vocab_size == 1 and config.layer_norm_eps == 1e-5
    assert (config.vocab_size, config.pad_token_id, config.bos_token_id, config.eos_token_id) == (50265, 1, 0, 2)
    assert config.to_dict()["max_position_embeddings"] == 514


def test_roberta_preset_overrides():
    assert RobertaConfig.preset("base", pad_token_id=0).max_position_embeddings == 513  # 512 tokens still
    assert RobertaConfig.preset("base", pad_token_id=0).max_sequence_length == 512
    config = RobertaConfig.preset("base", max_position_embeddings=130)
    assert config.max_position_embeddings == 130 and config.max_sequence_length == 128
    assert RobertaConfig.preset("base", type_vocab_size=2).type_vocab_size == 2


def test_roberta_config_defaults_and_limit():
    """The class defaults are transformers' RobertaConfig's (512 positions: 510 tokens); BERT's limit is
    its table."""
    config = RobertaConfig()
    assert config.max_position_embeddings == 512 and config.max_sequence_length == 510
    assert BertConfig().max_sequence_length == 512
    with pytest.raises(ConfigError) as err:
        RobertaConfig(max_position_embeddings=2, pad_token_id=1)
    msg = one_line(err)
    assert "max_position_embeddings 2" in msg and "pad_token_id 1" in msg


# -- ALBERT's config ---------------------------------------------------------------------------------

def test_albert_config_defaults_are_transformers():
    """Every field and default of transformers' AlbertConfig (albert-xxlarge's shape, gelu_new, no dropout,
    pad 0, bos 2, eos 3)."""
    transformers = pytest.importorskip("transformers")
    ours, theirs = AlbertConfig(), transformers.AlbertConfig()
    d = ours.to_dict()
    for key in ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_hidden_groups",
                "num_attention_heads", "intermediate_size", "inner_group_num", "hidden_act", "hidden_dropout_prob",
                "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size", "initializer_range",
                "layer_norm_eps", "classifier_dropout_prob", "pad_token_id", "bos_token_id", "eos_token_id"):
        assert d[key] == getattr(theirs, key), key
    assert ours.classifier_dropout == 0.1  # the heads' shared name for classifier_dropout_prob


@pytest.mark.parametrize("name, layers, hidden, heads", [("tiny", 2, 128, 2), ("base", 12, 768, 12)])
def test_albert_preset(name, layers, hidden, heads):
    """The standard sizes with ALBERT's 128-wide embeddings and one shared group (albert-base-v2's shape)."""
    config = AlbertConfig.preset(name)
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (layers, hidden, heads)
    assert config.intermediate_size == 4 * hidden and config.embedding_size == 128
    assert (config.num_hidden_groups, config.inner_group_num, config.hidden_act) == (1, 1, "gelu_new")
    assert AlbertConfig.preset(name, embedding_size=64, num_hidden_groups=2).num_hidden_groups == 2


def test_albert_group_of_layer_is_transformers_rule():
    """Layer i runs group int(i / (L / G)): float division, so L need not be a multiple of G."""
    for L, G, groups in [(12, 1, [0] * 12), (5, 2, [0, 0, 0, 1, 1]), (3, 2, [0, 0, 1]), (2, 3, [0, 1]),
                         (4, 4, [0, 1, 2, 3])]:
        config = AlbertConfig(**dict(TINY["albert"], num_hidden_layers=L, num_hidden_groups=G))
        assert [config.group_of_layer(i) for i in range(L)] == groups, (L, G)
