"""Added tokens against transformers' BertTokenizer on the 10,000-line parity corpus.

The corpus of test_tokenizer_parity.py (imported, not rebuilt here) gets added tokens written into its
lines with a seeded random.Random: inside words, next to punctuation, in other cases ("COVID19",
"NAÏVE", "[e1]"), several in a row, with odd whitespace around them. The tokenizers carry
normalized tokens ("covid19", "Deep Learning" with its space, "naïve", "中文", "x.y", "e-mail", and "the",
which is in the vocabulary and so is also cut out of "other" and "there"), tokens with flags (single_word,
lstrip/rstrip, normalized=False) and special tokens ("[E1]", "[/E1]", "<t>" with lstrip).

transformers gets them through its own add_tokens / add_special_tokens; bertkit twice: through the same
calls, and by loading the folder transformers saved. Both bertkit engines, uncased (MiniLM) and cased (the
vocabulary test_tokenizer_parity.py trains). Compared: input_ids, token_type_ids, attention_mask,
special_tokens_mask, offsets, tokens, word ids, sequence ids, and decode with and without special tokens.
The 10,000-line runs are marked slow; a 400-line slice runs in the fast tier.
"""
from __future__ import annotations

import random
import re

import pytest

transformers = pytest.importorskip("transformers")

from tokenizers import AddedToken as RustAddedToken  # noqa: E402

from bertkit.tokenization import AddedToken, BertTokenizer  # noqa: E402
# the corpus, the cased vocabulary and the comparison of test_tokenizer_parity.py (fixtures included)
from test_tokenizer_parity import ENGINES, N_LINES, cased_dir, compare, corpus  # noqa: E402,F401

pytestmark = pytest.mark.filterwarnings("ignore:a sequence of .* tokens is longer than model_max_length")

NORMAL = ["covid19", "Deep Learning", "naïve", "中文", "x.y", "e-mail", "the"]
FLAGGED = [dict(content="<ent>", single_word=True, normalized=False), dict(content="@@", lstrip=True, rstrip=True),
           dict(content="##ing", single_word=True)]
SPECIAL = ["[E1]", "[/E1]"]
SPECIAL_FLAGGED = dict(content="<t>", lstrip=True)
# what is written into the lines: the tokens, in other cases and spacings, and near misses
SURFACES = ["covid19", "COVID19", "Covid19", "cov id19", "deep learning", "Deep Learning", "DEEP LEARNING",
            "deep  learning", "naïve", "NAÏVE", "naive", "中文", "中 文", "x.y", "X.Y", "e-mail", "E-Mail",
            "the", "THE", "<ent>", "<ENT>", "@@", "##ing", "[E1]", "[/E1]", "[e1]", "[E1", "<t>", "<T>"]
AROUND = ["", "", " ", "  ", "\t", "(", ")", ",", ".", "-", "'", "\u3000", "\u200b"]


def add_to(tok, token_class) -> None:
    """The same calls on a transformers or a bertkit tokenizer."""
    assert tok.add_tokens(NORMAL) == len(NORMAL)
    assert tok.add_tokens([token_class(**f) for f in FLAGGED]) == len(FLAGGED)
    assert tok.add_special_tokens({"additional_special_tokens": [*SPECIAL, token_class(**SPECIAL_FLAGGED)]}) == 3


def with_added_tokens(rng: random.Random, line: str) -> str:
    """`line` with 1-4 added tokens (or near misses) written in: inside words, next to punctuation,
    several in a row."""
    chars = list(line)
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(chars))
        around = AROUND if rng.random() < 0.6 else [""]  # else bare: inside a word, if it lands in one
        run = "".join(rng.choice(around) + rng.choice(SURFACES) for _ in range(rng.choice([1, 1, 1, 2, 3])))
        chars[at:at] = list(run + rng.choice(around))
    return "".join(chars)


@pytest.fixture(scope="session")
def added_corpus(corpus) -> list[str]:
    """The 10,000 lines, four in five with added tokens written in (the fifth as it is: "the" still matches)."""
    rng = random.Random(13)
    return [with_added_tokens(rng, line) if rng.random() < 0.8 else line for line in corpus]


class AddedSetup:
    """transformers with added tokens, and bertkit's two engines given them twice (calls and saved folder)."""

    def __init__(self, name: str, folder, saved):
        self.name = name
        self.hf = transformers.BertTokenizer.from_pretrained(str(folder))
        add_to(self.hf, RustAddedToken)
        self.hf.save_pretrained(str(saved))
        self.ours = {}
        for engine in ENGINES:
            tok = BertTokenizer.from_pretrained(folder, engine=engine)
            add_to(tok, AddedToken)
            self.ours[f"{engine} (add_tokens)"] = tok
            self.ours[f"{engine} (saved folder)"] = BertTokenizer.from_pretrained(saved, engine=engine)


@pytest.fixture(scope="session", params=["uncased", "cased"])
def added_setup(request, minilm_dir, cased_dir, tmp_path_factory) -> AddedSetup:  # noqa: F811
    folder = minilm_dir if request.param == "uncased" else cased_dir
    return AddedSetup(request.param, folder, tmp_path_factory.mktemp(f"added_{request.param}"))


@pytest.fixture(scope="session")
def uncased_added(minilm_dir, tmp_path_factory) -> AddedSetup:
    return AddedSetup("uncased", minilm_dir, tmp_path_factory.mktemp("added_uncased_fast_tier"))


def check(setup: AddedSetup, lines: list[str], pairs: int) -> None:
    expected = compare(setup, lines, return_offsets_mapping=True, return_special_tokens_mask=True)
    ids = expected["input_ids"]
    added_ids = set(setup.hf.added_tokens_decoder) - set(setup.hf.all_special_ids[:5])
    assert sum(i in added_ids for row in ids for i in row) > len(lines) // 2  # the added tokens were found
    for name, tok in setup.ours.items():
        assert len(tok) == len(setup.hf) and tok.all_special_tokens == setup.hf.all_special_tokens
        if not name.startswith("python"):
            continue  # decoding is shared by the engines: once for each way of getting the tokens
        for skip in (False, True):
            assert tok.batch_decode(ids, skip_special_tokens=skip) == \
                setup.hf.batch_decode(ids, skip_special_tokens=skip), (setup.name, skip)
    first, second = lines[0:2 * pairs:2], lines[1:2 * pairs:2]
    compare(setup, first, second, truncation=True, max_length=48, padding=True, return_offsets_mapping=True,
            return_special_tokens_mask=True)


def test_added_corpus_is_varied(added_corpus):
    assert len(added_corpus) == N_LINES
    text = "\n".join(added_corpus)
    for surface in ("COVID19", "[E1]", "[e1]", "NAÏVE", "中文", "<ent>", "@@", "deep  learning"):
        assert text.count(surface) > 100, surface
    assert sum(bool(re.search(r"\w(covid19|\[E1\])\w", line)) for line in added_corpus) > 50  # inside words


def test_added_tokens_slice(uncased_added, added_corpus):
    """400 lines (and 150 pairs), uncased: the fast tier's share."""
    check(uncased_added, added_corpus[:400], pairs=150)


@pytest.mark.slow
def test_added_tokens_whole_corpus(added_setup, added_corpus):
    """All 10,000 lines as single texts, and 2,000 pairs cut to 48 tokens, uncased and cased."""
    check(added_setup, added_corpus, pairs=2000)
