"""`bertkit attention` and viz/attention.py: the weights against `transformers` (eager attention), the
page's data against the weights, the PNGs, every family, and the errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bertkit.cli import main
from bertkit.registry import AutoConfig, AutoModel, FAMILIES
from bertkit.tokenization import AutoTokenizer
from bertkit.viz.attention import as_weights, attention_maps, attention_png

from _finetune_util import cli_error, tiny_folder

TEXT = "The cat sat on the mat because it was tired."
PAIR = "It slept all afternoon."


def _family_folder(path: Path, model_type: str) -> Path:
    """A random tiny encoder of `model_type` with tiny_folder's WordPiece vocabulary."""
    tiny_folder(path)
    vocab = len((path / "vocab.txt").read_text(encoding="utf-8").split("\n")) - 1
    fields = dict(vocab_size=vocab, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                  intermediate_size=64, max_position_embeddings=64)
    if model_type in ("albert", "electra"):
        fields["embedding_size"] = 16
    if model_type == "roberta":
        fields.update(pad_token_id=0, max_position_embeddings=66)  # tiny_folder's [PAD] is 0; positions from 2
    cfg = AutoConfig.for_model(model_type, **fields)
    torch.manual_seed(0)
    FAMILIES[model_type].model("base")(cfg).save_pretrained(path)
    return path


# BERT in the default tier; the other families in the slow one (each builds a model and draws PNGs)
@pytest.mark.parametrize("model_type", [t if t == "bert" else pytest.param(t, marks=pytest.mark.slow)
                                        for t in sorted(FAMILIES)])
def test_every_family_writes_the_page_and_pngs(tmp_path, model_type, capsys):
    folder = _family_folder(tmp_path / "m", model_type)
    out = tmp_path / "out"
    main(["attention", "--model", str(folder), "--layer", "1", "the cat sat on the mat", "--pair", "the dog ran",
          "--head", "0", "--head", "3", "--out", str(out)])  # the text may follow an option with a value
    names = sorted(p.name for p in out.iterdir())
    assert names == ["attention-grid.png", "attention-layer1-head0.png", "attention-layer1-head3.png",
                     "attention.html"]
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from bertkit.viz.page import page_attentions
    tokens, weights, _ = page_attentions((out / "attention.html").read_text(encoding="utf-8"))
    model = AutoModel.from_pretrained(folder, fresh=[])
    maps = attention_maps(model, AutoTokenizer.from_pretrained(folder), "the cat sat on the mat", "the dog ran")
    assert tokens == maps.tokens and tokens[0] == "[CLS]" and tokens.count("[SEP]") == 2
    assert weights.shape == (3, 4, len(tokens), len(tokens))
    np.testing.assert_allclose(weights, maps.attentions.numpy(), atol=1e-4, rtol=0)
    assert "4 heads" in capsys.readouterr().out.replace("3 layers × ", "")


@pytest.mark.slow
def test_minilm_attention_equals_transformers_eager_and_the_page(minilm_dir, tmp_path):
    """The acceptance check: the page's data equals outputs.attentions (≤ 1e-4), and those equal
    `transformers` with eager attention, for a sentence and for a pair."""
    transformers = pytest.importorskip("transformers")
    from bertkit.viz import attention_page, page_attentions
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    ours = AutoModel.from_pretrained(minilm_dir, fresh=[])
    theirs = transformers.BertModel.from_pretrained(minilm_dir, attn_implementation="eager").eval()
    for pair in (None, PAIR):
        maps = attention_maps(ours, tok, TEXT, pair)
        enc = tok(TEXT, pair, return_tensors="pt", return_token_type_ids=True) if pair else \
            tok(TEXT, return_tensors="pt", return_token_type_ids=True)
        with torch.no_grad():
            hf = theirs(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"], output_attentions=True)
        assert len(hf.attentions) == maps.num_layers == 6 and maps.num_heads == 12
        expected = torch.stack([a[0] for a in hf.attentions])
        torch.testing.assert_close(maps.attentions, expected, atol=1e-5, rtol=0)
        page = attention_page(maps.attentions, maps.tokens)
        tokens, weights, _ = page_attentions(page.html)
        assert tokens == maps.tokens
        assert np.abs(weights - expected.numpy()).max() <= 1e-4
        # the same page from the model output itself (the documented call: attention_page(outputs, tokens))
        with torch.no_grad():
            outputs = ours(**{k: enc[k] for k in ("input_ids", "token_type_ids")}, output_attentions=True)
        _, again, _ = page_attentions(attention_page(outputs, maps.tokens).html)
        np.testing.assert_array_equal(again, weights)


def test_maps_record_offsets_segments_and_truncation(tmp_path):
    folder = tiny_folder(tmp_path / "m", max_positions=16)
    tok, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder, fresh=[])
    text, pair = "the cat sat", "the dog ran"
    maps = attention_maps(model, tok, text, pair)
    for token, (s, e), seg in zip(maps.tokens, maps.offsets, maps.segments):
        if token not in ("[CLS]", "[SEP]"):
            assert (pair if seg else text)[s:e] == token or token == "[UNK]"
    assert maps.segments == [0, 0, 0, 0, 0, 1, 1, 1, 1] and not maps.truncated
    torch.testing.assert_close(maps.attentions.sum(-1), torch.ones(2, 2, 9))
    long = attention_maps(model, tok, " ".join(["cat"] * 40))
    assert long.truncated and len(long.tokens) == 16 and long.tokens[-1] == "[SEP]"


def test_png_grid_and_single_map_shapes():
    rng = np.random.default_rng(0)
    w = rng.random((2, 3, 5, 5)).astype(np.float32)
    w /= w.sum(-1, keepdims=True)
    tokens = ["[CLS]", "a", "b", "c", "[SEP]"]
    grid = attention_png(w, tokens)
    assert len([ax for ax in grid.axes if ax.images]) == 6  # 2 layers × 3 heads (+ the colour bar)
    one = attention_png(torch.from_numpy(w), tokens, layer=1, head=2)
    img = one.axes[0].images[0].get_array()
    np.testing.assert_array_equal(np.asarray(img), w[1, 2])
    assert [t.get_text() for t in one.axes[0].get_xticklabels()] == tokens
    with pytest.raises(ValueError, match="layer 2: the model has layers 0..1"):
        attention_png(w, tokens, layer=2, head=0)
    with pytest.raises(ValueError, match="4 tokens for attention weights over 5 positions"):
        attention_png(w, tokens[:4])
    with pytest.raises(ValueError, match="give \\(layers, heads, T, T\\)"):
        as_weights(w[0])


def test_errors_are_one_line(tmp_path, capsys):
    folder = tiny_folder(tmp_path / "m")
    msg = cli_error(["attention", "--model", str(folder), "--out", str(tmp_path / "o")], capsys)
    assert "give the text" in msg
    msg = cli_error(["attention", "--model", str(folder), "the cat", "--layer", "2", "--out", str(tmp_path / "o")],
                    capsys)
    assert msg == "bertkit attention: --layer 2: this model has 2 layers, counted from 0 (0..1)"
    msg = cli_error(["attention", "--model", str(folder), "the cat", "--head", "-1"], capsys)
    assert "--head -1" in msg
    (tmp_path / "file").write_text("x")
    msg = cli_error(["attention", "--model", str(folder), "the cat", "--out", str(tmp_path / "file")], capsys)
    assert "file" in msg and not (tmp_path / "o").exists()
    msg = cli_error(["attention", "--model", str(tmp_path / "nope"), "the cat"], capsys)
    assert "nope" in msg
    msg = cli_error(["attention", "--model", str(folder), "the cat", "--pair", " "], capsys)
    assert msg == "bertkit attention: --pair: the second text is empty; give a sentence, or leave --pair out"


def test_repeated_layers_add_up_and_long_inputs_say_they_were_cut(tmp_path, capsys):
    folder = tiny_folder(tmp_path / "m", max_positions=16)
    out = tmp_path / "o"
    main(["attention", "--model", str(folder), " ".join(["cat"] * 30), "--layer", "0", "--layer", "1",
          "--head", "1", "--out", str(out)])
    assert sorted(p.name for p in out.glob("attention-layer*.png")) == ["attention-layer0-head1.png",
                                                                       "attention-layer1-head1.png"]
    captured = capsys.readouterr()
    assert "the input has 32 tokens; the model reads 16 (the end is cut)" in captured.err
    assert "dropped" not in captured.err  # a bare encoder read from any folder is not news
