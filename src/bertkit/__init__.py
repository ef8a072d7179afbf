"""bertkit: BERT from scratch in PyTorch, reading and writing Hugging Face checkpoint folders."""
from .checkpoint import CheckpointError
from .config import BertConfig, ConfigError
from .models import (BertForMaskedLM, BertForPreTraining, BertForQuestionAnswering, BertForSequenceClassification,
                     BertForTokenClassification, BertModel, BertPreTrainedModel)

__version__ = "0.1.0"


def __getattr__(name):
    # the tokenizer is imported on first use, so that `import bertkit` stays light
    if name in ("BertTokenizer", "Tokenizer"):
        from . import tokenization
        return getattr(tokenization, name)
    raise AttributeError(f"module 'bertkit' has no attribute {name!r}")


__all__ = ["BertConfig", "ConfigError", "CheckpointError", "BertModel", "BertPreTrainedModel", "BertForPreTraining",
           "BertForMaskedLM", "BertForSequenceClassification", "BertForTokenClassification",
           "BertForQuestionAnswering", "BertTokenizer", "Tokenizer"]
