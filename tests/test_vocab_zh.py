"""Chinese and multilingual WordPiece vocabularies (`bertkit vocab --lang zh|multi`), script detection and
the [UNK] rate, with transformers' BertTokenizer / AutoTokenizer as the oracle for the saved folders."""
from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from bertkit.cli import main
from bertkit.tokenization import BertTokenizer
from bertkit.tokenization.vocab_zh import (CJK_RE, detect_language, split_by_hash, train_cjk_vocab,
                                           unk_rate)

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# 80 common characters for the bulk of the text, and a few that appear a counted number of times
COMMON = list("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可也你说年那得下自之过后"
              "理解多种语言模型学习数据训练")
ONCE = list("鑫淼犇")      # each exactly once: below --min-frequency 2
TWICE = list("龘骉")       # each exactly twice: at the threshold
ENGLISH = ("the model reads text and learns which words come next in a sentence while the data grows "
           "larger every year and researchers train bigger networks on faster machines").split()
MIXED = ["BERT理解多种语言!", "2024年的GPU有80GB内存。", "模型😀 emoji 🎉和数字12345、３月５日",
         "Café naïve 学习 ＢＥＲＴ", "unknownword 𠀀 龘", "　全角　空格 and tabs\tok"]


def _zh_lines(n: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        chars = [rng.choice(COMMON) for _ in range(rng.randint(8, 20))]
        pos = rng.randrange(len(chars))
        chars.insert(pos, "，")
        line = "".join(chars) + "。"
        if i % 10 == 0:  # Latin words and digits inside Chinese text
            line = f"{rng.choice(['BERT', 'GPU', 'Python', 'model'])}{line}{rng.randint(0, 2000)}年"
        lines.append(line)
    for j, ch in enumerate(ONCE):
        lines[j] += ch
    for j, ch in enumerate(TWICE * 2):
        lines[10 + j] += ch
    return lines


SYLLABLES = "ka ter mon pra lis ven dor shu bel gri ot an ex ple sto rum fi nal ic ous".split()


def _en_lines(n: int = 300, seed: int = 1) -> list[str]:
    """English words and made-up words of 1-3 syllables: enough pairs for WordPiece to merge for a while."""
    rng = random.Random(seed)

    def word():
        if rng.random() < 0.5:
            return rng.choice(ENGLISH)
        return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3)))
    return [" ".join(word() for _ in range(rng.randint(6, 15))).capitalize() + rng.choice(".!") for _ in range(n)]


@pytest.fixture
def zh_file(tmp_path) -> Path:
    p = tmp_path / "zh.txt"
    p.write_text("\n".join(_zh_lines()) + "\n", encoding="utf-8")
    return p


@pytest.fixture
def en_file(tmp_path) -> Path:
    p = tmp_path / "en.txt"
    p.write_text("\n".join(_en_lines()) + "\n", encoding="utf-8")
    return p


def _vocab(folder: Path) -> list[str]:
    return (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]


def _fails(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    message = str(e.value)
    assert "\n" not in message
    return message


def test_zh_keeps_every_cjk_char_at_min_frequency_first_by_frequency(zh_file, tmp_path, capsys):
    out = tmp_path / "v"
    main(["vocab", str(zh_file), "--lang", "zh", "--out", str(out)])
    counts = Counter(CJK_RE.findall(zh_file.read_text(encoding="utf-8")))
    expected = sorted((c for c in counts if counts[c] >= 2), key=lambda c: (-counts[c], ord(c)))
    vocab = _vocab(out)
    assert vocab[:5] == SPECIALS
    assert vocab[5:5 + len(expected)] == expected  # every frequent char, most frequent first, after the specials
    assert set(TWICE) <= set(expected) and not set(ONCE) & set(vocab)
    rest = vocab[5 + len(expected):]
    assert not any(CJK_RE.search(t) for t in rest)  # no other CJK entry, no "##字" forms
    assert {"，", "。", "年"} <= set(vocab) and "##o" in rest  # punctuation and WordPiece pieces for the Latin text
    stats = json.loads((out / "vocab_stats.json").read_text(encoding="utf-8"))
    assert (stats["lang"], stats["cjk_tokens"], stats["cjk_chars_seen"], stats["wordpiece_tokens"]) == (
        "zh", len(expected), len(counts), len(rest))
    assert stats["cjk_chars_dropped"] == len(ONCE)
    assert f"{len(expected)} CJK characters" in capsys.readouterr().out
    cfg = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert cfg["do_lower_case"] is True and cfg["tokenize_chinese_chars"] is True


def test_min_frequency_moves_the_threshold(zh_file):
    tok, stats = train_cjk_vocab([zh_file], min_frequency=3, show_progress=False)
    vocab = tok.get_vocab()
    assert not set(TWICE) & set(vocab) and stats["cjk_chars_dropped"] == len(ONCE) + len(TWICE)
    tok1, _ = train_cjk_vocab([zh_file], min_frequency=1, show_progress=False)
    assert set(ONCE + TWICE) <= set(tok1.get_vocab())


@pytest.mark.parametrize("share", [0.1, 0.2])
def test_multi_honours_the_zh_share(zh_file, en_file, tmp_path, share):
    out = tmp_path / "multi"
    main(["vocab", str(en_file), str(zh_file), "--lang", "multi", "--zh-share", str(share), "--vocab-size", "300",
          "--out", str(out)])
    vocab = _vocab(out)
    n_cjk = round(share * (300 - 5))
    assert len(vocab) == 300
    assert all(CJK_RE.fullmatch(t) for t in vocab[5:5 + n_cjk])
    assert not any(CJK_RE.search(t) for t in vocab[5 + n_cjk:])
    counts = Counter(CJK_RE.findall(zh_file.read_text(encoding="utf-8")))
    assert vocab[5:5 + n_cjk] == sorted(counts, key=lambda c: (-counts[c], ord(c)))[:n_cjk]  # the most frequent
    assert {"the", "model", "##s"} <= set(vocab)  # English WordPiece in the rest
    stats = json.loads((out / "vocab_stats.json").read_text(encoding="utf-8"))
    assert stats["lang"] == "multi" and stats["zh_share_asked"] == share and stats["cjk_tokens"] == n_cjk
    assert stats["zh_share"] == pytest.approx(n_cjk / 295, abs=1e-6) == stats["zh_share_of_vocab"]


def test_multi_gives_unfilled_chinese_rows_to_wordpiece(zh_file, en_file):
    tok, stats = train_cjk_vocab([en_file, zh_file], vocab_size=400, zh_share=0.9, show_progress=False)
    frequent = stats["cjk_chars_at_min_frequency"]
    assert frequent < round(0.9 * 395) and stats["cjk_tokens"] == frequent
    assert stats["wordpiece_tokens"] == len(tok) - 5 - frequent > 0


def test_detection(zh_file, en_file, tmp_path, capsys):
    assert detect_language(zh_file)[0] == "zh" and detect_language(en_file)[0] == "en"
    mixed = tmp_path / "mixed.txt"  # Chinese with English words in it: zh while >= 30% of the letters are CJK
    mixed.write_text("BERT理解多种语言\n", encoding="utf-8")
    assert detect_language(mixed) == ("zh", pytest.approx(6 / 10))
    mixed.write_text("Transformers 模型\n", encoding="utf-8")
    assert detect_language(mixed) == ("en", pytest.approx(2 / 14))
    main(["vocab", str(zh_file), "--out", str(tmp_path / "a")])
    assert "detected --lang zh" in capsys.readouterr().err
    assert json.loads((tmp_path / "a" / "vocab_stats.json").read_text(encoding="utf-8"))["lang"] == "zh"
    main(["vocab", str(en_file), str(zh_file), "--vocab-size", "400", "--out", str(tmp_path / "b")])
    assert "detected --lang multi" in capsys.readouterr().err
    assert json.loads((tmp_path / "b" / "vocab_stats.json").read_text(encoding="utf-8"))["zh_share_asked"] == 0.4
    main(["vocab", str(en_file), "--vocab-size", "400", "--out", str(tmp_path / "c")])
    assert "detected" not in capsys.readouterr().err  # English, as vocab always did: nothing to say
    assert not (tmp_path / "c" / "vocab_stats.json").exists()  # en: today's WordPiece, today's folder
    main(["vocab", str(en_file), "--lang", "en", "--vocab-size", "400", "--out", str(tmp_path / "d")])
    assert "detected" not in capsys.readouterr().err
    assert len(_vocab(tmp_path / "c")) == len(_vocab(tmp_path / "d"))


def test_errors_are_one_line_naming_the_option(zh_file, en_file, tmp_path, capsys):
    n = sum(1 for c, k in Counter(CJK_RE.findall(zh_file.read_text(encoding="utf-8"))).items() if k >= 2)
    out = str(tmp_path / "v")
    msg = _fails(["vocab", str(zh_file), "--lang", "zh", "--vocab-size", "40", "--out", out], capsys)
    assert msg.startswith(f"bertkit vocab: --vocab-size 40: too small for the 5 special tokens and the {n} CJK "
                          f"characters seen at least 2 times; use at least {n + 5}")
    msg = _fails(["vocab", str(zh_file), "--lang", "zh", "--vocab-size", str(n + 6), "--out", out], capsys)
    assert msg.startswith(f"bertkit vocab: --vocab-size {n + 6}: too small for the 5 special tokens, {n} CJK "
                          f"characters and the ") and "use at least" in msg
    msg = _fails(["vocab", str(zh_file), "--lang", "zh", "--algorithm", "bpe", "--out", out], capsys)
    assert msg.startswith("bertkit vocab: --lang zh: only with --algorithm wordpiece")
    msg = _fails(["vocab", str(zh_file), "--lang", "zh", "--zh-share", "0.3", "--out", out], capsys)
    assert msg.startswith("bertkit vocab: --zh-share 0.3: only with --lang multi")
    msg = _fails(["vocab", str(zh_file), "--lang", "multi", "--zh-share", "1.5", "--out", out], capsys)
    assert msg == "bertkit vocab: --zh-share 1.5: must be between 0 and 1 (both excluded)"
    msg = _fails(["vocab", str(zh_file), "--lang", "jp", "--out", out], capsys)
    assert msg.startswith("bertkit vocab: --lang jp: use en, zh or multi")
    msg = _fails(["vocab", str(zh_file), "--heldout", str(tmp_path / "absent.txt"), "--out", out], capsys)
    assert msg == f"bertkit vocab: {tmp_path / 'absent.txt'}: no such file; check the path"
    assert not Path(out).exists()


def test_transformers_parity_on_mixed_text(zh_file, en_file, tmp_path):
    transformers = pytest.importorskip("transformers")
    out = tmp_path / "multi"
    main(["vocab", str(en_file), str(zh_file), "--lang", "multi", "--vocab-size", "500", "--out", str(out)])
    ours = BertTokenizer.from_pretrained(out)
    texts = MIXED + _zh_lines(20, seed=7) + _en_lines(20, seed=8)
    for hf in (transformers.BertTokenizer.from_pretrained(out), transformers.AutoTokenizer.from_pretrained(out)):
        a = hf(texts, return_offsets_mapping=True)
        b = ours(texts, return_offsets_mapping=True)
        assert a["input_ids"] == b["input_ids"]
        assert a["offset_mapping"] == b["offset_mapping"]
        assert unk_rate(hf, texts) == unk_rate(ours, texts)
    assert ours.tokenize("BERT理解多种语言!") == ["bert", "理", "解", "多", "种", "语", "言", "!"]
    cased, _ = train_cjk_vocab([en_file, zh_file], vocab_size=500, zh_share=0.3, do_lower_case=False,
                               show_progress=False)
    cased.save_pretrained(tmp_path / "cased")
    hf = transformers.BertTokenizer.from_pretrained(tmp_path / "cased")
    assert hf(texts)["input_ids"] == cased(texts)["input_ids"]
    assert "BERT" in cased.get_vocab() and "bert" not in cased.get_vocab()  # Latin case kept


def test_unk_rate_by_hand():
    vocab = {t: i for i, t in enumerate(SPECIALS + ["bert", "理", "解", "!", "ab", "##c"])}
    tok = BertTokenizer(vocab)
    # bert 理 解 [UNK]x4 (多种语言) ! : 8 tokens, 4 unknown; 11 characters, 4 unknown
    assert unk_rate(tok, ["BERT理解多种语言!"]) == (4 / 8, 4 / 11)
    # abc -> ab ##c; xyz -> one [UNK] over 3 characters; spaces are not characters; blank lines are skipped
    assert unk_rate(tok, ["abc  xyz", "", "   "]) == (1 / 3, 3 / 6)
    assert unk_rate(tok, ["BERT理解多种语言!", "abc  xyz"]) == (5 / 11, 7 / 17)
    assert unk_rate(tok, []) == (0.0, 0.0)


def test_heldout_rate_is_printed_and_saved(zh_file, tmp_path, capsys):
    held = tmp_path / "held.txt"
    held.write_text("理解多种语言\n鑫鑫\n", encoding="utf-8")  # 8 characters, 鑫 is below --min-frequency
    out = tmp_path / "v"
    main(["vocab", str(zh_file), "--lang", "zh", "--heldout", str(held), "--out", str(out)])
    h = json.loads((out / "vocab_stats.json").read_text(encoding="utf-8"))["heldout"]
    assert h == [{"file": str(held), "lines": 2, "unk_token_rate": 0.25, "unk_char_rate": 0.25}]
    assert f"held-out [UNK] rate on {held} (2 lines): 25.0000% of tokens, 25.0000% of characters" in \
        capsys.readouterr().out


def test_heldout_per_language_with_multi(zh_file, en_file, tmp_path, capsys):
    held_zh, held_en = tmp_path / "held_zh.txt", tmp_path / "held_en.txt"
    held_zh.write_text("理解多种语言\n", encoding="utf-8")  # all six characters are frequent: kept
    held_en.write_text("the model\nQ\n", encoding="utf-8")  # 'q' never seen: [UNK]
    out = tmp_path / "v"
    main(["vocab", str(en_file), str(zh_file), "--vocab-size", "400", "--heldout", str(held_zh), str(held_en),
          "--out", str(out)])
    rates = json.loads((out / "vocab_stats.json").read_text(encoding="utf-8"))["heldout"]
    assert [(r["file"], r["unk_token_rate"], r["unk_char_rate"]) for r in rates] == [
        (str(held_zh), 0.0, 0.0), (str(held_en), round(1 / 3, 6), round(1 / 9, 6))]
    text = capsys.readouterr().out
    assert f"held-out [UNK] rate on {held_zh} (1 lines)" in text and f"on {held_en} (2 lines)" in text


def test_split_by_hash():
    lines = [f"第{i}行" for i in range(2000)] + ["重复的行"] * 5
    kept, held = split_by_hash(lines, 0.1)
    assert len(kept) + len(held) == len(lines) and 120 <= len(held) <= 280
    assert split_by_hash(list(reversed(lines)), 0.1)[1] == list(reversed(held))
    assert ("重复的行" in kept) != ("重复的行" in held)


@pytest.mark.slow
def test_real_chinese_unk_rate(zh_txt, tmp_path, capsys):
    """zh.txt lines 1-15,000 only (the later lines are reserved); 2% held out by hash, never trained on."""
    lines = [line for line in zh_txt.read_text(encoding="utf-8").split("\n")[:15000] if line.strip()]
    kept, held = split_by_hash(lines, 0.02)
    train, heldout = tmp_path / "train.txt", tmp_path / "held.txt"
    train.write_text("\n".join(kept) + "\n", encoding="utf-8")
    heldout.write_text("\n".join(held) + "\n", encoding="utf-8")
    out = tmp_path / "zh"
    main(["vocab", str(train), "--lang", "zh", "--heldout", str(heldout), "--out", str(out)])
    stats = json.loads((out / "vocab_stats.json").read_text(encoding="utf-8"))
    stats["heldout"] = stats["heldout"][0]
    with capsys.disabled():
        print(f"\nzh vocab: {stats['vocab_size']} tokens, {stats['cjk_tokens']} CJK; held-out [UNK] rate "
              f"{stats['heldout']['unk_token_rate']:.4%} of tokens, {stats['heldout']['unk_char_rate']:.4%} of chars")
    counts = Counter(c for line in kept for c in CJK_RE.findall(line))
    assert stats["cjk_tokens"] == sum(1 for k in counts.values() if k >= 2)
    assert 0 < stats["heldout"]["unk_token_rate"] < 0.005
    held_counts = Counter(c for line in held for c in CJK_RE.findall(line))
    rare = sum(k for c, k in held_counts.items() if counts[c] < 2)  # the oracle: chars the vocab cannot have
    non_space = sum(1 for line in held for ch in line if not ch.isspace())
    assert stats["heldout"]["unk_char_rate"] >= round(rare / non_space, 6) - 1e-6


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_stdout_holds_only_the_summary(zh_file, en_file, tmp_path, capfd, lang):
    """The `tokenizers` trainer's progress bars end with blank lines written to file descriptor 1; off a
    terminal they are off, so stdout (captured at the descriptor) starts with the summary line."""
    main(["vocab", str(zh_file if lang == "zh" else en_file), "--lang", lang, "--vocab-size", "3000",
          "--out", str(tmp_path / "v")])
    out = capfd.readouterr().out
    assert out.startswith(f"wrote a vocabulary of ") and "\n\n" not in out


def test_lang_zh_on_english_text_says_there_is_no_chinese(en_file, tmp_path, capsys):
    main(["vocab", str(en_file), "--lang", "zh", "--vocab-size", "3000", "--out", str(tmp_path / "v")])
    err = capsys.readouterr().err
    assert "no CJK character occurs 2 times" in err and "WordPiece only" in err
    assert json.loads((tmp_path / "v" / "vocab_stats.json").read_text())["cjk_tokens"] == 0
