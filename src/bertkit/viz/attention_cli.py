"""`bertkit attention`: the attention maps of one input as PNGs and as a page that works offline.

No torch at import time (`bertkit --help` stays quick); the work is in viz/attention.py and viz/page.py.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..cliargs import OptionError, arg


@dataclass
class AttentionArgs:
    """Attention maps of one input, for any family (BERT, RoBERTa, DistilBERT, ALBERT, ELECTRA; bare or
    fine-tuned): a PNG grid of every layer × head, a large PNG per --layer/--head asked for, and
    attention.html, a self-contained page (model view, head view, threshold slider) that needs no network.

    Example: bertkit attention --model MODEL "The cat sat on the mat." --pair "It slept." --layer 2 --head 3"""
    text: str | None = arg(None, "the text to look at (a sentence or a paragraph)", positional=True)
    model: str = arg(str(paths.MINILM), "model folder (Hugging Face layout), any family")
    pair: str | None = arg(None, "a second text, read as a sentence pair (segment B)")
    out: str = arg("attention-out", "folder to write attention.html, attention-grid.png and the large maps to")
    layer: list[int] = arg([], "a large map of this layer, counted from 0 as in outputs.attentions; repeat for "
                               "more (--layer 1 --layer 4); with no --head: every head of it", action="append")
    head: list[int] = arg([], "a large map of this head, counted from 0; repeat for more; with no --layer: in "
                              "every layer", action="append")
    max_length: int | None = arg(None, "truncate longer inputs to this many tokens (default: the model's limit)")


def attention_command(a: AttentionArgs) -> None:
    from ..cli import _check_max_length, check_vocab_fits
    from ..io import check_writable
    from ..plots import save
    from ..registry import AutoModel
    from ..tokenization import AutoTokenizer
    from .attention import attention_maps, attention_png
    from .page import attention_page

    if a.text is None or not a.text.strip():
        raise OptionError("text: give the text to look at, e.g. bertkit attention \"The cat sat on the mat.\"")
    if a.pair is not None and not a.pair.strip():
        raise OptionError("--pair: the second text is empty; give a sentence, or leave --pair out")
    out = Path(a.out)
    check_writable(out / "attention.html")  # before the model loads: a part of the path that is a file
    from ..checkpoint import loading_quietly
    tok = AutoTokenizer.from_pretrained(a.model)
    with loading_quietly():  # the encoder alone (its attention is the head model's): a head it drops is not news
        model = AutoModel.from_pretrained(a.model, fresh=[])
    check_vocab_fits(tok, model.config, a.model)
    _check_max_length(a.max_length, tok, model.config.max_sequence_length)
    L, H = model.config.num_hidden_layers, model.config.num_attention_heads
    for opt, values, n in (("--layer", a.layer, L), ("--head", a.head, H)):
        bad = [v for v in values if not 0 <= v < n]
        if bad:
            raise OptionError(f"{opt} {bad[0]}: this model has {n} {opt[2:]}s, counted from 0 (0..{n - 1})")
    maps = attention_maps(model, tok, a.text, a.pair, max_length=a.max_length)
    T = len(maps.tokens)
    if maps.truncated:
        cut = "the longer of the two texts is cut first" if a.pair is not None else "the end is cut"
        print(f"bertkit attention: the input has {maps.truncated} tokens; the model reads {T} ({cut})",
              file=sys.stderr)
    name = Path(a.model).name
    written = []
    shown = a.text if a.pair is None else f"{a.text} | {a.pair}"
    shown = " ".join(shown.split())
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    page = attention_page(maps.attentions, maps.tokens, title=f"{name}: {shown}")
    page.save(out / "attention.html")
    written.append(out / "attention.html")
    save(attention_png(maps.attentions, maps.tokens, title=f"{name}: attention, {L} layers × {H} heads, "
                                                             f"{T} tokens (rows attend to columns)"),
         out / "attention-grid.png", dpi=150, tight=True)
    written.append(out / "attention-grid.png")
    layers = a.layer or (range(L) if a.head else [])
    for layer in layers:
        for head in a.head or range(H):
            path = out / f"attention-layer{layer}-head{head}.png"
            save(attention_png(maps.attentions, maps.tokens, layer, head, title=f"{name}: layer {layer}, head {head}"),
                 path)
            written.append(path)
    kept = f"; the page keeps weights ≥ {page.min_weight:.4f} (it stays under 5 MB)" if page.min_weight > 0 else ""
    print(f"{T} tokens, {L} layers × {H} heads{kept}; wrote {len(written)} files to {out}/:")
    for path in written:
        print(f"  {path.name}")
