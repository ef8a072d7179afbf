"""Text classification: single texts or pairs; multi-class, multi-label or regression.

Long documents: with `long="windows"` a text longer than `max_length` becomes several windows that
overlap by `stride` tokens and cover the whole text; the model scores every window and the window
logits of a document are pooled (mean or max) into one row, for the loss in training as well as for
prediction. With `long="truncate"` (the default) a text is cut at `max_length`, one window per text,
and pooling is the identity, so the loss is exactly that of BertForSequenceClassification.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.batching import collate, length_grouped
from ..data.readers import ClassExample
from ..errors import ConfigError, DataError
from ..models.outputs import SequenceClassifierOutput

Tensor = torch.Tensor


@dataclass
class ClassifyOptions:
    max_length: int = 128
    long: str = "truncate"  # truncate | windows
    stride: int = 32  # tokens shared by consecutive windows
    pool: str = "mean"  # mean | max: how window logits become a document's logits
    pair: bool | None = None  # trained on sentence pairs (text + text_pair); None: not recorded


# -- features -----------------------------------------------------------------------------------------

def encode(tok, examples: Sequence[ClassExample], opts: ClassifyOptions) -> list[dict]:
    """One feature per window: input_ids, token_type_ids, doc (the example index)."""
    texts = [e.text for e in examples]
    pairs = [e.text_pair for e in examples]
    has_pair = any(p is not None for p in pairs)
    if has_pair and not all(p is not None for p in pairs):
        i = next(k for k, p in enumerate(pairs) if p is None)
        where = f"line {examples[i].line}" if examples[i].line else f"example {i}"
        raise DataError(f"{where}: field 'text_pair' is missing, but other examples have one; "
                        "give it for all or none")
    # token_type_ids asked for: tokenizers whose model has one type (RoBERTa, DistilBERT) give zeros
    kwargs = dict(truncation="only_first" if has_pair else True, max_length=opts.max_length,
                  return_token_type_ids=True)
    if opts.long == "windows":
        kwargs.update(return_overflowing_tokens=True, stride=opts.stride)
    elif opts.long != "truncate":
        raise ConfigError(f"--long {opts.long!r}: use truncate or windows")
    enc = tok(texts, pairs if has_pair else None, **kwargs)
    docs = enc["overflow_to_sample_mapping"] if opts.long == "windows" else range(len(texts))
    types = enc.get("token_type_ids") or [None] * len(enc["input_ids"])  # a RoBERTa tokenizer gives none
    return [{"input_ids": ids, "token_type_ids": tt, "doc": int(d)}
            for ids, tt, d in zip(enc["input_ids"], types, docs)]


def label_tensor(examples: Sequence[ClassExample], label2id: dict[str, int] | None, kind: str) -> Tensor:
    if kind == "regression":
        return torch.tensor([float(e.label) for e in examples], dtype=torch.float)
    if kind == "multi_label_classification":
        out = torch.zeros(len(examples), len(label2id))
        for i, e in enumerate(examples):
            for lab in e.label:
                out[i, label2id[lab]] = 1.0
        return out
    return torch.tensor([label2id[e.label] for e in examples], dtype=torch.long)


def make_batches(features: list[dict], labels: Tensor | None, batch_size: int, pad_id: int,
                 generator: torch.Generator | None) -> list[dict]:
    """Batches of whole documents (all windows of a document together), grouped by length."""
    by_doc: dict[int, list[int]] = {}
    for i, f in enumerate(features):
        by_doc.setdefault(f["doc"], []).append(i)
    docs = sorted(by_doc)
    lengths = [sum(len(features[i]["input_ids"]) for i in by_doc[d]) for d in docs]
    out = []
    for group in length_grouped(lengths, batch_size, generator):
        doc_ids = [docs[g] for g in group]
        rows = [i for d in doc_ids for i in by_doc[d]]
        batch = collate([features[i] for i in rows], pad_id)
        # window → position of its document in this batch
        batch["doc_index"] = torch.tensor([k for k, d in enumerate(doc_ids) for _ in by_doc[d]])
        batch["docs"] = torch.tensor(doc_ids)
        if labels is not None:
            batch["labels"] = labels[doc_ids]
        out.append(batch)
    return out


# -- the model with window pooling ---------------------------------------------------------------------

def pool_windows(logits: Tensor, doc_index: Tensor, n_docs: int, how: str) -> Tensor:
    """(W, L) window logits, (W,) document of each → (D, L) document logits."""
    logits = logits.float()
    if how == "mean":
        total = logits.new_zeros(n_docs, logits.size(1)).index_add_(0, doc_index, logits)
        count = torch.bincount(doc_index, minlength=n_docs).clamp(min=1).unsqueeze(1)
        return total / count
    if how == "max":
        out = logits.new_full((n_docs, logits.size(1)), float("-inf"))
        return out.scatter_reduce(0, doc_index.unsqueeze(1).expand_as(logits), logits, reduce="amax")
    raise ConfigError(f"--pool {how!r}: use mean or max")


def classification_loss(logits: Tensor, labels: Tensor, kind: str) -> Tensor:
    if kind == "regression":
        return F.mse_loss(logits.squeeze(-1), labels.float().view(-1)) if logits.size(-1) == 1 \
            else F.mse_loss(logits, labels.float())
    if kind == "multi_label_classification":
        return F.binary_cross_entropy_with_logits(logits, labels.float())
    return F.cross_entropy(logits, labels.view(-1))


class WindowClassifier(nn.Module):
    """A BertForSequenceClassification whose window logits are pooled per document before the loss."""

    def __init__(self, model: nn.Module, pool: str = "mean"):
        super().__init__()
        self.model = model
        self.pool = pool

    @property
    def config(self):
        return self.model.config

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, doc_index=None, docs=None,
                labels=None):
        window_logits = self.model(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits
        logits = self.pool_logits(window_logits, doc_index)  # (D, L)
        loss = None
        if labels is not None:
            loss = classification_loss(logits, labels, self.config.problem_type or "single_label_classification")
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def pool_logits(self, window_logits: Tensor, doc_index: Tensor | None) -> Tensor:
        """(W, L) window logits and (W,) each window's document in the batch (None: a window per
        document) → (D, L) document logits."""
        if doc_index is None:
            doc_index = torch.arange(window_logits.size(0), device=window_logits.device)
        n_docs = int(doc_index.max()) + 1 if doc_index.numel() else 0
        return pool_windows(window_logits, doc_index, n_docs, self.pool)


@torch.no_grad()
def doc_logits(model: WindowClassifier, batches: list[dict], n_docs: int) -> Tensor:
    """Pooled logits of every document, (n_docs, L), in document order."""
    out = None
    device = next(model.parameters()).device
    for b in batches:
        inputs = {k: v.to(device) for k, v in b.items() if k not in ("labels", "docs")}
        logits = model(**inputs).logits.float().cpu()
        if out is None:
            out = torch.zeros(n_docs, logits.size(1))
        out[b["docs"]] = logits
    return out


# -- metrics ------------------------------------------------------------------------------------------

def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m  # rows: gold, columns: predicted


def metrics(logits: Tensor, labels: Tensor, kind: str, id2label: dict[int, str] | None) -> dict:
    """accuracy, macro-F1 and a per-class report (single-label); micro/macro-F1 and exact match
    (multi-label); MSE and Pearson r (regression)."""
    if kind == "regression":
        pred = logits.squeeze(-1).numpy() if logits.size(-1) == 1 else logits.numpy()
        gold = labels.numpy()
        mse = float(((pred - gold) ** 2).mean())
        constant = pred.size < 2 or pred.std() == 0 or gold.std() == 0
        r = float("nan") if constant else float(np.corrcoef(pred.ravel(), gold.ravel())[0, 1])
        return {"mse": mse, "pearson": r, "neg_mse": -mse}
    names = [id2label[i] for i in range(len(id2label))]
    if kind == "multi_label_classification":
        pred = (logits > 0).numpy()
        gold = labels.numpy() > 0.5
        tp, fp, fn = (pred & gold).sum(0), (pred & ~gold).sum(0), (~pred & gold).sum(0)
        per_f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
        micro = 2 * tp.sum() / max(2 * tp.sum() + fp.sum() + fn.sum(), 1)
        report = {n: {"precision": float(tp[i] / max(tp[i] + fp[i], 1)), "recall": float(tp[i] / max(tp[i] + fn[i], 1)),
                      "f1": float(per_f1[i]), "support": int(gold[:, i].sum())} for i, n in enumerate(names)}
        return {"micro_f1": float(micro), "macro_f1": float(per_f1.mean()),
                "exact_match": float((pred == gold).all(1).mean()), "report": report}
    pred = logits.argmax(-1).numpy()
    gold = labels.numpy()
    m = confusion(gold, pred, len(names))
    tp = np.diag(m).astype(float)
    prec = tp / np.maximum(m.sum(0), 1)
    rec = tp / np.maximum(m.sum(1), 1)
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-12), 0.0)
    report = {n: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]),
                  "support": int(m[i].sum())} for i, n in enumerate(names)}
    return {"accuracy": float((pred == gold).mean()), "macro_f1": float(f1.mean()), "report": report,
            "confusion": m.tolist()}


def main_metric(kind: str) -> tuple[str, bool]:
    return {"regression": ("neg_mse", True), "multi_label_classification": ("micro_f1", True)}.get(
        kind, ("accuracy", True))


def plot_confusion(matrix, names: list[str], path) -> None:
    """The confusion matrix as a PNG: gold labels down, predicted across, counts in the cells."""
    from ..plots import pyplot, save
    plt = pyplot()
    m = np.asarray(matrix)
    size = max(4, 0.6 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, str(m[i, j]), ha="center", va="center",
                    color="white" if m[i, j] > m.max() / 2 else "black")
    fig.tight_layout()
    save(fig, path)


def format_report(result: dict) -> str:
    lines = [f"{'label':>20} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
    for name, r in result.get("report", {}).items():
        lines.append(f"{name:>20} {r['precision']:9.4f} {r['recall']:7.4f} {r['f1']:7.4f} {r['support']:8d}")
    return "\n".join(lines)


# -- prediction ---------------------------------------------------------------------------------------

def decode(logits: Tensor, kind: str, id2label: dict[int, str]) -> list[dict]:
    """Document logits → JSON-ready predictions: label and score, labels (multi-label) or a value."""
    out = []
    if kind == "regression":
        for row in logits:
            out.append({"score": float(row[0]) if row.numel() == 1 else [float(x) for x in row]})
        return out
    if kind == "multi_label_classification":
        probs = torch.sigmoid(logits)
        for row in probs:
            out.append({"labels": [id2label[i] for i in range(len(row)) if row[i] > 0.5],
                        "scores": {id2label[i]: round(float(p), 6) for i, p in enumerate(row)}})
        return out
    probs = torch.softmax(logits, -1)
    for row in probs:
        i = int(row.argmax())
        out.append({"label": id2label[i], "score": round(float(row[i]), 6),
                    "scores": {id2label[j]: round(float(p), 6) for j, p in enumerate(row)}})
    return out


def predict(model, tok, examples: Sequence[ClassExample], opts: ClassifyOptions, batch_size: int = 32,
            bf16: bool = False) -> list[dict]:
    """Predictions for `examples`, in order (model: BertForSequenceClassification)."""
    from ..train.precision import autocast_for
    wrapped = model if isinstance(model, WindowClassifier) else WindowClassifier(model, opts.pool)
    wrapped.eval()
    feats = encode(tok, examples, opts)
    batches = make_batches(feats, None, batch_size, tok.pad_token_id, None)
    with autocast_for(next(model.parameters()).device, bf16):
        logits = doc_logits(wrapped, batches, len(examples))
    kind = wrapped.config.problem_type or "single_label_classification"
    return decode(logits, kind, wrapped.config.id2label)
