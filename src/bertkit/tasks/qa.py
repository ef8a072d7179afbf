"""Extractive question answering (SQuAD v1.1 and v2.0).

Features: the question and the context are tokenized as a pair; a context longer than `max_length`
becomes several windows overlapping by `doc_stride` tokens. The offsets mapping sends each context
token back to its characters. A question longer than `max_query_length` tokens (64, as in the original
BERT) is cut to its first `max_query_length` tokens, and counted. The limits are checked before any work:
a window must hold the longest (cut) question, 3 special tokens and more than `doc_stride` context
tokens, else a ConfigError names the option and the value that fits. A training window whose context does not hold the whole answer is
labelled with [CLS] (position 0) as start and end, the SQuAD 2.0 convention for "no answer here".

Post-processing: per example, the best spans over all its windows by start + end logit, with
end ≥ start, both inside the context and at most `max_answer_length` tokens long. The search is exact
(every valid span is scored, as a masked (T, T) matrix), so it agrees with a brute-force loop.
For SQuAD 2.0 the null score is the [CLS] start + end logit (the minimum over windows); the answer is
"" when null − best span > `null_threshold`.

Metrics follow the official SQuAD evaluation script: answers are normalised (lower case, punctuation
and the articles a/an/the removed, whitespace collapsed); EM and token F1 take the max over the gold
answers; a question without answers counts as correct only when the prediction is "".
"""
from __future__ import annotations

import collections
import re
import string
import sys
from dataclasses import dataclass
from typing import Sequence

import torch

from ..data.batching import collate, length_grouped
from ..data.readers import QAExample
from ..errors import ConfigError

Tensor = torch.Tensor


@dataclass
class QAOptions:
    max_length: int = 384
    doc_stride: int = 128
    max_answer_length: int = 30
    n_best: int = 20
    null_threshold: float = 0.0
    version_2: bool = True  # allow "no answer"
    max_query_length: int = 64  # longer questions are cut to this many tokens


OPTION_NAMES = {"max_length": "--max-length", "doc_stride": "--doc-stride", "max_query_length": "--max-query-length"}


# -- features -----------------------------------------------------------------------------------------

def cut_questions(tok, examples: Sequence[QAExample], max_query_length: int
                  ) -> tuple[list[str], list[int], list[bool]]:
    """Each question (leading spaces dropped) cut after its first `max_query_length` tokens: the texts,
    their token counts, and which were cut. The cut falls at the end of a token's characters, so the cut
    text tokenizes to exactly the first `max_query_length` tokens of the whole question."""
    questions = [e.question.lstrip() for e in examples]
    if not questions:
        return [], [], []
    enc = tok(questions, add_special_tokens=False, return_offsets_mapping=True, return_attention_mask=False,
              return_token_type_ids=False)
    texts, lengths, cut = [], [], []
    for q, ids, offsets in zip(questions, enc["input_ids"], enc["offset_mapping"]):
        long = len(ids) > max_query_length
        texts.append(q[:offsets[max_query_length - 1][1]] if long else q)
        lengths.append(min(len(ids), max_query_length))
        cut.append(long)
    return texts, lengths, cut


def check_limits(examples: Sequence[QAExample], lengths: Sequence[int], opts: QAOptions, path="",
                 names: dict | None = None, specials: int = 3) -> None:
    """Raise ConfigError, naming the option and the value that fits, when a window of `max_length` cannot
    hold the longest question (`lengths`, in tokens, after the cut), the `specials` special tokens of a
    pair (BERT's [CLS] [SEP] [SEP]: 3; RoBERTa's <s> </s></s> </s>: 4) and more than `doc_stride`
    context tokens (consecutive windows must move on)."""
    names = {**OPTION_NAMES, **(names or {})}
    L, S, Q = opts.max_length, opts.doc_stride, opts.max_query_length
    if isinstance(Q, bool) or not isinstance(Q, int) or Q < 1:
        raise ConfigError(f"{names['max_query_length']} {Q!r}: a question keeps at least one token; use 1 or more")
    if isinstance(S, bool) or not isinstance(S, int) or S < 0:
        raise ConfigError(f"{names['doc_stride']} {S!r}: give a number of tokens, 0 or more")
    if not lengths:
        return
    i = max(range(len(lengths)), key=lambda k: lengths[k])
    q, e = lengths[i], examples[i]
    at = f"{path}:{e.line}" if path and e.line else path or "the input"
    which = f"the question of id {e.id!r} ({at}) has {q} tokens" + (f" (cut to {names['max_query_length']} {Q})"
                                                                  if q == Q else "")
    room = L - specials - q
    if room < 1:
        with_specials = "[CLS] and two [SEP]" if specials == 3 else f"{specials} special tokens"
        raise ConfigError(f"{names['max_length']} {L}: {which}, which with {with_specials} leaves no room "
                          f"for the context; use {names['max_length']} {q + specials + 1 + S} or more (the question, "
                          f"{specials} special tokens and {names['doc_stride']} {S} + 1 context tokens), or a smaller "
                          f"{names['max_query_length']}")
    if S >= room:
        raise ConfigError(f"{names['doc_stride']} {S}: a window of {names['max_length']} {L} holds {room} context "
                          f"tokens, as {which} and {specials} are special; consecutive windows must move on, so use "
                          f"{names['doc_stride']} {room - 1} or less (or a larger {names['max_length']}, or a "
                          f"smaller {names['max_query_length']})")


def _row(column, i: int):
    """Row `i` of a tokenizer output column, or None when the tokenizer gives no such column (a RoBERTa
    tokenizer returns no token_type_ids)."""
    return None if column is None else column[i]


def encode(tok, examples: Sequence[QAExample], opts: QAOptions, train: bool, stats: dict | None = None,
           path="", names: dict | None = None) -> list[dict]:
    """Windows of (question, context): input_ids, token_type_ids, doc, offsets (None outside the
    context), and for training start_positions / end_positions. Questions longer than
    `opts.max_query_length` tokens are cut (see `cut_questions`); `stats`, if given, receives
    "questions" and "truncated_questions" (how many were cut). The limits are checked first
    (`check_limits`, ConfigError; `path` and `names` only word its message)."""
    questions, lengths, cut = cut_questions(tok, examples, opts.max_query_length)
    specials = tok.num_special_tokens_to_add(pair=True)
    check_limits(examples, lengths, opts, path, names, specials)
    if stats is not None:
        stats["questions"] = len(examples)
        stats["truncated_questions"] = sum(cut)
    enc = tok(questions, [e.context for e in examples], truncation="only_second",
              max_length=opts.max_length, stride=opts.doc_stride, return_overflowing_tokens=True,
              return_offsets_mapping=True, return_token_type_ids=True)
    feats = []
    for i in range(len(enc["input_ids"])):
        d = int(enc["overflow_to_sample_mapping"][i])
        seq = enc.sequence_ids(i)
        offsets = [tuple(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][i], seq)]
        f = {"input_ids": enc["input_ids"][i], "token_type_ids": _row(enc.get("token_type_ids"), i), "doc": d,
             "offsets": offsets}
        if train:
            f["start_positions"], f["end_positions"] = _positions(examples[d], offsets)
        feats.append(f)
    return feats


def truncation_note(counts: dict, max_query_length: int, name: str = "--max-query-length") -> str | None:
    """One line saying how many questions were cut, e.g. {"train": 3, "dev": 0} → "qa: 3 questions ..."."""
    total = sum(counts.values())
    if not total:
        return None
    parts = ", ".join(f"{k} {v}" for k, v in counts.items())
    noun = "question" if total == 1 else "questions"
    return (f"qa: {total} {noun} longer than {name} {max_query_length} tokens truncated to "
            f"{max_query_length} ({parts})")


def _positions(e: QAExample, offsets: list) -> tuple[int, int]:
    """Start and end token of the first answer in one window; (0, 0) ([CLS]) for a no-answer question
    (is_impossible, even when it lists answers, or no answers) and when the window lacks the answer."""
    if e.is_impossible or not e.answers:
        return 0, 0
    a = e.answers[0]
    s_char, e_char = a["answer_start"], a["answer_start"] + len(a["text"])
    ctx = [i for i, o in enumerate(offsets) if o is not None]
    if not ctx or offsets[ctx[0]][0] > s_char or offsets[ctx[-1]][1] < e_char:
        return 0, 0  # the answer is not (wholly) in this window
    start = next(i for i in ctx if offsets[i][1] > s_char)
    end = next(i for i in reversed(ctx) if offsets[i][0] < e_char)
    return start, end


def make_batches(features: list[dict], batch_size: int, pad_id: int, generator, train: bool,
                 index: bool = False) -> list[dict]:
    """Length-grouped batches; training ones carry the answer positions, evaluation ones (and any with
    `index`) the indices of their features (`features`)."""
    out = []
    for group in length_grouped([len(f["input_ids"]) for f in features], batch_size, generator):
        rows = [features[i] for i in group]
        batch = collate(rows, pad_id)
        if train:
            batch["start_positions"] = torch.tensor([r["start_positions"] for r in rows])
            batch["end_positions"] = torch.tensor([r["end_positions"] for r in rows])
        if index or not train:
            batch["features"] = torch.tensor(group)
        out.append(batch)
    return out


# -- span search --------------------------------------------------------------------------------------

def best_spans(start: Tensor, end: Tensor, valid: Tensor, max_answer_length: int, n_best: int
               ) -> list[tuple[float, int, int]]:
    """The `n_best` highest-scoring (score, start, end) with start ≤ end < start + max_answer_length,
    both at positions where `valid` is True. start, end: (T,) logits; valid: (T,) bool."""
    T = start.numel()
    s, e = start.float(), end.float()
    idx = torch.arange(T)
    ok = (idx[None, :] >= idx[:, None]) & (idx[None, :] - idx[:, None] < max_answer_length)
    ok &= valid[:, None] & valid[None, :]
    scores = (s[:, None] + e[None, :]).masked_fill(~ok, float("-inf"))  # (T start, T end)
    k = min(n_best, int(ok.sum()))
    if k == 0:
        return []
    top = scores.flatten().topk(k)
    return [(float(v), int(i) // T, int(i) % T) for v, i in zip(top.values, top.indices)]


def postprocess(examples: Sequence[QAExample], features: list[dict], start_logits: list[Tensor],
                end_logits: list[Tensor], opts: QAOptions) -> list[dict]:
    """Per example: {"id", "answer", "score", "start", "end", "null_score", "n_best": [...]}."""
    by_doc = collections.defaultdict(list)
    for i, f in enumerate(features):
        by_doc[f["doc"]].append(i)
    out = []
    for d, e in enumerate(examples):
        cands, null = [], float("inf")
        for i in by_doc[d]:
            offs = features[i]["offsets"]
            s, en = start_logits[i].float(), end_logits[i].float()
            null = min(null, float(s[0] + en[0]))
            valid = torch.tensor([o is not None for o in offs] + [False] * (s.numel() - len(offs)))[:s.numel()]
            for score, a, b in best_spans(s, en, valid, opts.max_answer_length, opts.n_best):
                c0, c1 = offs[a][0], offs[b][1]
                cands.append({"text": e.context[c0:c1], "score": score, "start": c0, "end": c1})
        cands.sort(key=lambda c: -c["score"])
        cands = cands[:opts.n_best]
        best = cands[0] if cands else {"text": "", "score": float("-inf"), "start": -1, "end": -1}
        answer = best
        if opts.version_2 and (not cands or null - best["score"] > opts.null_threshold):
            answer = {"text": "", "score": null, "start": -1, "end": -1}
        out.append({"id": e.id, "answer": answer["text"], "score": round(answer["score"], 4),
                    "start": answer["start"], "end": answer["end"], "null_score": round(null, 4),
                    "best_span_score": round(best["score"], 4),
                    "n_best": [{"text": c["text"], "score": round(c["score"], 4), "start": c["start"]}
                               for c in cands]})
    return out


@torch.no_grad()
def logits_for(model, features: list[dict], batch_size: int, pad_id: int) -> tuple[list[Tensor], list[Tensor]]:
    device = next(model.parameters()).device
    starts: list = [None] * len(features)
    ends: list = [None] * len(features)
    for b in make_batches(features, batch_size, pad_id, None, train=False):
        types = b.get("token_type_ids")  # none from a RoBERTa tokenizer
        out = model(b["input_ids"].to(device), attention_mask=b["attention_mask"].to(device),
                    token_type_ids=None if types is None else types.to(device))
        s, e = out.start_logits.float().cpu(), out.end_logits.float().cpu()
        for row, i in enumerate(b["features"].tolist()):
            n = len(features[i]["input_ids"])
            starts[i], ends[i] = s[row, :n], e[row, :n]
    return starts, ends


def predict(model, tok, examples: Sequence[QAExample], opts: QAOptions, batch_size: int = 32,
            stats: dict | None = None, path="") -> list[dict]:
    """Answers for `examples`. The window options are the model's (fixed in fine-tuning), so a question
    is cut to `opts.max_query_length` tokens, or further, to what a window of `opts.max_length` leaves
    beside a pair's special tokens and `opts.doc_stride` + 1 context tokens; a line on stderr says how many
    were cut (also put in `stats`, if given). ConfigError, naming `path`:line, when the model's windows
    leave no room for any question."""
    from dataclasses import replace
    model.eval()
    stats = {} if stats is None else stats
    names = {k: f"the model's {k}" for k in OPTION_NAMES}  # fixed in fine-tuning, kept in config.json
    L, S, Q = opts.max_length, opts.doc_stride, opts.max_query_length
    specials = tok.num_special_tokens_to_add(pair=True)
    fit = L - specials - 1 - S if isinstance(L, int) and isinstance(S, int) else Q  # the longest question a window holds
    if examples and isinstance(Q, int) and fit < min(Q, 1):
        e = examples[0]
        at = f"{path}:{e.line}" if path and e.line else path or "the input"
        raise ConfigError(f"{at}: the model's windows of max_length {L} tokens, with doc_stride {S}, leave no "
                          f"room for a question ({specials} special tokens and {S + 1} context tokens fill them); "
                          "fine-tune with a larger --max-length or a smaller --doc-stride")
    cut_to = min(Q, fit) if isinstance(Q, int) else Q
    feats = encode(tok, examples, replace(opts, max_query_length=cut_to), train=False, stats=stats, path=path,
                   names=names)
    if cut_to == Q:
        note = truncation_note({"input": stats["truncated_questions"]}, Q, names["max_query_length"])
    else:
        n = stats["truncated_questions"]
        note = n and (f"qa: {n} question{'s' * (n != 1)} longer than {cut_to} tokens truncated to {cut_to} "
                      f"(what a window of the model's max_length {L} leaves beside {specials} special tokens and "
                      f"doc_stride {S} + 1 context tokens)")
    if note:
        print(note, file=sys.stderr)
    s, e = logits_for(model, feats, batch_size, tok.pad_token_id)
    return postprocess(examples, feats, s, e, opts)


# -- the official SQuAD metrics -----------------------------------------------------------------------

def normalize_answer(s: str) -> str:
    """Lower text and remove punctuation, articles and extra whitespace (SQuAD's evaluate-v2.0.py)."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def exact_match(pred: str, gold: str) -> float:
    return float(normalize_answer(pred) == normalize_answer(gold))


def f1(pred: str, gold: str) -> float:
    p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
    if not p or not g:  # no-answer: F1 is 1 when both are empty, else 0
        return float(p == g)
    common = collections.Counter(p) & collections.Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def squad_metrics(examples: Sequence[QAExample], predictions: Sequence[str]) -> dict:
    """EM and F1 in percent, overall and split by has-answer / no-answer questions.

    A question is no-answer when it is_impossible (even if it lists answers, as some SQuAD 2.0 files do)
    or has no answers; its only right prediction is ""."""
    em_all, f1_all, has, no = [], [], [], []
    for e, p in zip(examples, predictions):
        impossible = e.is_impossible or not e.answers
        golds = [""] if impossible else [a["text"] for a in e.answers if normalize_answer(a["text"])] or [""]
        em = max(exact_match(p, g) for g in golds)
        f = max(f1(p, g) for g in golds)
        em_all.append(em)
        f1_all.append(f)
        (no if impossible else has).append((em, f))
    out = {"exact": 100 * sum(em_all) / len(em_all), "f1": 100 * sum(f1_all) / len(f1_all), "total": len(em_all)}
    for name, part in (("HasAns", has), ("NoAns", no)):
        if part:
            out[f"{name}_exact"] = 100 * sum(x for x, _ in part) / len(part)
            out[f"{name}_f1"] = 100 * sum(y for _, y in part) / len(part)
            out[f"{name}_total"] = len(part)
    return out
