"""bertkit's tokenizer against transformers' BertTokenizer (the Rust fast tokenizer) on 10,000 real lines.

The corpus: English Wikipedia cut into sentence-ish chunks, Chinese sentences, and messy variants made
with a seeded random.Random: accents, full-width letters, control and zero-width characters, emoji,
150-character words, mixed scripts, literal special tokens, and random code points from all of Unicode.

Compared, row by row: input_ids, token_type_ids, attention_mask, special_tokens_mask, offset_mapping,
tokens, word_ids and sequence_ids, for both bertkit engines ("fast" and the pure-Python reference), uncased
(the MiniLM vocabulary) and cased (a vocabulary trained here, with bertkit's train_vocab, on the same data).

All 10,000 lines go through both engines in both casings as single texts (every token of every line;
uncased also every BatchEncoding alignment helper: word_to_tokens, token_to_chars, char_to_word, ...), and
as pre-split words (is_split_into_words=True, uncased, with every helper), and, uncased, again as 5,000
pairs cut with longest_first (truncation=True) and padded (cased: 1,500 pairs). only_first / only_second
run in both casings on 1,000 pairs each where the strategy can fit (transformers refuses a whole batch
otherwise). Semantics that do not depend on the vocabulary run uncased on slices: padding to max_length
and to a multiple, max_length alone, overflow windows with a stride (single texts, QA-style pairs, pairs
where both sides overflow), no special tokens; and the other normaliser settings (accents kept while
lowercasing, stripped while cased, CJK not split) on 1,000 lines; pre-split pairs and windows, padding and
truncation sides from tokenizer_config.json, split_special_tokens, and windows without special tokens on
slices. The Python engine runs on exactly what the Rust engine gets, no subset: through the API it is
about as fast (its alignment helpers are checked on every row; the fast engine's, which ask the Rust library
as transformers does, on one row in 10). The 10,000-line tests are marked slow (-m "not slow" skips them).
"""
from __future__ import annotations

import random
import re

import pytest

transformers = pytest.importorskip("transformers")

from bertkit.tokenization import BertTokenizer  # noqa: E402
from bertkit.vocab import train_vocab  # noqa: E402

# whole lines are compared untruncated on purpose: the "longer than model_max_length" warning is expected
pytestmark = pytest.mark.filterwarnings("ignore:a sequence of .* tokens is longer than model_max_length")

N_LINES = 10_000
ENGINES = ("fast", "python")

ACCENTED = "éèêëáàâäãåçñóòôöõøúùûüýÿíìîïÉÈÊÁÀÂÄÅÇÑÓÖØÚÜÍßæœŒÆðþłŁśźżčšžřťďňěůőűİıǅǈǋ"
CONTROLS = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u200b", "\u200d", "\u200e", "\u00ad", "\ufeff", "\ufffd",
            "\t", "\r", "\n", "\r\n", "\x0b", "\x0c", "\xa0", "\u2028", "\u3000", "\u2009", "\U000e0041", "\ue000"]
EMOJI = ["😀", "🥲", "👍🏽", "🇫🇷", "❤️", "🧑‍💻", "☃", "🫠", "🤖", "✨", "🎉", "👩‍👩‍👧"]
SCRIPTS = ["Ελληνικά κείμενο", "Русский текст, ёжик", "العربية نص", "עברית", "हिन्दी पाठ", "ภาษาไทย",
           "한국어 텍스트", "ひらがな カタカナ", "𠀀𠀁 𪜀 𫝀 𫠠 𬺰 𰀀", "Ω≈ç√∫˜µ≤≥÷", "Σίσυφος ΟΔΟΣ", "ǅungla ǈ ǋ",
           "ﬁne ﬂow ﬀ", "x\u0301y \u0301a", "e\u0315\u0300x", "①②③ ⅷ ½ ²³", "ℌ𝔢𝔩𝔩𝔬 𝐁𝐨𝐥𝐝", "٣٤٥ ۱۲۳"]
LITERALS = ["[MASK]", "[SEP]", "[CLS]", "[PAD]", "[UNK]", "[mask]", "[MASK", "[[MASK]]", "x[MASK]y", "[unused1]"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~¡¿«»‘’“”—–…·•¶§†‡‰′″‹›„※")


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in s)


def _random_word(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                   for _ in range(n))


def _random_codepoint(rng: random.Random) -> str:
    while True:
        # mostly the busy planes (0-2), sometimes anywhere, including unassigned code points
        cp = rng.randrange(0x30000) if rng.random() < 0.9 else rng.randrange(0x110000)
        if not 0xD800 <= cp <= 0xDFFF:  # lone surrogates are not text
            return chr(cp)


def _messy(rng: random.Random, base: str) -> str:
    """One deterministic corruption (or several) of `base`."""
    chars = list(base)
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(9)
        at = rng.randint(0, len(chars))
        if kind == 0:  # accents
            for _ in range(rng.randint(1, 6)):
                if chars:
                    chars[rng.randrange(len(chars))] = rng.choice(ACCENTED)
        elif kind == 1:  # full-width span
            j = rng.randint(at, min(len(chars), at + 20))
            chars[at:j] = list(_fullwidth("".join(chars[at:j]) or "ＡＢＣ１２３"))
        elif kind == 2:  # control, format and odd whitespace characters
            for _ in range(rng.randint(1, 4)):
                chars.insert(rng.randint(0, len(chars)), rng.choice(CONTROLS))
        elif kind == 3:
            chars.insert(at, rng.choice(EMOJI))
        elif kind == 4:  # long words: around the 100-character limit, and far beyond it
            n = rng.choice([99, 100, 101, 150, rng.randint(20, 200)])
            chars[at:at] = list(f" {_random_word(rng, n)} ")
        elif kind == 5:
            chars[at:at] = list(f" {rng.choice(SCRIPTS)} ")
        elif kind == 6:
            chars[at:at] = list(rng.choice(["", " "]) + rng.choice(LITERALS) + rng.choice(["", " "]))
        elif kind == 7:
            for _ in range(rng.randint(1, 5)):
                chars.insert(rng.randint(0, len(chars)), _random_codepoint(rng))
        else:
            for _ in range(rng.randint(1, 5)):
                chars.insert(rng.randint(0, len(chars)), rng.choice(PUNCT))
    return "".join(chars)


@pytest.fixture(scope="session")
def corpus(wiki_txt, zh_txt) -> list[str]:
    """10,000 lines: 5,000 wiki chunks, 2,000 Chinese lines, 3,000 messy variants (seeded)."""
    rng = random.Random(20240607)
    wiki = [line for line in wiki_txt.read_text(encoding="utf-8").split("\n") if line.strip()]
    chunks = [c for line in wiki for c in re.split(r"(?<=[.!?;])\s+", line) if c.strip()]
    zh = [line for line in zh_txt.read_text(encoding="utf-8").split("\n") if line.strip()]
    clean = chunks[:5000] + zh[:2000]
    messy = [_messy(rng, rng.choice(clean)) for _ in range(N_LINES - len(clean))]
    lines = clean + messy
    rng.shuffle(lines)
    assert len(lines) == N_LINES
    return lines


@pytest.fixture(scope="session")
def cased_dir(tmp_path_factory, wiki_txt, zh_txt):
    """A cased vocabulary trained on the data (with bertkit's train_vocab), saved as a folder."""
    folder = tmp_path_factory.mktemp("cased")
    zh_part = folder / "zh_part.txt"
    zh_part.write_text("\n".join(zh_txt.read_text(encoding="utf-8").split("\n")[:3000]), encoding="utf-8")
    tok = train_vocab([wiki_txt, zh_part], vocab_size=8000, do_lower_case=False, show_progress=False)
    tok.save_pretrained(folder / "tok")
    return folder / "tok"


class Setup:
    """transformers' tokenizer and bertkit's two engines for one vocabulary, plus cached results."""

    def __init__(self, name: str, folder, **settings):
        self.name = name
        self.hf = transformers.BertTokenizer.from_pretrained(str(folder), **settings)
        self.ours = {engine: BertTokenizer.from_pretrained(folder, engine=engine, **settings) for engine in ENGINES}
        self.single = None  # transformers' output for the whole corpus as single texts


@pytest.fixture(scope="session", params=["uncased", "cased"])
def setup(request, minilm_dir, cased_dir) -> Setup:
    folder = minilm_dir if request.param == "uncased" else cased_dir
    s = Setup(request.param, folder)
    assert s.hf.do_lower_case == s.ours["fast"].do_lower_case == (request.param == "uncased")
    return s


def assert_same(expected, actual, what: str) -> None:
    """Same keys, same values, and the same tokens / word ids / sequence ids in every row."""
    assert set(expected.keys()) == set(actual.keys()), what
    for key in expected.keys():
        if expected[key] != actual[key]:
            exp, act = expected[key], actual[key]
            if isinstance(exp, list) and isinstance(act, list) and len(exp) == len(act):
                row = next(i for i, (a, b) in enumerate(zip(exp, act)) if a != b)
                pytest.fail(f"{what}: {key} differs first in row {row}:\n  transformers {exp[row]}\n"
                            f"  bertkit      {act[row]}")
            pytest.fail(f"{what}: {key} differs: {len(exp)} vs {len(act)} rows")
    for row in range(len(expected.encodings)):
        for method in ("word_ids", "sequence_ids", "tokens"):
            exp, act = getattr(expected, method)(row), getattr(actual, method)(row)
            assert exp == act, f"{what}: {method}({row}) differs:\n  transformers {exp}\n  bertkit      {act}"


def compare(setup: Setup, *args, **kwargs):
    """Call transformers and both bertkit engines the same way; assert identical results."""
    expected = setup.hf(*args, **kwargs)
    for engine, tok in setup.ours.items():
        assert_same(expected, tok(*args, **kwargs), f"{setup.name} engine={engine} {kwargs}")
    return expected


def test_corpus_is_varied(corpus):
    assert len(corpus) == N_LINES
    text = "".join(corpus)
    for sample in ("\x00", "\u200b", "é", "Ａ", "[MASK]", "🥲", "\t"):
        assert sample in text
    assert any(len(w) > 100 for line in corpus for w in line.split())
    assert sum(bool(re.search("[\u4e00-\u9fff]", line)) for line in corpus) > 2000


@pytest.mark.slow
def test_single_texts(setup, corpus):
    """Every line on its own, untruncated: every token, offset and word id of all 10,000 lines; uncased,
    also every BatchEncoding alignment helper of every row (see assert_same_alignment below)."""
    kwargs = dict(return_offsets_mapping=True, return_special_tokens_mask=True)
    if setup.name == "uncased":
        setup.single = compare_aligned(setup, corpus, **kwargs)
    else:
        setup.single = compare(setup, corpus, **kwargs)


@pytest.fixture(scope="session")
def pairs(corpus) -> tuple[list[str], list[str]]:
    """5,000 pairs: every line of the corpus is used once."""
    return corpus[0::2], corpus[1::2]


@pytest.mark.slow
def test_pairs_longest_first(setup, pairs):
    """Pairs cut to 48 tokens with truncation=True (longest_first), batched with padding: all 5,000 for the
    uncased vocabulary; 1,500 for the cased one (whose every line was already compared as a single text)."""
    first, second = pairs
    if setup.name == "cased":
        first, second = first[:1500], second[:1500]
    expected = compare(setup, first, second, truncation=True, max_length=48, padding=True,
                       return_offsets_mapping=True, return_special_tokens_mask=True)
    assert max(sum(mask) for mask in expected["attention_mask"]) == 48  # the limit was reached


@pytest.mark.parametrize("strategy", ["only_first", pytest.param("only_second", marks=pytest.mark.slow)])
def test_pairs_only_one_side_truncated(setup, pairs, corpus, strategy):
    """only_first / only_second to 48 tokens, on 1,000 pairs where the strategy can fit and does cut."""
    max_length = 48
    single = setup.single or setup.hf(corpus)
    n_tokens = [len(ids) - 2 for ids in single["input_ids"]]
    n_a, n_b = n_tokens[0::2], n_tokens[1::2]
    fixed, cut = (n_b, n_a) if strategy == "only_first" else (n_a, n_b)
    ok = [i for i in range(len(n_a)) if fixed[i] + 3 < max_length < fixed[i] + cut[i] + 3][:1000]
    assert len(ok) == 1000
    first, second = pairs
    compare(setup, [first[i] for i in ok], [second[i] for i in ok], truncation=strategy, max_length=max_length,
            padding=True, return_offsets_mapping=True, return_special_tokens_mask=True)


@pytest.fixture(scope="session")
def uncased(minilm_dir) -> Setup:
    """For the semantics that do not depend on the vocabulary (padding, windows): uncased only."""
    return Setup("uncased", minilm_dir)


def test_single_truncated_and_padded(uncased, corpus):
    compare(uncased, corpus[:1000], truncation=True, max_length=32, padding="max_length",
            return_offsets_mapping=True)
    compare(uncased, corpus[1000:2000], padding=True, pad_to_multiple_of=8, return_special_tokens_mask=True)
    compare(uncased, corpus[2000:3000], max_length=20)  # max_length alone turns truncation on


def test_overflow_windows(uncased, corpus):
    """Long texts as windows of 64 tokens overlapping by 16 (single), and QA-style pairs: a short first
    text with a long context cut with only_second into overlapping windows."""
    setup = uncased
    long_lines = [t for t in corpus if len(t) > 250][:200]
    short_lines = [t for t in corpus if len(t) < 60][:len(long_lines)]
    expected = compare(setup, long_lines, truncation=True, max_length=64, stride=16,
                       return_overflowing_tokens=True, return_offsets_mapping=True, padding=True)
    assert len(expected["input_ids"]) > 2 * len(long_lines)
    questions = [q[:40] for q in short_lines]
    expected = compare(setup, questions, long_lines, truncation="only_second", max_length=96, stride=24,
                       return_overflowing_tokens=True, return_offsets_mapping=True, return_special_tokens_mask=True)
    assert len(expected["input_ids"]) > 2 * len(long_lines)
    # both sides overflowing (longest_first windows of windows): the rarest combination
    compare(setup, long_lines[:50], long_lines[50:100], truncation="longest_first", max_length=40, stride=4,
            return_overflowing_tokens=True, return_offsets_mapping=True)


def test_without_special_tokens(uncased, pairs):
    first, second = pairs
    compare(uncased, first[:500], second[:500], add_special_tokens=False, truncation=True, max_length=30,
            return_offsets_mapping=True)


def test_tokenize_and_decode(setup, corpus):
    lines = corpus[:500]
    expected = [setup.hf.tokenize(t) for t in lines]
    for engine, tok in setup.ours.items():
        assert [tok.tokenize(t) for t in lines] == expected, engine
    ids = (setup.single or setup.hf(corpus))["input_ids"][:2000]
    tok = setup.ours["python"]  # decoding is shared by the engines
    for skip in (False, True):
        for clean in (False, True):
            expected = setup.hf.batch_decode(ids, skip_special_tokens=skip, clean_up_tokenization_spaces=clean)
            assert tok.batch_decode(ids, skip_special_tokens=skip, clean_up_tokenization_spaces=clean) == expected


@pytest.mark.parametrize("settings", [dict(strip_accents=False), dict(strip_accents=True, do_lower_case=False),
                                      dict(tokenize_chinese_chars=False)])
def test_normalizer_settings(minilm_dir, corpus, settings):
    """Accent stripping on/off independently of lowercasing, and CJK splitting off."""
    s = Setup(str(settings), minilm_dir)
    s.hf = transformers.BertTokenizer.from_pretrained(str(minilm_dir), **settings)
    s.ours = {engine: BertTokenizer.from_pretrained(minilm_dir, engine=engine, **settings) for engine in ENGINES}
    compare(s, corpus[:1000], return_offsets_mapping=True)


# ---------------------------------------------------------------------------------------------------------
# pre-split words (is_split_into_words=True) and the BatchEncoding alignment helpers
# ---------------------------------------------------------------------------------------------------------

def _alignment(enc, row: int, n_tokens: int, n_words: int, chars: list[int], sequences) -> dict[str, list]:
    """What every BatchEncoding helper says about one row: token_to_sequence / token_to_word /
    token_to_chars for every token (and one past the end); word_to_tokens / word_to_chars for every word
    index (and two beyond) and char_to_token / char_to_word at the given character positions, in the given
    sequences."""
    out = {method: [getattr(enc, method)(row, t) for t in range(n_tokens + 1)]
           for method in ("token_to_sequence", "token_to_word", "token_to_chars")}
    for seq in sequences:
        spans = [enc.word_to_tokens(row, w, seq) for w in range(n_words)]
        out[f"word_to_tokens/{seq}"] = spans
        # (transformers' word_to_chars raises TypeError where there is no word; bertkit returns None)
        out[f"word_to_chars/{seq}"] = [enc.word_to_chars(row, w, seq) if span else None
                                       for w, span in enumerate(spans)]
        for method in ("char_to_token", "char_to_word"):
            out[f"{method}/{seq}"] = [getattr(enc, method)(row, c, seq) for c in chars]
    return out


def assert_same_alignment(expected, actuals: dict, what: str) -> None:
    """The alignment helpers of each BatchEncoding in `actuals` against transformers', row by row. Characters
    are probed where the tokens start and end, every position in one row of 50; sequence 1 (the text_pair,
    or for a single text the whole row) in pairs and in one single text of 10."""
    for name, actual in actuals.items():
        assert actual.n_sequences == expected.n_sequences, f"{what} {name}"
    # the fast engine's helpers ask the same Rust encodings transformers asks: one row in 10 shows that its
    # BatchEncoding passes the arguments on right; the Python engine's own implementation is checked on all
    every = {name: 10 if name == "fast" else 1 for name in actuals}
    for row in range(len(expected.encodings)):
        offsets = expected.encodings[row].offsets
        n_words = max((w for w in expected.word_ids(row) if w is not None), default=-1) + 3
        last = max((end for _, end in offsets), default=0) + 2
        chars = (list(range(last)) if row % 50 == 0
                 else sorted({0, last} | {c for s, e in offsets for c in (s, e)}))
        sequences = (0, 1) if expected.n_sequences == 2 or row % 10 == 0 else (0,)
        exp = _alignment(expected, row, len(offsets), n_words, chars, sequences)
        for name, actual in actuals.items():
            if row % every[name]:
                continue
            act = _alignment(actual, row, len(offsets), n_words, chars, sequences)
            for key, value in exp.items():
                assert act[key] == value, (f"{what} {name}: {key} differs in row {row}:\n  transformers {value}\n"
                                           f"  bertkit      {act[key]}")


def compare_aligned(setup: Setup, *args, **kwargs):
    """compare(), then every alignment helper of every row, for both engines."""
    expected = setup.hf(*args, **kwargs)
    actuals = {engine: tok(*args, **kwargs) for engine, tok in setup.ours.items()}
    for engine, actual in actuals.items():
        assert_same(expected, actual, f"{setup.name} engine={engine} {kwargs}")
    assert_same_alignment(expected, actuals, f"{setup.name} {kwargs}")
    return expected


@pytest.fixture(scope="session")
def corpus_words(corpus) -> list[list[str]]:
    """The corpus split on " " only, as pre-split words: empty words, words holding tabs, control and
    zero-width characters, literal special tokens, punctuation that splits further, 150-character words."""
    return [line.split(" ") for line in corpus]


@pytest.mark.slow
def test_split_into_words(uncased, corpus_words):
    """All 10,000 lines as pre-split words: every token, offset (within its word) and word id, and every
    alignment helper of every row. (Pre-splitting does not depend on the vocabulary: uncased only.)"""
    compare_aligned(uncased, corpus_words, is_split_into_words=True, return_offsets_mapping=True,
                    return_special_tokens_mask=True)


def test_split_into_words_pairs_windows_and_padding(uncased, corpus_words):
    """Pre-split pairs cut with longest_first and padded, QA-style pairs cut into overlapping windows
    (only_second) and padded on the left, windows without special tokens, and pre-split single texts (not
    batches, with and without a pair)."""
    first, second = corpus_words[0:600:2], corpus_words[1:600:2]
    compare_aligned(uncased, first, second, is_split_into_words=True, truncation=True, max_length=40,
                    return_offsets_mapping=True, padding=True)
    questions = [words[:5] for words in first]
    n_question = [len(ids) for ids in uncased.hf(questions, is_split_into_words=True,
                                                  add_special_tokens=False).input_ids]
    ok = [i for i, n in enumerate(n_question) if n <= 24]
    compare_aligned(uncased, [questions[i] for i in ok], [second[i] for i in ok], is_split_into_words=True,
                    truncation="only_second", max_length=48, stride=12, return_overflowing_tokens=True,
                    return_offsets_mapping=True, padding="max_length", padding_side="left")
    compare_aligned(uncased, first[:100], is_split_into_words=True, add_special_tokens=False, truncation=True,
                    max_length=12, stride=4, return_overflowing_tokens=True, return_offsets_mapping=True)
    for words in corpus_words[:30]:
        compare_aligned(uncased, words, is_split_into_words=True, return_offsets_mapping=True)
        compare_aligned(uncased, words, words[::-1], is_split_into_words=True, return_offsets_mapping=True)


def test_alignment_helpers_on_pairs(uncased, pairs):
    """The helpers on 500 padded pairs cut with longest_first (the whole corpus as single texts: in
    test_single_texts)."""
    first, second = pairs
    compare_aligned(uncased, first[:500], second[:500], truncation=True, max_length=48, padding=True)


def test_alignment_helpers_windows_and_sides(uncased, corpus):
    """The helpers on overflow windows of QA-style pairs and on left padding, without special tokens, and
    with the first or second text empty."""
    long_lines = [t for t in corpus if len(t) > 250][:60]
    short_lines = [t[:40] for t in corpus if len(t) < 60][:len(long_lines)]
    compare_aligned(uncased, short_lines, long_lines, truncation="only_second", max_length=96, stride=24,
                    return_overflowing_tokens=True, padding=True, padding_side="left")
    compare_aligned(uncased, long_lines, truncation=True, max_length=20, stride=5, add_special_tokens=False,
                    return_overflowing_tokens=True)
    compare_aligned(uncased, ["", "a b", "", "\u200b"], ["x y", "", "", "z"], padding=True)


def test_stride_without_special_tokens(uncased, corpus):
    """add_special_tokens=False: the windows are max_length tokens, none counted for [CLS]/[SEP] (the
    issue's example: max_length=4, stride=2 on a 7-word text gives 3 windows)."""
    expected = compare_aligned(uncased, "one two three four five six seven", max_length=4, stride=2,
                               add_special_tokens=False, return_overflowing_tokens=True)
    assert [len(row) for row in expected["input_ids"]] == [4, 4, 3]
    compare(uncased, corpus[:300], max_length=10, stride=8, add_special_tokens=False,
            return_overflowing_tokens=True, return_offsets_mapping=True)
    short = [t for t in corpus if len(t) < 80]
    compare(uncased, short[:100], short[100:200], truncation="longest_first", max_length=16, stride=3,
            add_special_tokens=False, return_overflowing_tokens=True, return_offsets_mapping=True)


def test_tokenizer_config_sides(tmp_path, minilm_dir, corpus, side="left"):
    """padding_side / truncation_side written in tokenizer_config.json are honoured as transformers honours
    them, with overflow windows (cut from the left, the windows run backwards) and padding."""
    import json
    import shutil
    folder = tmp_path / "tok"
    shutil.copytree(minilm_dir, folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    config.update(padding_side=side, truncation_side=side)
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    s = Setup(f"sides={side}", folder)
    assert s.hf.padding_side == s.ours["fast"].padding_side == s.ours["python"].truncation_side == side
    long_lines = [t for t in corpus if len(t) > 250][:40]
    compare_aligned(s, long_lines, truncation=True, max_length=32, stride=8, return_overflowing_tokens=True,
                    padding=True, return_offsets_mapping=True, return_special_tokens_mask=True)
    short_lines = [t[:40] for t in corpus if len(t) < 60][:20]
    compare_aligned(s, long_lines[:20], short_lines, truncation="only_first", max_length=64, stride=10,
                    return_overflowing_tokens=True, padding="max_length", return_offsets_mapping=True)
    compare(s, corpus[:500], corpus[500:1000], truncation=True, max_length=24, padding=True)


def test_split_special_tokens(uncased, minilm_dir, corpus):
    """split_special_tokens=True (a call keyword, or the tokenizer's setting): "[MASK]" in the text is text."""
    lines = [t for t in corpus if "[" in t][:300]
    compare(uncased, lines, split_special_tokens=True, return_offsets_mapping=True)
    s = Setup("split_special_tokens", minilm_dir, split_special_tokens=True)
    compare(s, lines, return_offsets_mapping=True)
    compare(s, lines, split_special_tokens=False, return_offsets_mapping=True)
