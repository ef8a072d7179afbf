"""Model configs: the shape of an encoder, with the field names of Hugging Face's `config.json`.

One config class per family, as in `transformers`: BertConfig, RobertaConfig (BERT's fields with
RoBERTa's defaults), DistilBertConfig (its own names: dim, n_layers, n_heads, hidden_dim, ...) and
AlbertConfig (BERT's names plus embedding_size, num_hidden_groups, inner_group_num),
ElectraConfig (BERT's fields plus embedding_size).
CONFIGS maps config.json's `model_type` to the class; `config_from_dict` dispatches on it.

A config is a mutable dataclass, as in `transformers` (tutorials set `config.num_labels = 2` before
building a model). It checks itself when created and again when a model is built from it.
Fields that bertkit does not use but a `config.json` carries (`transformers_version`, `use_cache`, ...)
are kept in `extra` and written back, so a folder round-trips unchanged. The constructor takes what
`transformers`' config classes take: `num_labels=3`, and any other keyword (`output_hidden_states`,
`use_cache`, `torch_dtype`, a key of your own) goes to `extra`, readable and settable as an attribute.

The shared blocks (models/blocks.py) read one set of names: hidden_size, num_hidden_layers,
num_attention_heads, intermediate_size, hidden_act, hidden_dropout_prob, attention_probs_dropout_prob,
layer_norm_eps, max_position_embeddings, type_vocab_size, pad_token_id. A family whose config.json
names them otherwise maps them in `attribute_map` (shared name → its own field), as `transformers` does.
"""
from __future__ import annotations

import inspect
import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from .errors import ConfigError  # noqa: F401  (re-exported: bertkit.config.ConfigError)

ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "silu", "swish")

# The compact BERT family of Turc et al. (2019), plus the two original sizes.
# name: (num_hidden_layers, hidden_size, num_attention_heads); intermediate_size is 4 × hidden.
PRESETS: dict[str, tuple[int, int, int]] = {
    "tiny": (2, 128, 2),
    "mini": (4, 256, 4),
    "small": (4, 512, 8),
    "medium": (8, 512, 8),
    "base": (12, 768, 12),
    "large": (24, 1024, 16),
}




@dataclass
class PretrainedConfig:
    """What every family's config shares: labels, `extra`, checks, presets, and config.json in and out.

    A family is a dataclass subclass that sets `model_type` and declares its own fields; the fields
    below are keyword-only, so they come after the family's fields in the constructor."""

    model_type: ClassVar[str] = ""
    attribute_map: ClassVar[dict[str, str]] = {}  # shared name → this family's field name
    # task heads: label names (also give num_labels) and how a classification loss is chosen
    id2label: dict[int, str] | None = field(default=None, kw_only=True)
    label2id: dict[str, int] | None = field(default=None, kw_only=True)
    problem_type: str | None = field(default=None, kw_only=True)  # single_label_ / multi_label_classification, regression
    architectures: list[str] | None = field(default=None, kw_only=True)
    extra: dict[str, Any] = field(default_factory=dict, repr=False, kw_only=True)

    def __post_init__(self):
        if self.id2label is not None:  # in id order, whatever order the file had ("10" before "2")
            self.id2label = dict(sorted((int(k), v) for k, v in self.id2label.items()))
        if self.label2id is not None:
            self.label2id = {k: int(v) for k, v in self.label2id.items()}
        self.validate()

    # -- keys bertkit does not use: kept in `extra`, and attributes as in `transformers` -------------
    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: a shared name this family spells otherwise, or a key of
        # `extra` (config.use_cache, ...)
        native = type(self).attribute_map.get(name)
        if native is not None:
            return getattr(self, native)
        extra = self.__dict__.get("extra")
        if extra is not None and not name.startswith("_") and name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        name = type(self).attribute_map.get(name, name)
        # a name that is not a field, property or method goes to `extra`, so it is saved with the rest
        if name in _field_names(type(self)) or name.startswith("_") or hasattr(type(self), name):
            object.__setattr__(self, name, value)
        else:
            self.extra[name] = value

    # -- labels -------------------------------------------------------------------------------------
    @property
    def num_labels(self) -> int:
        return len(self.id2label) if self.id2label else 2

    @num_labels.setter
    def num_labels(self, n: int) -> None:
        if not isinstance(n, int) or n < 1:
            raise ConfigError(f"num_labels must be a positive int, got {n!r}")
        if self.id2label is None or len(self.id2label) != n:
            self.id2label = _default_labels(n)
            self.label2id = {v: k for k, v in self.id2label.items()}

    # -- shape --------------------------------------------------------------------------------------
    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def max_sequence_length(self) -> int:
        """The most tokens one input may hold: the position table's size (RoBERTa's is smaller)."""
        return self.max_position_embeddings

    # -- checks -------------------------------------------------------------------------------------
    def _name(self, shared: str) -> str:
        """The name a shared field has in this family's config.json (for messages)."""
        return type(self).attribute_map.get(shared, shared)

    def validate(self) -> None:
        """Raise ConfigError naming the field when the config cannot describe a working encoder."""
        positive = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                    "intermediate_size", "max_position_embeddings")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{self._name(name)} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(f"{self._name('hidden_size')} {self.hidden_size} is not a multiple of "
                              f"{self._name('num_attention_heads')} {self.num_attention_heads}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            _check_probability(self._name(name), getattr(self, name))
        if self.hidden_act not in ACTIVATIONS:
            raise ConfigError(f"{self._name('hidden_act')} {self.hidden_act!r} is not supported; "
                              f"use one of {', '.join(ACTIVATIONS)}")
        if not isinstance(self.pad_token_id, int) or not 0 <= self.pad_token_id < self.vocab_size:
            raise ConfigError(f"pad_token_id {self.pad_token_id} is outside the vocabulary (size {self.vocab_size})")
        if self.problem_type not in (None, "single_label_classification", "multi_label_classification",
                                     "regression"):
            raise ConfigError(f"problem_type {self.problem_type!r} is not one of single_label_classification, "
                              "multi_label_classification, regression")
        if self.max_sequence_length < 1:
            raise ConfigError(f"max_position_embeddings {self.max_position_embeddings} leaves no position for a "
                              f"token (positions start after pad_token_id {self.pad_token_id})")

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str, **overrides) -> "PretrainedConfig":
        """A standard size: tiny, mini, small, medium, base, large (with `overrides` applied, by shared
        or by the family's own field names)."""
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
        layers, hidden, heads = PRESETS[name]
        values = dict(num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads,
                      intermediate_size=4 * hidden)
        native = {cls.attribute_map.get(k, k) for k in overrides}
        values = {k: v for k, v in values.items() if cls.attribute_map.get(k, k) not in native}
        return cls(**values, **overrides)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> "PretrainedConfig":
        """A config from config.json's keys. Called on the base class (or through config_from_dict), the
        class is chosen by `model_type`; on a family's class, another model_type is a ConfigError."""
        model_type = d.get("model_type", cls.model_type or "bert")
        if not cls.model_type:
            return config_class(model_type, source).from_dict(d, source)
        if model_type != cls.model_type:
            raise ConfigError(f"{source}: model_type {model_type!r} is not {cls.__name__}'s {cls.model_type!r}; "
                              f"load it with AutoConfig (bertkit reads {', '.join(map(repr, CONFIGS))})")
        known = _field_names(cls) - {"extra"}
        kwargs = {k: v for k, v in d.items() if k in known or k == "num_labels"}
        extra = {k: v for k, v in d.items() if k not in kwargs and k != "model_type"}
        try:
            config = cls(**kwargs, extra=extra)
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None
        except TypeError as e:
            raise ConfigError(f"{source}: {e}") from None
        return config

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> "PretrainedConfig":
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            if path.name != "config.json":
                raise ConfigError(f"{path}: no such file; give a config.json path or a preset name") from None
            raise ConfigError(f"{path}: no config.json here; is this a model folder?") from None
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); "
                              "fix the file or write it again") from None
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path}: not UTF-8 text (byte {e.start}); a config.json is UTF-8 JSON") from None
        except OSError as e:
            raise ConfigError(f"{path}: cannot be read ({e.strerror or e}); give a readable config.json") from None
        if not isinstance(d, dict):
            raise ConfigError(f"{path}: expected a JSON object, got {type(d).__name__}")
        return cls.from_dict(d, source=str(path))

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **overrides) -> "PretrainedConfig":
        """Read `config.json` from a model folder (or the file itself)."""
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"{path}: no such folder, so no config.json to read; give a model folder")
        config = cls.from_json_file(path / "config.json" if path.is_dir() else path)
        for k, v in overrides.items():
            setattr(config, k, v)
        config.validate()
        return config

    # -- output -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fields of config.json. The default label map of two labels (LABEL_0, LABEL_1) is left
        out, as `transformers` leaves it out of the file; a torch.dtype in `extra` is written by name."""
        d = asdict(self)
        extra = {k: _dtype_name(v) for k, v in d.pop("extra").items()}
        if self.id2label is not None:
            d["id2label"] = {str(k): v for k, v in self.id2label.items()}
        if self.id2label == _default_labels(2) and self.label2id == {v: k for k, v in _default_labels(2).items()}:
            d["id2label"] = d["label2id"] = None
        for k in ("id2label", "label2id", "problem_type", "architectures", "classifier_dropout"):
            if k in d and d[k] is None:
                del d[k]
        return {**extra, **d, "model_type": self.model_type}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        from .io import atomic_write_text
        atomic_write_text(Path(folder) / "config.json", self.to_json())


@dataclass
class BertConfig(PretrainedConfig):
    """BERT (Devlin et al., 2019); the defaults are bert-base-uncased's."""

    model_type: ClassVar[str] = "bert"
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    position_embedding_type: str = "absolute"
    classifier_dropout: float | None = None

    def validate(self) -> None:
        super().validate()
        if not isinstance(self.type_vocab_size, int) or isinstance(self.type_vocab_size, bool) \
                or self.type_vocab_size < 1:
            raise ConfigError(f"type_vocab_size must be a positive integer, got {self.type_vocab_size!r}")
        if self.position_embedding_type != "absolute":
            raise ConfigError(f"position_embedding_type {self.position_embedding_type!r} is not supported; "
                              "bertkit implements 'absolute' (learned) position embeddings")


@dataclass
class RobertaConfig(BertConfig):
    """RoBERTa (Liu et al., 2019): BERT's fields and shape. Position ids start at pad_token_id + 1, so a
    table of max_position_embeddings holds inputs of max_position_embeddings - pad_token_id - 1 tokens
    (roberta-base: 514 positions, 512 tokens). The defaults are `transformers`' RobertaConfig's; the
    presets use roberta-base's one segment, 514 positions and LayerNorm eps 1e-5."""

    model_type: ClassVar[str] = "roberta"
    vocab_size: int = 50265
    pad_token_id: int = 1
    bos_token_id: int | None = 0
    eos_token_id: int | None = 2

    @property
    def max_sequence_length(self) -> int:
        return self.max_position_embeddings - self.pad_token_id - 1

    @staticmethod
    def released_defaults(pad_token_id: int = 1) -> dict[str, Any]:
        """What the released RoBERTa models set where `transformers`' defaults are BERT's: one segment,
        LayerNorm eps 1e-5, and positions for 512 tokens after the pad id (514 for pad 1)."""
        return dict(type_vocab_size=1, layer_norm_eps=1e-5, max_position_embeddings=512 + pad_token_id + 1)

    @classmethod
    def preset(cls, name: str, **overrides) -> "RobertaConfig":
        defaults = cls.released_defaults(overrides.get("pad_token_id", 1))
        return super().preset(name, **{**defaults, **overrides})


@dataclass
class DistilBertConfig(PretrainedConfig):
    """DistilBERT (Sanh et al., 2019): BERT's layers under other names, no token types, no pooler;
    sinusoidal_pos_embds fixes the position table to sines and cosines (Vaswani et al., 2017).
    LayerNorm eps is 1e-12 throughout, as in `transformers`."""

    model_type: ClassVar[str] = "distilbert"
    attribute_map: ClassVar[dict[str, str]] = {
        "hidden_size": "dim", "num_hidden_layers": "n_layers", "num_attention_heads": "n_heads",
        "intermediate_size": "hidden_dim", "hidden_act": "activation", "hidden_dropout_prob": "dropout",
        "attention_probs_dropout_prob": "attention_dropout"}
    layer_norm_eps: ClassVar[float] = 1e-12
    type_vocab_size: ClassVar[int] = 0  # no segment embeddings: token_type_ids are ignored
    vocab_size: int = 30522
    max_position_embeddings: int = 512
    sinusoidal_pos_embds: bool = False
    n_layers: int = 6
    n_heads: int = 12
    dim: int = 768
    hidden_dim: int = 3072
    dropout: float = 0.1
    attention_dropout: float = 0.1
    activation: str = "gelu"
    initializer_range: float = 0.02
    qa_dropout: float = 0.1
    seq_classif_dropout: float = 0.2
    pad_token_id: int = 0

    def validate(self) -> None:
        super().validate()
        for name in ("qa_dropout", "seq_classif_dropout"):
            _check_probability(name, getattr(self, name))
        if self.sinusoidal_pos_embds and self.dim % 2:
            raise ConfigError(f"sinusoidal_pos_embds needs an even dim, got {self.dim}")


@dataclass
class AlbertConfig(PretrainedConfig):
    """ALBERT (Lan et al., 2020): BERT's layers with factorised embeddings and cross-layer sharing.

    The token, position and segment tables are `embedding_size` (E) wide and projected to `hidden_size`
    (H) before the first layer. `num_hidden_groups` (G) groups of `inner_group_num` layers hold all the
    layer weights: layer i of `num_hidden_layers` (L) runs group int(i / (L / G)) (`transformers`' rule,
    float division, so L need not be a multiple of G), and a group runs its inner layers in turn. The
    fields and defaults are `transformers`' AlbertConfig's (albert-xxlarge's shape, dropout 0, gelu_new);
    the presets take the standard sizes with E = 128, as every released ALBERT."""

    model_type: ClassVar[str] = "albert"
    vocab_size: int = 30000
    embedding_size: int = 128
    hidden_size: int = 4096
    num_hidden_layers: int = 12
    num_hidden_groups: int = 1
    num_attention_heads: int = 64
    intermediate_size: int = 16384
    inner_group_num: int = 1
    hidden_act: str = "gelu_new"
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    classifier_dropout_prob: float = 0.1
    pad_token_id: int = 0
    bos_token_id: int | None = 2
    eos_token_id: int | None = 3

    @property
    def classifier_dropout(self) -> float:
        """The heads' dropout under its shared name (heads.classifier_dropout reads this)."""
        return self.classifier_dropout_prob

    @classifier_dropout.setter
    def classifier_dropout(self, p: float) -> None:
        self.classifier_dropout_prob = p

    def group_of_layer(self, i: int) -> int:
        """The group whose weights layer i runs: int(i / (L / G)), as `transformers` computes it."""
        return int(i / (self.num_hidden_layers / self.num_hidden_groups))

    def validate(self) -> None:
        super().validate()
        for name in ("embedding_size", "num_hidden_groups", "inner_group_num", "type_vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        _check_probability("classifier_dropout_prob", self.classifier_dropout_prob)  # transformers: no None


@dataclass
class ElectraConfig(BertConfig):
    """ELECTRA (Clark et al., 2020): BERT's encoder, with token, position and segment embeddings of width
    `embedding_size`, projected to hidden_size (`embeddings_project`) when the two differ. The defaults
    are `transformers`' ElectraConfig's (electra-small-discriminator: 12 layers, hidden 256, 4 heads,
    embedding_size 128). The summary_* fields are `transformers`' (its multiple-choice head reads them;
    bertkit keeps them so config.json round-trips). `generator_config` gives the matching generator's."""

    model_type: ClassVar[str] = "electra"
    embedding_size: int = 128
    hidden_size: int = 256
    num_attention_heads: int = 4
    intermediate_size: int = 1024
    summary_type: str = "first"
    summary_use_proj: bool = True
    summary_activation: str | None = "gelu"
    summary_last_dropout: float = 0.1

    def validate(self) -> None:
        super().validate()
        e = self.embedding_size
        if not isinstance(e, int) or isinstance(e, bool) or e < 1:
            raise ConfigError(f"embedding_size must be a positive integer, got {e!r}")
        _check_probability("summary_last_dropout", self.summary_last_dropout)

    @classmethod
    def preset(cls, name: str, **overrides) -> "ElectraConfig":
        """A standard size (tiny ... large, as for BERT) with embedding_size = hidden_size, as the released
        ELECTRA-Base and -Large have (ELECTRA-Small's embeddings are narrower: pass embedding_size=128)."""
        config = super().preset(name, **overrides)
        if "embedding_size" not in overrides:
            config.embedding_size = config.hidden_size
        return config

    def generator_config(self, fraction: float = 0.25, **overrides) -> "ElectraConfig":
        """The config of the generator that pretrains this (discriminator) config, as google-research/electra
        builds it (`get_generator_config`, flag generator_hidden_size; the paper's generators are 1/4 of
        ELECTRA-Small and -Large, 1/3 of -Base): hidden_size = round(fraction × hidden_size); the same head size as the discriminator's
        (64 in every released ELECTRA, the constant in google's code), so num_attention_heads =
        max(1, generator hidden // head size), lowered to a divisor of the hidden size if needed;
        intermediate_size = the discriminator's FFN ratio (4 in every ELECTRA) × generator hidden; the
        same depth. Everything else, embedding_size, vocabulary, positions and segments included, is
        this config's, so the two models can share their embeddings. `overrides` are applied last.
        Raises ConfigError for a fraction outside (0, 1]."""
        if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0 < fraction <= 1:
            raise ConfigError(f"generator fraction {fraction!r} is not in (0, 1]; the paper's generator is 1/4 "
                              "of the discriminator's width (fraction=0.25)")
        hidden = max(1, round(self.hidden_size * fraction))
        heads = max(1, hidden // self.head_dim)
        while hidden % heads:
            heads -= 1
        ffn = max(1, round(self.intermediate_size / self.hidden_size * hidden))
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("extra", "architectures")}
        d.update(hidden_size=hidden, num_attention_heads=heads, intermediate_size=ffn)
        return type(self)(**{**d, **overrides}, extra=dict(self.extra))


CONFIGS: dict[str, type[PretrainedConfig]] = {c.model_type: c for c in (BertConfig, RobertaConfig, DistilBertConfig,
                                                                        AlbertConfig, ElectraConfig)}


def config_class(model_type: Any, source: str = "config") -> type[PretrainedConfig]:
    """The config class of a model_type; ConfigError naming `source` for one bertkit does not read."""
    if model_type not in CONFIGS:
        raise ConfigError(f"{source}: model_type {model_type!r} is not supported; bertkit reads "
                          f"{', '.join(map(repr, CONFIGS))} models")
    return CONFIGS[model_type]


def config_from_dict(d: dict[str, Any], source: str = "config") -> PretrainedConfig:
    """The config that config.json's `model_type` names (BERT when the key is absent, as old files are)."""
    return PretrainedConfig.from_dict(d, source)


_FIELDS: dict[type, frozenset[str]] = {}
_log = logging.getLogger("bertkit")


def _field_names(cls: type) -> frozenset[str]:
    if cls not in _FIELDS:
        _FIELDS[cls] = frozenset(f.name for f in fields(cls))
    return _FIELDS[cls]


def _check_probability(name: str, p: Any) -> None:
    """A dropout rate: a number in [0, 1); ConfigError naming the field otherwise."""
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p < 1.0:
        raise ConfigError(f"{name} must be in [0, 1), got {p!r}")


def _default_labels(n: int) -> dict[int, str]:
    return {i: f"LABEL_{i}" for i in range(n)}


def _dtype_name(value: Any) -> Any:
    """torch.float16 → "float16" (config.json holds names; config.py does not import torch)."""
    if type(value).__module__ == "torch" and type(value).__name__ == "dtype":
        return str(value).removeprefix("torch.")
    return value


def _accept_transformers_keywords(cls):
    """Wrap a config dataclass's __init__ so that it takes what the `transformers` class takes."""
    generated_init = cls.__init__

    def __init__(self, *args, num_labels: int | None = None, **kwargs):
        """Config(field=..., ..., num_labels=None, **other): the fields as keywords (or in order), also by
        their shared names (hidden_size for DistilBERT's dim); `num_labels` gives id2label/label2id
        LABEL_0..LABEL_{n-1} unless `id2label` already has n entries; with neither, two labels (as in
        `transformers`). Any other keyword goes to `extra` (merged into an `extra` dict if one is
        given). Raises ConfigError for an invalid field or another family's model_type."""
        kwargs = {cls.attribute_map.get(k, k): v for k, v in kwargs.items()}
        model_type = kwargs.pop("model_type", cls.model_type)
        if model_type != cls.model_type:
            raise ConfigError(f"model_type {model_type!r} is not supported by {cls.__name__} (model_type "
                              f"{cls.model_type!r}); use the config class of that family, or AutoConfig")
        names = _field_names(cls)
        fields_given = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
        extra = dict(fields_given.pop("extra", None) or {})
        extra.update(kwargs)
        generated_init(self, *args, **fields_given, extra=extra)
        if num_labels is not None and self.id2label is not None and len(self.id2label) != num_labels:
            _log.warning("num_labels=%s does not match id2label (%d entries): the labels become "
                         "LABEL_0..LABEL_%s, as in transformers", num_labels, len(self.id2label), num_labels - 1)
        if num_labels is not None or self.id2label is None:
            self.num_labels = 2 if num_labels is None else num_labels

    __init__.__qualname__ = generated_init.__qualname__
    signature = inspect.signature(generated_init)  # for help() and editors: the fields, then the rest
    __init__.__signature__ = signature.replace(parameters=[
        *signature.parameters.values(),
        inspect.Parameter("num_labels", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="int | None"),
        inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD, annotation="Any")])
    cls.__init__ = __init__


for _cls in CONFIGS.values():
    _accept_transformers_keywords(_cls)
