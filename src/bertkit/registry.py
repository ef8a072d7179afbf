"""The family registry: model_type → config class, model class per head, tokenizer class.

`transformers` users load any checkpoint with AutoConfig / AutoTokenizer / AutoModel*, which read
config.json's `model_type` and pick the family's class. These do the same over the families bertkit
implements; a new family is one entry in FAMILIES (and its own model file, with its key table).

    model = AutoModelForSequenceClassification.from_pretrained("my-roberta/")   # a RobertaFor...
    config = AutoConfig.for_model("distilbert", dim=256, n_layers=3)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from .config import CONFIGS, PretrainedConfig, config_class
from .errors import CheckpointError, ConfigError
from .models import MODELS
from .tokenization.auto import TOKENIZER_FOR_MODEL_TYPE

# every head a family offers → the suffix of its class name after the family's prefix ("Bert" + "ForMaskedLM");
# "pretraining" differs by family and is given in FAMILIES
HEAD_SUFFIXES = {"base": "Model", "masked-lm": "ForMaskedLM", "sequence-classification": "ForSequenceClassification",
                 "token-classification": "ForTokenClassification", "question-answering": "ForQuestionAnswering"}
TASKS = ("base", "pretraining", *list(HEAD_SUFFIXES)[1:])


@dataclass(frozen=True)
class Family:
    model_type: str
    config_class: type[PretrainedConfig]
    models: dict[str, type]  # task → model class
    tokenizer: type  # its tokenizer class (bertkit.tokenization; AutoTokenizer picks it for the family's folders)

    def model(self, task: str) -> type:
        if task not in self.models:
            raise ConfigError(f"model_type {self.model_type!r} has no {task} model in bertkit; "
                              f"it has: {', '.join(self.models)}")
        return self.models[task]


def _family(model_type: str, prefix: str, pretraining: str) -> Family:
    names = {**HEAD_SUFFIXES, "pretraining": pretraining}
    return Family(model_type, CONFIGS[model_type], {t: MODELS[prefix + n] for t, n in names.items()},
                  TOKENIZER_FOR_MODEL_TYPE[model_type])


FAMILIES: dict[str, Family] = {f.model_type: f for f in (
    _family("bert", "Bert", "ForPreTraining"),
    _family("roberta", "Roberta", "ForMaskedLM"),  # MLM only: RoBERTa drops NSP
    _family("distilbert", "DistilBert", "ForMaskedLM"),
    _family("albert", "Albert", "ForPreTraining"),  # MLM + sentence-order prediction
    _family("electra", "Electra", "ForPreTraining"),  # the discriminator (replaced-token detection)
)}
MODEL_TYPES = tuple(FAMILIES)


def family(model_type: Any, source: str = "config") -> Family:
    """The family of a model_type; ConfigError naming `source` for one bertkit does not implement."""
    config_class(model_type, source)  # the one message for an unknown model_type
    return FAMILIES[model_type]


class AutoConfig:
    """The config class that config.json's model_type names."""

    @staticmethod
    def from_pretrained(folder: str | os.PathLike, **overrides) -> PretrainedConfig:
        """Read a model folder's config.json (or the file itself); `overrides` are set on the result."""
        return PretrainedConfig.from_pretrained(folder, **overrides)

    @staticmethod
    def for_model(model_type: str, **fields) -> PretrainedConfig:
        """A new config of `model_type` with these fields (shared names such as hidden_size work for
        every family)."""
        return family(model_type, "AutoConfig.for_model").config_class(**fields)

    @staticmethod
    def from_dict(d: dict[str, Any], source: str = "config") -> PretrainedConfig:
        return PretrainedConfig.from_dict(d, source)


class _AutoModel:
    task: ClassVar[str]

    def __init__(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} is not built directly: use {type(self).__name__}.from_pretrained(folder) "
                        f"or .from_config(config)")

    @classmethod
    def model_class(cls, config: PretrainedConfig) -> type:
        return family(config.model_type).model(cls.task)

    @classmethod
    def from_config(cls, config: PretrainedConfig):
        """A new, randomly initialised model of the config's family."""
        return cls.model_class(config)(config)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, *, fresh: list | None = None, **config_overrides):
        """Load a model folder as its family's class for this head (see PreTrainedModel.from_pretrained)."""
        from .checkpoint import model_folder
        folder = model_folder(folder)
        try:
            config = AutoConfig.from_pretrained(folder, **config_overrides)
            model_class = cls.model_class(config)
        except ConfigError as e:
            raise CheckpointError(str(e)) from None
        return model_class.from_pretrained(folder, config=config, fresh=fresh)


class AutoModel(_AutoModel):
    task = "base"


class AutoModelForPreTraining(_AutoModel):
    task = "pretraining"


class AutoModelForMaskedLM(_AutoModel):
    task = "masked-lm"


class AutoModelForSequenceClassification(_AutoModel):
    task = "sequence-classification"


class AutoModelForTokenClassification(_AutoModel):
    task = "token-classification"


class AutoModelForQuestionAnswering(_AutoModel):
    task = "question-answering"


def __getattr__(name: str):
    # AutoTokenizer lives with the tokenizers (which import no torch); reached here too, on first use
    if name == "AutoTokenizer":
        from .tokenization import AutoTokenizer
        return AutoTokenizer
    raise AttributeError(f"module 'bertkit.registry' has no attribute {name!r}")
