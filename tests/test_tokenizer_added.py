"""Added tokens (add_tokens, add_special_tokens, folders that carry them) and the do_basic_tokenize /
never_split options, in both engines, with transformers' BertTokenizer as the oracle.

Most tests use a tiny vocabulary written here (ids can be read off); transformers builds its own tokenizer
from the same vocabulary, so every expected value below is also checked against it.
"""
from __future__ import annotations

import json
import string
import warnings

import pytest

from bertkit.errors import TokenizerError
from bertkit.tokenization import AddedToken, BertTokenizer, _is_word_char

transformers = pytest.importorskip("transformers")
from tokenizers import AddedToken as RustAddedToken  # noqa: E402

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["paris", "hello", "world", "the", "##s", "##1", "co", "##vid", "##19", "19", "en", "##t"]
TINY = SPECIALS + list(string.ascii_lowercase) + list(string.digits) + WORDS + list(",.!?'()[]/-")
V = len(TINY)
PAD, UNK, CLS, SEP, MASK = range(5)
ENGINES = ("fast", "python")


def vocab() -> dict[str, int]:
    return {t: i for i, t in enumerate(TINY)}


def ours(engine: str, **kwargs) -> BertTokenizer:
    return BertTokenizer(vocab(), engine=engine, **kwargs)


def hf(**kwargs):
    return transformers.BertTokenizer(vocab=vocab(), **kwargs)


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    return request.param


def same_as_transformers(tok: BertTokenizer, oracle, texts: list[str], **kwargs) -> None:
    """ids, offsets, special-token masks, tokens, word ids and decode all equal transformers'."""
    kwargs = dict(return_offsets_mapping=True, return_special_tokens_mask=True, **kwargs)
    expected, actual = oracle(texts, **kwargs), tok(texts, **kwargs)
    assert dict(actual) == dict(expected)
    for row in range(len(expected["input_ids"])):
        assert actual.tokens(row) == expected.tokens(row), texts[row]
        assert actual.word_ids(row) == expected.word_ids(row), texts[row]
    for skip in (False, True):
        assert tok.batch_decode(expected["input_ids"], skip_special_tokens=skip) == \
            oracle.batch_decode(expected["input_ids"], skip_special_tokens=skip)


# ---------------------------------------------------------------------------------------------------------
# the example: a folder saved by transformers after add_tokens / add_special_tokens
# ---------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf_added")
    tok = hf()
    assert tok.add_tokens(["covid19"]) == 1
    assert tok.add_special_tokens({"additional_special_tokens": ["[E1]", "[/E1]"]}) == 2
    tok.save_pretrained(str(folder))
    return folder


def test_folder_saved_by_transformers_keeps_its_added_tokens(hf_folder, engine):
    tok = BertTokenizer.from_pretrained(hf_folder, engine=engine)
    assert (len(tok), tok.vocab_size) == (V + 3, V)
    enc = tok("[E1] Paris [/E1] hello COVID19.")
    assert enc.tokens() == ["[CLS]", "[E1]", "paris", "[/E1]", "hello", "covid19", ".", "[SEP]"]
    assert enc.input_ids == [CLS, V + 1, TINY.index("paris"), V + 2, TINY.index("hello"), V, TINY.index("."), SEP]
    # decode keeps the added ids; skip_special_tokens drops [E1] and [/E1] like [CLS] and [SEP]
    assert tok.decode(enc.input_ids) == "[CLS] [E1] paris [/E1] hello covid19. [SEP]"
    assert tok.decode(enc.input_ids, skip_special_tokens=True) == "paris hello covid19."
    assert tok.additional_special_tokens == ["[E1]", "[/E1]"]
    assert tok.all_special_tokens == ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]", "[E1]", "[/E1]"]
    assert tok.all_special_ids == [UNK, SEP, PAD, CLS, MASK, V + 1, V + 2]
    oracle = transformers.BertTokenizer.from_pretrained(str(hf_folder))
    same_as_transformers(tok, oracle, ["[E1] Paris [/E1] has COVID19.", "x[E1]y covid19covid19 [e1] [E1][/E1]"])
    assert tok.all_special_tokens == oracle.all_special_tokens and len(tok) == len(oracle)


def test_bertkit_folder_loads_in_transformers_with_the_same_behaviour(hf_folder, tmp_path, engine):
    tok = BertTokenizer.from_pretrained(hf_folder, engine=engine)
    tok.add_tokens([AddedToken("@@", lstrip=True, rstrip=True)])
    tok.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["additional_special_tokens"] == ["[E1]", "[/E1]"]
    assert config["added_tokens_decoder"][str(V + 3)] == {"content": "@@", "single_word": False, "lstrip": True,
                                                          "rstrip": True, "normalized": True, "special": False}
    texts = ["[E1] Paris [/E1] has COVID19.", "a  @@  b@@c [E1]@@"]
    for loaded in (transformers.BertTokenizer.from_pretrained(str(tmp_path)),
                   transformers.AutoTokenizer.from_pretrained(str(tmp_path))):
        same_as_transformers(tok, loaded, texts)
        assert len(loaded) == len(tok) == V + 4
        assert loaded.all_special_tokens == tok.all_special_tokens
    again = BertTokenizer.from_pretrained(tmp_path, engine=engine)
    assert again.added_tokens_decoder == tok.added_tokens_decoder
    same_as_transformers(again, transformers.BertTokenizer.from_pretrained(str(tmp_path)), texts)


def test_transformers_4_style_folder(hf_folder, tmp_path, engine):
    """transformers 4 listed the added tokens in tokenizer_config.json (added_tokens_decoder) and the extra
    special ones as additional_special_tokens; with a vocab.txt and no tokenizer.json they are the only
    record."""
    config = {"do_lower_case": True, "tokenizer_class": "BertTokenizer",
              "additional_special_tokens": ["[E1]", "[/E1]"],
              "added_tokens_decoder": {
                  str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                           "single_word": False, "special": True} for i, t in enumerate(TINY[:5])}}
    config["added_tokens_decoder"].update({
        str(V): {"content": "covid19", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False,
                 "special": False},
        str(V + 1): {"content": "[E1]", "lstrip": False, "normalized": False, "rstrip": False,
                     "single_word": False, "special": True},
        str(V + 2): {"content": "[/E1]", "lstrip": False, "normalized": False, "rstrip": False,
                     "single_word": False, "special": True}})
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    (tmp_path / "vocab.txt").write_text("".join(t + "\n" for t in TINY), encoding="utf-8")
    tok = BertTokenizer.from_pretrained(tmp_path, engine=engine)
    assert tok("[E1]covid19").input_ids == [CLS, V + 1, V, SEP]
    assert tok.additional_special_tokens == ["[E1]", "[/E1]"]
    same_as_transformers(tok, transformers.BertTokenizer.from_pretrained(str(tmp_path)),
                         ["[E1] Paris [/E1] has COVID19.", "x[E1]y covid19covid19 [e1] [E1][/E1]"])


# ---------------------------------------------------------------------------------------------------------
# add_tokens / add_special_tokens
# ---------------------------------------------------------------------------------------------------------

def test_add_tokens_counts_ids_and_vocabulary(engine):
    tok, oracle = ours(engine), hf()
    new = ["covid19", "covid19", "", "hello", "mRNA"]
    # a repeat and "" are not counted; "hello" is in the vocabulary: counted, and keeps its id
    assert tok.add_tokens(new) == oracle.add_tokens(new) == 3
    assert tok.add_tokens("covid19") == oracle.add_tokens("covid19") == 0
    assert (len(tok), tok.vocab_size) == (len(oracle), oracle.vocab_size) == (V + 2, V)
    assert tok.get_vocab() == oracle.get_vocab()
    assert tok.get_vocab()["covid19"] == V and tok.get_vocab()["mRNA"] == V + 1
    assert tok.convert_tokens_to_ids(["covid19", "mRNA", "hello", "nope"]) == [V, V + 1, TINY.index("hello"), UNK]
    # mRNA is normalized (lowercased) to be matched, and the Rust library shows it so
    assert tok.convert_ids_to_tokens([V, V + 1]) == oracle.convert_ids_to_tokens([V, V + 1]) == ["covid19", "mrna"]
    assert tok.tokenize("MRNA vs mrna") == oracle.tokenize("MRNA vs mrna") == ["mrna", "v", "##s", "mrna"]
    assert tok.added_tokens_decoder[V] == AddedToken("covid19", normalized=True, special=False)
    # the same token with other flags: counted again, same id, new flags
    assert tok.add_tokens([AddedToken("covid19", single_word=True)]) == \
        oracle.add_tokens([RustAddedToken("covid19", single_word=True)]) == 1
    assert tok.tokenize("xcovid19 covid19") == oracle.tokenize("xcovid19 covid19")
    assert tok.tokenize("xcovid19 covid19")[-1] == "covid19" and len(tok) == V + 2


def test_normalized_tokens_match_inside_words_next_to_punctuation_and_in_any_case(engine):
    tok, oracle = ours(engine), hf()
    tok.add_tokens(["covid19", "Deep Learning"])
    oracle.add_tokens(["covid19", "Deep Learning"])
    texts = ["COVID19", "xcovid19y", "(covid19),", "covid19covid19Covid19", "deep learning, DEEP LEARNING!",
             "deep  learning", "cov id19"]
    assert tok.tokenize("xCovid19y.") == ["x", "covid19", "y", "."]
    assert tok.tokenize("(deep learning)") == ["(", "deep learning", ")"]
    assert tok("covid19covid19").word_ids() == [None, 0, 1, None]
    same_as_transformers(tok, oracle, texts)
    # a cased tokenizer matches the text as written
    cased, cased_oracle = ours(engine, do_lower_case=False), hf(do_lower_case=False)
    cased.add_tokens(["covid19"])
    cased_oracle.add_tokens(["covid19"])
    assert cased.tokenize("COVID19 covid19")[-1] == "covid19" and "covid19" not in cased.tokenize("COVID19")
    same_as_transformers(cased, cased_oracle, texts)


def test_special_tokens_are_matched_raw_and_skipped_when_decoding(engine):
    tok, oracle = ours(engine), hf()
    for t in (tok, oracle):
        assert t.add_special_tokens({"additional_special_tokens": ["[E1]", "[/E1]"]}) == 2
        assert t.add_special_tokens({"additional_special_tokens": ["[E2]"]}) == 1  # replaces the list ...
        assert t.add_special_tokens({"additional_special_tokens": ["[E3]", "[E2]"]},
                                    replace_extra_special_tokens=False) == 1  # ... or extends it
    assert tok.additional_special_tokens == oracle.extra_special_tokens == ["[E2]", "[E3]"]
    assert tok.all_special_tokens == oracle.all_special_tokens
    assert tok.all_special_ids == oracle.all_special_ids == [UNK, SEP, PAD, CLS, MASK, V + 2, V + 3]
    texts = ["[E1]x[E2] [e2] [E3][E3]", "a[/E1].", "[E1 ]"]
    assert tok.tokenize("[E1]x[e1]") == ["[E1]", "x", "[", "e", "##1", "]"]
    same_as_transformers(tok, oracle, texts)
    # replaced [E1] is no longer listed, but still kept whole and still skipped by decode (as the Rust decoder)
    ids = tok("[E1] x").input_ids
    assert tok.decode(ids, skip_special_tokens=True) == "x"
    assert tok.convert_ids_to_tokens(ids, skip_special_tokens=True) == \
        oracle.convert_ids_to_tokens(ids, skip_special_tokens=True) == ["[E1]", "x"]


def test_token_flags_single_word_lstrip_rstrip(engine):
    tok, oracle = ours(engine), hf()
    flagged = [dict(content="<ent>", single_word=True, normalized=False),
               dict(content="@@", lstrip=True, rstrip=True),
               dict(content="##x", single_word=True, lstrip=True)]
    tok.add_tokens([AddedToken(**f) for f in flagged])
    oracle.add_tokens([RustAddedToken(**f) for f in flagged])
    tok.add_special_tokens({"additional_special_tokens": [AddedToken("[T]", rstrip=True)]})
    oracle.add_special_tokens({"additional_special_tokens": [RustAddedToken("[T]", rstrip=True)]})
    texts = ["<ent> a<ent> <ent>b <ent>, _<ent> é<ent> <ent>\u0301", "a  @@  b@@c\t@@\u2000", "x ##x y##x",
             "[T]   a [T]\u3000b", "<ENT> <ent>"]
    enc = tok(texts[1], return_offsets_mapping=True, add_special_tokens=False)
    # the spaces belong to the token (normalised: any whitespace reads " ")
    assert enc.tokens() == ["a", "  @@  ", "b", "@@", "c", " @@ "]
    assert enc["offset_mapping"][1] == (1, 7)
    # single_word: not inside a word
    assert tok.tokenize("<ent> a<ent>") == ["<ent>", "a", "[UNK]", "en", "##t", "[UNK]"]
    same_as_transformers(tok, oracle, texts)


def test_named_roles(engine, tmp_path):
    tok, oracle = ours(engine), hf()
    roles = {"cls_token": "<cls>", "bos_token": "<s>", "mask_token": "hello"}
    assert tok.add_special_tokens(roles) == oracle.add_special_tokens(roles) == 3
    assert (tok.cls_token, tok.cls_token_id, tok.bos_token, tok.bos_token_id, tok.mask_token_id) == \
        (oracle.cls_token, oracle.cls_token_id, oracle.bos_token, oracle.bos_token_id, oracle.mask_token_id) == \
        ("<cls>", V, "<s>", V + 1, TINY.index("hello"))
    assert tok.all_special_tokens == oracle.all_special_tokens
    # bertkit uses the new [CLS] at once; transformers 5 only after saving and loading again
    assert tok("a").input_ids == [V, TINY.index("a"), SEP]
    oracle.save_pretrained(str(tmp_path))
    reloaded = transformers.BertTokenizer.from_pretrained(str(tmp_path))
    same_as_transformers(tok, reloaded, ["<cls> hello <s>", "a b"], padding=True)
    same_as_transformers(BertTokenizer.from_pretrained(tmp_path, engine=engine), reloaded, ["<cls> hello <s>"])


def test_errors(engine):
    tok = ours(engine)
    assert issubclass(TokenizerError, ValueError)
    with pytest.raises(TokenizerError, match=r"add_tokens: new_tokens\[1\]: a int \(3\) is not a token; pass a str"):
        tok.add_tokens(["ok", 3])
    with pytest.raises(TokenizerError, match="normalises to nothing"):
        tok.add_tokens(["\u200b"])
    assert tok.add_tokens([AddedToken("\u200b", normalized=False)]) == 1  # raw: found as written
    with pytest.raises(TokenizerError, match="'Covid19' and the added token 'covid19' both normalise to 'covid19'"):
        tok.add_tokens(["covid19", "Covid19"])
    assert "covid19" not in tok.get_vocab()  # a failed call adds nothing
    with pytest.raises(TokenizerError, match="'sentinel_token' is not a special-token role"):
        tok.add_special_tokens({"sentinel_token": "<x>"})
    with pytest.raises(TokenizerError, match="unk_token: '<unk>' is not in the WordPiece vocabulary"):
        tok.add_special_tokens({"unk_token": "<unk>"})
    with pytest.raises(TokenizerError, match="pass a list of tokens"):
        tok.add_special_tokens({"additional_special_tokens": "[E1]"})
    assert len(tok) == V + 1 and tok.tokenize("a\u200bb") == ["a", "\u200b", "b"]


def test_bad_added_tokens_in_a_folder(hf_folder, tmp_path):
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_text((hf_folder / name).read_text(encoding="utf-8"), encoding="utf-8")
    data = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    data["added_tokens"][-1]["lstrip"] = "yes"
    (tmp_path / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"tokenizer.json: added_tokens\[7\]: lstrip of token '\[/E1\]' is 'yes'"
                       ):
        BertTokenizer.from_pretrained(tmp_path)


# ---------------------------------------------------------------------------------------------------------
# do_basic_tokenize and never_split: transformers 5 ignores both, and so does bertkit
# ---------------------------------------------------------------------------------------------------------

def test_do_basic_tokenize_and_never_split_have_no_effect_as_in_transformers(engine, tmp_path):
    text = "Hello, [E1] unaffable Paris!"
    plain, oracle_plain = ours(engine), hf()
    with pytest.warns(UserWarning, match="never_split=.* has no effect"):
        tok = ours(engine, never_split=["Hello,", "[E1]"])
    with pytest.warns(UserWarning, match="do_basic_tokenize=False has no effect"):
        no_basic = ours(engine, do_basic_tokenize=False)
    oracle = hf(do_basic_tokenize=False, never_split=["Hello,", "[E1]"])
    assert oracle.tokenize(text) == oracle_plain.tokenize(text)  # the oracle really ignores them
    for t in (tok, no_basic):
        assert t.tokenize(text) == plain.tokenize(text) == oracle.tokenize(text)
    # read from and written back to tokenizer_config.json
    tok.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert (config["do_basic_tokenize"], config["never_split"]) == (True, ["Hello,", "[E1]"])
    config["do_basic_tokenize"] = False
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.warns(UserWarning, match="has no effect"):
        loaded = BertTokenizer.from_pretrained(tmp_path, engine=engine)
    assert (loaded.do_basic_tokenize, loaded.never_split) == (False, ["Hello,", "[E1]"])
    assert loaded.tokenize(text) == oracle.tokenize(text)
    config["never_split"] = "Hello"
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(TokenizerError, match="never_split is a str .*use a list of strings or null"):
        BertTokenizer.from_pretrained(tmp_path, engine=engine)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours(engine, do_basic_tokenize=True, never_split=None)  # the defaults say nothing


# ---------------------------------------------------------------------------------------------------------
# single_word needs the Rust regex's idea of a word character
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_word_characters_match_rust_on_every_code_point():
    tok = ours("fast")
    tok.add_tokens([AddedToken("\u2603", single_word=True, normalized=False)])
    rust, snowman = tok._engine.rust, tok.convert_tokens_to_ids("\u2603")
    # planes 0-3 and 14: the others hold no assigned characters (4-13) or only private use (15-16)
    code_points = [cp for cp in [*range(0x40000), *range(0xE0000, 0xF0000)] if not 0xD800 <= cp <= 0xDFFF]
    wrong = []
    for i in range(0, len(code_points), 50_000):
        chunk = code_points[i:i + 50_000]
        for cp, enc in zip(chunk, rust.encode_batch([chr(cp) + "\u2603" for cp in chunk], add_special_tokens=False)):
            if (snowman not in enc.ids) != _is_word_char(chr(cp)):
                wrong.append(hex(cp))
    assert wrong == []


def test_word_characters_sample():
    assert all(map(_is_word_char, "aZé_5\u0301\u200dⒶ中"))
    assert not any(map(_is_word_char, " ,-²\u2603!"))
