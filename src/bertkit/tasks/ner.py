"""Named-entity recognition: words → subwords, labels on the first piece, entities with character offsets.

The words of a sentence are joined by single spaces and tokenized as one text; the offsets mapping
sends every subword back to the word it starts in. The first piece of a word carries the word's tag
and the other pieces -100 (ignored by the loss). A prediction is the tag of the word's first piece.
Evaluation is entity-level precision, recall and F1 per type, through `seqeval` (BIO or BIOES).
With `crf=True` a CRF sits on the token logits (over first pieces only) and decodes with Viterbi.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from ..data.batching import IGNORE, collate, length_grouped
from ..data.readers import NerExample
from ..models.crf import CRF
from ..models.outputs import TokenClassifierOutput

Tensor = torch.Tensor
WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)  # how raw text is cut into words for prediction


@dataclass
class NerOptions:
    max_length: int = 128


def label_list(examples: Sequence[NerExample]) -> list[str]:
    tags = {t for e in examples for t in e.tags}
    return ["O"] + sorted(tags - {"O"}, key=lambda t: (t[2:], t[:2]))


def words_of(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Raw text → words and their character spans."""
    found = [(m.group(), m.span()) for m in WORD.finditer(text)]
    return [w for w, _ in found], [s for _, s in found]


def _join(words: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    spans, pos = [], 0
    for w in words:
        spans.append((pos, pos + len(w)))
        pos += len(w) + 1
    return " ".join(words), spans


def encode(tok, examples: Sequence[NerExample], opts: NerOptions, label2id: dict[str, int] | None) -> list[dict]:
    """One feature per sentence; `first[i]` is the token index of word i's first piece (-1 if cut off)."""
    texts, spans = zip(*(_join(e.words) for e in examples)) if examples else ((), ())
    enc = tok(list(texts), truncation=True, max_length=opts.max_length, return_offsets_mapping=True)
    feats = []
    for n, e in enumerate(examples):
        ids, offsets = enc["input_ids"][n], enc["offset_mapping"][n]
        starts = {s: i for i, (s, _) in enumerate(spans[n])}
        first = [-1] * len(e.words)
        word_of_token = []
        w = -1
        for t, (a, b) in enumerate(offsets):
            if a == b:  # [CLS], [SEP]
                word_of_token.append(None)
                continue
            if a in starts and first[starts[a]] == -1:
                w = starts[a]
                first[w] = t
            word_of_token.append(w)
        f = {"input_ids": ids, "token_type_ids": enc["token_type_ids"][n], "first": first, "doc": n}
        if label2id is not None and e.tags is not None:
            labels = [IGNORE] * len(ids)
            for i, t in enumerate(first):
                if t >= 0:
                    labels[t] = label2id[e.tags[i]]
            f["token_labels"] = labels
        feats.append(f)
    return feats


def make_batches(features: list[dict], batch_size: int, pad_id: int, generator) -> list[dict]:
    out = []
    for group in length_grouped([len(f["input_ids"]) for f in features], batch_size, generator):
        batch = collate([features[i] for i in group], pad_id)
        batch["docs"] = torch.tensor([features[i]["doc"] for i in group])
        out.append(batch)
    return out


class Tagger(nn.Module):
    """BertForTokenClassification, optionally with a CRF over the first pieces of words."""

    def __init__(self, model: nn.Module, crf: bool = False):
        super().__init__()
        self.model = model
        self.crf = CRF(model.config.num_labels) if crf else None

    @property
    def config(self):
        return self.model.config

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, docs=None):
        if self.crf is None:
            return self.model(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, labels=labels)
        logits = self.model(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits
        loss = None
        if labels is not None:
            em, tags, mask = _first_pieces(logits, labels)
            loss = self.crf.neg_log_likelihood(em, tags, mask)
        return TokenClassifierOutput(loss=loss, logits=logits)


def _first_pieces(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Gather the labelled positions of each row to the front: (B, W, L), (B, W), mask (B, W)."""
    picked = labels != IGNORE
    W = max(1, int(picked.sum(1).max()))
    # stable sort puts labelled positions first, in order
    order = torch.sort((~picked).to(torch.int8), dim=1, stable=True).indices[:, :W]
    em = logits.float().gather(1, order.unsqueeze(-1).expand(-1, -1, logits.size(-1)))
    tags = labels.gather(1, order)
    mask = picked.gather(1, order)
    return em, tags, mask


@torch.no_grad()
def predict_tags(tagger: Tagger, features: list[dict], batch_size: int, pad_id: int,
                 id2label: dict[int, str]) -> list[list[str]]:
    """Per sentence, one tag per word (a word cut off by truncation gets O)."""
    device = next(tagger.parameters()).device
    out: list[list[str] | None] = [None] * len(features)
    for b in make_batches(features, batch_size, pad_id, None):
        logits = tagger.model(b["input_ids"].to(device), attention_mask=b["attention_mask"].to(device),
                              token_type_ids=b["token_type_ids"].to(device)).logits.float().cpu()
        for row, d in enumerate(b["docs"].tolist()):
            first = features[d]["first"]
            pos = [t for t in first if t >= 0]
            if tagger.crf is not None and pos:
                ids = tagger.crf.decode(logits[row, pos].unsqueeze(0), torch.ones(1, len(pos), dtype=torch.bool))[0]
            else:
                ids = logits[row, pos].argmax(-1).tolist() if pos else []
            it = iter(ids)
            out[d] = [id2label[next(it)] if t >= 0 else "O" for t in first]
    return out


def evaluate(gold: list[list[str]], pred: list[list[str]]) -> dict:
    """Entity-level precision/recall/F1 (micro over entities) and a per-type report, via seqeval."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    scheme = _scheme(gold)
    kw = {"mode": "strict", "scheme": scheme} if scheme is not None else {}
    report = classification_report(gold, pred, output_dict=True, zero_division=0, **kw)
    per_type = {k: {"precision": float(v["precision"]), "recall": float(v["recall"]), "f1": float(v["f1-score"]),
                    "support": int(v["support"])} for k, v in report.items() if "avg" not in k}
    return {"precision": float(precision_score(gold, pred, zero_division=0, **kw)),
            "recall": float(recall_score(gold, pred, zero_division=0, **kw)),
            "f1": float(f1_score(gold, pred, zero_division=0, **kw)), "report": per_type}


def _scheme(tags: list[list[str]]):
    """BIOES data is scored strictly with the IOBES scheme; BIO with seqeval's default (conlleval)."""
    if any(t[:2] in ("E-", "S-") for s in tags for t in s):
        from seqeval.scheme import IOBES
        return IOBES
    return None


def entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """(type, first word, last word) of each entity in a BIO/BIOES tag sequence."""
    from seqeval.metrics.sequence_labeling import get_entities
    return [(t, s, e) for t, s, e in get_entities(list(tags))]


def spans(text: str, word_spans: Sequence[tuple[int, int]], tags: Sequence[str]) -> list[dict]:
    """Entities as character spans into `text`."""
    out = []
    for typ, s, e in entities(tags):
        a, b = word_spans[s][0], word_spans[e][1]
        out.append({"type": typ, "start": a, "end": b, "text": text[a:b]})
    return out


def predict(tagger_or_model, tok, texts: Sequence[str], opts: NerOptions, batch_size: int = 32) -> list[dict]:
    """Raw texts → {"text", "entities": [{"type", "start", "end", "text"}]}, offsets into each text."""
    tagger = tagger_or_model if isinstance(tagger_or_model, Tagger) else Tagger(tagger_or_model)
    tagger.eval()
    cut = [words_of(t) for t in texts]
    examples = [NerExample(w, None) for w, _ in cut]
    feats = encode(tok, examples, opts, None)
    tags = predict_tags(tagger, feats, batch_size, tok.pad_token_id, tagger.config.id2label)
    return [{"text": t, "entities": spans(t, ws, tg)} for t, (_, ws), tg in zip(texts, cut, tags)]


def save_crf(tagger: Tagger, folder) -> None:
    from safetensors.torch import save_file
    from pathlib import Path
    if tagger.crf is not None:
        save_file({k: v.detach().cpu().contiguous() for k, v in tagger.crf.state_dict().items()},
                  str(Path(folder) / "crf.safetensors"))


def load_tagger(model, folder) -> Tagger:
    """Wrap a loaded BertForTokenClassification; add the CRF when the folder has one."""
    from pathlib import Path
    path = Path(folder) / "crf.safetensors"
    tagger = Tagger(model, crf=path.exists())
    if tagger.crf is not None:
        from safetensors.torch import load_file
        tagger.crf.load_state_dict(load_file(str(path)))
    return tagger
