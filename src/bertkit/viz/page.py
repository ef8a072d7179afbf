"""One self-contained HTML page that shows a model's attention: a model view, a head view, selectors.

    page = attention_page(model(**enc, output_attentions=True), tokens)   # an AttentionPage
    page.save("attention.html")        # atomic; opens in any browser, offline
    page                               # inline in Jupyter (an <iframe srcdoc> holding the page)
    tokens, weights, min_weight = page_attentions(page.html)   # (L, H, T, T) float32, read back

The page needs no network: its script and style (bertkit/viz/static/attention.js and attention.css) are
inlined, and it fetches nothing (no CDN, no web fonts). The views follow bertviz's model view and head
view (Vig, 2019); the code is bertkit's own.

The data
--------
`<script type="application/json" id="bertkit-attention">` holds one JSON object:

    {"format": "bertkit-attention/1", "title": str, "tokens": [T strings], "layers": L, "heads": H,
     "decimals": 4, "min_weight": float, "attentions": [L][H][T rows]}

Row `attentions[l][h][q]` is the weights of query token q over the keys, rounded to 4 decimals, in
whichever form is shorter: a dense list of T numbers, or `{"k": [key indices], "w": [weights]}` listing
only the stored keys. Weights that round to 0 need not be stored. When the page would otherwise exceed
`max_bytes`, only weights >= `min_weight` are stored, where `min_weight` is the smallest threshold (a
multiple of 1e-4) that makes the page fit; the page says so ("weights below X are not stored"). With
`min_weight` 0 every weight is there within 5e-5 of the input. `<` `>` `&` inside the JSON are written as
\\u003c \\u003e \\u0026, so a token such as "</script>" or "<!--" cannot end the script element early; the
page shows tokens with textContent only.

Stable hooks (ids and classes, for tests and for styling)
---------------------------------------------------------
    #bk-title            the title (h1)             #bk-info          tokens, layers × heads, storage note
    #bk-model-view       the model-view grid        .bk-thumb         one canvas per layer × head, with
                                                                       data-layer, data-head (0-based);
                                                                       the open head's thumbnail also has
                                                                       class bk-selected
    #bk-layer, #bk-head  the layer and head <select>s (values 0-based)
    #bk-threshold        the threshold slider (range input; links below it are hidden)
    #bk-threshold-value  its value as text
    #bk-scale            the colour scale <select>: "sqrt" (default up to 64 tokens) or "log" (0.001 to 1)
    #bk-head-view        the head view; data-layer, data-head, data-threshold, and data-highlight: the
                         highlighted query index ("" when none); data-highlight-key for a hovered key
    #bk-head-canvas      the head view's canvas (the lines)
    .bk-tok              a token in the head view; data-index, data-side "q" (left, queries) or "k"
                         (right, keys); the hovered or pinned token has class bk-active
    #bk-heatmap          the chosen head as a large heatmap canvas; #bk-heat-mark frames the highlighted
                         row (or column) on it; #bk-readout names the cell under the pointer, or the
                         highlighted token's five strongest links
    window.bertkitRenderMs   milliseconds from the start of the page's script to the end of its first
                             full render (every thumbnail, the head view and the heatmap drawn)
"""
from __future__ import annotations

import html as _html
import json
import os
from collections.abc import Sequence
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..io import atomic_path
from .attention import as_weights

FORMAT = "bertkit-attention/1"
DECIMALS = 4
_SCALE = 10 ** DECIMALS
DATA_ID = "bertkit-attention"

# q (weight in units of 1e-4, 0..10000) -> its JSON text: 0 -> "0", 1200 -> "0.12", 10000 -> "1"
_WEIGHT_TEXT = np.array([(f"{q / _SCALE:.{DECIMALS}f}".rstrip("0").rstrip(".")) for q in range(_SCALE + 1)],
                        dtype=object)
_WEIGHT_LEN = np.array([len(s) for s in _WEIGHT_TEXT], dtype=np.int64)
_SPARSE_FIXED = len('{"k":[],"w":[]}')


class AttentionPage:
    """A self-contained attention page. `.html` is the page (str); `.save(path)` writes it atomically;
    in Jupyter it shows inline. `.tokens`, `.shape` (L, H, T) and `.min_weight` describe what it holds."""

    def __init__(self, html: str, tokens: list[str], shape: tuple[int, int, int], min_weight: float):
        self.html = html
        self.tokens = tokens
        self.shape = shape
        self.min_weight = min_weight

    @property
    def nbytes(self) -> int:
        """The page's size in bytes as saved (UTF-8)."""
        return len(self.html.encode("utf-8"))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page to `path` (UTF-8) through a temporary file renamed into place: a failed write is a
        WriteError naming `path` and leaves any file already there as it was. Returns the path."""
        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(self.html, encoding="utf-8", newline="\n")
        return path

    def _repr_html_(self) -> str:
        # an iframe keeps the page's script and style apart from the notebook's own
        return (f'<iframe srcdoc="{_html.escape(self.html, quote=True)}" sandbox="allow-scripts" '
                f'style="width:100%;height:900px;border:1px solid #ddd" title="attention"></iframe>')

    def __str__(self) -> str:
        return self.html

    def __repr__(self) -> str:
        L, H, T = self.shape
        return (f"AttentionPage({T} tokens, {L} layers x {H} heads, {self.nbytes / 1e6:.2f} MB, "
                f"min_weight={self.min_weight:g})")


def _check_tokens(tokens, T: int) -> list[str]:
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
        raise DataError(f"attention_page: tokens is a {type(tokens).__name__}; give a list of {T} token strings")
    tokens = list(tokens)
    for i, t in enumerate(tokens):
        if not isinstance(t, str):
            raise DataError(f"attention_page: tokens[{i}] is a {type(t).__name__}; give token strings "
                            "(tokenizer.convert_ids_to_tokens(ids))")
    if len(tokens) != T:
        raise DataError(f"attention_page: {len(tokens)} tokens but the attentions cover {T}; give one token per "
                        "position, including special tokens and padding")
    return tokens


def _json_text(obj) -> str:
    """JSON that can sit inside a <script> element: < > & written as \\u escapes (only strings hold them)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _key_len(T: int) -> np.ndarray:
    return np.array([len(str(k)) for k in range(T)], dtype=np.int64)


def _row_lengths(rows: np.ndarray, keys: np.ndarray, q: np.ndarray, n_rows: int,
                 T: int) -> tuple[np.ndarray, np.ndarray]:
    """The JSON length of each of `n_rows` rows as a dense list and as {"k","w"}, when exactly the entries
    (rows, keys, q) are stored (q in 1e-4; a dense row writes 0 for the others)."""
    wlen = _WEIGHT_LEN[q]
    n = np.bincount(rows, minlength=n_rows)
    dense = 2 * T + 1 + np.bincount(rows, weights=wlen - 1, minlength=n_rows)  # "[" T numbers, T-1 commas "]"
    sparse = (_SPARSE_FIXED + np.bincount(rows, weights=wlen + _key_len(T)[keys] + 2, minlength=n_rows)
              - 2 * (n > 0))
    return dense, sparse


def _choose_threshold(Q: np.ndarray, budget: np.ndarray) -> int | None:
    """The smallest t in 1..10001 (units of 1e-4) such that storing the entries of Q (rows × T, int16) that
    are >= t takes at most budget[t] bytes of rows; None when no t does (10001: no weights at all).
    budget[t] varies a little with t, as the page states min_weight in words.

    The rows' size shrinks as t grows, so a binary search against the smallest budget finds a t that fits;
    a short walk down then finds any smaller t that fits its own budget. The stored entries are sorted by
    weight once (a radix sort, as Q is int16), so each try looks only at the entries >= t."""
    n_rows, T = Q.shape
    flat = Q.ravel()
    where = np.flatnonzero(flat)
    q = flat[where]
    order = np.argsort(q, kind="stable")
    where, q = where[order], q[order]  # by weight, ascending
    del order

    def size(t: int) -> int:
        start = int(np.searchsorted(q, t, side="left"))
        f = where[start:]
        rows = f // T
        return int(np.minimum(*_row_lengths(rows, f - rows * T, q[start:], n_rows, T)).sum())

    # a bracket from per-weight totals: a row takes at least min(2T + 1, 13) + sum(len(w) - 1) over its
    # entries (either form), and at most its sparse form, 15 + sum(len(k) + len(w) + 2)
    def above(per_q):  # [t] = the sum over q >= t
        return np.concatenate([np.cumsum(per_q[::-1])[::-1], [0]])

    count = np.bincount(q, minlength=_SCALE + 1)
    wl = count * (_WEIGHT_LEN - 1)
    kl = np.bincount(q, weights=_key_len(T)[where % T], minlength=_SCALE + 1)
    lower = min(2 * T + 1, _SPARSE_FIXED - 2) * n_rows + above(wl)
    upper = _SPARSE_FIXED * n_rows + above(count * (_WEIGHT_LEN + 2) + kl)
    least, most = int(budget[1:].min()), int(budget[1:].max())
    lo = max(1, int(np.argmax(lower <= least)) if (lower <= least).any() else _SCALE + 2)
    hi = max(1, int(np.argmax(upper <= least)) if (upper <= least).any() else _SCALE + 1)
    if lo <= _SCALE + 1 and size(hi) <= least:
        while lo < hi:  # the smallest t that fits the smallest budget is in [lo, hi]
            mid = (lo + hi) // 2
            if size(mid) <= least:
                hi = mid
            else:
                lo = mid + 1
        best = lo
    else:
        best, lo = None, _SCALE + 2
    # below lo, a t may still fit its own (larger) budget; none does once the rows outgrow the largest
    t = lo - 1
    while t >= 1:
        rows = size(t)
        if rows > most:
            break
        if rows <= budget[t]:
            best = t
        t -= 1
    return best


def _rows_json(Q: np.ndarray, T: int) -> list[str]:
    """The JSON text of each row of Q (rows × T, ints in 1e-4; 0 = not stored), in its shorter form."""
    n_rows = Q.shape[0]
    rows, keys = np.nonzero(Q)  # row-major: each row's entries together, by key
    q = Q[rows, keys]
    dense_len, sparse_len = _row_lengths(rows, keys, q, n_rows, T)
    key_text = np.array([str(k) for k in range(T)], dtype=object)
    starts = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
    wtext = _WEIGHT_TEXT[q]
    ktext = key_text[keys]
    out = []
    for r in range(n_rows):
        if dense_len[r] <= sparse_len[r]:
            out.append("[" + ",".join(_WEIGHT_TEXT[Q[r]]) + "]")
        else:
            a, b = starts[r], starts[r + 1]
            out.append('{"k":[' + ",".join(ktext[a:b]) + '],"w":[' + ",".join(wtext[a:b]) + "]}")
    return out


def _static(name: str) -> str:
    return resources.files("bertkit.viz").joinpath("static", name).read_text(encoding="utf-8")


def _info(T: int, L: int, H: int, min_weight: float) -> str:
    stored = (f"weights below {min_weight:g} are not stored (the page keeps its size down)" if min_weight > 0
              else "every weight stored, rounded to 4 decimals")
    return f"{T} tokens · {L} layers × {H} heads · {stored}"


def _page(title: str, data_text: str, info: str) -> str:
    css = _static("attention.css")
    js = _static("attention.js")
    t = _html.escape(title)
    # nothing in the page is fetched: the icon is an empty data: URL so the browser asks for no favicon
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{t}</title>\n<style>\n{css}\n</style>\n</head>\n<body>\n"
        f'<header class="bk-header"><h1 id="bk-title">{t}</h1><p id="bk-info">{_html.escape(info)}</p></header>\n'
        '<noscript><p class="bk-noscript">This page draws with JavaScript; the attention weights are in the '
        f'script element with id "{DATA_ID}".</p></noscript>\n'
        '<main id="bk-app"></main>\n'
        f'<script type="application/json" id="{DATA_ID}">{data_text}</script>\n'
        f"<script>\n{js}\n</script>\n</body>\n</html>\n"
    )


def attention_page(outputs, tokens: Sequence[str], *, title: str | None = None,
                   max_bytes: int = 4_500_000) -> AttentionPage:
    """A self-contained HTML page showing the attention of one input: a model view (every layer × head as
    a thumbnail), a head view (lines from each query token to the keys it attends to; hover a token to
    highlight its row), a heatmap of the chosen head, layer/head selectors and a threshold slider.

    outputs: the model's outputs called with output_attentions=True (`.attentions`, L tensors of shape
        (1, H, T, T) or (H, T, T)), that sequence itself, or one (L, H, T, T) tensor or ndarray.
    tokens: T token strings (e.g. tokenizer.convert_ids_to_tokens(input_ids[0])).
    title: the page's title (default "Attention: <the first tokens>").
    max_bytes: the page's size limit in UTF-8 bytes. Weights are rounded to 4 decimals and those that round
        to 0 are not stored; if the page would still be larger, only weights >= min_weight are stored, with
        min_weight the smallest multiple of 1e-4 that makes it fit (see the module docstring).

    Raises ConfigError when outputs.attentions is None or max_bytes is not a positive int, DataError when
    the shapes disagree (layers, heads, T, len(tokens)), the batch is not one, the values are not weights
    in [0, 1], or the page cannot fit max_bytes even with no weights stored.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise ConfigError(f"attention_page: max_bytes={max_bytes!r}; give a positive number of bytes")
    arr = as_weights(outputs).astype(np.float64)  # (L, H, T, T)
    L, H, T, _ = arr.shape
    tokens = _check_tokens(tokens, T)
    if title is None:
        shown = " ".join(tokens[:16]) + (" …" if T > 16 else "")
        title = f"Attention: {shown}"
    Q = np.rint(arr * _SCALE).clip(0, _SCALE).astype(np.int16).reshape(L * H * T, T)  # weights in 1e-4

    head = {"format": FORMAT, "title": title, "tokens": tokens, "layers": L, "heads": H, "decimals": DECIMALS,
            "min_weight": 0.0, "attentions": None}
    # the page without its rows: their JSON replaces "null", inside brackets and commas; min_weight (t / 1e4,
    # 0 for t = 1) is written in the JSON and in words, which changes the page's size by a few bytes
    shell = len(_page(title, _json_text(head), _info(T, L, H, 0.0)).encode("utf-8"))
    structure = L * H * (T - 1 + 2) + L * (H - 1 + 2) + (L - 1 + 2) - len("null")
    zero = len(_info(T, L, H, 0.0).encode("utf-8")) + len(json.dumps(0.0))
    said = np.array([zero] * 2 + [len(_info(T, L, H, t / _SCALE).encode("utf-8")) + len(json.dumps(t / _SCALE))
                                  for t in range(2, _SCALE + 2)])
    t = _choose_threshold(Q, max_bytes - shell - structure - (said - zero))
    if t is None:
        raise DataError(f"attention_page: the page for {T} tokens ({L} layers × {H} heads) cannot fit in "
                        f"max_bytes={max_bytes} even with no weights stored; shorten the input or raise max_bytes")
    min_weight = 0.0 if t <= 1 else t / _SCALE
    if t > 1:
        Q[Q < t] = 0
    row_text = _rows_json(Q, T)
    heads = []
    for lh in range(L * H):
        heads.append("[" + ",".join(row_text[lh * T:(lh + 1) * T]) + "]")
    layers = ["[" + ",".join(heads[l * H:(l + 1) * H]) + "]" for l in range(L)]
    head["min_weight"] = min_weight
    data_text = _json_text(head)
    data_text = data_text.replace('"attentions":null', '"attentions":[' + ",".join(layers) + "]", 1)
    page = _page(title, data_text, _info(T, L, H, min_weight))
    if len(page.encode("utf-8")) > max_bytes:  # cannot happen: the budget above counts every byte
        raise AssertionError(f"attention_page: page of {len(page.encode('utf-8'))} bytes > max_bytes={max_bytes}")
    return AttentionPage(page, tokens, (L, H, T), min_weight)


class _DataScript(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self._inside = False
        self.parts: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script" and dict(attrs).get("id") == DATA_ID and self.parts is None:
            self._inside = True
            self.parts = []

    def handle_endtag(self, tag):
        if tag == "script":
            self._inside = False

    def handle_data(self, data):
        if self._inside:
            self.parts.append(data)


def page_attentions(html: str) -> tuple[list[str], np.ndarray, float]:
    """Read an attention page back: (tokens, weights (L, H, T, T) float32, min_weight). Weights the page
    does not store are 0. Raises DataError when `html` holds no bertkit attention data."""
    parser = _DataScript()
    parser.feed(html)
    parser.close()
    if parser.parts is None:
        raise DataError(f'page_attentions: no <script id="{DATA_ID}"> in the page; give a page from '
                        "attention_page")
    try:
        data = json.loads("".join(parser.parts))
    except json.JSONDecodeError as e:
        raise DataError(f"page_attentions: the attention data is not JSON ({e}); the page is damaged") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError(f"page_attentions: the data is not {FORMAT}; give a page from attention_page")
    tokens, L, H = data["tokens"], data["layers"], data["heads"]
    T = len(tokens)
    out = np.zeros((L, H, T, T), dtype=np.float32)
    for l, layer in enumerate(data["attentions"]):
        for h, rows in enumerate(layer):
            for q, row in enumerate(rows):
                if isinstance(row, dict):
                    out[l, h, q, row["k"]] = row["w"]
                else:
                    out[l, h, q] = row
    return tokens, out, float(data["min_weight"])


__all__ = ["AttentionPage", "attention_page", "page_attentions"]
