"""Masked-language-model corruption, as in BERT (Devlin et al., 2019; google-research/bert).

Of the real tokens of a sequence (never [CLS], [SEP], [PAD] or any other special token) a fraction
`mlm_probability` is selected for prediction. A selected token is replaced by [MASK] 80% of the time,
by a random (non-special) token 10% of the time, and left unchanged 10% of the time: the model must
predict every selected position, so it cannot learn that only [MASK] positions matter.

The number selected in a sequence is `n_candidates × p`, rounded stochastically (floor plus one with
probability of the fraction), so the rate is exactly p on average, also for short sequences; the original
rounds to nearest over the whole length and caps at `max_predictions_per_seq`, which biases short
sequences and specials-heavy pairs.

Whole-word masking selects words (a token and its "##" continuations) instead of pieces, until the
budget of tokens is used; the 80/10/10 choice is still made per token, as in the original. Where the
shards store word boundaries (`bertkit prepare --segment jieba|spaces`), the sequence's own `word_cont`
marks which tokens continue a word, so the characters of a Chinese word are selected together, as in
Chinese-BERT-wwm (Cui et al., 2021); the labels, and so the loss, stay per token.

All randomness comes from the numpy Generator passed in.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..labels import IGNORE_INDEX as IGNORE  # the one definition (-100); the name data code here uses


@dataclass
class MaskingConfig:
    mlm_probability: float = 0.15
    mask_ratio: float = 0.8  # of the selected: replaced by [MASK]
    random_ratio: float = 0.1  # of the selected: replaced by a random token (the rest stay unchanged)
    whole_word: bool = False
    max_predictions: int | None = None  # cap per sequence (the original's max_predictions_per_seq)

    def __post_init__(self):
        if not 0.0 < self.mlm_probability < 1.0:
            raise ValueError(f"mlm_probability must be in (0, 1), got {self.mlm_probability}")
        if self.mask_ratio < 0 or self.random_ratio < 0 or self.mask_ratio + self.random_ratio > 1:
            raise ValueError(f"mask_ratio {self.mask_ratio} + random_ratio {self.random_ratio} must be within [0, 1]")


class Masker:
    """Corrupts one sequence at a time. `special_ids` are never selected nor drawn as random tokens;
    `continuation` (V,) bool marks "##" pieces, needed only for whole-word masking."""

    def __init__(self, cfg: MaskingConfig, vocab_size: int, mask_id: int, special_ids,
                 continuation: np.ndarray | None = None):
        self.cfg = cfg
        self.mask_id = int(mask_id)
        self.special = np.zeros(vocab_size, dtype=bool)
        self.special[np.asarray(list(special_ids), dtype=np.int64)] = True
        self.random_pool = np.flatnonzero(~self.special)  # ids a random replacement may take
        if cfg.whole_word and continuation is None:
            raise ValueError("whole-word masking needs the continuation table (which ids are '##' pieces)")
        self.continuation = continuation

    def __call__(self, ids: np.ndarray, rng: np.random.Generator,
                 word_cont: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """ids: (T,) int token ids of one sequence (padding included or not). Returns (inputs, labels),
        both (T,) int64; labels are IGNORE except at the selected positions, which hold the original id.
        word_cont: (T,) bool, True where a token continues the word of the token before it (stored word
        boundaries); with whole-word masking it replaces the continuation table."""
        ids = np.asarray(ids, dtype=np.int64)
        candidates = np.flatnonzero(~self.special[ids])  # (n,) positions that may be selected
        inputs, labels = ids.copy(), np.full_like(ids, IGNORE)
        if len(candidates) == 0:
            return inputs, labels
        want = len(candidates) * self.cfg.mlm_probability
        budget = int(want) + int(rng.random() < want - int(want))  # stochastic rounding: unbiased
        if self.cfg.max_predictions is not None:
            budget = min(budget, self.cfg.max_predictions)
        if budget == 0:
            return inputs, labels
        if self.cfg.whole_word:
            picked = self._pick_words(ids, candidates, budget, rng, word_cont)
        else:
            picked = rng.choice(candidates, size=budget, replace=False)
        picked = np.sort(picked)
        labels[picked] = ids[picked]
        action = rng.random(len(picked))  # 80% [MASK], 10% random, 10% unchanged
        to_mask = picked[action < self.cfg.mask_ratio]
        to_random = picked[(action >= self.cfg.mask_ratio) & (action < self.cfg.mask_ratio + self.cfg.random_ratio)]
        inputs[to_mask] = self.mask_id
        inputs[to_random] = self.random_pool[rng.integers(0, len(self.random_pool), size=len(to_random))]
        return inputs, labels

    def _pick_words(self, ids, candidates, budget, rng, word_cont=None) -> np.ndarray:
        # a word starts at every candidate that is not a continuation ("##", or of a stored word) of the one before it
        if word_cont is None:
            cont = self.continuation[ids[candidates]]
        else:
            cont = np.asarray(word_cont, dtype=bool)[candidates]
        cont[0] = False
        cont[1:] &= np.diff(candidates) == 1
        starts = np.flatnonzero(~cont)  # indices into candidates
        words = np.split(candidates, starts[1:])
        chosen, n = [], 0
        for w in rng.permutation(len(words)):
            word = words[w]
            if n + len(word) > budget:
                continue  # as the original: skip a word that would overshoot, try smaller ones
            chosen.append(word)
            n += len(word)
            if n == budget:
                break
        return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)


def continuation_table(tokens_or_tokenizer) -> np.ndarray:
    """(V,) bool: True for the ids whose piece continues the word of the piece before it.

    Given a tokenizer, its `continuation_mask()` decides, for every algorithm: WordPiece's "##" pieces,
    byte-level BPE's pieces that do not start with "Ġ" (a space), SentencePiece's that do not start with
    "▁"; never a special or added token. Given a
    list of token strings in id order, WordPiece's rule ("##ing")."""
    if hasattr(tokens_or_tokenizer, "continuation_mask"):
        return np.array(tokens_or_tokenizer.continuation_mask(), dtype=bool)
    return np.array([t.startswith("##") for t in tokens_or_tokenizer], dtype=bool)
