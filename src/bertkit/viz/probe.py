"""What each layer knows: per-layer pooled states, linear probes, layer-to-layer similarity, and a 2-D
map of the sentences, as numbers, PNGs and a self-contained page.

- `layer_states(model, tokenizer, texts)` → (L+1, N, C): every layer's sentence vectors (layer 0 is the
  embeddings' output), mean over the real tokens or the first token's vector;
- `layer_probe(states, labels, split)` → ProbeResult: a logistic regression on standardised features per
  layer, trained on one part of the sentences and scored on the held-out rest (the classic "probing
  classifier", e.g. Alain & Bengio, 2016; Tenney et al., 2019), with the majority-class baseline;
- `layer_similarity(states)` → (L+1, L+1): linear CKA between every pair of layers (Kornblith et al.,
  2019, "Similarity of Neural Network Representations Revisited");
- `embedding_map(vectors, method)` → (N, 2): PCA, t-SNE (scikit-learn) or UMAP (umap-learn, if installed).

`bertkit inspect` (viz/inspect_cli.py) runs all of them on a labelled file and draws the results with
`probe_figure`, `similarity_figure`, `map_figure` and `map_page`.
"""
from __future__ import annotations

import hashlib
import html
import json
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from ..errors import BertkitError, OptionError

POOLINGS = ("mean", "cls")
MAP_METHODS = ("pca", "tsne", "umap")
HELD_OUT = 0.2  # the fraction of distinct texts a hash split holds out


# -- states -----------------------------------------------------------------------------------------------

def layer_states(model, tokenizer, texts: Sequence[str], batch_size: int = 32, max_length: int | None = None,
                 pooling: str = "mean", progress: bool = False, pairs: Sequence[str] | None = None):
    """Every layer's pooled sentence vectors: a float32 tensor (L+1, N, C), in the order of `texts`.

    Index 0 is the embeddings' output (hidden_states[0]), index l the output of layer l, as the
    encoder's `output_hidden_states=True` gives them. `pooling="mean"` averages the real tokens
    (attention_mask 1, special tokens included, as sentence-transformers does); `pooling="cls"` takes the
    first token's vector ([CLS], or <s>). `pairs` (optional, N texts) are encoded as the second segment.
    Inputs are length-sorted into batches of `batch_size` (little padding) and put back in input order;
    they are cut to `max_length` tokens (default: the smaller of the tokenizer's model_max_length and
    the model's position table). `model` is a bare encoder (bertkit.registry.AutoModel). Raises
    OptionError for an unknown `pooling`."""
    import torch
    from tqdm.auto import tqdm

    from ..inference import iter_batches, mean_pool

    if pooling not in POOLINGS:
        raise OptionError(f"--pooling {pooling!r}: use one of {', '.join(POOLINGS)}")
    texts = list(texts)
    if pairs is not None and len(pairs) != len(texts):
        raise BertkitError(f"pairs: {len(pairs)} second texts for {len(texts)} texts; give one per text")
    cfg = model.config
    if max_length is None:  # the tokenizer's limit, but never more positions than the model has
        limits = [n for n in (tokenizer.model_max_length, cfg.max_sequence_length) if n]
        max_length = min(limits) if limits else None
    enc = tokenizer(texts, list(pairs) if pairs is not None else None, truncation=True, max_length=max_length,
                    return_token_type_ids=True)
    device = next(model.parameters()).device
    model.eval()
    out = torch.empty(cfg.num_hidden_layers + 1, len(texts), cfg.hidden_size)  # (L+1, N, C)
    bar = tqdm(total=len(texts), desc="encode", unit="text", disable=not progress)
    with torch.no_grad():
        for idx, batch in iter_batches(enc, batch_size, tokenizer.pad_token_id):
            batch = {k: v.to(device) for k, v in batch.items()}
            hidden = model(**batch, output_hidden_states=True).hidden_states  # L+1 × (B, T, C)
            stacked = torch.stack(hidden).float()  # (L+1, B, T, C)
            if pooling == "cls":
                pooled = stacked[:, :, 0]  # (L+1, B, C)
            else:
                L1, B, T, C = stacked.shape
                pooled = mean_pool(stacked.reshape(L1 * B, T, C),
                                   batch["attention_mask"].repeat(L1, 1)).reshape(L1, B, C)
            out[:, idx] = pooled.cpu()
            bar.update(len(idx))
    bar.close()
    return out


# -- deterministic choices by hash ----------------------------------------------------------------------

def text_key(text: str, pair: str | None = None, salt: str = "") -> str:
    """sha256 (hex) of a text (and its pair): the same sentence gets the same key in any file and order."""
    data = salt + text if pair is None else f"{salt}{text}\x00{pair}"
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def hash_split(keys: Sequence[str], held_out: float = HELD_OUT) -> np.ndarray:
    """Which examples are held out: a bool array (N,), True for the examples whose key is among the
    smallest `held_out` fraction (rounded up) of the distinct keys. Equal texts fall on the same side, and
    the split does not depend on the order of the file."""
    distinct = sorted(set(keys))
    n = int(np.ceil(held_out * len(distinct))) if distinct else 0
    held = set(distinct[:n])
    return np.array([k in held for k in keys], dtype=bool)


def hash_subset(keys: Sequence[str], n: int) -> list[int]:
    """The indices (in input order) of the `n` examples with the smallest keys: a uniform sample of a big
    file that is the same on every run (all of them when n >= N)."""
    if n >= len(keys):
        return list(range(len(keys)))
    return sorted(sorted(range(len(keys)), key=lambda i: (keys[i], i))[:n])


# -- probe ----------------------------------------------------------------------------------------------

@dataclass
class ProbeResult:
    """Per-layer held-out accuracy of a linear probe (index 0 = embeddings), with the baseline that always
    answers the training set's most common class."""
    accuracy: list[float]
    train_accuracy: list[float]
    baseline: float
    majority_class: str
    classes: list[str]
    n_train: int
    n_held_out: int
    C: list[float] = field(default_factory=list)  # the inverse regularisation used per layer
    train_counts: dict[str, int] = field(default_factory=dict)
    held_out_counts: dict[str, int] = field(default_factory=dict)

    @property
    def best_layer(self) -> int:
        """The layer with the highest held-out accuracy (the lowest such layer on a tie)."""
        return int(np.argmax(self.accuracy))

    def to_dict(self) -> dict:
        return {**asdict(self), "best_layer": self.best_layer}


def _numpy(states) -> np.ndarray:
    if hasattr(states, "detach"):
        states = states.detach().cpu().numpy()
    return np.asarray(states, dtype=np.float64)


C_GRID = tuple(float(c) for c in np.logspace(-4, 1, 6))  # 1e-4 ... 10: from strong to weak regularisation


def _probe(C: float, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, random_state=seed))


def choose_C(X: np.ndarray, y: np.ndarray, grid: Sequence[float] = C_GRID, folds: int = 5, seed: int = 0) -> float:
    """The inverse regularisation strength of `grid` with the best mean accuracy in stratified k-fold
    cross-validation on (X, y) (the training part only; the scaler is fitted per fold). Ties go to the
    stronger regularisation (the smaller C). With fewer than 2 examples of some class there are no folds,
    and the answer is 1.0 (scikit-learn's default)."""
    from sklearn.model_selection import StratifiedKFold
    k = min(folds, int(np.unique(y, return_counts=True)[1].min()))
    if k < 2:
        return 1.0
    scores = np.zeros(len(grid))
    for fit, val in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(X, y):
        for i, c in enumerate(grid):
            scores[i] += _probe(c, seed).fit(X[fit], y[fit]).score(X[val], y[val])
    return float(grid[int(np.argmax(scores))])  # argmax: the first of equal scores


def layer_probe(states, labels: Sequence, split, C: float | None = None, seed: int = 0) -> ProbeResult:
    """Train a linear probe per layer and score it on the held-out examples.

    states: (L+1, N, C) (a tensor or array; from `layer_states`); labels: N class labels (any hashable,
    compared as str); split: N bools, True = held out (see `hash_split`). Per layer: features
    standardised (sklearn StandardScaler, fitted on the training part), then an L2 logistic regression
    (sklearn LogisticRegression, lbfgs, random_state `seed`) with inverse regularisation `C`; with
    `C=None` it is chosen per layer from C_GRID by 5-fold cross-validation on the training part
    (`choose_C`), so the held-out part is only scored. Returns held-out and training accuracy per layer,
    the C used, and the majority baseline (the training set's most common class, scored on the held-out
    part). Raises BertkitError when the shapes disagree, a side of the split is empty, or the training
    part has one class only."""
    X = _numpy(states)
    if X.ndim != 3:
        raise BertkitError(f"states: expected (layers, examples, features), got shape {tuple(X.shape)}")
    y = np.array([str(v) for v in labels])
    held = np.asarray(split, dtype=bool)
    if not (len(y) == len(held) == X.shape[1]):
        raise BertkitError(f"layer_probe: {X.shape[1]} states, {len(y)} labels and {len(held)} split flags; "
                           "give one label and one flag per example")
    train = ~held
    if not train.any() or not held.any():
        raise BertkitError(f"layer_probe: {int(train.sum())} training and {int(held.sum())} held-out examples; "
                           "both parts need examples")
    classes, counts = np.unique(y[train], return_counts=True)
    if len(classes) < 2:
        raise BertkitError(f"layer_probe: the training part has one class ({classes[0]!r}); a probe needs two")
    majority = str(classes[int(np.argmax(counts))])  # np.unique sorts, so a tie goes to the first name
    # loaded before the limit, so that it covers the BLAS they load
    import sklearn.linear_model
    import sklearn.model_selection  # noqa: F401
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    accuracy, train_accuracy, used = [], [], []
    # many small lbfgs fits: a second BLAS or OpenMP thread only waits (10× slower on a busy 2-core machine)
    with threadpool_limits(limits=1):
        for layer in X:  # (N, C)
            c = choose_C(layer[train], y[train], seed=seed) if C is None else float(C)
            probe = _probe(c, seed).fit(layer[train], y[train])
            accuracy.append(float(probe.score(layer[held], y[held])))
            train_accuracy.append(float(probe.score(layer[train], y[train])))
            used.append(c)

    def count(mask):
        return {str(k): int(v) for k, v in zip(*np.unique(y[mask], return_counts=True))}
    return ProbeResult(accuracy=accuracy, train_accuracy=train_accuracy,
                       baseline=float(np.mean(y[held] == majority)), majority_class=majority,
                       classes=sorted(set(y.tolist())), n_train=int(train.sum()), n_held_out=int(held.sum()),
                       C=used, train_counts=count(train), held_out_counts=count(held))


# -- similarity -------------------------------------------------------------------------------------------

def linear_cka(x, y) -> float:
    """Linear CKA between two representations of the same N examples, x (N, C1) and y (N, C2):
    ||yᵀx||²_F / (||xᵀx||_F ||yᵀy||_F) after centring each feature (Kornblith et al., 2019, eq. 5),
    which equals HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) for the linear kernels K = xxᵀ, L = yyᵀ.
    1 for the same representation; unchanged by an orthogonal transform or a scaling of either. NaN
    when either side is constant (no variance to compare)."""
    x, y = _numpy(x), _numpy(y)
    x = x - x.mean(0)
    y = y - y.mean(0)
    # the C×C products are cheaper than the N×N kernels when N > C (and equal: tr(KL) = ||yᵀx||²_F)
    cross = np.linalg.norm(y.T @ x) ** 2
    norm = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(cross / norm) if norm > 0 else float("nan")


def layer_similarity(states) -> np.ndarray:
    """Linear CKA between every pair of layers' pooled states: (L+1, N, C) → (L+1, L+1) float64, symmetric,
    with ones on the diagonal (see `linear_cka`)."""
    X = _numpy(states)
    if X.ndim != 3:
        raise BertkitError(f"states: expected (layers, examples, features), got shape {tuple(X.shape)}")
    n = X.shape[0]
    sim = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            sim[i, j] = sim[j, i] = linear_cka(X[i], X[j])
    return sim


# -- map --------------------------------------------------------------------------------------------------

def check_map_method(method: str) -> None:
    """OptionError unless `method` is one of MAP_METHODS and, for "umap", umap-learn can be imported."""
    if method not in MAP_METHODS:
        raise OptionError(f"--map {method!r}: use one of {', '.join(MAP_METHODS)}")
    if method == "umap":
        try:
            import umap  # noqa: F401
        except ImportError:
            raise OptionError("map method 'umap': the umap-learn package is not installed; pip install "
                              "umap-learn, or use pca or tsne") from None


def embedding_map(vectors, method: str = "pca", seed: int = 0) -> np.ndarray:
    """A 2-D projection of (N, C) vectors → (N, 2) float64.

    "pca": sklearn PCA (the two directions of most variance); "tsne": sklearn TSNE (perplexity 30, or
    less for small N; init by PCA); "umap": umap-learn's UMAP, if installed. `seed` fixes t-SNE and UMAP.
    Raises OptionError for another method, for "umap" when umap-learn is missing, and for fewer than 3
    vectors."""
    check_map_method(method)
    X = _numpy(vectors)
    if X.ndim != 2:
        raise BertkitError(f"vectors: expected (examples, features), got shape {tuple(X.shape)}")
    if len(X) < 3:
        raise OptionError(f"--map {method}: {len(X)} vectors are too few for a map; give at least 3")
    if method == "pca":
        from sklearn.decomposition import PCA
        return PCA(n_components=2, random_state=seed).fit_transform(X)
    if method == "tsne":
        from sklearn.manifold import TSNE
        perplexity = min(30.0, (len(X) - 1) / 3)
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(X)
    import umap
    n_neighbors = max(2, min(15, len(X) - 1))
    return np.asarray(umap.UMAP(n_components=2, n_neighbors=n_neighbors, random_state=seed).fit_transform(X),
                      dtype=np.float64)


# -- pictures ---------------------------------------------------------------------------------------------

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]  # matplotlib's tab10, reds and blues first for two classes


def layer_names(n: int) -> list[str]:
    """Labels of hidden_states 0..n-1: "emb", "1", "2", ..."""
    return ["emb"] + [str(i) for i in range(1, n)]


def class_colour(i: int) -> str:
    """A colour per class: tab10's ten, then evenly spaced hues."""
    if i < len(PALETTE):
        return PALETTE[i]
    import colorsys
    r, g, b = colorsys.hls_to_rgb((i * 0.618034) % 1, 0.45, 0.65)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def probe_figure(result: ProbeResult, title: str):
    """Held-out accuracy per layer (a curve with each value written), the training accuracy (faint) and
    the majority baseline (dashed): a matplotlib Figure."""
    from ..plots import pyplot
    plt = pyplot()
    n = len(result.accuracy)
    xs = list(range(n))
    fig, ax = plt.subplots(figsize=(7.5, 5))
    ax.plot(xs, result.train_accuracy, marker=".", color="#9ab", lw=1, label="probe, training part")
    ax.plot(xs, result.accuracy, marker="o", color="#1f77b4", lw=2,
            label=f"probe, held-out part ({result.n_held_out} examples)")
    ax.axhline(result.baseline, color="#d62728", ls="--", lw=1.2,
               label=f"majority class ({result.majority_class!r}): {result.baseline:.3f}")
    for x, a in zip(xs, result.accuracy):
        ax.annotate(f"{a:.3f}", (x, a), textcoords="offset points", xytext=(0, -15), ha="center", fontsize=8,
                    color="#1f77b4")  # below: the training curve is usually above
    best = result.best_layer
    ax.plot([best], [result.accuracy[best]], marker="o", ms=12, mfc="none", mec="#ff7f0e", mew=2,
            label=f"best: layer {layer_names(n)[best]}")
    ax.set_xticks(xs, layer_names(n))
    ax.set_xlabel("layer (emb = embeddings output)")
    ax.set_ylabel("accuracy")
    lo = min(min(result.accuracy), result.baseline)
    ax.set_ylim(max(0.0, lo - 0.08), 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def similarity_figure(sim: np.ndarray, title: str):
    """A heatmap of the (L+1, L+1) linear-CKA matrix, layer names on both axes, values in the cells
    (when there are at most 25 layers) and the colour bar: a matplotlib Figure."""
    from ..plots import pyplot
    plt = pyplot()
    n = len(sim)
    names = layer_names(n)
    size = min(12.0, 3.5 + 0.45 * n)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    im = ax.imshow(sim, cmap="viridis", vmin=0.0, vmax=1.0)
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("linear CKA")
    ax.set_xticks(range(n), names)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("layer")
    ax.set_ylabel("layer")
    if n <= 25:
        for i in range(n):
            for j in range(n):
                v = sim[i, j]
                ax.text(j, i, "–" if np.isnan(v) else f"{v:.2f}", ha="center", va="center",
                        fontsize=8 if n <= 13 else 6, color="black" if v > 0.6 else "white")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


AXIS_NAMES = {"pca": "PC", "tsne": "t-SNE", "umap": "UMAP"}


def map_figure(points: np.ndarray, labels: Sequence[str], classes: Sequence[str], title: str, method: str = "pca"):
    """A scatter of (N, 2) points coloured by label, with a legend (class and count): a matplotlib Figure."""
    from matplotlib.lines import Line2D

    from ..plots import pyplot
    plt = pyplot()
    labels = np.array([str(v) for v in labels])
    points = np.asarray(points, dtype=np.float64)
    index = {c: i for i, c in enumerate(classes)}
    colours = np.array([class_colour(index[lab]) for lab in labels])
    order = np.random.default_rng(0).permutation(len(points))  # interleaved: no class is drawn over the others
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    small = len(points) > 500
    ax.scatter(points[order, 0], points[order, 1], s=7 if small else 18, alpha=0.55 if small else 0.8,
               c=colours[order], edgecolors="none")
    handles = [Line2D([], [], ls="", marker="o", ms=6, color=class_colour(i),
                      label=f"{c} ({int((labels == c).sum())})") for i, c in enumerate(classes)]
    ax.legend(handles=handles, title="label", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"{AXIS_NAMES.get(method, method)} 1")
    ax.set_ylabel(f"{AXIS_NAMES.get(method, method)} 2")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


_PAGE_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222;max-width:1000px}
h1{font-size:17px;margin:0 0 4px} p.sub{color:#555;margin:0 0 10px}
svg{border:1px solid #ccc;background:#fff;display:block}
circle{stroke:none;fill-opacity:.6;cursor:pointer} circle.hot{stroke:#000;stroke-width:2;fill-opacity:1}
circle.off{display:none}
#legend{margin:8px 0} #legend span{display:inline-block;margin-right:14px;cursor:pointer;user-select:none}
#legend span.off{opacity:.35} #legend i{display:inline-block;width:11px;height:11px;border-radius:6px;margin-right:5px}
#info{min-height:2.8em;border:1px solid #ddd;background:#fafafa;padding:6px 8px;margin-bottom:8px;white-space:pre-wrap}
svg{max-width:100%;height:auto}
"""

_PAGE_JS = """
(function(){
  var info=document.getElementById('info'), hot=null;
  document.querySelectorAll('#points circle').forEach(function(c){
    c.addEventListener('mouseenter',function(){
      if(hot) hot.classList.remove('hot');
      hot=c; c.classList.add('hot');
      info.textContent=c.querySelector('title').textContent;
    });
  });
  document.querySelectorAll('#legend span').forEach(function(s){
    s.addEventListener('click',function(){
      var off=s.classList.toggle('off');
      document.querySelectorAll('#points circle[data-class="'+s.dataset.class+'"]').forEach(function(c){
        c.classList.toggle('off',off);
      });
    });
  });
})();
"""


def map_page(points: np.ndarray, labels: Sequence[str], texts: Sequence[str], classes: Sequence[str],
             title: str, subtitle: str = "") -> str:
    """A self-contained HTML page (no network: inline SVG, CSS and script) with the 2-D map: one circle per
    sentence, coloured by label; hovering shows the label and the sentence above the map (and as the
    circle's tooltip); clicking a legend entry hides or shows that class. All text is HTML-escaped."""
    pts = np.asarray(points, dtype=np.float64)
    W, H, pad = 900, 640, 14
    lo, hi = pts.min(0), pts.max(0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    xy = pad + (pts - lo) / span * np.array([W - 2 * pad, H - 2 * pad])
    xy[:, 1] = H - xy[:, 1]  # SVG's y grows downwards
    index = {c: i for i, c in enumerate(classes)}
    r = 3 if len(pts) > 500 else 5
    esc = html.escape
    circles = []
    labels, texts = list(labels), list(texts)
    for i in np.random.default_rng(0).permutation(len(pts)):  # interleaved, as in map_figure
        (x, y), lab, text = xy[i], labels[i], texts[i]
        k = index[str(lab)]
        circles.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{class_colour(k)}" data-class="{k}">'
                       f"<title>{esc(str(lab))}: {esc(text)}</title></circle>")
    counts = {c: 0 for c in classes}
    for lab in labels:
        counts[str(lab)] += 1
    legend = "".join(f'<span data-class="{i}"><i style="background:{class_colour(i)}"></i>{esc(c)} ({counts[c]})'
                     "</span>" for i, c in enumerate(classes))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)}</title><style>{_PAGE_CSS}</style></head><body>\n"
        f"<h1>{esc(title)}</h1><p class=\"sub\">{esc(subtitle)}</p>\n"
        f"<div id=\"legend\">{legend}</div>\n"
        "<div id=\"info\">Hover a point to read its sentence; click a legend entry to hide or show a class.</div>\n"
        f'<svg id="map" width="{W}" height="{H}" viewBox="0 0 {W} {H}">'
        f'<g id="points">\n' + "\n".join(circles) + "\n</g></svg>\n"
        f"<script>{_PAGE_JS}</script>\n</body></html>\n")


def write_json(path, data) -> None:
    """`data` as indented JSON, written atomically (bertkit.io.atomic_path)."""
    from ..io import atomic_write_text
    atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
