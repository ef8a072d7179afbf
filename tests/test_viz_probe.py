"""bertkit.viz.probe and `bertkit inspect`: per-layer states against transformers, the probe on states whose
answer is known, linear CKA against the HSIC formula and its invariances, the files the command writes,
and its one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch

from _finetune_util import cli_error, tiny_folder, write_jsonl
from bertkit.cli import main
from bertkit.errors import BertkitError, OptionError
from bertkit.viz import embedding_map, layer_probe, layer_similarity, layer_states
from bertkit.viz.probe import hash_split, hash_subset, linear_cka, text_key

pytestmark = pytest.mark.usefixtures("one_thread")

GOOD = ["a good film", "a great movie", "the actor was very good", "good plot", "great film , great actor",
        "the movie was great", "a very good movie", "good !", "great , very great", "the film is good"]
BAD = ["a bad film", "an awful movie", "the actor was very bad", "bad plot", "awful film , awful actor",
       "the movie was awful", "a very bad movie", "bad !", "awful , very awful", "the film is bad"]


def labelled(path: Path, n_each: int = 2, extra=()) -> Path:
    rows = [{"text": f"{t} w{i}", "label": lab} for i in range(n_each)
            for lab, texts in (("pos", GOOD), ("neg", BAD)) for t in texts]
    return write_jsonl(path, rows + list(extra))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_folder(tmp_path_factory.mktemp("tiny") / "model")


# -- layer_states ---------------------------------------------------------------------------------------

def _reference_states(hf_model, hf_tok, texts, pooling):
    """transformers' hidden_states of each text alone (no padding), mean-pooled or first token."""
    rows = []
    with torch.no_grad():
        for t in texts:
            enc = hf_tok(t, return_tensors="pt")
            hs = hf_model(**enc, output_hidden_states=True).hidden_states  # L+1 × (1, T, C)
            rows.append(torch.stack([h[0].mean(0) if pooling == "mean" else h[0, 0] for h in hs]))
    return torch.stack(rows, 1)  # (L+1, N, C)


SENTENCES = ["A man is playing a guitar.", "The stock market fell sharply on Monday after a long week of gains.",
             "Cats sleep.", "Naïve café owners didn't expect 1,000 visitors — or the rain!",
             "Shares dropped."]


@pytest.mark.slow  # transformers' import and two loads of MiniLM: about 10 s
@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_layer_states_equal_transformers_minilm(minilm_dir, pooling):
    from transformers import AutoTokenizer as HFTokenizer
    from transformers import BertModel as HFBert

    from bertkit.registry import AutoModel
    from bertkit.tokenization import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    model = AutoModel.from_pretrained(minilm_dir, fresh=[])
    got = layer_states(model, tok, SENTENCES, batch_size=2, pooling=pooling)  # sorted, padded batches
    hf = HFBert.from_pretrained(minilm_dir, add_pooling_layer=False).eval()
    want = _reference_states(hf, HFTokenizer.from_pretrained(minilm_dir), SENTENCES, pooling)
    assert got.shape == (7, len(SENTENCES), 384)
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)


def test_layer_states_batching_keeps_input_order(tiny):
    from bertkit.registry import AutoModel
    from bertkit.tokenization import AutoTokenizer
    tok, model = AutoTokenizer.from_pretrained(tiny), AutoModel.from_pretrained(tiny, fresh=[])
    texts = GOOD[:4] + BAD[:3]
    batched = layer_states(model, tok, texts, batch_size=3)
    alone = torch.cat([layer_states(model, tok, [t], batch_size=1) for t in texts], 1)
    assert batched.shape == (3, len(texts), 64)
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)
    pairs = layer_states(model, tok, texts[:2], pairs=["good", "bad"])
    assert not torch.allclose(pairs, batched[:, :2])  # the second segment is read
    with pytest.raises(OptionError, match="--pooling 'max'"):
        layer_states(model, tok, texts, pooling="max")


# -- probe ----------------------------------------------------------------------------------------------

def test_probe_finds_the_layer_that_holds_the_labels():
    rng = np.random.default_rng(0)
    N, C = 400, 8
    y = rng.integers(0, 2, N)
    states = rng.normal(size=(3, N, C))
    states[1, :, 3] += np.where(y == 1, 3.0, -3.0)  # layer 1 separates the classes along one feature
    labels = ["pos" if v else "neg" for v in y]
    split = hash_split([text_key(str(i)) for i in range(N)])
    r = layer_probe(torch.tensor(states), labels, split)
    assert len(r.accuracy) == 3 and r.n_held_out == split.sum() == 80 and r.n_train == 320
    assert r.accuracy[1] > 0.97 and r.best_layer == 1
    for layer in (0, 2):  # no signal: about chance
        assert abs(r.accuracy[layer] - 0.5) < 0.15, r.accuracy
    majority = max(("neg", "pos"), key=lambda c: (sum(lab == c for lab, h in zip(labels, split) if not h), c == "neg"))
    assert r.majority_class == majority
    assert r.baseline == pytest.approx(np.mean([lab == majority for lab, h in zip(labels, split) if h]))
    assert r.classes == ["neg", "pos"] and all(c in (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0) for c in r.C)


def test_probe_on_random_labels_is_at_chance():
    rng = np.random.default_rng(1)
    N = 600
    states = rng.normal(size=(2, N, 16))
    labels = rng.choice(["a", "b", "c"], N)
    split = hash_split([text_key(f"s{i}") for i in range(N)])
    r = layer_probe(states, labels, split, C=1.0)
    for acc in r.accuracy:
        assert abs(acc - 1 / 3) < 0.12, r.accuracy
    assert r.C == [1.0, 1.0]


def test_probe_errors():
    states = np.zeros((2, 6, 3))
    with pytest.raises(BertkitError, match="one class"):
        layer_probe(states, ["a"] * 4 + ["b"] * 2, [False] * 4 + [True] * 2)
    with pytest.raises(BertkitError, match="0 held-out"):
        layer_probe(states, ["a", "b"] * 3, [False] * 6)
    with pytest.raises(BertkitError, match="5 labels"):
        layer_probe(states, ["a", "b", "a", "b", "a"], [False] * 6)


def test_hash_split_and_subset_do_not_depend_on_order():
    texts = [f"sentence {i}" for i in range(50)] + ["sentence 3", "sentence 3"]
    keys = [text_key(t) for t in texts]
    held = hash_split(keys)
    assert held.sum() == sum(held[:50]) + 2 * held[3] and sum(held[:50]) == 10  # ceil(0.2 × 50 distinct)
    assert held[50] == held[51] == held[3]  # equal texts on the same side
    order = list(reversed(range(len(texts))))
    assert (hash_split([keys[i] for i in order]) == held[order]).all()
    assert held[int(np.argmin([int(k, 16) for k in keys]))]  # the smallest sha256 is held out
    sub = hash_subset(keys[:50], 7)
    assert sub == sorted(sub) and len(sub) == 7
    assert sorted(keys[i] for i in sub) == sorted(keys[:50])[:7]
    assert hash_subset(keys, 100) == list(range(len(keys)))


# -- similarity -----------------------------------------------------------------------------------------

def _cka_hsic(x, y):
    """Linear CKA as Kornblith et al. define it, computed on the N×N kernels: HSIC(K, L) = tr(KHLH)."""
    n = len(x)
    H = np.eye(n) - np.ones((n, n)) / n
    K, L = x @ x.T, y @ y.T
    hsic = lambda a, b: np.trace(a @ H @ b @ H)  # the 1/(n-1)² of HSIC cancels
    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


def test_linear_cka_equals_the_hsic_formula_and_is_invariant():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(20, 5)), rng.normal(size=(20, 7))
    y[:, :3] += 2 * x[:, :3]  # related, so the value is not near 0
    want = _cka_hsic(x, y)
    assert 0.2 < want < 0.95
    assert linear_cka(x, y) == pytest.approx(want, abs=1e-12)
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))  # an orthogonal matrix
    assert linear_cka(3.5 * x @ q, y) == pytest.approx(want, abs=1e-12)
    assert linear_cka(x + 10.0, 0.1 * y - 4) == pytest.approx(want, abs=1e-12)  # centred first
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x), abs=1e-15)
    a = np.diag([1.0, 5.0, 0.2, 1.0, 3.0])  # not orthogonal: CKA is not invariant to every linear map
    assert abs(linear_cka(x @ a, y) - want) > 1e-3


def test_layer_similarity_matrix():
    rng = np.random.default_rng(3)
    base = rng.normal(size=(30, 6))
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    states = np.stack([base, 2 * base @ q, rng.normal(size=(30, 6)), base + 0.5 * rng.normal(size=(30, 6))])
    sim = layer_similarity(torch.tensor(states, dtype=torch.float32))
    assert sim.shape == (4, 4)
    np.testing.assert_allclose(sim, sim.T, atol=0)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-6)
    assert sim[0, 1] == pytest.approx(1.0, abs=1e-5)  # a rotation and a scaling of layer 0
    for i in range(4):
        for j in range(4):
            assert sim[i, j] == pytest.approx(_cka_hsic(states[i], states[j]), abs=1e-5)
    assert sim[0, 3] > sim[0, 2]


# -- map ------------------------------------------------------------------------------------------------

def test_embedding_map(monkeypatch):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 5)) * np.array([10.0, 3.0, 1.0, 0.5, 0.1])
    pca = embedding_map(x)
    assert pca.shape == (40, 2)
    assert pca[:, 0].var() > pca[:, 1].var() > 0
    np.testing.assert_allclose(np.abs(np.corrcoef(pca[:, 0], x[:, 0])[0, 1]), 1.0, atol=0.02)
    tsne = embedding_map(torch.tensor(x), "tsne")
    assert tsne.shape == (40, 2) and np.isfinite(tsne).all()
    with pytest.raises(OptionError, match="--map 'mds': use one of pca, tsne, umap"):
        embedding_map(x, "mds")
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap → ImportError
    with pytest.raises(OptionError, match="pip install umap-learn"):
        embedding_map(x, "umap")


# -- the command ----------------------------------------------------------------------------------------

class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.circles, self.titles, self.external, self._in_title = 0, [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.circles += tag == "circle"
        self._in_title = tag == "title" and self.circles > 0
        for key in ("src", "href"):
            if key in attrs:
                self.external.append(attrs[key])

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.titles.append(data)


def test_inspect_writes_every_file(tiny, tmp_path, capsys):
    tricky = {"text": 'good <b>"bold"</b> & </script> film', "label": "pos"}
    data = labelled(tmp_path / "reviews.jsonl", extra=[tricky])
    out = tmp_path / "out"
    main(["inspect", "--model", str(tiny), str(data), "--out", str(out), "--layer", "1"])
    captured = capsys.readouterr()
    stdout = captured.out
    held = json.loads((out / "inspect.json").read_text())["counts"]["held_out"]
    assert f"note: only {held} held-out examples: each moves the accuracy by {1 / held:.3f}" in captured.err
    for name in ("probe.png", "similarity.png", "map.png", "map.html", "inspect.json"):
        assert (out / name).is_file(), name
    for name in ("probe.png", "similarity.png", "map.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "inspect.json").read_text())
    assert report["counts"]["used"] == 41 and report["counts"]["per_class"] == {"neg": 20, "pos": 21}
    assert report["counts"]["held_out"] + report["counts"]["train"] == 41
    assert len(report["probe"]["accuracy"]) == 3 and len(report["similarity"]["matrix"]) == 3
    assert report["layers"] == ["emb", "1", "2"] and report["map"] == {"method": "pca", "layer": 1}
    assert report["options"]["pooling"] == "mean" and report["split"] == "sha256 of the text"
    for name, acc in zip(report["layers"], report["probe"]["accuracy"]):
        assert f"{name:>6}  {acc:8.3f}" in stdout
    page = (out / "map.html").read_text(encoding="utf-8")
    parsed = _Page()
    parsed.feed(page)
    assert parsed.circles == 41 and parsed.external == []
    assert "pos: " + tricky["text"] in parsed.titles  # escaped in the file, the same text once parsed
    assert "</script> film" not in page and "http" not in page


@pytest.mark.slow
def test_inspect_uses_the_files_split_and_max_examples(tiny, tmp_path, capsys):
    rows = [{"text": f"{t} w{i}", "label": lab, "split": "test" if i == 0 else "train"}
            for i in range(3) for lab, texts in (("pos", GOOD), ("neg", BAD)) for t in texts]
    data = write_jsonl(tmp_path / "split.jsonl", rows)
    out = tmp_path / "out"
    main(["inspect", "--model", str(tiny), str(data), "--out", str(out), "--pooling", "cls"])
    report = json.loads((out / "inspect.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert report["split"] == "the file's split field"
    sim = report["similarity"]["matrix"]  # [CLS] of the embeddings output is one vector for every text
    assert sim[0] == [None] * 3 and [row[0] for row in sim] == [None] * 3 and sim[1][1] == pytest.approx(1.0)
    assert report["probe"]["accuracy"][0] == report["probe"]["baseline"]
    assert report["counts"]["held_out"] == 20 and report["counts"]["train"] == 40
    main(["inspect", "--model", str(tiny), str(data), "--out", str(out), "--max-examples", "25"])
    report = json.loads((out / "inspect.json").read_text())
    assert report["counts"]["read"] == 60 and report["counts"]["used"] == 25
    capsys.readouterr()


def test_inspect_reads_csv_with_pairs(tiny, tmp_path, capsys):
    import csv
    path = tmp_path / "pairs.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "text_pair", "label"])
        for i, (g, b) in enumerate(zip(GOOD, BAD)):
            w.writerow([g, f"w{i}, with a comma", 1])
            w.writerow([b, f"w{i}\non two lines", 0])  # a quoted field holding a line break
    out = tmp_path / "out"
    main(["inspect", "--model", str(tiny), str(path), "--out", str(out)])
    report = json.loads((out / "inspect.json").read_text())
    assert report["counts"]["per_class"] == {"0": 10, "1": 10} and report["probe"]["classes"] == ["0", "1"]
    parsed = _Page()
    parsed.feed((out / "map.html").read_text(encoding="utf-8"))
    assert f"1: {GOOD[3]} ‖ w3, with a comma" in parsed.titles
    assert f"0: {BAD[2]} ‖ w2\non two lines" in parsed.titles
    capsys.readouterr()


@pytest.mark.slow
def test_inspect_reads_the_encoder_of_a_fine_tuned_folder(tiny, tmp_path, capsys, caplog):
    from bertkit.registry import AutoModelForSequenceClassification
    from bertkit.tokenization import AutoTokenizer
    clf = tmp_path / "clf"
    AutoModelForSequenceClassification.from_pretrained(tiny, fresh=[], num_labels=2).save_pretrained(clf)
    AutoTokenizer.from_pretrained(tiny).save_pretrained(clf)
    data = labelled(tmp_path / "ok.jsonl")
    reports = []
    for folder in (tiny, clf):
        main(["inspect", "--model", str(folder), str(data), "--out", str(tmp_path / folder.name)])
        reports.append(json.loads((tmp_path / folder.name / "inspect.json").read_text()))
    capsys.readouterr()
    notes = [r.getMessage() for r in caplog.records if r.name.startswith("bertkit")]
    assert not any("dropped" in n for n in notes), notes  # the head is left out quietly
    assert reports[0]["probe"] == reports[1]["probe"]  # the same encoder weights, the same probe
    assert reports[0]["similarity"] == reports[1]["similarity"]


def test_inspect_errors(tiny, tmp_path, capsys):
    good = labelled(tmp_path / "ok.jsonl")
    m = ["--model", str(tiny)]
    out = ["--out", str(tmp_path / "out")]
    assert "nope.jsonl: no such file" in cli_error(["inspect", *m, str(tmp_path / "nope.jsonl"), *out], capsys)
    assert "give a labelled" in cli_error(["inspect", *m, *out], capsys)
    nolabel = write_jsonl(tmp_path / "nolabel.jsonl", [{"text": t} for t in GOOD])
    assert "nolabel.jsonl:1: field 'label' is missing" in cli_error(["inspect", *m, str(nolabel), *out], capsys)
    one = write_jsonl(tmp_path / "one.jsonl", [{"text": t, "label": "pos"} for t in GOOD])
    assert "one class" in cli_error(["inspect", *m, str(one), *out], capsys)
    few = write_jsonl(tmp_path / "few.jsonl", [{"text": t, "label": lab} for t, lab in
                                               [("good", "p"), ("bad", "n"), ("great", "p"), ("awful", "n")]])
    assert "4 examples are too few for a probe" in cli_error(["inspect", *m, str(few), *out], capsys)
    reg = write_jsonl(tmp_path / "reg.jsonl", [{"text": t, "label": i / 3} for i, t in enumerate(GOOD)])
    assert "holds numbers (regression)" in cli_error(["inspect", *m, str(reg), *out], capsys)
    bad_split = write_jsonl(tmp_path / "bs.jsonl", [{"text": t, "label": "p" if i % 2 else "n", "split": "later"}
                                                   for i, t in enumerate(GOOD)])
    assert "bs.jsonl:1: field 'split': 'later'" in cli_error(["inspect", *m, str(bad_split), *out], capsys)
    all_train = write_jsonl(tmp_path / "tr.jsonl", [{"text": t, "label": "p" if i % 2 else "n", "split": "train"}
                                                    for i, t in enumerate(GOOD + BAD)])
    assert "leaves no held-out examples" in cli_error(["inspect", *m, str(all_train), *out], capsys)
    same = write_jsonl(tmp_path / "same.jsonl", [{"text": "good", "label": "p" if i % 2 else "n"} for i in range(12)])
    assert "every example has the same text" in cli_error(["inspect", *m, str(same), *out], capsys)
    for opts, want in [(["--pooling", "max"], "--pooling 'max': use one of mean, cls"),
                       (["--map", "mds"], "--map 'mds': use one of pca, tsne, umap"),
                       (["--layer", "3"], "--layer 3: "), (["--layer", "-1"], "--layer -1: must be at least 0"),
                       (["--max-examples", "-1"], "--max-examples -1: must be at least 0"),
                       (["--max-examples", "5"], "--max-examples 5: too few for a probe; use at least 10"),
                       (["--batch-size", "0"], "--batch-size 0: must be at least 1"),
                       (["--max-length", "1000"], "--max-length 1000: the model has 64 positions")]:
        assert want in cli_error(["inspect", *m, str(good), *out, *opts], capsys)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert "cannot write" in cli_error(["inspect", *m, str(good), "--out", str(blocker)], capsys)
    assert not (tmp_path / "out").exists()  # every error came before anything was written


def test_umap_missing_is_one_line(tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)
    line = cli_error(["inspect", "--model", str(tiny), str(labelled(tmp_path / "ok.jsonl")), "--map", "umap",
                      "--out", str(tmp_path / "out")], capsys)
    assert "pip install umap-learn" in line


def test_help_does_not_import_torch():
    code = ("import sys; from bertkit.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'sklearn', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(Path(__file__).parents[1] / "src")}).stdout
    assert out.strip() == "[]"


def _browser():
    """Headless Debian chromium through Selenium, or a skip saying what is missing."""
    import shutil
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("no chromium/chromedriver on this machine (make browser installs Debian's)")
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


@pytest.mark.slow  # starts a browser: a few seconds
def test_map_page_in_a_browser(tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    from bertkit.viz.probe import map_page
    rng = np.random.default_rng(5)
    texts = [f"sentence {i} <i>&amp;</i>" for i in range(30)]
    labels = ["pos" if i % 3 else "neg" for i in range(30)]
    page = tmp_path / "map.html"
    page.write_text(map_page(rng.normal(size=(30, 2)), labels, texts, ["neg", "pos"], "a <map>"), encoding="utf-8")
    browser = _browser()
    try:
        browser.get(page.as_uri())
        assert browser.title == "a <map>"
        circles = browser.find_elements(By.CSS_SELECTOR, "#points circle")
        assert len(circles) == 30
        info = browser.find_element(By.ID, "info")
        shown = set()
        for c in circles[:5]:
            ActionChains(browser).move_to_element(c).perform()
            assert "hot" in c.get_attribute("class")
            assert info.text == browser.execute_script("return arguments[0].textContent", c)
            shown.add(info.text)
        # the sentence and its label as written, not as markup; each point its own
        assert len(shown) == 5 and shown <= {f"{lab}: {t}" for lab, t in zip(labels, texts)}
        browser.find_element(By.CSS_SELECTOR, '#legend span[data-class="0"]').click()  # hide "neg"
        assert sum(c.is_displayed() for c in circles) == labels.count("pos")
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        png = tmp_path / "shot.png"
        browser.save_screenshot(str(png))
        from PIL import Image
        pixels = np.asarray(Image.open(png).convert("L"))
        assert pixels.std() > 5  # not a blank page
    finally:
        browser.quit()
