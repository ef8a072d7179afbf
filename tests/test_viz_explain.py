"""Token attributions (bertkit.viz.attribution, `bertkit explain`, `predict --explain`): integrated gradients
pass the completeness check (scores add up to F(x) − F(baseline) within 1% at 50 steps) and agree with a
hand-written path integral; attention rollout equals a direct numpy product; offsets slice the text; the
command writes a page and JSONL; predict rows gain attributions; bad folders and options are one line.
Tiny random classifiers, except the slow test on all-MiniLM-L6-v2."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from _finetune_util import cli_error, tiny_folder, write_jsonl
import bertkit
from bertkit.cli import main
from bertkit.tokenization import AutoTokenizer
from bertkit.viz.attribution import attention_rollout, explain, integrated_gradients
from bertkit.viz.explain_cli import load_classifier

TEXTS = ["the movie was very good !", "john visited paris and the river bank .", "a bad , awful film"]


def tiny_classifier(path: Path, cls=bertkit.BertForSequenceClassification, config=bertkit.BertConfig, **over):
    """A random tiny classifier folder (3 labels) with the tiny tokenizer. Weights drawn wider than BERT's
    0.02 so that the logits depend on the words (a gap F(x) − F(baseline) far from 0)."""
    tiny_folder(path)
    base = bertkit.BertConfig.from_pretrained(path).to_dict()
    keep = {k: base[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                 "intermediate_size", "max_position_embeddings")}
    cfg = config(**{**keep, "num_labels": 3, "initializer_range": 0.3, "hidden_dropout_prob": 0.1,
                    "attention_probs_dropout_prob": 0.1, "id2label": {0: "neg", 1: "neu", 2: "pos"},
                    "label2id": {"neg": 0, "neu": 1, "pos": 2}, **over})
    torch.manual_seed(1)
    model = cls(cfg)
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    return tiny_classifier(tmp_path_factory.mktemp("explain") / "clf")


@pytest.fixture(scope="module")
def loaded(clf):
    from bertkit import AutoModelForSequenceClassification
    return AutoModelForSequenceClassification.from_pretrained(clf), AutoTokenizer.from_pretrained(clf)


def manual_ig(model, ids, types, keep, target, steps=2000):
    """Integrated gradients by hand: the midpoint rule on the straight path from the [PAD] baseline,
    autograd for the gradients. Returns per-token scores (T,) in float64."""
    word = model.get_input_embeddings()
    with torch.no_grad():
        x = word(ids)
        base = torch.where(keep[None, :, None], x, word(torch.full_like(ids, model.config.pad_token_id)))
    total = torch.zeros_like(x, dtype=torch.float64)
    for chunk in torch.arange(steps).split(500):
        alphas = ((chunk + 0.5) / steps).view(-1, 1, 1)
        path = (base + alphas * (x - base)).requires_grad_(True)  # (n, T, E)
        out = model(inputs_embeds=path, token_type_ids=types.expand(len(chunk), -1)).logits[:, target].sum()
        (grad,) = torch.autograd.grad(out, path)
        total += grad.double().sum(0, keepdim=True)
    return ((x - base).double() * total / steps)[0].sum(-1).numpy()


def test_ig_completeness_within_one_percent_at_50_steps(loaded):
    model, tok = loaded
    model.train()  # dropout on in the config: integrated_gradients must turn it off itself
    for text in TEXTS:
        enc = tok(text, return_special_tokens_mask=True, return_token_type_ids=True)
        scores, delta, target, gap = integrated_gradients(model, enc, n_steps=50)
        assert not model.training
        ids = torch.tensor([enc["input_ids"]])
        with torch.no_grad():
            logits = model(ids).logits[0]
            word = model.get_input_embeddings()
            keep = torch.tensor(enc["special_tokens_mask"]).bool()
            base = torch.where(keep[None, :, None], word(ids), word(torch.zeros_like(ids)))
            f_base = model(inputs_embeds=base).logits[0, target]
        assert target == int(logits.argmax())
        want = float(logits[target] - f_base)  # F(x) − F(baseline), computed here
        assert abs(gap - want) < 1e-5 and abs(want) > 0.05
        assert abs(scores.sum() - want) <= 0.01 * abs(want), (text, scores.sum(), want)
        assert delta == pytest.approx(scores.sum() - want, abs=1e-4)
        assert scores[0] == 0 and scores[-1] == 0  # [CLS], [SEP]: same embedding on the whole path


def test_ig_agrees_with_a_hand_written_path_integral(loaded):
    model, tok = loaded
    enc = tok(TEXTS[2], return_special_tokens_mask=True, return_token_type_ids=True)
    scores, _, target, _ = integrated_gradients(model, enc, n_steps=50)
    ids, types = torch.tensor([enc["input_ids"]]), torch.tensor([enc["token_type_ids"]])
    keep = torch.tensor(enc["special_tokens_mask"]).bool()
    want = manual_ig(model, ids, types, keep, target)
    np.testing.assert_allclose(scores, want, atol=2e-3 * np.abs(want).max())


@pytest.mark.parametrize("family", ["roberta", "distilbert", "albert", "electra"])
def test_ig_completeness_other_families(tmp_path, family):
    cls, config, over = {
        "roberta": (bertkit.RobertaForSequenceClassification, bertkit.RobertaConfig, {"pad_token_id": 1}),
        "distilbert": (bertkit.DistilBertForSequenceClassification, bertkit.DistilBertConfig, {}),
        "albert": (bertkit.AlbertForSequenceClassification, bertkit.AlbertConfig, {"embedding_size": 16}),
        "electra": (bertkit.ElectraForSequenceClassification, bertkit.ElectraConfig, {"embedding_size": 16}),
    }[family]
    if family == "distilbert":  # its config names the sizes its own way
        over = {"dim": 64, "n_layers": 2, "n_heads": 2, "hidden_dim": 128}
    # weights drawn at 0.1: at 0.3 DistilBERT's ReLU head flips dozens of units along the path and the logit
    # swings far beyond its end points, a rough integrand that 50 Gauss-Legendre points do not resolve
    # (it converges with more steps); trained models are smooth along the path (the slow tests)
    folder = tiny_classifier(tmp_path / family, cls, config, initializer_range=0.1, **over)
    model = cls.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    gaps = []
    for text in TEXTS:
        e = explain(model, tok, text, "ig")
        assert abs(sum(a.score for a in e) - e.gap) <= 0.01 * abs(e.gap), (text, e.delta, e.gap)
        gaps.append(abs(e.gap))
    assert max(gaps) > 0.05


def test_offsets_slice_the_original_text(loaded):
    model, tok = loaded
    text = "The  MOVIE was véry good!!  (paris)"
    for method in ("ig", "rollout"):
        e = explain(model, tok, text, method)
        assert [a.token for a in e] == [t for t in tok.convert_ids_to_tokens(tok(text)["input_ids"])
                                       if t not in ("[CLS]", "[SEP]")]
        for a in e:
            piece = text[a.start:a.end].lower().replace("é", "e")
            assert piece == a.token.removeprefix("##") or a.token == "[UNK]", (a, piece)
        assert e.label in ("neg", "neu", "pos") and 0 < e.probability <= 1


def numpy_rollout(maps, residual=True):
    """The rollout computed directly: for each layer, the head mean (plus I/2 and row-normalised), then
    the product A_L ... A_1 as one multi_dot."""
    mats = []
    for a in maps:
        m = np.mean(np.asarray(a, dtype=np.float64), axis=0)
        if residual:
            m = (m + np.eye(m.shape[0])) / 2
        mats.append(m / m.sum(1, keepdims=True))
    return np.linalg.multi_dot(mats[::-1]) if len(mats) > 1 else mats[0]


def test_rollout_equals_numpy_and_rows_sum_to_one():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 4, 5, 5))  # 3 layers, 4 heads, 5 tokens
    maps = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    for residual in (True, False):
        got = attention_rollout(list(maps), add_residual=residual)
        np.testing.assert_allclose(got, numpy_rollout(maps, residual), rtol=1e-12)
        np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-12)
    # a hand-sized case: one layer, one head, A = [[1, 0], [0.5, 0.5]] → 0.5 A + 0.5 I
    got = attention_rollout([np.array([[[1.0, 0.0], [0.5, 0.5]]])])
    np.testing.assert_allclose(got, [[1.0, 0.0], [0.25, 0.75]])
    # batched torch input: the same per example
    batch = torch.tensor(np.stack([maps, maps[:, ::-1]], axis=1), dtype=torch.float32)  # (L, B, H, T, T)
    got = attention_rollout(list(batch))
    np.testing.assert_allclose(got[0], numpy_rollout(maps), rtol=1e-5)
    np.testing.assert_allclose(got[1], numpy_rollout(maps[:, ::-1]), rtol=1e-5)


def test_rollout_scores_are_the_cls_row_over_the_text(loaded):
    model, tok = loaded
    e = explain(model, tok, TEXTS[1], "rollout")
    with torch.no_grad():
        out = model(torch.tensor([tok(TEXTS[1])["input_ids"]]), output_attentions=True)
    row = numpy_rollout([a[0].numpy() for a in out.attentions])[0]
    want = row[1:-1] / row[1:-1].sum()  # [CLS] row without [CLS] and [SEP], renormalised
    np.testing.assert_allclose([a.score for a in e], want, rtol=1e-4)
    assert e.delta is None and sum(a.score for a in e) == pytest.approx(1.0)


def test_bertkit_viz_explain_is_the_function_whatever_was_imported_first():
    from bertkit.viz import explain as f
    from bertkit.viz import Attribution, attention_rollout as r  # noqa: F401
    assert callable(f) and r is attention_rollout


def test_cli_writes_page_and_jsonl(clf, tmp_path, capsys):
    texts = write_jsonl(tmp_path / "in.jsonl", [{"text": "a <b>bad</b> & awful film"}, {"text": TEXTS[0]}])
    out = tmp_path / "out"
    main(["explain", "--model", str(clf), TEXTS[1], "--input", str(texts), "--method", "both", "--out", str(out),
          "--steps", "20"])
    printed = capsys.readouterr().out
    assert printed.count("     ig: ") == 3 and printed.count("rollout: ") == 3
    rows = [json.loads(line) for line in (out / "attributions.jsonl").read_text(encoding="utf-8").split("\n") if line]
    all_texts = [TEXTS[1], "a <b>bad</b> & awful film", TEXTS[0]]
    assert {r["text_index"] for r in rows} == {0, 1, 2} and {r["method"] for r in rows} == {"ig", "rollout"}
    for r in rows:
        assert set(r) == {"text_index", "method", "label", "token", "start", "end", "score"}
        assert all_texts[r["text_index"]][r["start"]:r["end"]].lower() == r["token"].removeprefix("##") \
            or r["token"] == "[UNK]"
    page = (out / "explain.html").read_text(encoding="utf-8")
    assert "&lt;</span>" in page and "&amp;</span>" in page and "<b>" not in page  # escaped, token by token
    assert "http" not in page.replace("http-equiv", "") and "<script" not in page  # self-contained
    assert page.count("<section>") == 3 and "for the predicted label" in page


def test_predict_explain_adds_attributions(clf, tmp_path, capsys):
    texts = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS])
    for method in ("ig", "rollout"):
        main(["predict", "--model", str(clf), "--input", str(texts), "--explain", method])
        rows = [json.loads(line) for line in capsys.readouterr().out.split("\n") if line]
        assert len(rows) == 3
        for t, r in zip(TEXTS, rows):
            tokens = [a["token"] for a in r["attributions"]]
            assert tokens == t.split()  # every word of these texts is one token of the tiny vocabulary
            assert all(t[a["start"]:a["end"]] == a["token"] for a in r["attributions"])
    main(["predict", "--model", str(clf), "--input", str(texts)])  # without --explain: no attributions
    assert all("attributions" not in json.loads(line) for line in capsys.readouterr().out.split("\n") if line)


def test_errors_are_one_line(clf, tmp_path, capsys):
    ner = tmp_path / "ner"
    tiny_folder(ner)
    cfg = bertkit.BertConfig.from_pretrained(ner)
    cfg.num_labels = 3
    bertkit.BertForTokenClassification(cfg).save_pretrained(ner)
    texts = write_jsonl(tmp_path / "in.jsonl", [{"text": "john visited paris"}])
    out = str(tmp_path / "o")
    msg = cli_error(["explain", "--model", str(ner), "john", "--out", out], capsys)
    assert "fine-tuned for ner, not a classifier" in msg
    msg = cli_error(["explain", "--model", str(tmp_path / "base"), "x", "--out", out], capsys)
    assert "not a model folder" in msg
    tiny_folder(tmp_path / "bare")
    msg = cli_error(["explain", "--model", str(tmp_path / "bare"), "x", "--out", out], capsys)
    assert "not a classifier" in msg
    msg = cli_error(["predict", "--model", str(ner), "--input", str(texts), "--explain", "ig"], capsys)
    assert msg == (f"bertkit predict: --explain ig: attributions are for classifiers; {ner} is a ner model: "
                   "drop --explain")
    assert "--steps 0: must be at least 1" in cli_error(["explain", "--model", str(clf), "x", "--steps", "0",
                                                         "--out", out], capsys)
    assert "--method 'shap': use one of ig, rollout, both" in cli_error(
        ["explain", "--model", str(clf), "x", "--method", "shap", "--out", out], capsys)
    assert "--explain 'lime': use one of ig, rollout" in cli_error(
        ["predict", "--model", str(clf), "--input", str(texts), "--explain", "lime"], capsys)
    assert "nothing to explain" in cli_error(["explain", "--model", str(clf), "--out", out], capsys)
    assert not Path(out).exists()


def test_help_does_not_import_torch():
    code = "import sys; from bertkit.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={"PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    assert r.stdout.strip() == "False"


@pytest.mark.slow
def test_ig_completeness_on_minilm(minilm_dir):
    """A real encoder (all-MiniLM-L6-v2) under a seeded 2-label head: completeness within 1% at 50 steps."""
    from bertkit import BertForSequenceClassification
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(minilm_dir, num_labels=2)
    with torch.no_grad():
        model.classifier.weight.normal_(0, 1.0)
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    for text in ["A gorgeous, witty and deeply moving film.", "Tedious, predictable and far too long."]:
        e = explain(model, tok, text, "ig", n_steps=50, tolerance=None)  # 50 steps, not doubled
        assert e.n_steps == 50
        assert abs(sum(a.score for a in e) - e.gap) <= 0.01 * abs(e.gap), (text, e.delta, e.gap)


def test_byte_level_offsets_and_a_character_cut_in_two(roberta_bpe_dir, tmp_path):
    """RoBERTa's byte-level BPE: pieces map back to the text's characters (an emoji cut into two byte
    pieces: both point at it, and the page shows it once)."""
    from bertkit.viz.attribution import explain_page
    tok = AutoTokenizer.from_pretrained(roberta_bpe_dir)
    torch.manual_seed(0)
    model = bertkit.RobertaForSequenceClassification(bertkit.RobertaConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=40, pad_token_id=1, num_labels=2, initializer_range=0.1))
    text = "Héllo  wörld, naïve café 😀!"
    e = explain(model, tok, text, "ig", n_steps=20, tolerance=None)
    assert e.n_steps == 20 and abs(sum(a.score for a in e) - e.gap) <= 0.01 * abs(e.gap)
    for a in e:
        piece = tok.convert_tokens_to_string([a.token]).strip()
        assert text[a.start:a.end] == piece or text[a.start:a.end] == "😀", (a, piece)
    assert sum(text[a.start:a.end] == "😀" for a in e) == 2
    page = explain_page([{"ig": e}])
    assert page.count(">😀</span>") == 1


def test_long_text_is_truncated_to_the_models_length(clf, tmp_path, capsys):
    text = " ".join(["good"] * 100)  # 102 tokens with [CLS]/[SEP]; the tiny model has 64 positions
    main(["explain", "--model", str(clf), text, "--out", str(tmp_path / "o"), "--steps", "10"])
    err = capsys.readouterr().err
    assert "38 tokens longer than max_length 64" in err
    rows = (tmp_path / "o" / "attributions.jsonl").read_text(encoding="utf-8").split("\n")
    assert len([r for r in rows if r]) == 62
    assert "38 tokens past the model's max_length were cut" in (tmp_path / "o" / "explain.html").read_text(encoding="utf-8")


def test_steps_double_until_the_scores_are_complete(clf):
    """With a tolerance, too few steps are doubled until Σ scores = F(x) − F(baseline) within it."""
    model, tok, _ = load_classifier(clf)
    text = "good good bad good"
    coarse = explain(model, tok, text, "ig", n_steps=1, tolerance=None)
    assert coarse.n_steps == 1 and abs(coarse.delta) > 1e-4 * abs(coarse.gap)
    fine = explain(model, tok, text, "ig", n_steps=1, tolerance=1e-4, max_steps=256)
    assert fine.n_steps > 1 and abs(fine.delta) <= 1e-4 * abs(fine.gap)
    capped = explain(model, tok, text, "ig", n_steps=1, tolerance=1e-12, max_steps=4)
    assert capped.n_steps == 4


def test_summary_names_tokens_for_and_against_and_step_options_are_checked(clf, tmp_path, capsys):
    model, tok, _ = load_classifier(clf)
    e = explain(model, tok, "good good bad good", "ig")
    line = e.summary(2)
    assert line.startswith("for: ")
    against = e.against(2)
    assert all(a.score < 0 for a in against)
    if against:
        assert f"; against: {against[0].token} {against[0].score:+.3f}" in line
    assert "--steps -3: must be at least 1" in cli_error(["explain", "--model", str(clf), "x", "--steps", "-3"],
                                                         capsys)
    assert "--max-steps 10: below --steps 50" in cli_error(["explain", "--model", str(clf), "x", "--max-steps", "10"],
                                                            capsys)
    assert "text 2: empty" in cli_error(["explain", "--model", str(clf), "good", " "], capsys)
