"""Attention maps of one input: the weights themselves, and PNG heatmaps of them.

`attention_maps` runs a model once with `output_attentions=True` and returns the tokens and the
(L, H, T, T) softmax weights (query rows, key columns; every row sums to 1). The weights come from the
spelled-out kernel in models/attention.py, which computes them on the padded grid exactly as
`transformers` does with `attn_implementation="eager"`.

`attention_png` draws them with matplotlib: the grid of every layer × head (the picture bertviz's
"model view" shows), or one large map of a single head with every token on both axes.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from collections.abc import Sequence

import numpy as np
import torch

from ..errors import ConfigError, DataError

Tensor = torch.Tensor

# grid cells and large maps: past these many tokens, only every n-th token is written on an axis
GRID_LABELLED_TOKENS = 32
MAP_LABELLED_TOKENS = 160


@dataclass
class AttentionMaps:
    """One input's attention weights.

    tokens: T strings, as the tokenizer wrote them (special tokens included).
    attentions: (L, H, T, T) float32, layer × head × query × key; every row sums to 1.
    offsets: T (start, end) character spans into `text` (or `pair`, by `segments`); (0, 0) for specials.
    segments: T ints, 0 for tokens of `text` and specials before the pair, 1 for the pair's."""
    tokens: list[str]
    attentions: Tensor
    text: str
    pair: str | None = None
    offsets: list[tuple[int, int]] = field(default_factory=list)
    segments: list[int] = field(default_factory=list)
    truncated: int = 0  # the input's token count when it was cut to fit, else 0

    @property
    def num_layers(self) -> int:
        return self.attentions.shape[0]

    @property
    def num_heads(self) -> int:
        return self.attentions.shape[1]


@torch.no_grad()
def attention_maps(model, tokenizer, text: str, pair: str | None = None,
                   max_length: int | None = None) -> AttentionMaps:
    """Tokenize `text` (and `pair`), run `model` on it alone (no padding) and return its attention weights.

    `model` is any bertkit encoder or head model (every family); the weights are the encoder's, so they
    are the same for a bare model and a fine-tuned one built on it. Inputs longer than `max_length`
    (default: the smaller of the tokenizer's and the model's limits) are truncated, and the result says so.
    Raises DataError for an empty text. Shapes: attentions (L, H, T, T)."""
    if not text or not text.strip():
        raise DataError("the text to look at is empty; give a sentence")
    limits = [n for n in (max_length, getattr(tokenizer, "model_max_length", None),
                          model.config.max_sequence_length) if n]
    limit = min(limits) if limits else None
    args = (text,) if pair is None else (text, pair)
    with warnings.catch_warnings():  # the untruncated length only tells whether truncation happened
        warnings.simplefilter("ignore")
        full = tokenizer(*args, return_token_type_ids=True)
    enc = tokenizer(*args, truncation=limit is not None, max_length=limit, return_token_type_ids=True,
                    return_offsets_mapping=True)
    ids = enc["input_ids"]
    batch = {"input_ids": torch.tensor([ids])}
    if enc.get("token_type_ids") is not None:
        batch["token_type_ids"] = torch.tensor([enc["token_type_ids"]])
    was_training = model.training
    model.eval()
    try:
        out = model(**batch, output_attentions=True)
    finally:
        model.train(was_training)
    attentions = torch.stack([a[0] for a in out.attentions]).float()  # L × (1, H, T, T) → (L, H, T, T)
    segments, current = [], 0
    for s in enc.sequence_ids():  # a special token belongs to the segment it closes, as in token_type_ids
        current = current if s is None else s
        segments.append(current)
    return AttentionMaps(
        tokens=tokenizer.convert_ids_to_tokens(ids), attentions=attentions, text=text, pair=pair,
        offsets=[tuple(o) for o in enc["offset_mapping"]],
        segments=segments,
        truncated=len(full["input_ids"]) if len(full["input_ids"]) > len(ids) else 0)


def as_weights(outputs) -> np.ndarray:
    """Attention weights as one (L, H, T, T) float32 array, from a model output (its `.attentions`), a
    sequence of L tensors or arrays (1, H, T, T) or (H, T, T), one (L, H, T, T) tensor or array, or
    AttentionMaps. Raises ConfigError for an output without attentions, DataError (one line, naming the
    layer and shape) for anything that is not the weights of one input: other shapes, a batch of more
    than one, no layers or tokens, NaN, or values outside [0, 1]."""
    if isinstance(outputs, AttentionMaps):
        outputs = outputs.attentions
    tensor = (np.ndarray, Tensor)
    if hasattr(outputs, "attentions") and not isinstance(outputs, tensor):
        att = outputs.attentions
        if att is None:
            raise ConfigError("outputs.attentions is None; call the model with "
                              "output_attentions=True")
    else:
        att = outputs
    if isinstance(att, tensor):
        arr = np.asarray(att) if isinstance(att, np.ndarray) else att.detach().float().cpu().numpy()
        if arr.ndim == 5 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 4:
            raise DataError(f"attentions of shape {tuple(arr.shape)}; give (layers, heads, T, T) "
                            "or the model's outputs.attentions")
        layers = list(arr)
    elif isinstance(att, Sequence) and not isinstance(att, (str, bytes)):
        layers = []
        for i, a in enumerate(att):
            if isinstance(a, Tensor):
                a = a.detach().float().cpu().numpy()
            a = np.asarray(a)
            if a.ndim == 4:
                if a.shape[0] != 1:
                    raise DataError(f"attentions[{i}] has a batch of {a.shape[0]}; these views show one "
                                    "input: pass outputs.attentions of a batch of one (or slice [b:b+1])")
                a = a[0]
            if a.ndim != 3:
                raise DataError(f"attentions[{i}] has shape {tuple(a.shape)}; each layer must be "
                                "(1, heads, T, T) or (heads, T, T)")
            layers.append(a)
        if not layers:
            raise DataError("no layers in attentions; give the model's outputs.attentions")
    else:
        raise DataError(f"cannot read attentions from a {type(att).__name__}; give the model's "
                        "outputs (with output_attentions=True), their .attentions, or a (L, H, T, T) array")
    first = layers[0].shape
    for i, a in enumerate(layers):
        if a.shape != first:
            raise DataError(f"attentions[{i}] has shape {tuple(a.shape)} but attentions[0] has "
                            f"{tuple(first)}; every layer must have the same heads and tokens")
    if first[1] == 0 or first[2] == 0:
        raise DataError(f"attentions[0] has shape {tuple(first)}, with no heads or no tokens; "
                        "give the attentions of a non-empty input")
    if first[1] != first[2]:
        raise DataError(f"attentions[0] has shape {tuple(first)}; the last two sizes (queries, "
                        "keys) must be equal")
    arr = np.stack(layers).astype(np.float32)  # (L, H, T, T)
    if not np.isfinite(arr).all():
        raise DataError("attentions hold NaN or inf; check the model and its input")
    if arr.size and (arr.min() < -1e-6 or arr.max() > 1 + 1e-3):
        raise DataError(f"attentions range over [{arr.min():.4g}, {arr.max():.4g}], not attention "
                        "weights in [0, 1]; pass the softmax outputs (outputs.attentions)")
    return arr


def _tick_every(n: int, room: int) -> int:
    """Label every k-th of n tokens so that at most `room` labels are written."""
    return max(1, -(-n // room))


def _label_axes(ax, tokens: Sequence[str], room: int, fontsize: float, x: bool = True, y: bool = True) -> None:
    step = _tick_every(len(tokens), room)
    ticks = list(range(0, len(tokens), step))
    if ticks[-1] != len(tokens) - 1 and len(tokens) - 1 - ticks[-1] >= step / 2:
        ticks.append(len(tokens) - 1)  # the last token ([SEP]) too, where it has room
    labels = [tokens[i] for i in ticks]
    if x:
        ax.set_xticks(ticks, labels, rotation=90, fontsize=fontsize)
    if y:
        ax.set_yticks(ticks, labels, fontsize=fontsize)


def attention_png(attentions, tokens: Sequence[str], layer: int | None = None, head: int | None = None,
                  *, title: str | None = None, cmap: str = "viridis"):
    """A matplotlib Figure of attention weights; save it with `bertkit.plots.save(fig, path)`.

    With `layer` and `head` (counted from 0, as in `outputs.attentions`): one large map of that head,
    queries down, keys across, every token labelled (every n-th past 160 tokens), on a square-root colour
    scale up to the head's largest weight, with its colour bar.
    Without them: the grid of every layer (rows) × head (columns) on one shared 0-1 square-root colour
    scale (small weights stay visible), tokens
    on the outer axes (for up to 32 tokens). `attentions`: anything `as_weights` takes; `tokens`: T
    strings. Raises ConfigError for a layer or head out of range or a token count that does not match."""
    from matplotlib.colors import PowerNorm

    from ..plots import pyplot
    w = as_weights(attentions)
    L, H, T, _ = w.shape
    if len(tokens) != T:
        raise ConfigError(f"{len(tokens)} tokens for attention weights over {T} positions; give the tokens "
                          "the model read")
    if (layer is None) != (head is None):
        raise ConfigError("give both a layer and a head for one map, or neither for the grid")
    plt = pyplot()
    if layer is not None:
        if not 0 <= layer < L:
            raise ConfigError(f"layer {layer}: the model has layers 0..{L - 1}")
        if not 0 <= head < H:
            raise ConfigError(f"head {head}: the model has heads 0..{H - 1}")
        side = float(np.clip(2.5 + 0.16 * min(T, MAP_LABELLED_TOKENS), 6, 30))
        fontsize = float(np.clip(11 - T / 12, 5, 10))
        fig, ax = plt.subplots(figsize=(side + 1.2, side))
        # the grid's square-root scale, up to this head's largest weight
        im = ax.imshow(w[layer, head], cmap=cmap, norm=PowerNorm(0.5, vmin=0, vmax=float(w[layer, head].max()) or 1),
                       interpolation="nearest")
        _label_axes(ax, tokens, MAP_LABELLED_TOKENS, fontsize)
        ax.set_xlabel("key (attended to)")
        ax.set_ylabel("query (attending)")
        ax.set_title(title or f"layer {layer}, head {head}")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, label="attention weight (square-root scale)")
        fig.tight_layout()
        return fig
    cell = 1.25 if T <= GRID_LABELLED_TOKENS else 1.0
    labelled = T <= GRID_LABELLED_TOKENS
    margin = 1.2 if labelled else 0.5
    fig, axes = plt.subplots(L, H, figsize=(H * cell + margin + 1.0, L * cell + margin + 0.6), squeeze=False)
    fontsize = float(np.clip(7 - T / 8, 3, 6))
    # a square-root scale: most weights are small, and a linear one shows little beyond the peaks
    norm = PowerNorm(0.5, vmin=0, vmax=1)
    im = None
    for l in range(L):
        for h in range(H):
            ax = axes[l, h]
            im = ax.imshow(w[l, h], cmap=cmap, norm=norm, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if labelled and h == 0:
                _label_axes(ax, tokens, GRID_LABELLED_TOKENS, fontsize, x=False)
            if labelled and l == L - 1:
                _label_axes(ax, tokens, GRID_LABELLED_TOKENS, fontsize, y=False)
            if l == 0:
                ax.set_title(f"head {h}", fontsize=8)
            if h == H - 1:
                ax.yaxis.set_label_position("right")
                ax.set_ylabel(f"layer {l}", fontsize=8, rotation=270, labelpad=10)
    fig.suptitle(title or f"attention: {L} layers × {H} heads, {T} tokens (rows attend to columns)", fontsize=10)
    fig.subplots_adjust(left=margin / (H * cell + margin + 1.0), right=0.9, bottom=margin / (L * cell + margin + 0.6),
                        top=1 - 0.5 / (L * cell + margin + 0.6), wspace=0.08, hspace=0.08)
    bar = fig.add_axes([0.925, 0.25, 0.012, 0.5])
    fig.colorbar(im, cax=bar, label="attention weight (square-root scale)", ticks=[0, 0.05, 0.2, 0.5, 1])
    return fig
