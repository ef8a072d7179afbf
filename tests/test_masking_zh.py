"""Whole-word masking for Chinese (Chinese-BERT-wwm): word boundaries found by a segmenter when the shards
are prepared, stored beside them, and used by the masker; "##" pieces still make English words."""
import json

import numpy as np
import pytest

from bertkit.data import corpus as corpus_mod
from bertkit.data.corpus import (CONTINUES_WORD, PrepareConfig, TokenCorpus, prepare_corpus,
                                 write_token_corpus)
from bertkit.data.masking import IGNORE, Masker, MaskingConfig, continuation_table
from bertkit.data.pretraining import ExampleConfig, ExampleStream

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD, UNK, CLS, SEP, MASK = range(5)


@pytest.fixture(scope="module")
def zh_vocab(tmp_path_factory):
    """A tiny WordPiece vocabulary: a few Chinese characters, English words and a "##" piece."""
    from bertkit.tokenization import BertTokenizer
    folder = tmp_path_factory.mktemp("zh_vocab")
    tokens = SPECIALS + list("我来到北京清华大学模型很好。") + ["bert", "play", "##ing", "the", "is"]
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(str(folder))
    return folder


def _ids(tokens, *words):
    return [tokens.index(w) for w in words]


def test_word_starts_from_jieba_and_from_spaces(zh_vocab):
    pytest.importorskip("jieba")
    tokens = (zh_vocab / "vocab.txt").read_text(encoding="utf-8").split("\n")
    text = "我来到北京清华大学 BERT模型 playing the。"
    spaced = "我 来到 北京 清华 大学 BERT 模型 playing the 。"  # the corpus's own words (清华 大学: two)
    corpus_mod._init_worker(str(zh_vocab), "jieba")
    [(ids, starts)] = corpus_mod._tokenize_docs([[text]])
    want_ids = _ids(tokens, "我", "来", "到", "北", "京", "清", "华", "大", "学", "bert", "模", "型",
                    "play", "##ing", "the", "。")
    assert ids[0].tolist() == want_ids
    # jieba: 我 / 来到 / 北京 / 清华大学 / BERT / 模型 / playing / the / 。 ("##ing" continues "play")
    assert starts[0].astype(int).tolist() == [1, 1, 0, 1, 0, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1]
    corpus_mod._init_worker(str(zh_vocab), "spaces")
    [(ids2, starts2)] = corpus_mod._tokenize_docs([[spaced]])
    assert ids2[0].tolist() == want_ids  # the spaces between Chinese words put nothing into the tokens
    assert starts2[0].astype(int).tolist() == [1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1]
    # the offsets the boundaries come from slice the original characters
    from bertkit.tokenization import AutoTokenizer
    enc = AutoTokenizer.from_pretrained(str(zh_vocab))(spaced, add_special_tokens=False,
                                                       return_offsets_mapping=True)
    assert [spaced[a:b] for a, b in enc["offset_mapping"]] == list("我来到北京清华大学") + [
        "BERT", "模", "型", "play", "ing", "the", "。"]


def test_a_chinese_word_with_digits_or_latin_is_one_word(tmp_path):
    """`１９９８年` (full-width digits, then a CJK character) is one corpus word: its tokens are one word. A
    word without a CJK character (English, a number, `——`) keeps WordPiece's rule: each of its tokens
    that is not a "##" piece starts a word."""
    from bertkit.tokenization import BertTokenizer
    tokens = SPECIALS + list("年来到北京模型—") + ["１９９８", "bert"]
    (tmp_path / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    BertTokenizer(str(tmp_path / "vocab.txt")).save_pretrained(str(tmp_path))
    corpus_mod._init_worker(str(tmp_path), "spaces")
    [(ids, starts)] = corpus_mod._tokenize_docs([["１９９８年 来到 —— 北京 1998 BERT模型"]])
    assert ids[0].tolist() == _ids(tokens, "１９９８", "年", "来", "到", "—", "—", "北", "京", "[UNK]", "bert", "模", "型")
    assert starts[0].astype(int).tolist() == [1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 0, 0]


def _doc_lines(n):
    return "\n\n".join(f"我 来到 北京 清华 大学 {i}\nBERT 模型 很好 。" for i in range(n))


def test_prepare_stores_boundaries_and_reads_them_back(zh_vocab, tmp_path):
    src = tmp_path / "zh.txt"
    src.write_text(_doc_lines(8) + "\n", encoding="utf-8")
    out = prepare_corpus([src], zh_vocab, tmp_path / "wwm", PrepareConfig(workers=1, segment="spaces", eval_fraction=0.25),
                         progress=False)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["word_starts"] is True and meta["config"]["segment"] == "spaces"
    train = TokenCorpus(out, "train")
    assert [len(w) for w in train.word_starts] == [len(t) for t, _, _ in train.shards]
    assert (out / f"{meta['splits']['train']['shards'][0]}.words.npy").is_file()
    plain = train.doc(0)
    marked = train.doc(0, words=True)
    for p, m in zip(plain, marked):
        assert (m % CONTINUES_WORD == np.asarray(p)).all()
    # 我 来到 北京 清华 大学 <digit>  |  BERT 模型 很好 。 : continuation at 到 京 华 学, and 型 好
    assert [(m >= CONTINUES_WORD).astype(int).tolist() for m in marked] == [
        [0, 0, 1, 0, 1, 0, 1, 0, 1, 0], [0, 0, 1, 0, 1, 0]]


def test_segment_none_keeps_the_old_shards_and_fingerprint(zh_vocab, tmp_path):
    src = tmp_path / "zh.txt"
    src.write_text(_doc_lines(8) + "\n", encoding="utf-8")
    # the settings that decide the fingerprint and meta.json's "config" are those of before --segment existed
    assert set(corpus_mod._config_dict(PrepareConfig())) == {"eval_fraction", "seed", "shard_tokens", "workers",
                                                              "chunk_docs", "skip_bad_files"}
    none = prepare_corpus([src], zh_vocab, tmp_path / "none", PrepareConfig(workers=1), progress=False)
    meta = json.loads((none / "meta.json").read_text())
    assert "word_starts" not in meta and "segment" not in meta["config"]
    assert not list(none.glob("*.words.npy"))
    assert TokenCorpus(none, "train").word_starts is None
    spaces = prepare_corpus([src], zh_vocab, tmp_path / "spaces", PrepareConfig(workers=1, segment="spaces"),
                            progress=False)
    assert json.loads((spaces / "meta.json").read_text())["fingerprint"] != meta["fingerprint"]
    for name in meta["splits"]["train"]["shards"]:  # the same tokens either way
        for kind in ("tokens", "sents", "docs"):
            assert np.array_equal(np.load(none / f"{name}.{kind}.npy"), np.load(spaces / f"{name}.{kind}.npy"))
    with pytest.raises(corpus_mod.CorpusError, match="--segment 'words': unknown"):
        PrepareConfig(segment="words")


V = 100
ZH = list(range(5, 60))  # "characters"
EN, EN_CONT = list(range(60, 90)), list(range(90, V))  # English word starts and "##" pieces


def _mixed_doc(rng, n_sents):
    """Sentences of Chinese words (1–4 characters) and English words (a start and 0–2 "##" pieces)."""
    sents, starts = [], []
    for _ in range(n_sents):
        ids, st = [], []
        for _ in range(rng.integers(3, 12)):
            if rng.random() < 0.7:
                n = int(rng.integers(1, 5))
                ids += rng.choice(ZH, size=n).tolist()
            else:
                n = int(rng.integers(1, 4))
                ids += [int(rng.choice(EN))] + rng.choice(EN_CONT, size=n - 1).tolist()
            st += [True] + [False] * (n - 1)
        sents.append(np.array(ids))
        starts.append(np.array(st))
    return sents, starts


def _masker(p=0.15):
    cont = continuation_table(SPECIALS + [f"c{i}" for i in range(5, 90)] + [f"##e{i}" for i in range(90, V)])
    return Masker(MaskingConfig(mlm_probability=p, whole_word=True), V, MASK, range(5), cont)


def _words(inst, n_special=5):
    """(T,) the word number of every position: a word starts where the stored boundaries say, at a special
    token, and after one (a segment cut by truncation starts a word)."""
    special = inst.ids < n_special
    start = ~inst.word_cont | special
    start[1:] |= special[:-1]
    return np.cumsum(start)


def _assert_whole(inst, labels):
    picked = labels != IGNORE
    word = _words(inst)
    for w in np.unique(word[picked]):
        assert picked[word == w].all(), f"word {inst.ids[word == w]} masked in part"


@pytest.mark.parametrize("objective", ["nsp", "sop", "packed", "cross_documents"])
def test_stream_masks_stored_words_whole(tmp_path, objective):
    rng = np.random.default_rng(0)
    docs, starts = zip(*[_mixed_doc(rng, int(rng.integers(2, 8))) for _ in range(40)])
    write_token_corpus(tmp_path, {"train": list(docs), "eval": list(docs[:4])}, V,
                       word_starts={"train": list(starts), "eval": list(starts[:4])})
    corpus = TokenCorpus(tmp_path, "train")
    cfg = {"nsp": ExampleConfig(max_seq_length=24), "sop": ExampleConfig(max_seq_length=24, sop=True),
           "packed": ExampleConfig(max_seq_length=24, nsp=False),
           "cross_documents": ExampleConfig(max_seq_length=24, nsp=False, cross_documents=True)}[objective]
    stream = ExampleStream(corpus, cfg, _masker(0.3), CLS, SEP)
    it = stream.instances()
    for _ in range(300):
        epoch, _, inst = next(it)
        assert inst.ids.max() < V and inst.word_cont is not None and len(inst.word_cont) == len(inst.ids)
        ex = stream.mask(inst, epoch)
        _assert_whole(inst, ex["labels"])
        # the stored words agree with the tokens: a "##" piece continues, a special token never does
        cont_ids = np.isin(inst.ids, EN_CONT)
        assert not inst.word_cont[np.isin(inst.ids, range(5))].any()
        assert (inst.word_cont[1:][cont_ids[1:] & ~np.isin(inst.ids[:-1], range(5))]).all()


def test_shards_without_boundaries_mask_as_before(tmp_path):
    rng = np.random.default_rng(1)
    docs = [_mixed_doc(rng, 4)[0] for _ in range(10)]
    write_token_corpus(tmp_path, {"train": docs, "eval": docs[:2]}, V)
    corpus = TokenCorpus(tmp_path, "train")
    masker = _masker()
    stream = ExampleStream(corpus, ExampleConfig(max_seq_length=32), masker, CLS, SEP)
    assert corpus.word_starts is None and not stream.words
    for d in range(len(corpus)):
        for inst in stream.doc_instances(d, 0):
            assert inst.word_cont is None
            ex = stream.mask(inst, 0)
            rng = np.random.default_rng([0, 0, inst.doc, inst.k, 11])  # the stream's own masking generator
            inputs, labels = masker(inst.ids, rng)  # the "##" rule alone
            assert np.array_equal(ex["input_ids"], inputs) and np.array_equal(ex["labels"], labels)


def test_masker_word_cont_overrides_the_continuation_table():
    masker = _masker(0.5)
    ids = np.array([CLS, 5, 6, 7, 60, 90, 91, 8, SEP])
    cont = np.array([0, 0, 1, 1, 0, 1, 1, 0, 0], dtype=bool)  # words: 5 6 7 | 60 ##90 ##91 | 8
    seen = set()
    for seed in range(200):
        _, labels = masker(ids, np.random.default_rng(seed), word_cont=cont)
        picked = tuple(np.flatnonzero(labels != IGNORE))
        seen.add(picked)
        assert picked in {(), (1, 2, 3), (4, 5, 6), (7,), (1, 2, 3, 7), (4, 5, 6, 7)}
    assert {(1, 2, 3), (4, 5, 6)} <= seen
    # without word_cont, 5 6 7 are three words (no "##")
    picks = {tuple(np.flatnonzero(masker(ids, np.random.default_rng(s))[1] != IGNORE)) for s in range(200)}
    assert any(0 < len(set(p) & {1, 2, 3}) < 3 for p in picks)


def _check_boundaries_against_jieba(corpus, tok, lines):
    """The stored boundaries of the sentences that are whole lines equal those read off jieba.cut of the line
    (a token continues a word if it is a "##" piece, or it and the token before it lie in one jieba word
    that holds a CJK character)."""
    import jieba
    from bertkit.tokenization._unicode import _is_chinese_char
    want = {}
    for line in lines:
        enc = tok(line, add_special_tokens=False, return_offsets_mapping=True)
        words = list(jieba.cut(line))
        word_of = [k for k, w in enumerate(words) for _ in w]
        chinese = [any(_is_chinese_char(ord(c)) for c in w) for w in words]
        pieces = tok.convert_ids_to_tokens(enc["input_ids"])
        first = [a for a, _ in enc["offset_mapping"]]
        starts = [not pieces[i].startswith("##") and not (
            i > 0 and word_of[first[i]] == word_of[first[i - 1]] and chinese[word_of[first[i]]])
            for i in range(len(pieces))]
        want[tuple(enc["input_ids"])] = starts
    checked = 0
    for (tokens, sents, _), words in zip(corpus.shards, corpus.word_starts):
        for a, b in zip(sents[:-1], sents[1:]):
            key = tuple(int(t) for t in tokens[a:b])
            if key in want:
                assert words[a:b].tolist() == want[key]
                checked += 1
    assert checked >= 300


@pytest.mark.slow
def test_whole_word_masking_statistics_on_chinese(zh_txt, tmp_path):
    """Over more than a million characters of Chinese segmented by jieba: 15% of the tokens selected
    (within 0.3 points), every selected word selected whole, the 80/10/10 split within 1 point."""
    pytest.importorskip("jieba")
    from bertkit.tokenization import train_vocab
    lines, n_chars = [], 0
    with open(zh_txt, encoding="utf-8", newline="") as f:
        for line in f:
            line = line.strip()
            if line:
                lines.append(line)
                n_chars += len(line)
            if n_chars >= 1_200_000:
                break
    assert n_chars >= 1_000_000
    text = tmp_path / "zh.txt"  # documents of 40 lines
    text.write_text("\n\n".join("\n".join(lines[i:i + 40]) for i in range(0, len(lines), 40)) + "\n",
                    encoding="utf-8")
    tok = train_vocab(text, vocab_size=6000, show_progress=False)
    tok.save_pretrained(str(tmp_path / "vocab"))
    out = prepare_corpus([text], tmp_path / "vocab", tmp_path / "shards",
                         PrepareConfig(workers=1, segment="jieba"), progress=False)
    corpus = TokenCorpus(out, "train")
    _check_boundaries_against_jieba(corpus, tok, lines[:400])
    masker = Masker(MaskingConfig(whole_word=True), len(tok), tok.mask_token_id, tok.all_special_ids,
                    continuation_table(tok))
    stream = ExampleStream(corpus, ExampleConfig(max_seq_length=128, nsp=False), masker,
                           tok.cls_token_id, tok.sep_token_id)
    special = np.zeros(len(tok), dtype=bool)
    special[tok.all_special_ids] = True
    cand = selected = masked = kept = multi = 0
    for d in range(len(corpus)):
        for inst in stream.doc_instances(d, 0):
            ex = stream.mask(inst, 0)
            picked = ex["labels"] != IGNORE
            _assert_whole(inst, ex["labels"])
            word = _words(inst)
            multi += int(sum(picked[word == w].sum() > 1 for w in np.unique(word[picked])))
            cand += int((~special[inst.ids]).sum())
            selected += int(picked.sum())
            masked += int((ex["input_ids"][picked] == tok.mask_token_id).sum())
            kept += int((ex["input_ids"][picked] == inst.ids[picked]).sum())
    assert cand >= 1_000_000  # tokens of the training split (a token is mostly one character)
    rate = selected / cand
    print(f"tokens {cand:,}; selected {rate:.4%}; [MASK] {masked / selected:.4%}; unchanged {kept / selected:.4%}; "
          f"random {(selected - masked - kept) / selected:.4%}; words of 2+ tokens selected {multi:,}")
    assert abs(rate - 0.15) < 0.003
    assert multi > 10_000  # multi-character words were selected, as wholes
    assert abs(masked / selected - 0.8) < 0.01
    # a random replacement can be the original token (1 in ~6000): those count as unchanged
    assert abs(kept / selected - 0.1) < 0.01
    assert abs((selected - masked - kept) / selected - 0.1) < 0.01


def test_pretrain_from_files_segments_and_says_when_shards_have_no_words(zh_vocab, tmp_path, capsys):
    """`pretrain FILES --segment spaces` prepares the shards with word starts; `--whole-word-mask` on shards
    without them says, in one note, that Chinese characters are then masked one by one."""
    from bertkit.cli import main
    src = tmp_path / "zh.txt"
    src.write_text(_doc_lines(8) + "\n", encoding="utf-8")
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps({"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                               "intermediate_size": 32, "max_position_embeddings": 64}), encoding="utf-8")
    common = ["--vocab", str(zh_vocab), "--config", str(cfg), "--steps", "1", "--batch-size", "2",
              "--max-seq-length", "32", "--whole-word-mask", "--eval-every", "0", "--workers", "1",
              "--eval-fraction", "0.25", "--no-progress"]
    main(["pretrain", str(src), "--segment", "spaces", "--out", str(tmp_path / "seg"), *common])
    assert "no stored word boundaries" not in capsys.readouterr().err
    assert TokenCorpus(tmp_path / "seg" / "shards", "train").word_starts is not None
    main(["pretrain", str(src), "--out", str(tmp_path / "plain"), *common])
    err = capsys.readouterr().err
    assert TokenCorpus(tmp_path / "plain" / "shards", "train").word_starts is None
    assert err.count("no stored word boundaries") == 1 and "--segment jieba" in err
