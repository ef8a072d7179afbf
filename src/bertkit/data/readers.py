"""Readers for the files people fine-tune on. Every error names the file, the line and the field.

- classification: CSV, TSV or JSONL with `text`, optional `text_pair`, and `label`: a string (one
  class), a list of strings (multi-label) or a number (regression);
- NER: CoNLL, one `token tag` per line, a blank line between sentences, `-DOCSTART-` lines ignored;
  tags in BIO or BIOES;
- QA: SQuAD v1.1 and v2.0 JSON; each answer's `answer_start` must point at its text.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError


class ReaderError(DataError):
    """A task file cannot be read; the message says where (file:line) and which field."""


@dataclass
class ClassExample:
    text: str
    text_pair: str | None = None
    label: str | list[str] | float | None = None
    line: int = 0


@dataclass
class NerExample:
    words: list[str]
    tags: list[str] | None
    line: int = 0  # line of the first token


@dataclass
class QAExample:
    id: str
    question: str
    context: str
    answers: list[dict] = field(default_factory=list)  # {"text", "answer_start"}
    is_impossible: bool = False
    line: int = 0


def _check_file(path: Path) -> str:
    if not path.is_file():
        raise ReaderError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8-sig")
    if not text.strip():
        raise ReaderError(f"{path}: the file is empty")
    return text


# -- classification ---------------------------------------------------------------------------------

def _label(value, where: str):
    if isinstance(value, bool):
        raise ReaderError(f"{where}: field 'label': true/false is ambiguous; write a string or 0/1")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        if not value.strip():
            raise ReaderError(f"{where}: field 'label' is empty")
        return value.strip()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value]
    raise ReaderError(f"{where}: field 'label' must be a string, a list of strings or a number, "
                      f"got {value!r}")


def _text_field(row: dict, name: str, where: str, required: bool) -> str | None:
    value = row.get(name)
    if value is None or value == "":
        if required:
            raise ReaderError(f"{where}: field {name!r} is missing or empty")
        return None
    if not isinstance(value, str):
        raise ReaderError(f"{where}: field {name!r} must be a string, got {type(value).__name__}")
    return value


def read_classification(path, require_label: bool = True) -> list[ClassExample]:
    """CSV/TSV (with a header row) or JSONL, by the file extension; `.txt` is one text per line."""
    path = Path(path)
    raw = _check_file(path)
    suffix = path.suffix.lower()
    rows: list[tuple[int, dict]] = []
    if suffix in (".csv", ".tsv"):
        reader = csv.DictReader(raw.splitlines(), delimiter="\t" if suffix == ".tsv" else ",")
        columns = reader.fieldnames or []
        need = ["text"] + (["label"] if require_label else [])
        for name in need:
            if name not in columns:
                raise ReaderError(f"{path}:1: no {name!r} column in the header (columns: {', '.join(columns)})")
        for row in reader:
            line = reader.line_num
            if None in row:
                raise ReaderError(f"{path}:{line}: more fields than the {len(columns)} header columns")
            if "label" in row and row["label"] not in (None, ""):
                row["label"] = _csv_label(row["label"])
            rows.append((line, row))
    elif suffix in (".jsonl", ".json", ".ndjson"):
        for line, text in enumerate(raw.splitlines(), 1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as e:
                raise ReaderError(f"{path}:{line}: not valid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(row, dict):
                raise ReaderError(f"{path}:{line}: expected a JSON object, got {type(row).__name__}")
            rows.append((line, row))
    elif suffix == ".txt" and not require_label:
        rows = [(i, {"text": t}) for i, t in enumerate(raw.splitlines(), 1) if t.strip()]
    else:
        raise ReaderError(f"{path}: unknown format {suffix!r}; use .csv, .tsv or .jsonl")
    out = []
    for line, row in rows:
        where = f"{path}:{line}"
        text = _text_field(row, "text", where, True)
        pair = _text_field(row, "text_pair", where, False)
        label = row.get("label")
        if label is None or label == "":
            if require_label:
                raise ReaderError(f"{where}: field 'label' is missing")
            label = None
        else:
            label = _label(label, where)
        out.append(ClassExample(text, pair, label, line))
    if not out:
        raise ReaderError(f"{path}: no examples in the file")
    return out


def _csv_label(value: str):
    """In CSV/TSV a label is text; a number means regression and `[...]` (JSON) a list of labels."""
    v = value.strip()
    if v.startswith("["):
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            return v
    try:
        return float(v)
    except ValueError:
        return v


def label_kind(examples: list[ClassExample], path="train") -> str:
    """single_label_classification | multi_label_classification | regression, from the labels' types."""
    kinds = {("regression" if isinstance(e.label, float) else
              "multi_label_classification" if isinstance(e.label, list) else "single_label_classification")
             for e in examples}
    if len(kinds) > 1:
        first = {}
        for e in examples:
            k = type(e.label).__name__
            first.setdefault(k, e.line)
        raise ReaderError(f"{path}: field 'label' mixes kinds (first lines: "
                          + ", ".join(f"{k} at line {v}" for k, v in first.items())
                          + "); use strings, lists or numbers throughout")
    return kinds.pop()


def check_labels(examples, label2id: dict[str, int], path) -> None:
    """An evaluation file may only use labels seen in training."""
    for e in examples:
        labels = e.label if isinstance(e.label, list) else [e.label] if isinstance(e.label, str) else []
        for lab in labels:
            if lab not in label2id:
                raise ReaderError(f"{path}:{e.line}: field 'label': {lab!r} is not one of the training labels "
                                  f"({', '.join(sorted(label2id))})")


# -- NER (CoNLL) -------------------------------------------------------------------------------------

TAG = re.compile(r"^(O|[BIESLU]-.+)$")
_COLUMN_SEP = re.compile(r"[ \t]+")


def _conll_lines(path: Path) -> list[str]:
    """The file's physical lines: split on "\n" only (a "\r" before it is dropped), BOM removed."""
    if not path.is_file():
        raise ReaderError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ReaderError(f"{path}:{line}: not valid UTF-8 (byte 0x{data[e.start]:02x}); "
                          "save the file as UTF-8") from None
    if not text.strip():
        raise ReaderError(f"{path}: the file is empty")
    lines = text.split("\n")
    return [t[:-1] if t.endswith("\r") else t for t in lines]


def read_conll(path, require_tags: bool = True, tag_column: int | None = None) -> list[NerExample]:
    """CoNLL: one token per line with its columns, a blank line between sentences.

    The token is the first column and the tag the last (a CoNLL-2003 line `EU NNP B-NP B-ORG` gives
    `EU` and `B-ORG`); `tag_column` picks another: 1 is the first column (the token), 2 the second, ...,
    -1 the last. Columns are separated by tabs or spaces; every token line has as many columns as the
    first. Lines may end in "\n" or "\r\n"; the file is split on "\n" only, so line numbers are
    physical lines and a Unicode separator inside a token stays in it. `-DOCSTART-` lines end a
    sentence and are skipped. A tag is `O` or `<prefix>-<type>` with prefix B, I, E, S, L or U; which
    scheme (IOB1, IOB2, IOBES, BILOU) the tags follow is checked by `bertkit.tasks.ner.detect_scheme`.

    With `require_tags=False` (text to predict) a file may hold the token alone (one column); if it
    has more columns, the tags are read and checked too. Raises ReaderError naming file:line."""
    path = Path(path)
    if tag_column is not None and (isinstance(tag_column, bool) or not isinstance(tag_column, int)
                                   or tag_column in (0, 1)):
        raise ReaderError(f"--tag-column {tag_column!r}: give the column of the tags, counted from 1 "
                          "(column 1 is the token), or -1 for the last")
    out: list[NerExample] = []
    words: list[str] = []
    tags: list[str] = []
    start = 0
    ncols, first_line, tag_index = None, 0, -1

    def flush():
        if words:
            out.append(NerExample(list(words), list(tags) if tags else None, start))
        words.clear()
        tags.clear()

    for line, text in enumerate(_conll_lines(path), 1):
        if "\r" in text:
            raise ReaderError(f"{path}:{line}: a carriage return (\\r) inside the line; CoNLL lines end "
                              "with \\n or \\r\\n: convert the line ends")
        stripped = text.strip(" \t")
        if not stripped:
            flush()
            continue
        parts = _COLUMN_SEP.split(stripped)
        if parts[0] == "-DOCSTART-":
            flush()
            continue
        if ncols is None:
            ncols, first_line = len(parts), line
            if ncols == 1 and require_tags:
                raise ReaderError(f"{path}:{line}: expected 2 columns (token tag), got 1: {text!r}; "
                                  "write the tag after the token, separated by a tab or spaces")
            if ncols > 1:
                tag_index = ncols - 1 if tag_column is None else \
                    tag_column - 1 if tag_column > 0 else ncols + tag_column
                if not 0 < tag_index < ncols:
                    raise ReaderError(f"{path}:{line}: --tag-column {tag_column}: the line has {ncols} "
                                      f"columns; the tag column is 2..{ncols} or -1..-{ncols - 1}")
        if len(parts) != ncols:
            what = "token" if ncols == 1 else "token tag" if ncols == 2 else "token ... tag"
            raise ReaderError(f"{path}:{line}: expected {ncols} columns ({what}), got {len(parts)}: {text!r}; "
                              f"every token line has as many columns as line {first_line}")
        if not words:
            start = line
        words.append(parts[0])
        if ncols > 1:
            tag = parts[tag_index]
            if not TAG.match(tag):
                raise ReaderError(f"{path}:{line}: field 'tag': {tag!r} (column {tag_index + 1}) is not O or "
                                  "B-/I-/E-/S-/L-/U-<type> (IOB1, IOB2, IOBES or BILOU); "
                                  "use --tag-column to read the tags from another column")
            tags.append(tag)
    flush()
    if not out:
        raise ReaderError(f"{path}: no sentences in the file")
    return out


# -- QA (SQuAD) ---------------------------------------------------------------------------------------

def _line_of(raw: str, needle: str, default: int = 1) -> int:
    i = raw.find(needle)
    return raw.count("\n", 0, i) + 1 if i >= 0 else default


def read_squad(path, require_answers: bool = True) -> list[QAExample]:
    """SQuAD v1.1 / v2.0: data[].paragraphs[].{context, qas[].{id, question, answers, is_impossible}}."""
    path = Path(path)
    raw = _check_file(path)
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ReaderError(f"{path}:{e.lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise ReaderError(f"{path}:1: field 'data': expected a SQuAD file with a 'data' list of articles")
    out: list[QAExample] = []
    for a, article in enumerate(doc["data"]):
        for p, para in enumerate(article.get("paragraphs", [])):
            where_p = f"data[{a}].paragraphs[{p}]"
            context = para.get("context")
            if not isinstance(context, str) or not context:
                raise ReaderError(f"{path}:{_line_of(raw, chr(34) + 'context')}: {where_p}.context is missing or empty")
            for q, qa in enumerate(para.get("qas", [])):
                qid = str(qa.get("id", f"{a}-{p}-{q}"))
                line = _line_of(raw, json.dumps(qid))
                where = f"{path}:{line}: {where_p}.qas[{q}] (id {qid})"
                question = qa.get("question")
                if not isinstance(question, str) or not question.strip():
                    raise ReaderError(f"{where}: field 'question' is missing or empty")
                impossible = bool(qa.get("is_impossible", False))
                answers = qa.get("answers", [])
                if not isinstance(answers, list):
                    raise ReaderError(f"{where}: field 'answers' must be a list")
                if require_answers and not answers and not impossible:
                    raise ReaderError(f"{where}: field 'answers' is empty and is_impossible is not true")
                for k, ans in enumerate(answers):
                    text, start = ans.get("text") if isinstance(ans, dict) else None, \
                        ans.get("answer_start") if isinstance(ans, dict) else None
                    if not isinstance(text, str) or not isinstance(start, int):
                        raise ReaderError(f"{where}: answers[{k}] needs 'text' (string) and 'answer_start' (int)")
                    if context[start:start + len(text)] != text:
                        raise ReaderError(
                            f"{where}: answers[{k}].answer_start {start} points at "
                            f"{context[start:start + len(text)]!r}, not the answer text {text!r}")
                out.append(QAExample(qid, question, context, answers, impossible or not answers, line))
    if not out:
        raise ReaderError(f"{path}: no questions in the file")
    return out
