"""`bertkit convert`: a DistilBERT (or a shallower BERT) from chosen layers of a BERT.

The oracle is the source model itself: before any training, the converted model must give the hidden
states of a BERT made of the same layers (on single texts, whose segment ids are all 0), and
`transformers` must load the folder with no missing or unexpected weights and give the same numbers.
"""
from __future__ import annotations

import pytest
import torch

from _finetune_util import cli_error, leftovers, tiny_folder
from bertkit import BertConfig, BertForMaskedLM, BertModel
from bertkit.cli import main
from bertkit.convert import convert_model, parse_layers
from bertkit.registry import AutoModel, AutoModelForMaskedLM

transformers = pytest.importorskip("transformers")


def _batch(vocab: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (3, 11), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    mask[2, 3:] = 0
    return ids.masked_fill(mask == 0, 0), mask


def _bert(cls=BertModel, layers: int = 4, seed: int = 0):
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                     intermediate_size=40, max_position_embeddings=24)
    model = cls(cfg).eval()
    with torch.no_grad():  # LayerNorm and biases away from their trivial init
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _keep_layers(model, layers):
    """The model itself with only `layers` left in its encoder: the reference a conversion must equal."""
    enc = model.base_model.encoder
    enc.layers = torch.nn.ModuleList(enc.layers[i] for i in layers)
    model.config.num_hidden_layers = len(layers)
    return model


@pytest.mark.parametrize("target", ["distilbert", "bert"])
@pytest.mark.parametrize("layers", [[0, 2], [3], [1, 2, 3], [2, 0]])
def test_converted_encoder_equals_bert_with_those_layers(target, layers):
    teacher = _bert()
    student = convert_model(teacher, target, layers).eval()
    assert student.config.model_type == target and student.config.num_hidden_layers == len(layers)
    reference = _keep_layers(_bert(), layers)
    ids, mask = _batch(60)
    with torch.no_grad():
        want = reference(input_ids=ids, attention_mask=mask).last_hidden_state
        got = student(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
    real = mask.bool()
    assert (want - got)[real].abs().max() < 1e-5
    if target == "bert":  # the pooler comes along
        assert student.pooler is not None


def test_converted_mlm_head_gives_the_same_logits():
    teacher = _bert(BertForMaskedLM)
    student = convert_model(teacher, "distilbert", [1, 3]).eval()
    assert type(student).__name__ == "DistilBertForMaskedLM"
    reference = _keep_layers(_bert(BertForMaskedLM), [1, 3])
    ids, mask = _batch(60, seed=1)
    with torch.no_grad():
        want = reference(input_ids=ids, attention_mask=mask).logits
        got = student(input_ids=ids, attention_mask=mask).logits
    assert (want - got)[mask.bool()].abs().max() < 1e-5


def test_default_layers_are_every_other_one():
    assert parse_layers(None, 6) == [0, 2, 4]
    assert parse_layers(None, 5) == [0, 2, 4]
    assert parse_layers("5,1", 6) == [5, 1]


@pytest.mark.parametrize("spec, message", [
    ("0,6", r"--layers 0,6: the source has layers 0\.\.5; 6 is not one of them"),
    ("a,b", r"--layers 'a,b': give layer numbers separated by commas"),
    ("1,1", r"--layers 1,1: a layer is named twice"),
    ("-1", r"--layers -1: the source has layers 0\.\.5; -1"),
])
def test_bad_layers_are_refused(spec, message):
    from bertkit.errors import OptionError
    with pytest.raises(OptionError, match=message):
        parse_layers(spec, 6)


def test_cli_writes_a_folder_transformers_loads(tmp_path, capsys):
    src = tiny_folder(tmp_path / "bert")
    out = tmp_path / "distil"
    main(["convert", str(src), str(out), "--layers", "1"])
    assert "wrote" in capsys.readouterr().err
    ours = AutoModel.from_pretrained(out)
    assert type(ours).__name__ == "DistilBertModel"
    hf, info = transformers.DistilBertModel.from_pretrained(out, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    reference = _keep_layers(BertModel.from_pretrained(src), [1])
    ids, mask = _batch(reference.config.vocab_size, seed=2)
    with torch.no_grad():
        want = reference(input_ids=ids, attention_mask=mask).last_hidden_state
        theirs = hf.eval()(input_ids=ids, attention_mask=mask).last_hidden_state
        got = ours(input_ids=ids, attention_mask=mask).last_hidden_state
    real = mask.bool()
    assert (want - theirs)[real].abs().max() < 1e-5
    assert (want - got)[real].abs().max() < 1e-5
    assert (out / "vocab.txt").is_file()  # the tokenizer comes along


def test_cli_to_bert_keeps_the_mlm_head(tmp_path):
    src = tmp_path / "mlm"
    _bert(BertForMaskedLM).save_pretrained(src)
    tiny = tiny_folder(tmp_path / "tok")
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"):
        if (tiny / name).exists():
            (src / name).write_bytes((tiny / name).read_bytes())
    cfg_vocab = BertConfig.from_pretrained(src).vocab_size
    assert cfg_vocab == 60
    out = tmp_path / "small"
    main(["convert", str(src), str(out), "--to", "bert", "--layers", "0,3"])
    fresh: list = []
    model = AutoModelForMaskedLM.from_pretrained(out, fresh=fresh)
    assert type(model).__name__ == "BertForMaskedLM" and not fresh


@pytest.mark.parametrize("argv, message", [
    (["--layers", "0,7"], r"--layers 0,7: the source has layers 0\.\.1; 7"),
    (["--to", "albert"], r"--to 'albert': use one of distilbert, bert"),
])
def test_cli_bad_options_are_one_line_and_write_nothing(tmp_path, capsys, argv, message):
    import re
    src = tiny_folder(tmp_path / "bert")
    out = tmp_path / "out"
    line = cli_error(["convert", str(src), str(out), *argv], capsys)
    assert re.search(message, line), line
    assert leftovers(out) == []


def test_cli_refuses_a_non_bert_source_and_the_source_as_output(tmp_path, capsys):
    src = tiny_folder(tmp_path / "bert")
    line = cli_error(["convert", str(src), str(src)], capsys)
    assert "the output folder is the source" in line
    distil = tmp_path / "distil"
    main(["convert", str(src), str(distil)])
    capsys.readouterr()
    line = cli_error(["convert", str(distil), str(tmp_path / "again")], capsys)
    assert "model_type 'distilbert'; convert takes layers from a BERT folder" in line


@pytest.mark.parametrize("family_name", ["albert", "electra"])
def test_cli_refuses_an_albert_or_electra_source_in_one_line(tmp_path, capsys, family_name):
    """ALBERT (layers shared across depth) and ELECTRA (projected embeddings, its own heads) are not
    sources: one line saying so and what to do, nothing written; the Python API says the same."""
    from bertkit import AlbertConfig, AlbertModel, ElectraConfig, ElectraModel
    torch.manual_seed(0)
    if family_name == "albert":
        model = AlbertModel(AlbertConfig(vocab_size=60, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                                         num_attention_heads=2, intermediate_size=40, max_position_embeddings=24))
        why = "ALBERT's layers share their weights across depth"
    else:
        model = ElectraModel(ElectraConfig(vocab_size=60, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                                           num_attention_heads=2, intermediate_size=40, max_position_embeddings=24))
        why = "ELECTRA's embeddings are embedding_size wide"
    src = tmp_path / family_name
    model.save_pretrained(src)
    for to in ("distilbert", "bert"):
        out = tmp_path / f"out-{to}"
        line = cli_error(["convert", str(src), str(out), "--to", to], capsys)
        assert line == (f"bertkit convert: {src}: model_type {family_name!r}; convert takes layers from a BERT "
                        f"folder ({why}" + line.split(why, 1)[1])
        assert line.endswith("; give a BERT folder, or fine-tune this model as it is")
        assert leftovers(out) == []
    from bertkit.errors import ConfigError
    with pytest.raises(ConfigError, match=f"model_type '{family_name}'; convert takes layers from a BERT folder"):
        convert_model(model, "distilbert", [0])
