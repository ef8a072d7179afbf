"""The models: shared blocks and fast paths, and one small file per family (bert, roberta, distilbert, albert,
electra)."""
from .albert import (AlbertForMaskedLM, AlbertForPreTraining, AlbertForQuestionAnswering,
                     AlbertForSequenceClassification, AlbertForTokenClassification, AlbertModel, AlbertPreTrainedModel)
from .base import EncoderModel, KeyTable, PreTrainedModel
from .bert import (BertForMaskedLM, BertForPreTraining, BertForQuestionAnswering, BertForSequenceClassification,
                   BertForTokenClassification, BertModel, BertPreTrainedModel)
from .distilbert import (DistilBertForMaskedLM, DistilBertForQuestionAnswering, DistilBertForSequenceClassification,
                         DistilBertForTokenClassification, DistilBertModel, DistilBertPreTrainedModel)
from .electra import (ElectraForMaskedLM, ElectraForPreTraining, ElectraForQuestionAnswering,
                      ElectraForSequenceClassification, ElectraForTokenClassification, ElectraModel,
                      ElectraPreTrainedModel)
from .roberta import (RobertaForMaskedLM, RobertaForQuestionAnswering, RobertaForSequenceClassification,
                      RobertaForTokenClassification, RobertaModel, RobertaPreTrainedModel)

# every model class by its name (the name `transformers` gives it, and config.json's `architectures`)
MODELS = {cls.__name__: cls for cls in (
    BertModel, BertForPreTraining, BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification,
    BertForQuestionAnswering,
    RobertaModel, RobertaForMaskedLM, RobertaForSequenceClassification, RobertaForTokenClassification,
    RobertaForQuestionAnswering,
    DistilBertModel, DistilBertForMaskedLM, DistilBertForSequenceClassification, DistilBertForTokenClassification,
    DistilBertForQuestionAnswering,
    AlbertModel, AlbertForPreTraining, AlbertForMaskedLM, AlbertForSequenceClassification,
    AlbertForTokenClassification, AlbertForQuestionAnswering,
    ElectraModel, ElectraForPreTraining, ElectraForMaskedLM, ElectraForSequenceClassification,
    ElectraForTokenClassification, ElectraForQuestionAnswering,
)}

# BERT's models and heads by name
HEADS = {name: cls for name, cls in MODELS.items() if name.startswith("Bert")}

__all__ = ["PreTrainedModel", "EncoderModel", "KeyTable", "MODELS", "HEADS", *MODELS,
           "BertPreTrainedModel", "RobertaPreTrainedModel", "DistilBertPreTrainedModel", "AlbertPreTrainedModel",
           "ElectraPreTrainedModel"]
