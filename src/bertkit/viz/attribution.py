"""Why did a classifier decide what it did: token attributions for one prediction.

Two methods, both scoring each token of the input for the predicted label:

- **Integrated gradients** (Sundararajan et al., 2017, "Axiomatic Attribution for Deep Networks"): the
  gradient of the target logit with respect to the input word embeddings, averaged along the straight
  path from a baseline input to the real one, times (input − baseline). The engine is captum's
  `IntegratedGradients` (Gauss–Legendre quadrature by default). A token's score is the sum of its
  attribution over the embedding dimension. Completeness: the scores add up to F(x) − F(baseline) for
  the target logit (`delta` is the gap captum reports).
- **Attention rollout** (Abnar & Zuidema, 2020, "Quantifying Attention Flow in Transformers"): each
  layer's attention averaged over heads, mixed with the identity for the residual connection
  (0.5·A + 0.5·I, rows renormalised), multiplied through the layers; the [CLS] row of the product says
  how much of each input token reaches the classifier's position. Non-negative, no sign.

Conventions (the same in `explain`, the JSONL of `bertkit explain` and `predict --explain`):

- The baseline of integrated gradients ("pad") is the input with every token other than the
  tokenizer's special tokens ([CLS], [SEP]; <s>, </s>) replaced by the [PAD] token's word embedding, as
  in captum's BERT tutorial; positions and segments are the input's own. With that baseline a special
  token's embedding is the same on the whole path, so its integrated gradient is exactly 0.
  `baseline="zero"` uses the zero vector instead (specials still kept).
- Special tokens are left out of the returned attributions (they have no characters in the text), so
  every Attribution's `start:end` slices the original text (the tokenizer's offset mapping). Rollout
  scores are the [CLS] row of the rollout over the text's tokens, renormalised to sum to 1 over them:
  [CLS] and [SEP] soak up a large, nearly constant share of attention that says nothing about the text.
- The target is the predicted label's logit: the arg-max label (single-label), the label with the
  highest logit (multi-label), or the single output (regression), unless a `target` is given.
- Long texts are truncated to `max_length` tokens (the classifier's own, from its config.json), one
  window; a classifier trained with --long windows pools windows at predict time, explain does not.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch

from ..errors import BertkitError, ConfigError

Tensor = torch.Tensor

METHODS = ("ig", "rollout")


@dataclass
class Attribution:
    """One token's share in a prediction. `start:end` are character offsets into the text it came from
    (`segment` 0: the text, 1: the text_pair); `score` is signed for integrated gradients (positive: for
    the predicted label) and non-negative for rollout."""
    token: str
    start: int
    end: int
    score: float
    segment: int = 0

    def to_dict(self, pair: bool = False) -> dict:
        """{token, start, end, score} (+ segment with sentence pairs): a JSONL row's attribution."""
        d = asdict(self)
        if not pair:
            d.pop("segment")
        return d


class Explanation(list):
    """The Attributions of one text (a list, in token order, specials left out), with the prediction:
    `label` (None for regression), `probability` (softmax for single-label, sigmoid for multi-label, None
    for regression), `logit` (the target's logit, or the regression output), `target` (its index),
    `method`, `delta` (integrated gradients: sum of scores − (F(x) − F(baseline)); None for rollout),
    `gap` (F(x) − F(baseline); None for rollout), `n_steps` (the integration steps used), `text`, `text_pair`, `truncated` (tokens cut), `kind`
    (the head's problem_type)."""

    def __init__(self, items=(), **info):
        super().__init__(items)
        self.label = self.probability = self.logit = self.target = self.delta = self.gap = None
        self.method = self.text = self.text_pair = self.kind = self.n_steps = None
        self.truncated = 0
        self.__dict__.update(info)

    def top(self, k: int = 3, by_abs: bool = False) -> list[Attribution]:
        """The k highest-scoring attributions (by |score| with by_abs)."""
        return sorted(self, key=lambda a: -abs(a.score) if by_abs else -a.score)[:k]

    def against(self, k: int = 3) -> list[Attribution]:
        """The k attributions that push hardest against the explained label (negative scores, most
        negative first); none for rollout, whose scores have no sign."""
        return sorted((a for a in self if a.score < 0), key=lambda a: a.score)[:k]

    def summary(self, k: int = 3) -> str:
        """One line: the top k tokens for the label and, for integrated gradients, the k strongest against it."""
        signed = self.method == "ig"
        line = ", ".join(f"{a.token} {a.score:{'+' if signed else ''}.3f}" for a in self.top(k))
        if signed:
            line = f"for: {line}"
            against = self.against(k)
            if against:
                line += "; against: " + ", ".join(f"{a.token} {a.score:+.3f}" for a in against)
        return line

    def __repr__(self) -> str:
        return (f"Explanation(method={self.method!r}, label={self.label!r}, probability={self.probability}, "
                f"{list.__repr__(self)})")


# -- integrated gradients -----------------------------------------------------------------------------

def _ids_2d(x, name: str) -> Tensor:
    t = torch.as_tensor(x)
    if t.dim() == 1:
        t = t[None]
    if t.dim() != 2 or t.shape[0] != 1:
        raise BertkitError(f"{name}: shape {tuple(t.shape)}; give one encoded input, (T,) or (1, T)")
    return t.long()


def _special_positions(enc, T: int) -> Tensor:
    """(T,) bool: the special tokens of `enc` (its special_tokens_mask; without one, the first and last
    token: the [CLS] ... [SEP] of a single text)."""
    mask = enc.get("special_tokens_mask") if hasattr(enc, "get") else None
    if mask is None:
        keep = torch.zeros(T, dtype=torch.bool)
        keep[0] = keep[-1] = True
        return keep
    return _ids_2d(mask, "special_tokens_mask")[0].bool()


def integrated_gradients(model, enc, target: int | None = None, n_steps: int = 50, baseline: str = "pad",
                         method: str = "gausslegendre", internal_batch_size: int | None = None):
    """Integrated gradients of one input's `target` logit over its word embeddings (captum's
    IntegratedGradients as the engine).

    model: a sequence classifier (any family's …ForSequenceClassification); it is put in eval mode
    (dropout off). enc: the tokenizer's output for one text, with input_ids (T,) or (1, T), and
    optionally token_type_ids and special_tokens_mask (which tokens the baseline keeps; without it the
    first and last). target: the logit to explain (default: the arg-max logit). n_steps, method: captum's
    quadrature (gausslegendre, riemann_trapezoid, ...). baseline: "pad" (each non-special token's word
    embedding replaced by [PAD]'s) or "zero" (replaced by zeros).

    Returns (scores (T,) float64 numpy — the attribution summed over the embedding dimension, 0 at the
    kept special tokens —, delta: float, the sum of scores minus (F(x) − F(baseline)), target: int,
    gap: float, F(x) − F(baseline)). Raises BertkitError for a bad `baseline`, `n_steps` or input."""
    from captum.attr import IntegratedGradients

    if baseline not in ("pad", "zero"):
        raise BertkitError(f"baseline {baseline!r}: use pad or zero")
    if not isinstance(n_steps, int) or n_steps < 1:
        raise BertkitError(f"n_steps {n_steps!r}: must be an integer of at least 1")
    model.eval()
    ids = _ids_2d(enc["input_ids"], "input_ids")  # (1, T)
    T = ids.shape[1]
    device = next(model.parameters()).device
    ids = ids.to(device)
    types = enc.get("token_type_ids") if hasattr(enc, "get") else None
    types = _ids_2d(types, "token_type_ids").to(device) if types is not None else None
    keep = _special_positions(enc, T).to(device)  # (T,)
    word = model.get_input_embeddings()
    with torch.no_grad():
        x = word(ids)  # (1, T, E)
        if baseline == "pad":
            pad = model.config.pad_token_id
            if pad is None:
                raise ConfigError("config.json: pad_token_id is not set, so there is no [PAD] embedding for the "
                                  "baseline; use baseline='zero'")
            fill = word(torch.full_like(ids, pad))
        else:
            fill = torch.zeros_like(x)
        base = torch.where(keep[None, :, None], x, fill)  # (1, T, E)

    def forward(embeds: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        # captum repeats token_type_ids along the batch of path points
        return model(inputs_embeds=embeds, token_type_ids=token_type_ids).logits.float()  # (N, labels)

    with torch.no_grad():
        logits = forward(x, types)[0]  # (labels,)
        if target is None:
            target = int(logits.argmax())
        if not 0 <= target < logits.shape[0]:
            raise BertkitError(f"target {target}: the model has {logits.shape[0]} outputs (0..{logits.shape[0] - 1})")
        gap = float(logits[target] - forward(base, types)[0, target])
    ig = IntegratedGradients(forward)
    attr, delta = ig.attribute(x, baselines=base, target=target, additional_forward_args=(types,),
                               n_steps=n_steps, method=method, internal_batch_size=internal_batch_size,
                               return_convergence_delta=True)
    scores = attr[0].sum(-1).detach().double().cpu().numpy()  # (T,)
    return scores, float(delta.reshape(-1)[0]), target, gap


# -- attention rollout -----------------------------------------------------------------------------------

def attention_rollout(attentions, add_residual: bool = True) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020). attentions: one (B, H, T, T) or (H, T, T) array per
    layer, first layer first (e.g. a model's `outputs.attentions`), or one (L, [B,] H, T, T) array.

    Per layer: average over heads; with `add_residual`, A' = 0.5·A + 0.5·I; rows renormalised to sum
    to 1. Then R = A'_L · … · A'_1: row i of R is how much each input token reaches position i at the
    top. Returns R as float64 numpy, (B, T, T) or (T, T) as the input had a batch axis or not. Rows sum
    to 1. Raises BertkitError for maps that are not square or differ in shape between layers."""
    layers = [a.detach().float().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a, dtype=np.float64)
              for a in attentions]
    if not layers:
        raise BertkitError("attentions: no layers; run the model with output_attentions=True")
    shape = layers[0].shape
    if any(a.shape != shape for a in layers) or len(shape) not in (3, 4) or shape[-1] != shape[-2]:
        raise BertkitError(f"attentions: shapes {sorted({a.shape for a in layers})}; give one (B, H, T, T) or "
                           "(H, T, T) map per layer, all the same shape")
    T = shape[-1]
    eye = np.eye(T)
    rollout = None
    for a in layers:
        a = a.astype(np.float64)
        a = a.mean(axis=-3)  # (B, T, T) or (T, T): heads averaged
        if add_residual:
            a = 0.5 * a + 0.5 * eye
        a = a / a.sum(axis=-1, keepdims=True)
        rollout = a if rollout is None else a @ rollout  # this layer's mixing applied on top of the ones below
    return rollout


# -- one text, end to end ----------------------------------------------------------------------------------

def _segments(special: list[bool]) -> list[int]:
    """Per token: 0 for the text, 1 for the text_pair, from where the specials sit ([CLS] A [SEP] B [SEP],
    <s> A </s></s> B </s>): each run of specials after text starts the next segment."""
    seg, out, prev_special = 0, [], True
    seen_text = False
    for s in special:
        if not s and prev_special and seen_text:
            seg += 1
        if not s:
            seen_text = True
        out.append(seg)
        prev_special = s
    return out


def _prediction(logits: Tensor, kind: str, id2label: dict) -> tuple[int, str | None, float | None]:
    """(target index, label, probability) of one row of logits."""
    if kind == "regression":
        return 0, None, None
    i = int(logits.argmax())
    p = torch.sigmoid(logits[i]) if kind == "multi_label_classification" else torch.softmax(logits, -1)[i]
    return i, id2label.get(i, str(i)), float(p)


def explain(model, tokenizer, text: str, method: str = "ig", text_pair: str | None = None,
            target: int | str | None = None, n_steps: int = 50, baseline: str = "pad",
            max_length: int | None = None, ig_method: str = "gausslegendre", tolerance: float | None = 0.01,
            max_steps: int = 400) -> Explanation:
    """Token attributions for `model`'s prediction on `text` (and `text_pair`): an Explanation, a list
    of Attribution (token, start, end, score; specials left out, offsets into the original text) that
    also carries the predicted `label` and `probability` (see the module docstring for the
    conventions).

    method: "ig" (integrated gradients, `n_steps`, `baseline`, `ig_method`: captum's quadrature) or
    "rollout" (attention rollout). Integrated gradients are complete when the scores sum to F(x) −
    F(baseline) (Sundararajan et al., 2017, §3); while they miss it by more than `tolerance` (a share of
    |F(x) − F(baseline)|), the steps are doubled, up to `max_steps` (`tolerance=None`: `n_steps` only).
    The Explanation's `n_steps` says how many were used. A path along which the logit dips and recovers
    needs more steps than a monotone one: 50 resolve most sentences, 100 the rest (docs/inspect.md). target: a label index or name to explain instead of the predicted
    one. max_length: truncate to this many tokens (default: the model's positions). Raises BertkitError
    for an unknown method or label, ConfigError for a model that is not a sequence classifier."""
    if method not in METHODS:
        raise BertkitError(f"method {method!r}: use one of {', '.join(METHODS)}")
    cfg = model.config
    if not hasattr(model, "num_labels") or "SequenceClassification" not in type(model).__name__:
        raise ConfigError(f"{type(model).__name__}: not a sequence classifier; give a classify model "
                          "(…ForSequenceClassification)")
    model.eval()
    limit = cfg.max_sequence_length if max_length is None else max_length
    enc = tokenizer(text, text_pair, truncation="only_first" if text_pair is not None else True,
                    max_length=limit, return_offsets_mapping=True, return_special_tokens_mask=True,
                    return_token_type_ids=True)
    full = len(tokenizer(text, text_pair, add_special_tokens=True)["input_ids"])
    ids = enc["input_ids"]
    types = enc.get("token_type_ids")
    device = next(model.parameters()).device
    ids_t = torch.tensor([ids], device=device)
    types_t = torch.tensor([types], device=device) if types is not None else None
    kind = cfg.problem_type or ("regression" if cfg.num_labels == 1 else "single_label_classification")
    id2label = {int(k): v for k, v in (cfg.id2label or {}).items()}
    with torch.no_grad():
        out = model(ids_t, token_type_ids=types_t, output_attentions=method == "rollout")
    logits = out.logits[0].float()
    pred, label, prob = _prediction(logits, kind, id2label)
    if target is not None:
        if isinstance(target, str):
            names = {v: k for k, v in id2label.items()}
            if target not in names:
                raise BertkitError(f"target {target!r}: not a label of the model ({', '.join(names)})")
            target = names[target]
        pred = int(target)
        label = id2label.get(pred, str(pred)) if kind != "regression" else None
        prob = (float(torch.sigmoid(logits[pred])) if kind == "multi_label_classification"
                else None if kind == "regression" else float(torch.softmax(logits, -1)[pred]))
    special = [bool(s) for s in enc["special_tokens_mask"]]
    delta = gap = None
    if method == "ig":
        while True:
            scores, delta, pred, gap = integrated_gradients(model, enc, pred, n_steps, baseline, ig_method)
            if tolerance is None or abs(delta) <= tolerance * abs(gap) or 2 * n_steps > max_steps:
                break
            n_steps *= 2
    else:
        R = attention_rollout(out.attentions)[0]  # (T, T)
        row = R[0].copy()  # what reaches [CLS] (<s>), where the classifier reads
        text_mass = sum(row[i] for i, s in enumerate(special) if not s)
        scores = row / text_mass if text_mass > 0 else row
    tokens = tokenizer.convert_ids_to_tokens(ids)
    segs = _segments(special)
    attrs = [Attribution(tokens[i], int(s), int(e), float(scores[i]), segs[i])
             for i, ((s, e), sp) in enumerate(zip(enc["offset_mapping"], special)) if not sp]
    return Explanation(attrs, label=label, probability=prob, logit=float(logits[pred]), target=pred,
                       method=method, delta=delta, gap=gap, n_steps=n_steps if method == "ig" else None,
                       text=text, text_pair=text_pair,
                       truncated=max(0, full - len(ids)), kind=kind)


def explain_many(model, tokenizer, texts: Sequence[str], methods: Sequence[str] = ("ig",),
                 pairs: Sequence[str | None] | None = None, **kwargs) -> list[dict[str, Explanation]]:
    """`explain` for each text and method: one {method: Explanation} per text, in order."""
    pairs = pairs if pairs is not None else [None] * len(texts)
    return [{m: explain(model, tokenizer, t, m, text_pair=p, **kwargs) for m in methods}
            for t, p in zip(texts, pairs)]


def explain_rows(model, tokenizer, examples, rows: list[dict], method: str, max_length: int | None = None,
                 n_steps: int = 50, progress: bool = True) -> int:
    """`predict --explain`: add "attributions" ([{token, start, end, score}, ...], + segment with sentence
    pairs) to each prediction row of `rows`, for `examples` (ClassExample: text, text_pair) in the same
    order. A single-label row's own label is the target (with --long windows that is the pooled
    prediction; the attributions read the first window); multi-label rows explain their top label,
    regression rows the output. Integrated gradients double their steps as `explain` does (1% completeness).
    Runs in fp32 whatever autocast is on. Returns how many texts were cut to `max_length`."""
    from tqdm.auto import tqdm
    label2id = {v: int(k) for k, v in (model.config.id2label or {}).items()}
    cut = 0
    with torch.autocast("cpu", enabled=False):
        for x, row in zip(examples, tqdm(rows, desc=f"explain ({method})", unit="text", disable=not progress)):
            target = label2id.get(row["label"]) if isinstance(row.get("label"), str) else None
            e = explain(model, tokenizer, x.text, method, text_pair=x.text_pair, target=target,
                        n_steps=n_steps, max_length=max_length)
            row["attributions"] = [a.to_dict(pair=x.text_pair is not None) | {"score": round(a.score, 6)}
                                   for a in e]
            cut += e.truncated > 0
    return cut


# -- the page --------------------------------------------------------------------------------------------

_GREEN, _RED, _BLUE = (22, 150, 70), (214, 40, 40), (37, 99, 235)
_NAMES = {"ig": "Integrated gradients", "rollout": "Attention rollout"}

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;
  margin:0;background:#f6f7f9}
main{max-width:980px;margin:0 auto;padding:24px 28px 40px}
h1{font-size:22px;margin:0 0 4px}
.sub{color:#59636e;margin:0 0 16px}
.legend{display:flex;align-items:center;gap:10px;font-size:13px;color:#59636e;margin:0 0 2px;flex-wrap:wrap}
.hint{font-size:12px;color:#59636e;margin:0 0 18px}
.bar{width:220px;height:12px;border-radius:6px;border:1px solid #d0d7de;
  background:linear-gradient(90deg,rgb(214,40,40),#fff 50%,rgb(22,150,70))}
.bar.roll{width:110px;margin-left:14px;background:linear-gradient(90deg,#fff,rgb(37,99,235))}
section{background:#fff;border:1px solid #d0d7de;border-radius:10px;padding:14px 18px;margin:0 0 16px}
section h2{font-size:15px;margin:0 0 8px;font-weight:600}
.pred{display:inline-block;padding:1px 8px;border-radius:10px;background:#dafbe1;color:#116329;font-weight:600}
.method{margin:10px 0 0}
.method h3{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#59636e;margin:0 0 4px;font-weight:600}
.method h3 span{text-transform:none;letter-spacing:0;font-weight:400}
.text{font-size:17px;line-height:2.1;margin:0;white-space:pre-wrap;word-wrap:break-word}
.pairlabel{font-size:12px;color:#59636e}
.t{position:relative;border-radius:3px;padding:2px 1px;cursor:default}
.t:hover{outline:2px solid #1f2328}
.t:hover::after{content:attr(data-tip);position:absolute;left:0;top:100%;margin-top:4px;z-index:2;
  white-space:nowrap;background:#1f2328;color:#fff;font-size:12px;line-height:1.4;padding:3px 7px;
  border-radius:4px;pointer-events:none}
.top{font-size:13px;color:#59636e;margin:4px 0 0}
.note{font-size:12px;color:#9a6700}
footer{font-size:12px;color:#59636e}
"""


def _colour(score: float, scale: float, signed: bool = True) -> str:
    """Background for a score: green for, red against the predicted label (blue for an unsigned score,
    rollout's); strength |score| / scale."""
    if scale <= 0 or score == 0:
        return "transparent"
    r, g, b = _BLUE if not signed else _GREEN if score > 0 else _RED
    return f"rgba({r},{g},{b},{min(1.0, abs(score) / scale) * 0.85:.3f})"


def _highlight(text: str, attrs: list[Attribution], scale: float, signed: bool = True) -> str:
    """`text` as escaped HTML with each token's characters in a coloured span (hover: token and score).
    Tokens sharing characters (a byte-level BPE may cut one character in two) share one span."""
    import html
    groups: list[list] = []  # [start, end, [attributions]]
    for a in sorted(attrs, key=lambda a: (a.start, a.end)):
        if a.end <= a.start:
            continue
        if groups and a.start < groups[-1][1]:
            groups[-1][1] = max(groups[-1][1], a.end)
            groups[-1][2].append(a)
        else:
            groups.append([a.start, a.end, [a]])
    out, at = [], 0
    for s, e, members in groups:
        out.append(html.escape(text[at:s]))
        score = sum(a.score for a in members)
        tip = " + ".join(a.token for a in members) + (f": {score:+.4f}" if signed else f": {score:.4f}")
        out.append(f'<span class="t" style="background:{_colour(score, scale, signed)}" data-tip="{html.escape(tip)}" '
                   f'title="{html.escape(tip)}">{html.escape(text[s:e])}</span>')
        at = e
    out.append(html.escape(text[at:]))
    return "".join(out)


def explain_page(results: Sequence[dict[str, Explanation]], title: str = "Token attributions",
                 model_name: str | None = None) -> str:
    """A self-contained HTML page (no scripts, no network) for `results` (one {method: Explanation} per
    text, as `explain_many` returns): each text with its characters highlighted per token — green for the
    predicted label, red against it, stronger for a larger |score| relative to the text's largest —,
    the predicted label and probability, and the top tokens; hovering a token shows its score."""
    import html
    parts = [f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
             f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body><main>",
             f"<h1>{html.escape(title)}</h1>"]
    sub = "Why the classifier predicted what it did: each token coloured by its attribution"
    if model_name:
        sub += f" · model <code>{html.escape(model_name)}</code>"
    parts.append(f"<p class=\"sub\">{sub}.</p>")
    parts.append("<div class=\"legend\"><span>against the predicted label</span><span class=\"bar\"></span>"
                 "<span>for the predicted label</span><span class=\"bar roll\"></span><span>attention rollout "
                 "(no sign)</span></div><p class=\"hint\">Colour strength: |score| relative to the text's largest "
                 "|score|. Hover a token for its score.</p>")
    for i, by_method in enumerate(results):
        first = next(iter(by_method.values()))
        if first.kind == "regression":
            pred = f"output <span class=\"pred\">{first.logit:.4f}</span>"
        else:
            pred = (f"predicted <span class=\"pred\">{html.escape(str(first.label))}</span> "
                    f"(p = {first.probability:.3f})")
        parts.append(f"<section><h2>Text {i + 1} · {pred}</h2>")
        for m, e in by_method.items():
            scale = max((abs(a.score) for a in e), default=0.0)
            if m == "ig":
                detail = (f"{e.n_steps} steps, " if e.n_steps else "") + (
                    f"Σ scores = {sum(a.score for a in e):+.4f}, F(x) − F(baseline) = {e.gap:+.4f}")
            else:
                detail = "[CLS] row, shares of the text's tokens"
            parts.append(f"<div class=\"method\"><h3>{_NAMES[m]} <span>· {html.escape(detail)}</span></h3>")
            for seg, txt in enumerate([e.text] + ([e.text_pair] if e.text_pair is not None else [])):
                if seg == 1:
                    parts.append("<div class=\"pairlabel\">text_pair</div>")
                parts.append(f"<p class=\"text\">{_highlight(txt, [a for a in e if a.segment == seg], scale, m == 'ig')}"
                             "</p>")
            parts.append(f"<p class=\"top\">top tokens {html.escape(e.summary(3))}</p>")
            if e.truncated:
                parts.append(f"<p class=\"note\">{e.truncated} tokens past the model's max_length were cut and "
                             "not explained.</p>")
            parts.append("</div>")
        parts.append("</section>")
    parts.append("<footer>bertkit explain · integrated gradients (Sundararajan et al., 2017) over the input word "
                 "embeddings, baseline: [PAD] at every non-special token · attention rollout (Abnar &amp; "
                 "Zuidema, 2020)</footer></main></body></html>\n")
    return "".join(parts)
