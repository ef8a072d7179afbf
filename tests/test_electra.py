"""ELECTRA's config: presets, the generator's size, checks; `bertkit info` on an ELECTRA folder.

Parity of every head with `transformers` is in parity/ (families.py lists ELECTRA's shapes). The
generator's size follows google-research/electra's `get_generator_config`: hidden = round(fraction ×
hidden), 64-wide heads (the discriminator's head size), FFN 4 × hidden, the same depth; the numbers
below are the paper's generators (Table 6: 1/4 for Small and Large, 1/3 for Base).
"""
from __future__ import annotations

import json

import pytest
import torch

from bertkit import ConfigError, ElectraConfig
from bertkit.cli import main
from bertkit.models import MODELS

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = dict(num_hidden_layers=12, hidden_size=256, num_attention_heads=4, intermediate_size=1024, embedding_size=128)
BASE = dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072, embedding_size=768)
LARGE = dict(num_hidden_layers=24, hidden_size=1024, num_attention_heads=16, intermediate_size=4096,
             embedding_size=1024)


@pytest.mark.parametrize("disc, fraction, hidden, heads, ffn", [
    (SMALL, 0.25, 64, 1, 256),
    (BASE, 1 / 3, 256, 4, 1024),
    (LARGE, 0.25, 256, 4, 1024),
    (BASE, 0.25, 192, 3, 768),
    (BASE, 1.0, 768, 12, 3072),
], ids=["small", "base", "large", "base-quarter", "same-size"])
def test_generator_config_as_google_research_electra(disc, fraction, hidden, heads, ffn):
    config = ElectraConfig(**disc, vocab_size=30522)
    gen = config.generator_config(fraction)
    assert (gen.hidden_size, gen.num_attention_heads, gen.intermediate_size) == (hidden, heads, ffn)
    assert gen.head_dim == 64 or heads == 1
    for same in ("num_hidden_layers", "embedding_size", "vocab_size", "max_position_embeddings", "type_vocab_size",
                 "pad_token_id", "layer_norm_eps", "hidden_act", "initializer_range"):
        assert getattr(gen, same) == getattr(config, same), same
    assert type(gen) is ElectraConfig and config.hidden_size == disc["hidden_size"]  # the original is unchanged


def test_generator_config_default_is_a_quarter_and_takes_overrides():
    config = ElectraConfig()  # transformers' default: electra-small-discriminator's shape
    assert config.generator_config() == config.generator_config(0.25)
    gen = config.generator_config(num_hidden_layers=6)
    assert gen.num_hidden_layers == 6 and gen.hidden_size == 64


def test_generator_heads_divide_its_width():
    """Heads of the discriminator's size where they fit; fewer, dividing the width, where they do not."""
    config = ElectraConfig(hidden_size=64, num_attention_heads=8, intermediate_size=256)  # 8-wide heads
    gen = config.generator_config(0.3)  # width 19: 2 heads of 8 would not divide it
    assert (gen.hidden_size, gen.num_attention_heads, gen.intermediate_size) == (19, 1, 76)
    gen = config.generator_config(0.5)
    assert (gen.hidden_size, gen.num_attention_heads, gen.head_dim) == (32, 4, 8)


@pytest.mark.parametrize("fraction", [0, -0.5, 1.5, "0.25", True])
def test_generator_fraction_outside_zero_one_is_a_config_error(fraction):
    with pytest.raises(ConfigError) as err:
        ElectraConfig().generator_config(fraction)
    msg = str(err.value)
    assert "\n" not in msg and repr(fraction) in msg and "(0, 1]" in msg, msg


def test_presets_have_embeddings_as_wide_as_the_hidden_size():
    config = ElectraConfig.preset("base")
    assert (config.num_hidden_layers, config.hidden_size, config.embedding_size) == (12, 768, 768)
    assert ElectraConfig.preset("tiny", embedding_size=32).embedding_size == 32
    assert ElectraConfig.preset("mini", vocab_size=300).vocab_size == 300
    model = MODELS["ElectraModel"](ElectraConfig.preset("tiny", vocab_size=100))
    assert model.embeddings.project is None  # no embeddings_project when the widths agree


@pytest.mark.parametrize("field, value", [("embedding_size", 0), ("embedding_size", 1.5), ("embedding_size", True),
                                          ("summary_last_dropout", 1.0), ("position_embedding_type", "relative_key")])
def test_bad_fields_are_config_errors_naming_the_field(field, value):
    with pytest.raises(ConfigError) as err:
        ElectraConfig(**{field: value})
    msg = str(err.value)
    assert "\n" not in msg and field in msg, msg


def test_inputs_embeds_are_embedding_size_wide():
    from bertkit import BertkitError
    model = MODELS["ElectraModel"](ElectraConfig(vocab_size=50, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                                                 num_attention_heads=2, intermediate_size=20)).eval()
    ids = torch.randint(1, 50, (2, 5))
    with torch.no_grad():
        a = model(input_ids=ids).last_hidden_state
        b = model(inputs_embeds=model.get_input_embeddings()(ids)).last_hidden_state
    assert a.shape == (2, 5, 16) and torch.equal(a, b)
    with pytest.raises(BertkitError, match=r"^inputs_embeds must be 3-D \(batch, seq_len, embedding_size 8\), "
                                           r"got shape \(2, 5, 16\)"):
        model(inputs_embeds=torch.zeros(2, 5, 16))


def test_info_on_an_electra_discriminator_folder(tmp_path, capsys):
    config = ElectraConfig(vocab_size=50, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                           num_attention_heads=2, intermediate_size=20)
    MODELS["ElectraForPreTraining"](config).save_pretrained(tmp_path)
    main(["info", str(tmp_path)])
    out = capsys.readouterr().out
    assert "model_type: electra; architectures: ElectraForPreTraining" in out
    assert "heads present: replaced-token detection" in out
    assert "hidden 16" in out and "embeddings 8" in out
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["embedding_size"] == 8 and saved["model_type"] == "electra"
