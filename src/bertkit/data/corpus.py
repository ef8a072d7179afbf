"""Corpus preparation: text files → documents → sentences → token shards on disk.

Inputs are plain text (documents separated by blank lines; a file without blank lines is one document;
each line is a paragraph) or JSONL with a "text" field (one document per line; blank lines inside the
text separate paragraphs). Documents are split into sentences, tokenized in parallel, and written as
memory-mapped numpy arrays that keep the document and sentence boundaries:

    <dir>/meta.json                       fingerprint of the inputs, vocab size, dtype, counts
    <dir>/{train,eval}-NNNNN.tokens.npy   (n_tokens,)      uint16 (vocab ≤ 65,536) or uint32 token ids
    <dir>/{train,eval}-NNNNN.sents.npy    (n_sents + 1,)   int64: sentence i is tokens[sents[i]:sents[i+1]]
    <dir>/{train,eval}-NNNNN.docs.npy     (n_docs + 1,)    int64: document j is sentences docs[j]:docs[j+1]
    <dir>/{train,eval}-NNNNN.words.npy    (n_tokens,)      bool: the token starts a word (only with a
                                          segmenter, `segment` jieba or spaces; meta.json says "word_starts")

Word boundaries (for whole-word masking, as Chinese-BERT-wwm): with `segment` "jieba" the text is cut into
words by the jieba segmenter, with "spaces" the corpus's own segmentation is read (words separated by
whitespace). A token continues the word before it when it is a "##" piece (the tokenizer's continuation
mask), or when it and the token before it lie in the same segmenter word and that word holds a CJK
character (found through the tokens' character offsets): a Chinese word is one word with all of its
tokens, `１９９８年` included, while English words, numbers and punctuation keep WordPiece's "##" rule.
Whitespace never becomes a token. With "none" (the default) no .words.npy is written and the shards and
fingerprint are those of a corpus prepared before word boundaries existed.

A small set of whole documents is held out as the evaluation split. The folder is written under a
temporary name and renamed when complete; preparing again with the same inputs (paths, sizes, mtimes),
tokenizer and settings finds the fingerprint in meta.json and reuses the shards.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import DataError
from .readers import decode_utf8
from ..io import make_temp_dir, replace_dir, writing

FORMAT_VERSION = 1


class CorpusError(DataError):
    """An input file cannot be read as a corpus; the message names the file and line."""


# -- reading --------------------------------------------------------------------------------------------

def read_documents(path: str | os.PathLike, skip_bad: bool = False) -> Iterator[list[str]]:
    """Yield the documents of one file, each as a list of paragraphs (non-empty, stripped).

    The file must be UTF-8: otherwise a CorpusError names the byte offset and line, or, with
    `skip_bad`, a warning does and the file contributes nothing."""
    path = Path(path)
    if path.is_dir():
        raise CorpusError(f"{path}: a folder, not a file; give the text or JSONL files in it")
    if not path.is_file():
        raise CorpusError(f"{path}: no such file; check the path")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CorpusError(f"{path}: cannot be read ({e.strerror or e}); check its permissions") from None
    try:
        text = decode_utf8(raw, path)
    except DataError as e:  # "<path>:<line>: not UTF-8 (byte 0x.. at byte N of the line); save ..."
        if skip_bad:
            print(f"warning: {e}; skipping the file", file=sys.stderr)
            return
        raise CorpusError(f"{e}, or pass --skip-bad-files") from None
    if path.suffix in (".jsonl", ".json"):
        # JSON lines end at "\n" only (a "\r" before it is the CRLF convention); U+2028 and the like are text
        for lineno, line in enumerate(text.split("\n"), 1):
            line = line.removesuffix("\r")
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise CorpusError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise CorpusError(f"{path}:{lineno}: expected an object with a string field 'text'")
            paras = [p.strip() for p in obj["text"].split("\n") if p.strip()]
            if paras:
                yield paras
        return
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    doc: list[str] = []
    for line in lines:
        line = line.strip()
        if line:
            doc.append(line)
        elif doc:
            yield doc
            doc = []
    if doc:
        yield doc


_ABBREV = {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "cf", "al", "fig",
           "no", "vol", "approx", "inc", "ltd", "co", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
           "sept", "oct", "nov", "dec", "u.s", "u.k", "ca", "c"}
_END = re.compile(r"[.!?]+[\"')\]]*\s+")


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences: at . ! ? followed by space and an upper-case letter, digit or
    opening quote, except after common abbreviations and single initials ("J. S. Bach"). Crude but
    language-agnostic enough for English prose and documentation."""
    out, start = [], 0
    for m in _END.finditer(paragraph):
        nxt = paragraph[m.end():m.end() + 1]
        if not nxt or not (nxt.isupper() or nxt.isdigit() or nxt in "\"'(["):
            continue
        word = paragraph[start:m.start()].rsplit(None, 1)[-1] if paragraph[start:m.start()].strip() else ""
        w = word.lower().lstrip("(\"'")
        if m.group().startswith(".") and (w in _ABBREV or (len(w) == 1 and w.isalpha())):
            continue
        out.append(paragraph[start:m.end()].strip())
        start = m.end()
    tail = paragraph[start:].strip()
    if tail:
        out.append(tail)
    return out


# -- preparing ------------------------------------------------------------------------------------------

@dataclass
class PrepareConfig:
    eval_fraction: float = 0.01  # of the documents, at least two
    seed: int = 0
    shard_tokens: int = 50_000_000  # start a new shard after this many tokens
    workers: int = 0  # tokenizer processes; 0 = all cores
    chunk_docs: int = 64  # documents per task sent to a worker
    skip_bad_files: bool = False  # skip a file that is not UTF-8 (with a warning) instead of stopping
    segment: str = "none"  # word boundaries for whole-word masking: none, jieba or spaces (module docstring)

    def __post_init__(self):
        if self.segment not in SEGMENTERS:
            raise CorpusError(f"--segment {self.segment!r}: unknown; choose one of {', '.join(SEGMENTERS)}")


SEGMENTERS = ("none", "jieba", "spaces")
CONTINUES_WORD = 1 << 40  # TokenCorpus.doc(j, words=True) adds this to the id of a token that continues a word


def _config_dict(cfg: PrepareConfig) -> dict:
    """The settings that decide the shards; `segment` only when set, so older corpora keep their fingerprint."""
    s = asdict(cfg)
    if s["segment"] == "none":
        s.pop("segment")
    return s


def _fingerprint(files: list[Path], tokenizer_dir: Path, cfg: PrepareConfig) -> str:
    h = hashlib.sha256(f"v{FORMAT_VERSION}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    for name in ("vocab.txt", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json"):
        p = tokenizer_dir / name
        if p.exists():
            h.update(name.encode() + hashlib.sha256(p.read_bytes()).digest())
    s = _config_dict(cfg)
    s.pop("workers")
    if cfg.segment == "jieba":
        s["jieba"] = _jieba().__version__  # another version may cut words differently
    h.update(json.dumps(s, sort_keys=True).encode())
    return h.hexdigest()


_TOK = None
_SEG = "none"
_CONT = None  # (V,) bool: the tokenizer's continuation pieces ("##")


def _jieba():
    try:
        import jieba
    except ImportError:
        raise CorpusError("--segment jieba: the jieba segmenter is not installed; pip install jieba, or pass "
                          "--segment spaces for text whose words are separated by spaces") from None
    import logging
    jieba.setLogLevel(logging.WARNING)
    return jieba


def _init_worker(tokenizer_dir: str, segment: str = "none") -> None:
    global _TOK, _SEG, _CONT
    from ..tokenization import AutoTokenizer  # WordPiece or byte-level BPE, as the folder says
    _TOK = AutoTokenizer.from_pretrained(tokenizer_dir)
    _SEG = segment
    if segment != "none":
        _CONT = np.array(_TOK.continuation_mask(), dtype=bool)
        if segment == "jieba":
            _jieba().initialize()


def _tokenize_docs(docs: list[list[str]]) -> list:
    """docs of paragraphs → docs of sentences as token-id arrays (empty sentences dropped); with a
    segmenter (the worker's `segment` is not "none"), each doc is a pair (sentence id arrays, their
    "starts a word" bool arrays of the same lengths).

    A sentence after the first of its paragraph is tokenized with the space that precedes it in the
    paragraph: a byte-level BPE marks a word that follows a space ("ĠThe", not "The"), so the sentences
    then hold the ids that tokenizing the whole paragraph gives (WordPiece ignores the space)."""
    words = _SEG != "none"
    sents = [[s if j == 0 else " " + s for p in doc for j, s in enumerate(split_sentences(p))] for doc in docs]
    flat = [s for doc in sents for s in doc]
    # verbose=False: a sentence longer than the model's 512 positions is no fault here (pretraining cuts
    # the stream of sentences into examples of --max-seq-length)
    enc = (_TOK(flat, add_special_tokens=False, return_offsets_mapping=words, verbose=False) if flat
           else {"input_ids": []})
    ids = enc["input_ids"]
    starts = [word_starts(t, x, o, _SEG, _CONT) for t, x, o in zip(flat, ids, enc["offset_mapping"])] if words else []
    out, i = [], 0
    for doc in sents:
        keep = [k for k in range(i, i + len(doc)) if len(ids[k])]
        arrays = [np.asarray(ids[k], dtype=np.int64) for k in keep]
        out.append((arrays, [starts[k] for k in keep]) if words else arrays)
        i += len(doc)
    return out


def segment_words(text: str, segment: str) -> np.ndarray:
    """(len(text),) int64: the word number of every character of `text`, words cut by `segment` ("jieba":
    the jieba segmenter; "spaces": whitespace separates words). Raises CorpusError if jieba is missing."""
    word = np.zeros(len(text), dtype=np.int64)
    if segment == "jieba":
        for k, (_, a, b) in enumerate(_jieba().tokenize(text)):
            word[a:b] = k
    elif segment == "spaces":
        k = 0
        for a, ch in enumerate(text):
            if ch.isspace():
                k += 1
            word[a] = k
    else:
        raise CorpusError(f"--segment {segment!r}: unknown; choose one of {', '.join(SEGMENTERS[1:])}")
    return word


def word_starts(text: str, ids: list[int], offsets: list[tuple[int, int]], segment: str,
                continuation: np.ndarray) -> np.ndarray:
    """(len(ids),) bool: True where a token starts a word (module docstring). `offsets` are the tokens'
    character spans in `text`; `continuation` (V,) bool marks the tokenizer's "##" pieces."""
    from ..tokenization._unicode import _is_chinese_char
    if not len(ids):
        return np.zeros(0, dtype=bool)
    # per character, plus one past the end for a token with an empty span (it has no character)
    word = np.append(segment_words(text, segment), -1)  # (len(text) + 1,)
    cjk = np.array([_is_chinese_char(ord(ch)) for ch in text], dtype=bool)  # (len(text),)
    has_cjk = np.zeros(int(word.max()) + 1, dtype=bool)  # (n_words,): the word holds a CJK character
    has_cjk[word[:-1][cjk]] = True
    span = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)  # (n, 2)
    first = np.where(span[:, 0] < span[:, 1], span[:, 0], len(text))  # (n,) the token's first character
    w = word[first]  # (n,) the segmenter word of each token, -1 for none
    same = np.zeros(len(ids), dtype=bool)  # (n,) a token of the same Chinese word as the token before it
    same[1:] = (w[1:] == w[:-1]) & (w[1:] >= 0) & has_cjk[np.maximum(w[1:], 0)]
    return ~continuation[np.asarray(ids, dtype=np.int64)] & ~same


class _ShardWriter:
    """Accumulates documents of one split and writes them as numbered shards."""

    def __init__(self, folder: Path, split: str, dtype, shard_tokens: int):
        self.folder, self.split, self.dtype, self.shard_tokens = folder, split, dtype, shard_tokens
        self.names: list[str] = []
        self.n_docs = self.n_sents = self.n_tokens = 0
        self._reset()

    def _reset(self):
        self.pieces: list[np.ndarray] = []
        self.starts: list[np.ndarray] = []
        self.sent_lens: list[int] = []
        self.doc_lens: list[int] = []
        self.size = 0

    def add(self, doc: list[np.ndarray], starts: list[np.ndarray] | None = None) -> None:
        """doc: sentence id arrays; starts: their "starts a word" bool arrays (with a segmenter), or None."""
        if not doc:
            return
        self.pieces.extend(doc)
        if starts is not None:
            self.starts.extend(np.asarray(w, dtype=bool) for w in starts)
        self.sent_lens.extend(len(s) for s in doc)
        self.doc_lens.append(len(doc))
        self.size += sum(len(s) for s in doc)
        if self.size >= self.shard_tokens:
            self.flush()

    def flush(self) -> None:
        if not self.doc_lens:
            return
        name = f"{self.split}-{len(self.names):05d}"
        tokens = np.concatenate(self.pieces).astype(self.dtype)
        sents = np.concatenate([[0], np.cumsum(self.sent_lens)]).astype(np.int64)
        docs = np.concatenate([[0], np.cumsum(self.doc_lens)]).astype(np.int64)
        np.save(self.folder / f"{name}.tokens.npy", tokens)
        np.save(self.folder / f"{name}.sents.npy", sents)
        np.save(self.folder / f"{name}.docs.npy", docs)
        if self.starts:
            np.save(self.folder / f"{name}.words.npy", np.concatenate(self.starts))
        self.names.append(name)
        self.n_docs += len(self.doc_lens)
        self.n_sents += len(self.sent_lens)
        self.n_tokens += len(tokens)
        self._reset()


def prepare_corpus(files: list[str | os.PathLike], tokenizer_dir: str | os.PathLike, out_dir: str | os.PathLike,
                   cfg: PrepareConfig | None = None, progress: bool = True) -> Path:
    """Tokenize `files` into shards in `out_dir` (see the module docstring); reuse them if up to date."""
    cfg = cfg or PrepareConfig()
    files = [Path(f) for f in files]
    if not files:
        raise CorpusError("no input files given")
    for f in files:
        if f.is_dir():
            raise CorpusError(f"{f}: a folder, not a file; give the text or JSONL files in it")
        if not f.is_file():
            raise CorpusError(f"{f}: no such file; check the path")
    tokenizer_dir, out_dir = Path(tokenizer_dir), Path(out_dir)
    fp = _fingerprint(files, tokenizer_dir, cfg)  # a CorpusError if --segment jieba and jieba is missing
    meta_path = out_dir / "meta.json"
    if meta_path.exists():
        try:
            if json.loads(meta_path.read_text())["fingerprint"] == fp:
                return out_dir
        except (ValueError, KeyError, TypeError, OSError):
            pass  # an unreadable meta.json: prepare again

    docs = [d for f in files for d in read_documents(f, skip_bad=cfg.skip_bad_files)]
    if len(docs) < 4:
        raise CorpusError(f"{', '.join(map(str, files))}: found {len(docs)} document(s); next-sentence pairs in "
                          "both the training and the held-out split need at least 4 (separate documents with a "
                          "blank line, or give one file per document)")
    rng = np.random.default_rng(cfg.seed)
    n_eval = max(2, round(len(docs) * cfg.eval_fraction))  # two: NSP needs another document
    is_eval = np.zeros(len(docs), dtype=bool)
    is_eval[rng.choice(len(docs), size=n_eval, replace=False)] = True

    from tqdm import tqdm

    _init_worker(str(tokenizer_dir), cfg.segment)
    vocab_size = len(_TOK)
    dtype = np.uint16 if vocab_size <= 1 << 16 else np.uint32
    tmp = make_temp_dir(out_dir)  # a WriteError naming out_dir if it cannot be made
    try:
        with writing(out_dir):  # a failed write of a shard: one line naming the folder and the cause
            writers = {s: _ShardWriter(tmp, s, dtype, cfg.shard_tokens) for s in ("train", "eval")}
            chunks = [docs[i:i + cfg.chunk_docs] for i in range(0, len(docs), cfg.chunk_docs)]
            workers = cfg.workers or os.cpu_count() or 1
            bar = tqdm(total=len(docs), unit="doc", desc="tokenizing", disable=not progress)
            if workers > 1 and len(chunks) > 1:
                import multiprocessing as mp
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                with mp.get_context("spawn").Pool(workers, _init_worker, (str(tokenizer_dir), cfg.segment)) as pool:
                    results = pool.imap(_tokenize_docs, chunks)  # in order, so the split is reproducible
                    _collect(results, chunks, is_eval, writers, bar)
            else:
                _collect(map(_tokenize_docs, chunks), chunks, is_eval, writers, bar)
            bar.close()
            for w in writers.values():
                w.flush()
            if not writers["train"].names or not writers["eval"].names:
                raise CorpusError("after tokenizing, the train or eval split is empty; add more text")
            meta = {"format": FORMAT_VERSION, "fingerprint": fp, "vocab_size": vocab_size,
                    "dtype": np.dtype(dtype).name, "tokenizer": str(tokenizer_dir.resolve()),
                    "files": [str(f.resolve()) for f in files], "config": _config_dict(cfg),
                    "splits": {s: {"shards": w.names, "documents": w.n_docs, "sentences": w.n_sents,
                                   "tokens": w.n_tokens} for s, w in writers.items()}}
            if cfg.segment != "none":
                meta["word_starts"] = True
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        replace_dir(tmp, out_dir)  # the previous shards stay until the new ones are complete
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _collect(results, chunks, is_eval, writers, bar) -> None:
    i = 0
    for chunk, tokenized in zip(chunks, results):
        for doc in tokenized:
            ids, starts = doc if isinstance(doc, tuple) else (doc, None)
            writers["eval" if is_eval[i] else "train"].add(ids, starts)
            i += 1
        bar.update(len(chunk))


# -- reading shards back --------------------------------------------------------------------------------

class TokenCorpus:
    """The documents of one split, memory-mapped: `doc(j)` is a list of sentence id arrays.

    `word_starts` is, per shard, the (n_tokens,) bool "starts a word" array when the corpus was prepared
    with a segmenter, else None."""

    def __init__(self, folder: str | os.PathLike, split: str = "train"):
        folder = self.folder = Path(folder)
        meta_path = folder / "meta.json"
        if not meta_path.is_file():
            raise CorpusError(f"{folder}: no meta.json; prepare the corpus first (bertkit prepare)")
        again = "prepare the corpus again (bertkit prepare)"
        try:
            self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
            splits = self.meta["splits"]
            self.vocab_size = int(self.meta["vocab_size"])
        except (ValueError, KeyError, TypeError, OSError) as e:
            what = e.msg if isinstance(e, json.JSONDecodeError) else f"{type(e).__name__}: {e}"
            raise CorpusError(f"{meta_path}: not a shard index ({what}); {again}") from None
        if split not in splits:
            raise CorpusError(f"{folder}: no split {split!r}; it has {', '.join(splits)}")
        def load(path: Path) -> np.ndarray:
            try:
                return np.load(path, mmap_mode="r")
            except (ValueError, OSError) as e:
                raise CorpusError(f"{path}: missing or unreadable ({' '.join(str(e).split())}); {again}") from None

        self.shards, word_starts = [], []
        for name in splits[split]["shards"]:
            arrays = tuple(load(folder / f"{name}.{kind}.npy") for kind in ("tokens", "sents", "docs"))
            self.shards.append(arrays)
            if self.meta.get("word_starts"):
                path = folder / f"{name}.words.npy"
                words = load(path)
                if len(words) != len(arrays[0]):
                    raise CorpusError(f"{path}: {len(words)} word marks for {len(arrays[0])} tokens; {again}")
                word_starts.append(words)
        self.word_starts = word_starts if self.meta.get("word_starts") else None
        counts = [len(docs) - 1 for _, _, docs in self.shards]
        self.doc_starts = np.concatenate([[0], np.cumsum(counts)])  # (n_shards + 1,)
        self.n_docs = int(self.doc_starts[-1])
        self.n_tokens = sum(len(t) for t, _, _ in self.shards)

    def __len__(self) -> int:
        return self.n_docs

    def doc(self, j: int, words: bool = False) -> list[np.ndarray]:
        """Document j as sentence id arrays. With `words` (and stored boundaries), int64 arrays in which
        a token that continues a word carries CONTINUES_WORD on top of its id (pretraining.Instance takes
        it off again, into its `word_cont`)."""
        s = int(np.searchsorted(self.doc_starts, j, side="right")) - 1
        tokens, sents, docs = self.shards[s]
        local = j - self.doc_starts[s]
        a, b = int(docs[local]), int(docs[local + 1])
        bounds = sents[a:b + 1]
        if words and self.word_starts is not None:
            return [self.span(s, int(bounds[i]), int(bounds[i + 1]), words=True) for i in range(b - a)]
        return [tokens[bounds[i]:bounds[i + 1]] for i in range(b - a)]

    def span(self, s: int, a: int, b: int, words: bool = False) -> np.ndarray:
        """(b - a,) int64 tokens a:b of shard s; with `words`, continuation marked as in `doc`."""
        ids = np.asarray(self.shards[s][0][a:b], dtype=np.int64)
        if words and self.word_starts is not None:
            ids = ids + CONTINUES_WORD * ~np.asarray(self.word_starts[s][a:b], dtype=bool)
        return ids


def write_token_corpus(folder: str | os.PathLike, splits: dict[str, list[list[np.ndarray]]], vocab_size: int,
                       word_starts: dict[str, list[list[np.ndarray]]] | None = None) -> Path:
    """Write already-tokenized documents (lists of sentence id arrays) per split, e.g. {"train": [...],
    "eval": [...]}, in the shard format. For tests and for callers with their own tokenization.
    `word_starts`, if given, holds the same structure of bool arrays ("starts a word") for every split."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dtype = np.uint16 if vocab_size <= 1 << 16 else np.uint32
    info = {}
    for split, docs in splits.items():
        w = _ShardWriter(folder, split, dtype, 1 << 62)
        for k, doc in enumerate(docs):
            keep = [i for i, s in enumerate(doc) if len(s)]
            starts = [word_starts[split][k][i] for i in keep] if word_starts is not None else None
            w.add([np.asarray(doc[i], dtype=np.int64) for i in keep], starts)
        w.flush()
        info[split] = {"shards": w.names, "documents": w.n_docs, "sentences": w.n_sents, "tokens": w.n_tokens}
    meta = {"format": FORMAT_VERSION, "fingerprint": None, "vocab_size": vocab_size,
            "dtype": np.dtype(dtype).name, "splits": info}
    if word_starts is not None:
        meta["word_starts"] = True
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder
