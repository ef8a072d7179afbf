"""bertkit: BERT from scratch in PyTorch, reading and writing Hugging Face checkpoint folders."""
from .config import BertConfig
from .errors import (BertkitError, CheckpointError, ConfigError, DataError, TokenizerError,  # noqa: F401
                     TrainError)
from .models import (BertForMaskedLM, BertForPreTraining, BertForQuestionAnswering, BertForSequenceClassification,
                     BertForTokenClassification, BertModel, BertPreTrainedModel)

__version__ = "0.1.0"


def __getattr__(name):
    # the tokenizer is imported on first use, so that `import bertkit` stays light
    if name in ("BertTokenizer", "Tokenizer", "DistilBertTokenizer", "RobertaTokenizer", "AutoTokenizer"):
        from . import tokenization
        return getattr(tokenization, name)
    raise AttributeError(f"module 'bertkit' has no attribute {name!r}")


__all__ = ["BertConfig", "BertkitError", "ConfigError", "CheckpointError", "TokenizerError", "DataError",
           "TrainError", "BertModel", "BertPreTrainedModel", "BertForPreTraining",
           "BertForMaskedLM", "BertForSequenceClassification", "BertForTokenClassification",
           "BertForQuestionAnswering", "BertTokenizer", "Tokenizer", "DistilBertTokenizer", "RobertaTokenizer",
           "AutoTokenizer"]
