from .bert import BertModel, BertPreTrainedModel
from .heads import (HEADS, BertForMaskedLM, BertForPreTraining, BertForQuestionAnswering,
                    BertForSequenceClassification, BertForTokenClassification)

__all__ = ["BertModel", "BertPreTrainedModel", "BertForPreTraining", "BertForMaskedLM",
           "BertForSequenceClassification", "BertForTokenClassification", "BertForQuestionAnswering", "HEADS"]
