"""Mistakes a user of the family can make, each a one-line BertkitError that says what to do."""
from __future__ import annotations

import pytest
import torch

from bertkit import (AlbertConfig, BertConfig, BertkitError, ConfigError, DistilBertConfig, ElectraConfig,
                     RobertaConfig)
from bertkit.models import MODELS

SMALL = dict(vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=40,
             max_position_embeddings=12)
CONFIGS = {"Bert": lambda **kw: BertConfig(**SMALL, **kw), "Roberta": lambda **kw: RobertaConfig(**SMALL, **kw),
           "DistilBert": lambda **kw: DistilBertConfig(**SMALL, **kw),
           "Albert": lambda **kw: AlbertConfig(**{**SMALL, "embedding_size": 16, **kw}),
           "Electra": lambda **kw: ElectraConfig(**SMALL, embedding_size=16, **kw)}


@pytest.mark.parametrize("family", list(CONFIGS))
def test_left_padded_batch_is_refused_by_sequence_classifiers(family):
    model = MODELS[family + "ForSequenceClassification"](CONFIGS[family]()).eval()
    ids = torch.randint(5, 50, (2, 6))
    mask = torch.ones_like(ids)
    mask[1, :3] = 0  # row 1 padded on the left
    with pytest.raises(BertkitError, match=r"^attention_mask row 1 is padding at position 0, where the classifier "
                                           r"reads \[CLS\] \(<s>\): the batch is padded on the left; pad on the right"):
        model(input_ids=ids, attention_mask=mask)
    mask[1] = 1
    mask[1, 4:] = 0  # right padding is fine
    assert model(input_ids=ids, attention_mask=mask).logits.shape == (2, 2)


@pytest.mark.parametrize("family", list(CONFIGS))
def test_question_answering_needs_two_labels(family):
    with pytest.raises(ConfigError, match=r"^num_labels 3: question answering has two outputs"):
        MODELS[family + "ForQuestionAnswering"](CONFIGS[family](num_labels=3))


@pytest.mark.parametrize("family", list(CONFIGS))
def test_position_ids_outside_the_table(family):
    model = MODELS[family + "Model"](CONFIGS[family]()).eval()
    ids = torch.randint(5, 50, (1, 4))
    with pytest.raises(BertkitError, match=r"^position_ids hold 12, outside the position table 0\.\.11"):
        model(input_ids=ids, position_ids=torch.tensor([[5, 9, 10, 12]]))
    with pytest.raises(BertkitError, match=r"^position_ids hold -1"):
        model(input_ids=ids, position_ids=torch.tensor([[-1, 0, 1, 2]]))
    assert model(input_ids=ids, position_ids=torch.tensor([[0, 1, 2, 11]])).last_hidden_state.shape == (1, 4, 32)


def test_weights_of_another_family_under_a_wrong_model_type_name_a_few_tensors(tmp_path):
    """A DistilBERT folder whose config.json lost its model_type reads as BERT: the message lists a few of
    the tensors that do not fit, not all of them, and asks about model_type."""
    import json
    from bertkit import AutoModel, CheckpointError
    folder = tmp_path / "d"
    MODELS["DistilBertModel"](CONFIGS["DistilBert"]()).save_pretrained(folder)
    cfg = json.loads((folder / "config.json").read_text())
    del cfg["model_type"]
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError) as e:
        AutoModel.from_pretrained(folder)
    message = str(e.value)
    assert "\n" not in message and len(message) < 600, message
    assert "and " in message and "more; is config.json's model_type the model's own?" in message


def test_labels_are_in_id_order():
    cfg = BertConfig.from_dict({"id2label": {str(i): f"L{i}" for i in (10, 2, 0, 1, 3, 4, 5, 6, 7, 8, 9)}})
    assert list(cfg.id2label) == list(range(11))


@pytest.mark.parametrize("field, value", [("embedding_size", 0), ("num_hidden_groups", 0), ("inner_group_num", -1),
                                          ("num_hidden_groups", 1.5), ("classifier_dropout_prob", 1.5),
                                          ("classifier_dropout_prob", None), ("type_vocab_size", 0)])
def test_albert_config_errors_name_the_field(field, value):
    with pytest.raises(ConfigError) as e:
        CONFIGS["Albert"](**{field: value})
    message = str(e.value)
    assert "\n" not in message and message.startswith(field), message


def test_albert_inputs_embeds_are_embedding_size_wide():
    """ALBERT's inputs_embeds replace its E-wide word vectors: hidden_size-wide ones are a clear error."""
    model = MODELS["AlbertModel"](CONFIGS["Albert"]()).eval()
    with pytest.raises(BertkitError, match=r"^inputs_embeds must be 3-D \(batch, seq_len, embedding_size 16\), "
                                           r"got shape \(1, 4, 32\)"):
        model(inputs_embeds=torch.zeros(1, 4, 32))
    assert model(inputs_embeds=torch.zeros(1, 4, 16)).last_hidden_state.shape == (1, 4, 32)
