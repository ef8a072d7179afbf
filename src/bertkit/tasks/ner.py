"""Named-entity recognition: words → subwords, labels on the first piece, entities with character offsets.

Words. A CoNLL sentence is a list of words; each word is tokenized on its own (what `transformers`
does with `is_split_into_words=True`), so every word knows its pieces however the tokenizer normalises
it: a word that starts with a zero-width or format character (`\\u200bParis`) keeps its own pieces and
label, and a word that normalises to nothing (a lone U+200B, a control character) is given the [UNK]
token so that it still has a position, a label in training and a prediction. Raw text to predict is cut
into words by the tokenizer itself (its word ids: whitespace and punctuation, as BERT splits), so the
model sees exactly the tokens of the text. A model trained on character-level files (every word one
character, as Chinese NER corpora are: `word_unit`) cuts raw text into characters instead, so that
`１９９７年` is five words in prediction as it was in training, not `１９９７` and `年`; its CoNLL input is
joined without spaces.

Labels. The first piece of a word carries the word's tag and the other pieces -100 (ignored by the
loss). A prediction is the tag of the word's first piece.

Windows. A sentence longer than `max_length` (special tokens included) is cut into windows of whole
words that overlap by at most `stride` tokens, in training and in prediction. Each word is predicted
from the window where it has the most context: the one where the smaller of its two distances (in
tokens) to the window's edges is largest; an edge at the start or end of the sentence is no cut and
counts as unlimited context. Ties go to the earlier window.

Tag schemes. The training tags are checked against IOB1, IOB2 (BIO), IOBES (BIOES) and BILOU; the one
they follow is kept with the model, and entities are scored (seqeval, strict mode) and decoded with it.
How IOB1 is told from IOB2: in IOB2 every entity starts with B-, so an I-X that does not follow B-X or
I-X rules IOB2 out; in IOB1 entities start with I- and B-X is only used for an entity that directly
follows another X entity, so a B-X after O or after another type rules IOB1 out. Any entity in the data
rules out one of the two; data with no entity at all is taken as IOB2. A file whose tags fit no scheme
is refused at the first tag where the last candidate scheme is ruled out.

With `crf=True` a CRF sits on the token logits (over first pieces only) and decodes with Viterbi.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..data.batching import indexed_batches
from ..labels import IGNORE_INDEX
from ..data.readers import NerExample, ReaderError
from ..errors import ConfigError
from ..models.crf import CRF
from ..models.outputs import TokenClassifierOutput
from ..tokenization._unicode import _is_chinese_char

Tensor = torch.Tensor

SCHEMES = ("IOB2", "IOB1", "IOBES", "BILOU")  # when several fit (data without entities): the first
_PREFIXES = {"IOB2": "BIO", "IOB1": "BIO", "IOBES": "BIESO", "BILOU": "BILUO"}


@dataclass
class NerOptions:
    max_length: int = 128  # tokens per window, [CLS] and [SEP] included
    stride: int = 32  # at most this many tokens shared by consecutive windows
    scheme: str = "IOB2"  # IOB1 | IOB2 | IOBES | BILOU
    words: str = "tokenizer"  # how raw text is cut into words: "tokenizer" (its word ids) | "characters"


def word_unit(examples: Sequence[NerExample]) -> str:
    """"characters" when the training sentences are character-level (every word a single character and
    some of them CJK, as in the People's Daily and MSRA corpora), else "tokenizer"."""
    words = [w for e in examples for w in e.words]
    if words and all(len(w) == 1 for w in words) and any(_is_chinese_char(ord(w)) for w in words):
        return "characters"
    return "tokenizer"


def word_unit_note(examples: Sequence[NerExample], path) -> str | None:
    """A line to print when a file looks character-level (most words one character, some CJK) but a few
    longer words make it word-level, so that raw text will not be cut into characters: where the first
    longer word is, and how many there are. None otherwise."""
    words = [(w, e.line + k) for e in examples for k, w in enumerate(e.words)]
    longer = [(w, line) for w, line in words if len(w) > 1]
    if not longer or len(longer) > 0.1 * len(words) or not any(_is_chinese_char(ord(w[0])) for w, _ in words):
        return None
    w, line = longer[0]
    return (f"{path}: {len(longer)} of {len(words)} words are longer than one character (the first, {w!r}, at "
            f"line {line}), so the model will cut raw text into the tokenizer's words, not into characters; "
            f"split them into characters for a character-level model")


def default_stride(max_length: int, stride: int = 32) -> int:
    """`stride`, or half a window when `stride` does not fit in a window of `max_length` tokens."""
    room = max_length - 2
    return stride if stride < room else max(0, room // 2)


def label_list(examples: Sequence[NerExample]) -> list[str]:
    tags = {t for e in examples for t in e.tags}
    return ["O"] + sorted(tags - {"O"}, key=lambda t: (t[2:], t[:2]))


# -- tag schemes ----------------------------------------------------------------------------------------

def _split(tag: str) -> tuple[str, str]:
    return ("O", "") if tag == "O" else (tag[0], tag[2:])


def _fault(scheme: str, prev: str, cur: str | None) -> str | None:
    """Why tag `cur` cannot follow tag `prev` in `scheme`, or None if it can. `prev` is "O" at the start
    of a sentence; `cur` is None at its end."""
    pp, pt = _split(prev)
    cp, ct = ("O", "") if cur is None else _split(cur)
    here = "the end of the sentence" if cur is None else repr(cur)
    if cur is not None and cp not in _PREFIXES[scheme]:
        return f"{here} is not a tag of {scheme}"
    continues = pp in ("B", "I") and pt == ct
    if scheme == "IOB2":
        if cp == "I" and not continues:
            return f"{here} after {prev!r} starts an entity with I- (IOB2 starts every entity with B-)"
    elif scheme == "IOB1":
        if cp == "B" and not continues:
            return (f"{here} after {prev!r} (IOB1 uses B- only for an entity right after another of the "
                    "same type)")
    else:
        last = "E" if scheme == "IOBES" else "L"
        if cp in ("I", last):
            if not continues:
                return f"{here} after {prev!r} does not continue a B-{ct} or I-{ct}"
        elif pp in ("B", "I"):
            return f"{here} after {prev!r}: the entity is not closed with {last}-{pt}"
    return None


def _where(path, e, k: int, sentence: int, short: bool = False) -> str:
    if getattr(e, "line", 0):
        return f"line {e.line + k}" if short else f"{path}:{e.line + k}"
    where = f"sentence {sentence + 1}, word {k + 1}"
    return where if short else f"{path or 'tags'}: {where}"


def _tag_rows(examples) -> list:
    return [e if hasattr(e, "tags") else NerExample(list(e), list(e), 0) for e in examples]


def detect_scheme(examples, path="") -> str:
    """The tag scheme (IOB1, IOB2, IOBES or BILOU) the tags of `examples` (NerExamples, or lists of tags)
    follow. Raises ReaderError at the first tag after which no scheme fits, naming file:line and why each
    scheme was ruled out."""
    alive = {s: None for s in SCHEMES}  # scheme → (where, why) it was ruled out, None while it fits
    for n, e in enumerate(_tag_rows(examples)):
        tags = list(e.tags or [])
        prev = "O"
        for k, cur in enumerate(tags + [None]):
            for s in SCHEMES:
                if alive[s] is None:
                    why = _fault(s, prev, cur)
                    if why is not None:
                        alive[s] = (_where(path, e, min(k, len(tags) - 1), n, short=True), why)
            if all(v is not None for v in alive.values()):
                where = _where(path, e, min(k, len(tags) - 1), n)
                shown = tags[min(k, len(tags) - 1)]
                reasons = "; ".join(f"not {s}: {w}: {why}" for s, (w, why) in alive.items())
                raise ReaderError(f"{where}: field 'tag': {shown!r} fits no tag scheme ({reasons}); make the "
                                  "tags follow one scheme throughout: IOB1, IOB2 (BIO), IOBES (BIOES) or BILOU")
            prev = cur
    return next(s for s in SCHEMES if alive[s] is None)


def check_scheme(examples, scheme: str, path="") -> None:
    """Raise ReaderError at the first tag of `examples` that does not follow `scheme` (file:line)."""
    for n, e in enumerate(_tag_rows(examples)):
        tags = list(e.tags or [])
        prev = "O"
        for k, cur in enumerate(tags + [None]):
            why = _fault(scheme, prev, cur)
            if why is not None:
                raise ReaderError(f"{_where(path, e, min(k, len(tags) - 1), n)}: field 'tag': {why}; the "
                                  f"training tags follow {scheme}, so this file must too")
            prev = cur


def guess_scheme(labels) -> str:
    """The scheme a set of tags can only belong to (for folders saved without one): L-/U- → BILOU,
    E-/S- → IOBES, I- without any B- → IOB1, else IOB2."""
    prefixes = {t[0] for t in labels if t != "O"}
    if prefixes & {"L", "U"}:
        return "BILOU"
    if prefixes & {"E", "S"}:
        return "IOBES"
    if "I" in prefixes and "B" not in prefixes:
        return "IOB1"
    return "IOB2"


def _seqeval_scheme(scheme: str):
    from seqeval import scheme as sq
    if scheme not in SCHEMES:
        raise ConfigError(f"tag scheme {scheme!r}: use one of {', '.join(SCHEMES)}")
    return getattr(sq, scheme)


# -- words and their pieces -------------------------------------------------------------------------------

def word_pieces(tok, words: Sequence[str]) -> list[list[int]]:
    """The token ids of each word, tokenized on its own; a word that yields no token gets [UNK]."""
    uniq = list(dict.fromkeys(words))
    rows = tok(uniq, add_special_tokens=False, return_attention_mask=False,
               return_token_type_ids=False)["input_ids"] if uniq else []
    table = {w: (list(r) if len(r) else [tok.unk_token_id]) for w, r in zip(uniq, rows)}
    return [table[w] for w in words]


def words_of(text: str, tok, unit: str = "tokenizer") -> tuple[list[str], list[tuple[int, int]], list[list[int]]]:
    """Raw text → its words, their character spans, and their token ids. `unit` "tokenizer": words as
    the tokenizer cuts them (by its word ids); characters it drops (spaces, control and format
    characters) belong to no word. "characters": every character but whitespace is a word, tokenized on
    its own as a character-level CoNLL word is in training (`word_pieces`)."""
    if unit == "characters":
        spans = [(i, i + 1) for i, ch in enumerate(text) if not ch.isspace()]
        words = [text[a:b] for a, b in spans]
        return words, spans, word_pieces(tok, words)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets, wids = enc["input_ids"], enc["offset_mapping"], enc.word_ids()
    words, spans, pieces = [], [], []
    last = object()
    for t, w in enumerate(wids):
        if w is None:
            continue
        a, b = offsets[t]
        if w != last:
            spans.append([a, b])
            pieces.append([])
            last = w
        spans[-1][1] = max(spans[-1][1], b)
        pieces[-1].append(ids[t])
    spans = [(a, b) for a, b in spans]
    return [text[a:b] for a, b in spans], spans, pieces


# -- windows ----------------------------------------------------------------------------------------------

def word_windows(lengths: Sequence[int], room: int, stride: int) -> list[tuple[int, int]]:
    """Windows [a, b) of whole words, each at most `room` tokens (a single longer word is a window of its
    own, to be cut), consecutive windows sharing at most `stride` tokens, each window reaching past the
    previous one; together they cover all words."""
    n = len(lengths)
    if n == 0:
        return [(0, 0)]
    out = []
    start = 0
    while True:
        end, total = start, 0
        while end < n and total + lengths[end] <= room:
            total += lengths[end]
            end += 1
        end = max(end, start + 1)
        out.append((start, end))
        if end >= n:
            return out
        # go back over at most `stride` tokens, and only so far that the next window still takes word `end`
        limit = min(stride, room - lengths[end])
        nxt, shared = end, 0
        while nxt - 1 > start and shared + lengths[nxt - 1] <= limit:
            shared += lengths[nxt - 1]
            nxt -= 1
        start = nxt


def best_windows(lengths: Sequence[int], windows: Sequence[tuple[int, int]]) -> list[int]:
    """For each word, the window where it has the most context: the largest min(tokens before it, tokens
    after it) inside the window, a side that reaches the sentence's start or end counting as unlimited;
    ties go to the earlier window."""
    n = len(lengths)
    best = [-1] * n
    score = [-1.0] * n
    for k, (a, b) in enumerate(windows):
        before = 0
        total = sum(lengths[a:b])
        for i in range(a, b):
            left = math.inf if a == 0 else before
            right = math.inf if b == n else total - before - lengths[i]
            s = min(left, right)
            if s > score[i]:
                score[i], best[i] = s, k
            before += lengths[i]
    return best


def check_window(max_length: int, stride: int, where_length: str = "--max-length",
                 where_stride: str = "--stride") -> None:
    """A window must hold [CLS], [SEP] and one token, and consecutive windows must move on."""
    if max_length < 3:
        raise ConfigError(f"{where_length} {max_length}: a window needs [CLS], [SEP] and at least one token; "
                          f"use {where_length} 3 or more")
    if not 0 <= stride < max_length - 2:
        raise ConfigError(f"{where_stride} {stride}: windows of {where_length} {max_length} hold {max_length - 2} "
                          f"tokens besides [CLS] and [SEP], and consecutive windows must move on; use "
                          f"{where_stride} {max_length - 3} or less")


def encode(tok, examples: Sequence[NerExample], opts: NerOptions, label2id: dict[str, int] | None,
           pieces: Sequence[Sequence[Sequence[int]]] | None = None) -> list[dict]:
    """One feature per window: input_ids, token_type_ids, `doc` (the sentence), `word0` (the sentence's
    index of the window's first word), `first[i]` (the token index of the first piece of word word0 + i),
    `own` (window-local indices of the words predicted from this window), `n_words`, and with labels
    `token_labels` (the tag id on each first piece, -100 elsewhere). `pieces` (per sentence, per word:
    token ids) is computed with `word_pieces` when not given."""
    check_window(opts.max_length, opts.stride)
    room = opts.max_length - 2
    if pieces is None:
        flat = word_pieces(tok, [w for e in examples for w in e.words])
        pieces, i = [], 0
        for e in examples:
            pieces.append(flat[i:i + len(e.words)])
            i += len(e.words)
    cls_id, sep_id = tok.cls_token_id, tok.sep_token_id
    feats = []
    for n, e in enumerate(examples):
        p = pieces[n]
        lengths = [len(x) for x in p]
        wins = word_windows(lengths, room, opts.stride)
        owner = best_windows(lengths, wins)
        for k, (a, b) in enumerate(wins):
            ids, first = [cls_id], []
            for i in range(a, b):
                first.append(len(ids))
                ids.extend(p[i])
            ids = ids[:room + 1] + [sep_id]  # a single word longer than the window is cut
            f = {"input_ids": ids, "token_type_ids": [0] * len(ids), "first": first, "word0": a,
                 "own": [i - a for i in range(a, b) if owner[i] == k], "n_words": len(e.words), "doc": n}
            if label2id is not None and e.tags is not None:
                labels = [IGNORE_INDEX] * len(ids)
                for i, t in enumerate(first):
                    labels[t] = label2id[e.tags[a + i]]
                f["token_labels"] = labels
            feats.append(f)
    return feats


def make_batches(features: list[dict], batch_size: int, pad_id: int, generator) -> list[dict]:
    """Length-grouped batches of windows, with their indices (`features`)."""
    return indexed_batches(features, batch_size, pad_id, generator)


class Tagger(nn.Module):
    """BertForTokenClassification, optionally with a CRF over the first pieces of words."""

    def __init__(self, model: nn.Module, crf: bool = False):
        super().__init__()
        self.model = model
        self.crf = CRF(model.config.num_labels) if crf else None

    @property
    def config(self):
        return self.model.config

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, features=None):
        if self.crf is None:
            return self.model(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, labels=labels)
        logits = self.model(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits
        return TokenClassifierOutput(loss=self.loss(logits, labels) if labels is not None else None, logits=logits)

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """The head's loss on (B, T, L) logits and (B, T) labels (IGNORE_INDEX where unscored): the CRF's
        negative log-likelihood over the labelled pieces, or the token cross-entropy without a CRF."""
        if self.crf is None:
            return F.cross_entropy(logits.float().view(-1, logits.size(-1)), labels.view(-1), ignore_index=IGNORE_INDEX)
        em, tags, mask = _first_pieces(logits, labels)
        return self.crf.neg_log_likelihood(em, tags, mask)


def _first_pieces(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Gather the labelled positions of each row to the front: (B, W, L), (B, W), mask (B, W)."""
    picked = labels != IGNORE_INDEX
    W = max(1, int(picked.sum(1).max()))
    # stable sort puts labelled positions first, in order
    order = torch.sort((~picked).to(torch.int8), dim=1, stable=True).indices[:, :W]
    em = logits.float().gather(1, order.unsqueeze(-1).expand(-1, -1, logits.size(-1)))
    tags = labels.gather(1, order)
    mask = picked.gather(1, order)
    return em, tags, mask


def window_tags(features: list[dict], window_ids: Sequence[Sequence[int]], id2label) -> list[list[str]]:
    """Per sentence, one tag per word, each taken from the window that owns the word.
    `window_ids[j]` holds the predicted tag id of each word of window j (in window order)."""
    n_docs = 1 + max((f["doc"] for f in features), default=-1)
    out: list[list[str] | None] = [None] * n_docs
    for f, ids in zip(features, window_ids):
        d = f["doc"]
        if out[d] is None:
            out[d] = ["O"] * f["n_words"]
        for i in f["own"]:
            out[d][f["word0"] + i] = id2label[int(ids[i])]
    return [o if o is not None else [] for o in out]


@torch.no_grad()
def window_predictions(tagger: Tagger, features: list[dict], batch_size: int, pad_id: int) -> list[list[int]]:
    """The predicted tag id of every word of every window (argmax of the first piece's logits, or the
    CRF's Viterbi path over the window's first pieces)."""
    device = next(tagger.parameters()).device
    out: list[list[int] | None] = [None] * len(features)
    for b in make_batches(features, batch_size, pad_id, None):
        logits = tagger.model(b["input_ids"].to(device), attention_mask=b["attention_mask"].to(device),
                              token_type_ids=b["token_type_ids"].to(device)).logits.float().cpu()
        js = b["features"].tolist()
        firsts = [features[j]["first"] for j in js]
        if tagger.crf is not None:
            # the first pieces of each window, left-aligned: (rows, words, labels), one Viterbi for the batch
            n = max(len(p) for p in firsts)
            idx = torch.tensor([p + [0] * (n - len(p)) for p in firsts], dtype=torch.long)  # (rows, n)
            mask = torch.tensor([[True] * len(p) + [False] * (n - len(p)) for p in firsts])  # (rows, n)
            em = logits.gather(1, idx.unsqueeze(-1).expand(-1, -1, logits.size(-1)))  # (rows, n, labels)
            paths = tagger.crf.decode(em, mask) if n else [[] for _ in js]
            for j, path in zip(js, paths):
                out[j] = path
        else:
            for row, (j, pos) in enumerate(zip(js, firsts)):
                out[j] = logits[row, pos].argmax(-1).tolist() if pos else []
    return out


def predict_tags(tagger: Tagger, features: list[dict], batch_size: int, pad_id: int,
                 id2label: dict[int, str]) -> list[list[str]]:
    """Per sentence, one tag per word (every word, however long the sentence: see the windows above)."""
    return window_tags(features, window_predictions(tagger, features, batch_size, pad_id), id2label)


def evaluate(gold: list[list[str]], pred: list[list[str]], scheme: str | None = None) -> dict:
    """Entity-level precision/recall/F1 (micro over entities) and a per-type report, via seqeval in strict
    mode with the tag scheme (detected from `gold` when not given)."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    scheme = scheme or detect_scheme(gold)
    kw = {"mode": "strict", "scheme": _seqeval_scheme(scheme)}
    report = classification_report(gold, pred, output_dict=True, zero_division=0, **kw)
    per_type = {k: {"precision": float(v["precision"]), "recall": float(v["recall"]), "f1": float(v["f1-score"]),
                    "support": int(v["support"])} for k, v in report.items() if "avg" not in k}
    return {"precision": float(precision_score(gold, pred, zero_division=0, **kw)),
            "recall": float(recall_score(gold, pred, zero_division=0, **kw)),
            "f1": float(f1_score(gold, pred, zero_division=0, **kw)), "report": per_type, "scheme": scheme}


def entities(tags: Sequence[str], scheme: str | None = None) -> list[tuple[str, int, int]]:
    """(type, first word, last word) of each entity in a tag sequence, read strictly in `scheme` (by
    default the scheme the tags' prefixes imply, see `guess_scheme`) with seqeval: two adjacent U-PER
    are two entities; a sequence the scheme does not allow (I-PER after O in IOB2) gives no entity there."""
    from seqeval.scheme import Tokens
    scheme = scheme or guess_scheme(tags)
    found = Tokens(list(tags), scheme=_seqeval_scheme(scheme)).entities
    return [(e.tag, e.start, e.end - 1) for e in found]


def spans(text: str, word_spans: Sequence[tuple[int, int]], tags: Sequence[str], scheme: str | None = None
          ) -> list[dict]:
    """Entities as character spans into `text`."""
    out = []
    for typ, s, e in entities(tags, scheme):
        a, b = word_spans[s][0], word_spans[e][1]
        out.append({"type": typ, "start": a, "end": b, "text": text[a:b]})
    return out


def predict(tagger_or_model, tok, texts: Sequence[str], opts: NerOptions, batch_size: int = 32) -> list[dict]:
    """Raw texts → {"text", "entities": [{"type", "start", "end", "text"}]}, offsets into each text."""
    tagger = tagger_or_model if isinstance(tagger_or_model, Tagger) else Tagger(tagger_or_model)
    tagger.eval()
    cut = [words_of(t, tok, opts.words) for t in texts]
    examples = [NerExample(w, None) for w, _, _ in cut]
    feats = encode(tok, examples, opts, None, pieces=[p for _, _, p in cut])
    tags = predict_tags(tagger, feats, batch_size, tok.pad_token_id, tagger.config.id2label)
    return [{"text": t, "entities": spans(t, ws, tg, opts.scheme)} for t, (_, ws, _), tg in zip(texts, cut, tags)]


def predict_words(tagger_or_model, tok, examples: Sequence[NerExample], opts: NerOptions,
                  batch_size: int = 32) -> list[dict]:
    """Sentences of words (a CoNLL file) → {"text" (the words joined by spaces, or by nothing for a
    character-level model), "tags" (one per word), "entities" (character spans into "text")}."""
    tagger = tagger_or_model if isinstance(tagger_or_model, Tagger) else Tagger(tagger_or_model)
    tagger.eval()
    tags = predict_tags(tagger, encode(tok, examples, opts, None), batch_size, tok.pad_token_id,
                        tagger.config.id2label)
    out, sep = [], "" if opts.words == "characters" else " "
    for x, tg in zip(examples, tags):
        pos, ws = 0, []
        for w in x.words:
            ws.append((pos, pos + len(w)))
            pos += len(w) + len(sep)
        text = sep.join(x.words)
        out.append({"text": text, "tags": tg, "entities": spans(text, ws, tg, opts.scheme)})
    return out


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
