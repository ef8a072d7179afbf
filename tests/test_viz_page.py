"""bertkit.viz.attention_page: the page's JSON holds the input weights (within 1e-4), stays under its size
limit by storing only weights >= min_weight (the smallest threshold that fits), survives hostile tokens,
and is saved atomically. No browser here (tests/test_viz_browser.py drives chromium)."""
import json
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from bertkit.errors import BertkitError, ConfigError, DataError, WriteError
from bertkit.viz import AttentionPage, attention_page, page_attentions
from bertkit.viz.page import _info


def softmax_weights(rng, shape, sharpness=1.0):
    x = rng.standard_normal(shape) * sharpness
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class _Scripts(HTMLParser):
    """Every <script> element's attributes and text, as a browser's tokenizer splits them."""

    def __init__(self):
        super().__init__()
        self.scripts, self._cur = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._cur = [dict(attrs), ""]

    def handle_data(self, data):
        if self._cur is not None:
            self._cur[1] += data

    def handle_endtag(self, tag):
        if tag == "script" and self._cur is not None:
            self.scripts.append(tuple(self._cur))
            self._cur = None


def page_json(html: str) -> dict:
    p = _Scripts()
    p.feed(html)
    data = [text for attrs, text in p.scripts if attrs.get("id") == "bertkit-attention"]
    assert len(data) == 1
    return json.loads(data[0])


def dense(row, T):
    if isinstance(row, dict):
        out = np.zeros(T)
        out[row["k"]] = row["w"]
        return out
    return np.array(row, dtype=float)


def test_round_trip_equals_input_within_1e4():
    rng = np.random.default_rng(0)
    L, H, T = 3, 4, 9
    w = softmax_weights(rng, (L, H, T, T), 2.0)
    tokens = [f"tok{i}" for i in range(T)]
    page = attention_page(w, tokens)
    assert isinstance(page, AttentionPage)
    assert page.min_weight == 0 and page.shape == (L, H, T)
    got_tokens, got, min_weight = page_attentions(page.html)
    assert got_tokens == tokens and min_weight == 0.0
    assert got.shape == (L, H, T, T) and got.dtype == np.float32
    assert np.abs(got - w).max() <= 1e-4
    # the JSON itself, read by json: attentions[layer][head][query][key], 4 decimals
    data = page_json(page.html)
    assert data["tokens"] == tokens and data["layers"] == L and data["heads"] == H and data["min_weight"] == 0
    for l in range(L):
        for h in range(H):
            for q in range(T):
                row = dense(data["attentions"][l][h][q], T)
                assert np.abs(row - w[l, h, q]).max() <= 1e-4
                assert np.array_equal(row, np.round(row, 4))
    assert f'<p id="bk-info">{T} tokens · {L} layers × {H} heads · every weight stored, rounded to 4 decimals</p>' in page.html


def test_every_input_form_gives_the_same_page():
    rng = np.random.default_rng(1)
    w = softmax_weights(rng, (2, 3, 5, 5)).astype(np.float32)
    tokens = list("abcde")
    ref = attention_page(w, tokens).html
    as_tensors = tuple(torch.from_numpy(w[l][None]) for l in range(2))  # (1, H, T, T) per layer
    assert attention_page(SimpleNamespace(attentions=as_tensors), tokens).html == ref
    assert attention_page(as_tensors, tokens).html == ref
    assert attention_page([w[0], w[1]], tokens).html == ref  # (H, T, T) per layer
    assert attention_page(torch.from_numpy(w), tokens).html == ref


def test_hostile_tokens_cannot_break_the_page():
    rng = np.random.default_rng(2)
    tokens = ["[CLS]", "</script>", "<!--", "<script>alert(1)</script>", "&amp;", '"', "\u2028", "]]>", "[SEP]"]
    T = len(tokens)
    page = attention_page(softmax_weights(rng, (1, 2, T, T)), tokens, title="</title><script>x</script>")
    html = page.html
    p = _Scripts()
    p.feed(html)
    # exactly two script elements: the data and the page's own code; no token opened or closed one
    assert [a.get("id") for a, _ in p.scripts] == ["bertkit-attention", None]
    assert "<!--" not in html
    assert html.count("</script>") == 2
    assert "<title>&lt;/title&gt;&lt;script&gt;x&lt;/script&gt;</title>" in html
    got_tokens, _, _ = page_attentions(html)
    assert got_tokens == tokens
    # tokens reach the screen through textContent only
    js = p.scripts[1][1]
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "document.write" not in js


def test_page_needs_no_network():
    rng = np.random.default_rng(3)
    html = attention_page(softmax_weights(rng, (1, 1, 4, 4)), list("abcd")).html
    assert not re.search(r"https?://", html)
    assert not re.search(r"""\b(?:src|href)\s*=\s*["'](?!data:)""", html)
    assert "@import" not in html and "url(" not in html and "fetch(" not in html
    assert "XMLHttpRequest" not in html


def _check_thresholded(w, page, max_bytes):
    L, H, T, _ = w.shape
    assert page.nbytes <= max_bytes and page.min_weight > 0
    _, got, min_weight = page_attentions(page.html)
    assert min_weight == page.min_weight
    assert f'<p id="bk-info">{T} tokens · {L} layers × {H} heads · weights below {min_weight:g} are not stored' in page.html
    stored = got > 0
    assert (got[stored] >= min_weight).all()
    assert np.abs(got[stored] - w[stored]).max() <= 1e-4  # what is stored is exact
    assert (w[~stored] < min_weight).all()  # what is dropped is below the threshold
    data = page_json(page.html)
    assert data["min_weight"] == min_weight
    return data


@pytest.mark.parametrize("L, H, T, form", [(2, 4, 128, dict), (3, 5, 4, list)])
def test_size_limit_keeps_the_smallest_threshold_that_fits(L, H, T, form):
    rng = np.random.default_rng(4)
    w = softmax_weights(rng, (L, H, T, T), 4.0)
    tokens = [f"w{i}" for i in range(T)]
    full = attention_page(w, tokens, max_bytes=10**9)
    assert full.min_weight == 0
    empty = attention_page(np.zeros_like(w), tokens)
    limit = (full.nbytes + empty.nbytes) // 2
    page = attention_page(w, tokens, max_bytes=limit)
    data = _check_thresholded(w, page, limit)
    assert any(isinstance(r, form) for layer in data["attentions"] for head in layer for r in head)
    # one step (1e-4) lower would not fit: the page storing every weight >= min_weight - 1e-4
    t = round(page.min_weight * 1e4)
    w_lower = np.where(np.rint(w * 1e4) >= t - 1, w, 0)
    bigger = attention_page(w_lower, tokens, max_bytes=10**9)
    assert bigger.min_weight == 0
    lower = (t - 1) / 1e4  # that page, saying min_weight = t - 1e-4 as a thresholded page would
    html = bigger.html.replace('"min_weight":0.0', f'"min_weight":{lower}', 1).replace(
        _info(T, L, H, 0.0), _info(T, L, H, lower), 1)
    assert html != bigger.html
    assert len(html.encode("utf-8")) > limit


@pytest.mark.slow
def test_512_tokens_6x12_fit_in_5mb():
    rng = np.random.default_rng(5)
    L, H, T = 6, 12, 512
    w = softmax_weights(rng, (L, H, T, T), 4.0).astype(np.float32)
    tokens = [f"token{i}" for i in range(T)]
    page = attention_page(w, tokens)
    assert page.nbytes < 5_000_000
    _check_thresholded(w, page, 4_500_000)


def test_shape_and_value_errors_name_the_problem():
    rng = np.random.default_rng(6)
    w = softmax_weights(rng, (2, 3, 5, 5))
    cases = [
        (lambda: attention_page(w, list("abcd")), DataError, "4 tokens but the attentions cover 5"),
        (lambda: attention_page(w, "abcde"), DataError, "give a list of 5 token strings"),
        (lambda: attention_page(w, [1, 2, 3, 4, 5]), DataError, "tokens[0] is a int"),
        (lambda: attention_page([w[0], w[1][:, :4, :4]], list("abcde")), DataError, "attentions[1] has shape (3, 4, 4)"),
        (lambda: attention_page([np.stack([w[0], w[0]])], list("abcde")), DataError, "batch of 2"),
        (lambda: attention_page(w[:, :, :, :4], list("abcde")), DataError, "must be equal"),
        (lambda: attention_page(w[0], list("abcde")), DataError, "attentions of shape (3, 5, 5)"),
        (lambda: attention_page(SimpleNamespace(attentions=None), list("abcde")), ConfigError, "output_attentions=True"),
        (lambda: attention_page(w * 3, list("abcde")), DataError, "not attention weights"),
        (lambda: attention_page(np.full_like(w, np.nan), list("abcde")), DataError, "NaN"),
        (lambda: attention_page([], list("abcde")), DataError, "no layers"),
        (lambda: attention_page(np.zeros((2, 3, 0, 0)), []), DataError, "no heads or no tokens"),
        (lambda: attention_page(w, list("abcde"), max_bytes=0), ConfigError, "max_bytes=0"),
        (lambda: attention_page(w, list("abcde"), max_bytes=1000), DataError, "cannot fit in max_bytes=1000"),
        (lambda: page_attentions("<html><body>nothing</body></html>"), DataError, "no <script"),
    ]
    for call, kind, text in cases:
        with pytest.raises(kind) as info:
            call()
        assert isinstance(info.value, BertkitError)
        msg = str(info.value)
        assert text in msg and "\n" not in msg and ";" in msg, msg


def test_save_is_atomic(tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    page = attention_page(softmax_weights(rng, (1, 2, 6, 6)), list("abcdef"))
    out = tmp_path / "sub" / "attention.html"
    assert page.save(out) == out
    assert out.read_text(encoding="utf-8") == page.html
    out.write_text("old page", encoding="utf-8")

    real_write = type(out).write_text

    def half_write(self, text, *a, **k):  # a disk that fills half way through
        real_write(self, text[: len(text) // 2], *a, **k)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(out), "write_text", half_write)
    with pytest.raises(WriteError) as info:
        page.save(out)
    monkeypatch.undo()
    assert str(out) in str(info.value) and "\n" not in str(info.value)
    assert out.read_text(encoding="utf-8") == "old page"
    assert sorted(p.name for p in out.parent.iterdir()) == ["attention.html"]  # no temporary left
    with pytest.raises(WriteError):
        page.save(tmp_path)  # a folder


def test_jupyter_and_str():
    rng = np.random.default_rng(8)
    page = attention_page(softmax_weights(rng, (1, 1, 3, 3)), ["a", "</script>", "c"])
    assert str(page) == page.html
    shown = page._repr_html_()
    assert shown.startswith("<iframe srcdoc=\"") and "</script>" not in shown and "&lt;/script&gt;" in shown
    assert "3 tokens, 1 layers x 1 heads" in repr(page)
