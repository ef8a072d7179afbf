"""Pretraining examples built on the fly from token shards, following google-research/bert's
create_pretraining_data.py, with masking applied as the examples are read (dynamic by default).

With NSP, one document at a time is cut into segment pairs that fill a target length:
- the target is max_seq_length − 3 (room for [CLS] A [SEP] B [SEP]), or, for a document picked with
  probability short_seq_prob (0.1), a random length in [2, target], so the model also sees short inputs;
- sentences are gathered until the target is reached, then a random number of them becomes segment A;
- with probability 0.5, B is the rest of the gathered sentences ("is next", label 0); otherwise B is taken
  from a random point of another document (label 1) and the unused sentences are put back;
- the pair is trimmed to fit, one token at a time from the longer segment, at a random end.
One deliberate difference: where the original forces a random B whenever only one sentence was gathered
(which pushes the random-next rate above 50%), here that sentence is cut in two at a random token, so
the rate stays at the configured 50%.

With SOP (sentence-order prediction, ALBERT; Lan et al. 2020, §3; google-research/albert's
create_pretraining_data.py), pairs are gathered exactly as NSP's (the same target length, short_seq_prob
and random split of the gathered sentences into A and B), but B is always the rest of the gathered
sentences of the same document: the two segments are consecutive text. With probability 0.5 they are
swapped (label 1; label 0 = A then B in the document's order), as transformers' AlbertForPreTraining reads
`sentence_order_label`. The pair is trimmed in the document's order first and swapped afterwards, so a
swapped instance holds exactly the two segments of its unswapped twin, in reverse order. Differences from
the original: where only one sentence was gathered, the original takes B from a random other document
(and labels it 1), so some "swapped" pairs cross documents; here that sentence is cut in two at a random
token instead, so a pair never leaves its document and the swap rate stays at 50%. A one-token sentence
gathered alone cannot be two segments and gives no instance (the target is at least 2 tokens, so this is
only a document's last sentence, or a document of one one-token sentence): it is skipped, so every instance
of an SOP stream has two non-empty segments and a label 0 or 1, never -100. SOP needs one document, not two.

Without NSP, within a document (BERT's --no-nsp): whole sentences are packed until the next would not
fit in max_seq_length − 2; a sentence longer than that is cut into pieces.

Without NSP, across documents (`cross_documents`, RoBERTa's FULL-SENTENCES, Liu et al. 2019, §4.2): the
corpus is read as one stream of sentences, document after document in the corpus's order, and cut into
blocks greedily: a block takes whole sentences while they fit in max_seq_length − 2 (room for <s> … </s>),
and where a document ends inside a block one extra separator (the tokenizer's sep/eos id) is put between
the two documents, counting against the length. A sentence longer than a whole block is cut into pieces.
The blocks are laid out once (they depend only on the sentence lengths, so the plan is computed from the
shard indexes without reading a token) and every epoch visits all of them in a new random order, as
fairseq's RoBERTa does; so each token of the corpus is seen exactly once per epoch.

Every random choice comes from a generator derived from (seed, epoch, document), and a masking generator
from (seed, epoch, document, k-th example of that document), or (seed, epoch, block) across documents;
with static masking the epoch is left out, so an example is masked the same way every time it is seen.
The stream is therefore a pure function of the seed and a position (epoch, index): a resumed run, or a
rank of a distributed run, rebuilds exactly the examples it needs without sharing any state.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ..errors import TrainError
from .corpus import CONTINUES_WORD, CorpusError, TokenCorpus


def corpus_name(corpus) -> str:
    folder = getattr(corpus, "folder", None)
    return str(folder) if folder is not None else "the corpus"
from .masking import IGNORE, Masker


@dataclass
class ExampleConfig:
    max_seq_length: int = 128
    short_seq_prob: float = 0.1
    # nsp / sop: the pair objective, at most one of them. nsp True: next-sentence pairs (BERT); sop True:
    # sentence-order pairs (ALBERT); both False: packed full sentences, RoBERTa-style, no segment B.
    # nsp left unset (None) means `not sop`, so ExampleConfig() is NSP as always and ExampleConfig(sop=True)
    # is SOP; after construction nsp is always a bool.
    nsp: bool | None = None
    random_next_prob: float = 0.5
    dynamic_masking: bool = True  # False: the same mask every epoch (static)
    seed: int = 0
    cross_documents: bool = False  # without NSP: blocks may span documents, a separator between them
    sop: bool = False  # sentence-order prediction pairs (ALBERT) instead of next-sentence pairs

    def __post_init__(self):
        if self.nsp is None:
            self.nsp = not self.sop
        if self.nsp and self.sop:
            raise TrainError("sop: sentence-order pairs replace next-sentence pairs, and nsp=True asks for both; "
                             "pass nsp=False (or leave nsp unset) with sop=True")
        if self.max_seq_length < 8:
            raise TrainError(f"--max-seq-length {self.max_seq_length}: must be at least 8 (room for [CLS] A "
                             "[SEP] B [SEP] and a few tokens)")
        if self.nsp and self.cross_documents:
            raise TrainError("cross_documents: packing across documents needs nsp=False (a next-sentence pair "
                             "is built from one document); turn NSP off or packing across documents off")
        if self.sop and self.cross_documents:
            raise TrainError("cross_documents: packing across documents makes no segment pairs, and sop=True asks "
                             "for sentence-order pairs; turn SOP off or packing across documents off")

    @property
    def pair_label(self) -> str | None:
        """The batch key of the pair objective's label: "next_sentence_label" (NSP), "sentence_order_label"
        (SOP), or None (no pair objective). `ExampleStream.mask` and `collate` use this key."""
        if self.sop:
            return "sentence_order_label"
        return "next_sentence_label" if self.nsp else None


@dataclass
class Instance:
    ids: np.ndarray  # (T,) int64, with [CLS]/[SEP]
    len_a: int  # tokens of [CLS] A [SEP]; the rest is segment B (token type 1)
    # the pair's label. NSP: 0 = B follows A, 1 = B is random. SOP: 0 = A then B in the document's order,
    # 1 = swapped (B's text comes first in the document). -100 = no pair objective.
    next_label: int
    doc: int
    k: int  # k-th instance of its document in this epoch
    # (T,) bool, True where a token continues the word before it (stored word boundaries), else None. Built
    # from ids that carry CONTINUES_WORD (TokenCorpus.doc(j, words=True)); the ids are then plain again.
    word_cont: np.ndarray | None = None

    def __post_init__(self):
        if self.word_cont is None and len(self.ids) and self.ids.max() >= CONTINUES_WORD:
            self.word_cont = self.ids >= CONTINUES_WORD
            self.ids = self.ids % CONTINUES_WORD


class ExampleStream:
    """Unmasked instances in a fixed order per epoch; `mask` corrupts one of them."""

    def __init__(self, corpus: TokenCorpus, cfg: ExampleConfig, masker: Masker, cls_id: int, sep_id: int):
        if cfg.nsp and len(corpus) < 2:
            raise CorpusError(f"{corpus_name(corpus)}: next sentence prediction needs at least two documents, "
                              f"found {len(corpus)}; add text, or pass --no-nsp")
        self.corpus, self.cfg, self.masker = corpus, cfg, masker
        self.cls, self.sep = int(cls_id), int(sep_id)
        # whole-word masking over shards with stored word boundaries: instances carry them (Instance.word_cont)
        self.words = bool(getattr(getattr(masker, "cfg", None), "whole_word", False)
                          and getattr(corpus, "word_starts", None) is not None)
        self._blocks: _BlockPlan | None = None  # cross_documents: laid out on first use

    def _key(self, epoch: int) -> int:
        return epoch if self.cfg.dynamic_masking else 0

    def order(self, epoch: int) -> np.ndarray:
        """(n_docs,) the document order of an epoch."""
        return np.random.default_rng([self.cfg.seed, epoch, 7]).permutation(len(self.corpus))

    @property
    def blocks(self) -> _BlockPlan:
        """The cross-document block plan (computed once, from the shard indexes)."""
        if self._blocks is None:
            self._blocks = _BlockPlan(self.corpus, self.cfg.max_seq_length - 2)
        return self._blocks

    def instances(self, epoch: int = 0, index: int = 0) -> Iterator[tuple[int, int, Instance]]:
        """Yield (epoch, index, instance) from position (epoch, index) on, forever (epoch after epoch)."""
        if self.cfg.cross_documents:
            yield from self._block_instances(epoch, index)
            return
        while True:
            i = 0
            for d in self.order(epoch):
                insts = self.doc_instances(int(d), epoch)
                if i + len(insts) <= index:
                    i += len(insts)
                    continue
                for inst in insts:
                    if i >= index:
                        yield epoch, i, inst
                    i += 1
            if i == 0:
                raise CorpusError(f"{corpus_name(self.corpus)}: the corpus yields no examples; add text or "
                                  "prepare it again")
            epoch, index = epoch + 1, 0

    def block_order(self, epoch: int) -> np.ndarray:
        """(n_blocks,) the order in which an epoch visits the cross-document blocks."""
        return np.random.default_rng([self.cfg.seed, epoch, 13]).permutation(len(self.blocks))

    def _block_instances(self, epoch: int, index: int) -> Iterator[tuple[int, int, Instance]]:
        if len(self.blocks) == 0:
            raise CorpusError(f"{corpus_name(self.corpus)}: the corpus yields no examples; add text or "
                              "prepare it again")
        while True:
            order = self.block_order(epoch)
            for i in range(index, len(order)):
                yield epoch, i, self.block_instance(int(order[i]))
            epoch, index = epoch + 1, 0

    def block_instance(self, b: int) -> Instance:
        """Block b of the cross-document plan: <s> sentences (</s> between documents) </s>; all type 0."""
        body = self.blocks.tokens(b, self.sep, words=self.words)
        ids = np.concatenate([[self.cls], body, [self.sep]]).astype(np.int64)
        return self._with_words(Instance(ids, len(ids), IGNORE, self.blocks.first_doc(b), b))

    def _with_words(self, inst: Instance) -> Instance:
        """With stored word boundaries, an instance in which no token continues a word still gets its
        (all False) word_cont, so that the masker never falls back to the "##" rule."""
        if self.words and inst.word_cont is None:
            inst.word_cont = np.zeros(len(inst.ids), dtype=bool)
        return inst

    def mask(self, inst: Instance, epoch: int) -> dict[str, np.ndarray]:
        """One masked example: input_ids, token_type_ids, labels (T,) int64, and the pair's label as an int
        under "sentence_order_label" with SOP, else under "next_sentence_label" (-100 without NSP)."""
        if self.cfg.cross_documents:  # a block is its own unit: (seed, epoch, block)
            rng = np.random.default_rng([self.cfg.seed, self._key(epoch), inst.k, 17])
        else:
            rng = np.random.default_rng([self.cfg.seed, self._key(epoch), inst.doc, inst.k, 11])
        inputs, labels = self.masker(inst.ids, rng, word_cont=inst.word_cont)
        types = np.zeros(len(inst.ids), dtype=np.int64)
        types[inst.len_a:] = 1
        key = "sentence_order_label" if self.cfg.sop else "next_sentence_label"
        return {"input_ids": inputs, "token_type_ids": types, "labels": labels, key: inst.next_label}

    # -- building -------------------------------------------------------------------------------------
    def _doc(self, d: int) -> list[np.ndarray]:
        return self.corpus.doc(d, words=True) if self.words else self.corpus.doc(d)

    def doc_instances(self, d: int, epoch: int) -> list[Instance]:
        rng = random.Random(hash((self.cfg.seed, self._key(epoch), d)))  # tuples of ints hash stably
        if self.cfg.nsp:
            out = self._nsp_instances(d, rng)
        elif self.cfg.sop:
            out = self._sop_instances(d, rng)
        else:
            out = self._packed_instances(d)
        return [self._with_words(inst) for inst in out]

    def _pair(self, a: list[np.ndarray], b: list[np.ndarray], label: int, d: int, k: int, rng) -> Instance:
        a, b = np.concatenate(a), np.concatenate(b)
        a, b = _truncate_pair(a, b, self.cfg.max_seq_length - 3, rng)
        ids = np.concatenate([[self.cls], a, [self.sep], b, [self.sep]]).astype(np.int64)
        return Instance(ids, len(a) + 2, label, d, k)

    def _nsp_instances(self, d: int, rng: random.Random) -> list[Instance]:
        doc = self._doc(d)
        max_tokens = self.cfg.max_seq_length - 3
        target = max_tokens
        if rng.random() < self.cfg.short_seq_prob:
            target = rng.randint(2, max_tokens)
        out: list[Instance] = []
        chunk: list[np.ndarray] = []
        length, i = 0, 0
        while i < len(doc):
            chunk.append(doc[i])
            length += len(doc[i])
            if i == len(doc) - 1 or length >= target:
                is_random = rng.random() < self.cfg.random_next_prob
                if len(chunk) == 1 and not is_random:
                    # one sentence filled the target (or ended the document): its two halves are a true pair
                    s = chunk[0]
                    if len(s) >= 2:
                        cut = rng.randint(1, len(s) - 1)
                        out.append(self._pair([s[:cut]], [s[cut:]], 0, d, len(out), rng))
                    else:
                        is_random = True
                if is_random:
                    a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                    a = chunk[:a_end]
                    target_b = max(1, target - sum(len(x) for x in a))
                    r = d
                    for _ in range(10):
                        r = rng.randint(0, len(self.corpus) - 1)
                        if r != d:
                            break
                    other = self._doc(r)
                    start = rng.randint(0, len(other) - 1)
                    b, nb = [], 0
                    for s in other[start:]:
                        b.append(s)
                        nb += len(s)
                        if nb >= target_b:
                            break
                    i -= len(chunk) - a_end  # put the unused sentences back
                    out.append(self._pair(a, b, 1, d, len(out), rng))
                elif len(chunk) >= 2:
                    a_end = rng.randint(1, len(chunk) - 1)
                    out.append(self._pair(chunk[:a_end], chunk[a_end:], 0, d, len(out), rng))
                chunk, length = [], 0
            i += 1
        return out

    def _sop_instances(self, d: int, rng: random.Random) -> list[Instance]:
        """Sentence-order pairs of document d: consecutive segments, swapped with probability 0.5 (label 1)."""
        doc = self._doc(d)
        max_tokens = self.cfg.max_seq_length - 3
        target = max_tokens
        if rng.random() < self.cfg.short_seq_prob:
            target = rng.randint(2, max_tokens)
        out: list[Instance] = []
        chunk: list[np.ndarray] = []
        length = 0
        for i, s in enumerate(doc):
            chunk.append(s)
            length += len(s)
            if i < len(doc) - 1 and length < target:
                continue
            if len(chunk) >= 2:
                a_end = rng.randint(1, len(chunk) - 1)
                first, second = np.concatenate(chunk[:a_end]), np.concatenate(chunk[a_end:])
            elif len(chunk[0]) >= 2:  # one sentence: its two halves are consecutive segments
                cut = rng.randint(1, len(chunk[0]) - 1)
                first, second = chunk[0][:cut], chunk[0][cut:]
            else:  # a single token cannot be two segments: no instance
                chunk, length = [], 0
                continue
            swapped = rng.random() < 0.5
            first, second = _truncate_pair(first, second, max_tokens, rng)  # in the document's order
            a, b = (second, first) if swapped else (first, second)
            ids = np.concatenate([[self.cls], a, [self.sep], b, [self.sep]]).astype(np.int64)
            out.append(Instance(ids, len(a) + 2, int(swapped), d, len(out)))
            chunk, length = [], 0
        return out

    def _packed_instances(self, d: int) -> list[Instance]:
        max_tokens = self.cfg.max_seq_length - 2
        pieces = []
        for s in self._doc(d):
            pieces.extend(s[j:j + max_tokens] for j in range(0, len(s), max_tokens))
        out, cur, n = [], [], 0
        for p in pieces + [None]:
            if p is None or n + len(p) > max_tokens:
                if cur:
                    ids = np.concatenate([[self.cls], *cur, [self.sep]]).astype(np.int64)
                    out.append(Instance(ids, len(ids), IGNORE, d, len(out)))
                cur, n = [], 0
            if p is not None:
                cur.append(p)
                n += len(p)
        return out


class _BlockPlan:
    """Cross-document blocks over the whole corpus, as boundaries in its concatenated token stream.

    The corpus's shards are read as one stream of tokens (document after document, in corpus order);
    `starts` (n_blocks + 1,) int64 cuts it into blocks: block b is stream[starts[b]:starts[b + 1]], with a
    separator inserted before every document that starts strictly inside it. Built greedily from the
    sentence lengths only: a sentence (or a piece of at most `capacity` tokens of a longer one) joins the
    current block when it fits, counting one more token for the separator when it opens a document."""

    def __init__(self, corpus, capacity: int):
        self.corpus, self.capacity = corpus, int(capacity)
        sent_starts, doc_starts, self.shard_starts = [], [], [0]
        for tokens, sents, docs in corpus.shards:
            base = self.shard_starts[-1]
            sents = np.asarray(sents, dtype=np.int64)
            sent_starts.append(base + sents[:-1])
            doc_starts.append(base + sents[np.asarray(docs[:-1], dtype=np.int64)])
            self.shard_starts.append(base + len(tokens))
        self.n_tokens = self.shard_starts[-1]
        sent_starts = np.concatenate(sent_starts) if sent_starts else np.zeros(0, np.int64)
        self.doc_starts = np.concatenate(doc_starts) if doc_starts else np.zeros(0, np.int64)  # (n_docs,)
        sent_ends = np.append(sent_starts[1:], self.n_tokens)
        self.starts = self._plan(sent_starts.tolist(), sent_ends.tolist(), set(self.doc_starts.tolist()))

    def _plan(self, sent_starts: list[int], sent_ends: list[int], doc_starts: set[int]) -> np.ndarray:
        cap, starts, used = self.capacity, [], 0  # used: tokens of the open block, separators included
        for s0, s1 in zip(sent_starts, sent_ends):
            for p in range(s0, s1, cap):  # pieces of at most cap tokens
                n = min(cap, s1 - p)
                sep = 1 if (used and p in doc_starts) else 0
                if not starts or used + sep + n > cap:
                    starts.append(p)  # a new block opens with this piece (no separator in front)
                    used = n
                else:
                    used += sep + n
        starts.append(self.n_tokens)
        return np.asarray(starts, dtype=np.int64)  # [n_tokens] alone: no blocks

    def __len__(self) -> int:
        return len(self.starts) - 1

    def first_doc(self, b: int) -> int:
        return int(np.searchsorted(self.doc_starts, self.starts[b], side="right")) - 1

    def tokens(self, b: int, sep_id: int, words: bool = False) -> np.ndarray:
        """(n,) int64 the tokens of block b with `sep_id` between documents (with `words`, continuation
        marked as TokenCorpus.doc(j, words=True) does)."""
        a, z = int(self.starts[b]), int(self.starts[b + 1])
        parts = []
        s = int(np.searchsorted(self.shard_starts, a, side="right")) - 1
        while a < z:  # a block may span shards (a shard ends at a document boundary)
            base, end = self.shard_starts[s], self.shard_starts[s + 1]
            parts.append(self.corpus.span(s, a - base, min(z, end) - base, words=words))
            a, s = min(z, end), s + 1
        body = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        a = int(self.starts[b])
        inside = np.unique(self.doc_starts[(self.doc_starts > a) & (self.doc_starts < z)])  # documents opening inside
        return np.insert(body, inside - a, sep_id)


def _truncate_pair(a: np.ndarray, b: np.ndarray, max_tokens: int, rng: random.Random):
    """Trim the longer segment one token at a time, from the front or the back at random (as the original:
    the model sees text that does not start or end at sentence boundaries)."""
    a0, a1, b0, b1 = 0, len(a), 0, len(b)
    while (a1 - a0) + (b1 - b0) > max_tokens:
        if a1 - a0 > b1 - b0:
            if rng.random() < 0.5:
                a0 += 1
            else:
                a1 -= 1
        else:
            if rng.random() < 0.5:
                b0 += 1
            else:
                b1 -= 1
    return a[a0:a1], b[b0:b1]


def collate(examples: list[dict], pad_id: int, nsp: bool = False, sop: bool = False) -> dict[str, torch.Tensor]:
    """Pad to the longest example: input_ids, token_type_ids, attention_mask, labels (B, T) int64;
    next_sentence_label (B,) when `nsp`, sentence_order_label (B,) when `sop` (pass the stream's
    ExampleConfig.nsp and .sop). Rows are sorted longest first. Raises TrainError if both are asked for."""
    if nsp and sop:
        raise TrainError("collate: nsp and sop both asked for; a batch has one pair objective, pass the stream's "
                         "ExampleConfig.nsp and .sop")
    # longest first: equal lengths sit next to each other, so unpadded attention batches them (padding.py)
    examples = sorted(examples, key=lambda e: -len(e["input_ids"]))
    T = max(len(e["input_ids"]) for e in examples)
    B = len(examples)
    ids = np.full((B, T), pad_id, dtype=np.int64)
    types = np.zeros((B, T), dtype=np.int64)
    mask = np.zeros((B, T), dtype=np.int64)
    labels = np.full((B, T), IGNORE, dtype=np.int64)
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        ids[i, :n], types[i, :n], labels[i, :n], mask[i, :n] = e["input_ids"], e["token_type_ids"], e["labels"], 1
    batch = {"input_ids": torch.from_numpy(ids), "token_type_ids": torch.from_numpy(types),
             "attention_mask": torch.from_numpy(mask), "labels": torch.from_numpy(labels)}
    if nsp:
        batch["next_sentence_label"] = torch.tensor([e["next_sentence_label"] for e in examples], dtype=torch.long)
    if sop:
        batch["sentence_order_label"] = torch.tensor([e["sentence_order_label"] for e in examples], dtype=torch.long)
    return batch
