"""bertkit: BERT and its family from scratch in PyTorch, reading and writing Hugging Face checkpoint folders."""
from .config import BertConfig, DistilBertConfig, PretrainedConfig, RobertaConfig
from .errors import (BertkitError, CheckpointError, ConfigError, DataError, TokenizerError,  # noqa: F401
                     TrainError)
from .models import (BertForMaskedLM, BertForPreTraining, BertForQuestionAnswering, BertForSequenceClassification,
                     BertForTokenClassification, BertModel, BertPreTrainedModel, DistilBertForMaskedLM,
                     DistilBertForQuestionAnswering, DistilBertForSequenceClassification,
                     DistilBertForTokenClassification, DistilBertModel, DistilBertPreTrainedModel, PreTrainedModel,
                     RobertaForMaskedLM, RobertaForQuestionAnswering, RobertaForSequenceClassification,
                     RobertaForTokenClassification, RobertaModel, RobertaPreTrainedModel)
from .registry import (AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForPreTraining,
                       AutoModelForQuestionAnswering, AutoModelForSequenceClassification,
                       AutoModelForTokenClassification)

__version__ = "0.1.0"

_TOKENIZERS = ("BertTokenizer", "Tokenizer", "DistilBertTokenizer", "RobertaTokenizer", "AutoTokenizer")


def __getattr__(name):
    # the tokenizers are imported on first use, so that `import bertkit` stays light
    if name in _TOKENIZERS:
        from . import tokenization
        return getattr(tokenization, name)
    raise AttributeError(f"module 'bertkit' has no attribute {name!r}")


__all__ = ["BertkitError", "ConfigError", "CheckpointError", "TokenizerError", "DataError", "TrainError",
           "PretrainedConfig", "BertConfig", "RobertaConfig", "DistilBertConfig", "PreTrainedModel",
           "BertModel", "BertPreTrainedModel", "BertForPreTraining", "BertForMaskedLM", "BertForSequenceClassification",
           "BertForTokenClassification", "BertForQuestionAnswering",
           "RobertaModel", "RobertaPreTrainedModel", "RobertaForMaskedLM", "RobertaForSequenceClassification",
           "RobertaForTokenClassification", "RobertaForQuestionAnswering",
           "DistilBertModel", "DistilBertPreTrainedModel", "DistilBertForMaskedLM",
           "DistilBertForSequenceClassification", "DistilBertForTokenClassification", "DistilBertForQuestionAnswering",
           "AutoConfig", "AutoModel", "AutoModelForPreTraining", "AutoModelForMaskedLM",
           "AutoModelForSequenceClassification", "AutoModelForTokenClassification", "AutoModelForQuestionAnswering",
           *_TOKENIZERS]
