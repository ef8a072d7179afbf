"""bertkit: BERT and its family from scratch in PyTorch, reading and writing Hugging Face checkpoint folders.

The configs and errors are imported at once; the models, the Auto classes and the tokenizers on first
use (`from bertkit import RobertaModel` works as usual), so that `import bertkit` and `bertkit --help`
do not pay for importing torch.
"""
from .config import AlbertConfig, BertConfig, DistilBertConfig, ElectraConfig, PretrainedConfig, RobertaConfig
from .errors import (BertkitError, CheckpointError, ConfigError, DataError, TokenizerError,  # noqa: F401
                     TrainError)

__version__ = "0.1.0"

_MODELS = ("PreTrainedModel", "BertModel", "BertPreTrainedModel", "BertForPreTraining", "BertForMaskedLM",
           "BertForSequenceClassification", "BertForTokenClassification", "BertForQuestionAnswering",
           "RobertaModel", "RobertaPreTrainedModel", "RobertaForMaskedLM", "RobertaForSequenceClassification",
           "RobertaForTokenClassification", "RobertaForQuestionAnswering",
           "DistilBertModel", "DistilBertPreTrainedModel", "DistilBertForMaskedLM",
           "DistilBertForSequenceClassification", "DistilBertForTokenClassification",
           "DistilBertForQuestionAnswering",
           "AlbertModel", "AlbertPreTrainedModel", "AlbertForPreTraining", "AlbertForMaskedLM",
           "AlbertForSequenceClassification", "AlbertForTokenClassification", "AlbertForQuestionAnswering",
           "ElectraModel", "ElectraPreTrainedModel", "ElectraForPreTraining", "ElectraForMaskedLM",
           "ElectraForSequenceClassification", "ElectraForTokenClassification", "ElectraForQuestionAnswering")
_AUTO = ("AutoConfig", "AutoModel", "AutoModelForPreTraining", "AutoModelForMaskedLM",
         "AutoModelForSequenceClassification", "AutoModelForTokenClassification", "AutoModelForQuestionAnswering")
_TOKENIZERS = ("BertTokenizer", "Tokenizer", "DistilBertTokenizer", "RobertaTokenizer", "AlbertTokenizer",
               "AutoTokenizer")


def __getattr__(name):
    if name in _MODELS:
        from . import models
        return getattr(models, name)
    if name in _AUTO:
        from . import registry
        return getattr(registry, name)
    if name in _TOKENIZERS:
        from . import tokenization
        return getattr(tokenization, name)
    raise AttributeError(f"module 'bertkit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


__all__ = ["BertkitError", "ConfigError", "CheckpointError", "TokenizerError", "DataError", "TrainError",
           "PretrainedConfig", "BertConfig", "RobertaConfig", "DistilBertConfig", "AlbertConfig", "ElectraConfig",
           *_MODELS, *_AUTO, *_TOKENIZERS]
