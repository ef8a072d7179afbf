"""Readers for the files people fine-tune on. Every error names the file, the line and the field.

- classification: CSV, TSV or JSONL with `text`, optional `text_pair`, and `label`: a string or a whole
  number (one class), a list of strings (multi-label) or a number with a decimal point (regression);
- NER: CoNLL, one token per line with its tag in the last column (or `tag_column`), a blank line between
  sentences, `-DOCSTART-` lines ignored; tags in IOB1, IOB2 (BIO), IOBES or BILOU (tasks/ner.py tells which);
- QA: SQuAD v1.1 and v2.0 JSON; each answer's `answer_start` must point at its text.
"""
from __future__ import annotations

import csv
import io
import json
import re
import sys
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


STDIN = "<stdin>"  # the name of standard input in messages


def decode_utf8(data: bytes, name) -> str:
    """UTF-8 bytes → text, without a leading byte order mark. Bytes that are not UTF-8 are an error
    naming the line (counted in "\\n") and the byte."""
    skip = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        at = skip + e.start
        line = data.count(b"\n", 0, at) + 1
        column = at - data.rfind(b"\n", 0, at)
        raise ReaderError(f"{name}:{line}: not UTF-8 (byte 0x{data[at]:02x} at byte {column} of the line); "
                          f"save the file as UTF-8 (e.g. iconv -f {_likely_encoding(data)} -t utf-8)") from None


def _likely_encoding(data: bytes) -> str:
    """The legacy encoding to suggest for bytes that are not UTF-8: gb18030 (GBK's superset, the usual
    encoding of Chinese files) when the non-ASCII bytes come in pairs of high bytes, as GBK writes its
    common Chinese characters, punctuation and full-width forms, and the bytes decode as GB18030 to text
    with Chinese characters; else latin1 (an accented letter is one byte, usually followed by an ASCII
    one)."""
    from ..tokenization._unicode import _is_chinese_char
    w = data[:65536]
    i = paired = single = 0
    while i < len(w):
        if w[i] < 0x80:
            i += 1
        elif i + 1 < len(w) and w[i + 1] >= 0x80:
            paired, i = paired + 1, i + 2
        else:
            single, i = single + 1, i + 1
    if not paired or single > 0.05 * (paired + single):
        return "latin1"
    try:
        text = w.decode("gb18030")
    except UnicodeDecodeError as e:
        if e.start < len(w) - 4:  # more than a character cut at the window's end
            return "latin1"
        text = w[:e.start].decode("gb18030")
    return "gb18030" if any(_is_chinese_char(ord(c)) for c in text) else "latin1"


def _check_file(path: Path) -> str:
    """The text of a file: UTF-8 (an error naming the line otherwise), a BOM removed, not blank."""
    if not path.is_file():
        raise ReaderError(f"{path}: no such file; check the path")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ReaderError(f"{path}: cannot read the file ({e.strerror}); check its permissions") from None
    text = decode_utf8(data, path)
    if not text.strip():
        raise ReaderError(f"{path}: the file is empty")
    return text


def _read_stdin() -> str:
    """Standard input as UTF-8 text, read as bytes so that no line ending is translated."""
    stream = sys.stdin
    data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
    text = decode_utf8(data, STDIN) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    if not text.strip():
        raise ReaderError(f"{STDIN}: no input; give one text per line, or JSON lines with a 'text' field")
    return text


def physical_lines(text: str):
    """(line number, line) of every "\\n"-terminated physical line, one trailing "\\r" removed.

    Only "\\n" ends a line: U+2028, U+2029, U+0085, U+000B, U+000C, U+001C–U+001E and a lone "\\r"
    inside a line stay in it (str.splitlines() would split on all of them)."""
    parts = text.split("\n")
    if parts[-1] == "":
        parts.pop()
    for n, line in enumerate(parts, 1):
        yield n, line[:-1] if line.endswith("\r") else line


# -- records: CSV, TSV, JSON lines, text lines, stdin ----------------------------------------------------

def _json_row(text: str, where: str, first: bool = False) -> dict:
    try:
        row = json.loads(text)
    except json.JSONDecodeError as e:
        what = e.msg.removesuffix(" at")  # "Invalid control character at" ends in a dangling "at"
        hint = "write one JSON object per line"
        if (first and text.strip() in ("[", "{")) or text.lstrip().startswith("["):
            hint = "the file looks like one JSON document; write one JSON object per line (JSON lines)"
        raise ReaderError(f"{where}: not valid JSON ({what} at column {e.colno}); {hint}") from None
    except RecursionError:
        raise ReaderError(f"{where}: not valid JSON (nested too deeply); write one JSON object per line") from None
    if not isinstance(row, dict):
        raise ReaderError(f"{where}: expected a JSON object, got {type(row).__name__}; "
                          "write one JSON object per line")
    return row


def _is_blank(text: str) -> bool:
    return not text.strip(" \t\r\n")  # JSON's whitespace; a line holding only U+2028 is not blank


def _csv_records(text: str, name) -> list[tuple[int, list[str]]]:
    """(first line, fields) of every CSV record: the csv module on the raw text (newline=""), so a
    quoted field keeps its line breaks; a record's line is the physical line where it starts."""
    if csv.field_size_limit() < 2**31 - 1:
        csv.field_size_limit(2**31 - 1)  # the default (131,072 characters) refuses long documents
    source = _CountedLines(text)
    reader = csv.reader(source, strict=True)
    out = []
    while True:
        start = source.newlines + 1  # csv's own line_num also counts a lone "\r" inside a quoted field
        try:
            fields = next(reader)
        except StopIteration:
            return out
        except csv.Error as e:
            if str(e) == "unexpected end of data":
                raise ReaderError(f"{name}:{start}: a quoted field that opens in this record is never closed; "
                                  'close it with ", and write a " inside a quoted field as ""') from None
            raise ReaderError(f"{name}:{start}: not valid CSV ({e}); quote a field that holds a comma, a quote "
                              'or a line break, and write a " inside it as ""') from None
        out.append((start, fields))


class _CountedLines:
    """The lines csv reads (split as open(..., newline="") splits them: at \\n, \\r\\n or a lone \\r), counting
    the "\\n" handed out so far, so that a record's physical line is known."""

    def __init__(self, text: str):
        self._lines = iter(io.StringIO(text, newline=""))
        self.newlines = 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.newlines += line.count("\n")
        return line


def _table(text: str, name, suffix: str, required) -> list[tuple[int, dict]]:
    """Rows of a CSV or TSV file with a header row, as {column: value}."""
    if suffix == ".csv":
        records = _csv_records(text, name)
        hint = "quote a field that holds a comma"
    else:  # TSV as GLUE reads it: one line per row, fields split on tabs, a quote is text
        records = [(n, line.split("\t")) for n, line in physical_lines(text)]
        hint = "a TSV row is one line with a tab between fields"
    records = [(n, r) for n, r in records if any(not _is_blank(f) for f in r)]
    if not records:
        raise ReaderError(f"{name}: the file is empty")
    head, header = records[0]
    columns = [c.strip(" \t") for c in header]
    for i, c in enumerate(columns):
        if c in columns[:i]:
            raise ReaderError(f"{name}:{head}: the header names the column {c!r} twice; give each column its own name")
    for c in required:
        if c not in columns:
            raise ReaderError(f"{name}:{head}: no {c!r} column in the header (columns: {', '.join(columns)}); "
                              f"name the column {c!r}")
    rows = []
    for n, r in records[1:]:
        if len(r) != len(columns):
            raise ReaderError(f"{name}:{n}: {len(r)} field{'s' * (len(r) != 1)}, but the header (line {head}) has "
                              f"{len(columns)} columns ({', '.join(columns)}); {hint}")
        rows.append((n, dict(zip(columns, r))))
    return rows


def _require(row: dict, names, where: str) -> None:
    for name in names:
        value = row.get(name)
        if name not in row:
            have = ", ".join(map(repr, row)) or "none"
            raise ReaderError(f"{where}: field {name!r} is missing (the row has: {have}); give every row a {name!r}")
        if value is None or value == "":
            raise ReaderError(f"{where}: field {name!r} is missing or empty; give every row a {name!r}")


def read_records(source, required=("text",)) -> list[tuple[int, dict]]:
    """(line, row) for every record of a file, or of standard input when `source` is "-".

    The format is the file's extension, and every format is read on the raw text (UTF-8, a BOM removed):
    - .csv: a header row, then records read by the csv module (RFC 4180: a quoted field may hold commas,
      doubled quotes and line breaks, CRLF or LF);
    - .tsv: a header row, then one row per "\\n"-terminated line split on tabs, as GLUE reads TSV: no
      quoting, a `"` is text;
    - .jsonl, .json, .ndjson: one JSON object per "\\n"-terminated line (blank lines skipped);
    - .txt: every non-blank "\\n"-terminated line is one row {"text": line}, whole, even if it looks like JSON;
    - "-" (stdin): a line starting with "{" is a JSON object, any other non-blank line is {"text": line}.
    `line` is the physical line where the record starts. Every row has the `required` fields, non-empty.

    Raises ReaderError (file:line and field) for: a missing or empty file, bytes that are not UTF-8,
    invalid JSON or CSV, a row with another number of fields than the header, a missing required field
    or column, an unknown extension."""
    name = STDIN if str(source) == "-" else Path(source)
    text = _read_stdin() if name == STDIN else _check_file(name)
    suffix = "-" if name == STDIN else name.suffix.lower()
    rows: list[tuple[int, dict]] = []
    if suffix in (".csv", ".tsv"):
        rows = _table(text, name, suffix, required)
    elif suffix in (".jsonl", ".json", ".ndjson", "-"):
        first = True
        for n, line in physical_lines(text):
            if _is_blank(line):
                continue
            if suffix == "-" and not line.lstrip(" \t").startswith("{"):
                if set(required) - {"text"}:
                    raise ReaderError(f"{name}:{n}: expected a JSON object with the fields "
                                      f"{', '.join(map(repr, required))}; got a line of plain text")
                rows.append((n, {"text": line}))
            else:
                rows.append((n, _json_row(line, f"{name}:{n}", first)))
            first = False
    elif suffix == ".txt":
        missing = [f for f in required if f != "text"]
        if missing:
            raise ReaderError(f"{name}: a .txt file holds one text per line, without the field {missing[0]!r}; "
                              "use .csv, .tsv or .jsonl")
        rows = [(n, {"text": line}) for n, line in physical_lines(text) if not _is_blank(line)]
    else:
        raise ReaderError(f"{name}: unknown format {suffix or '(no extension)'!r}; use .csv, .tsv, .jsonl or .txt")
    for n, row in rows:
        _require(row, required, f"{name}:{n}")
    if not rows:
        raise ReaderError(f"{name}: no examples in the file")
    return rows


# -- classification ---------------------------------------------------------------------------------

PROBLEM_TYPES = ("single_label_classification", "multi_label_classification", "regression")

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+(?=[eE]))([eE][+-]?\d+)?")
_SORTS = {"int": "a whole number", "float": "a number with a decimal point or exponent", "str": "a name",
          "list": "a list of names"}


def _label_sort(value, where: str, textual: bool) -> tuple[str, object]:
    """What a label is ("int", "float", "str" or "list") and its value: a name (the text), a float or a
    list of names. In CSV/TSV a label is text: `0` is a whole number, `0.5` or `1e-3` a float, `[...]`
    (JSON) a list; in JSON the value's type decides (`"0"` is a name, `0` a whole number)."""
    if textual and isinstance(value, str):
        v = value.strip()
        if v.startswith("["):
            try:
                value = json.loads(v)
            except json.JSONDecodeError:
                return "str", v
        elif _INT.fullmatch(v):
            return "int", v
        elif _FLOAT.fullmatch(v):
            return "float", float(v)
        else:
            value = v
    if isinstance(value, bool):
        raise ReaderError(f"{where}: field 'label': true/false is ambiguous; write a string or 0/1")
    if isinstance(value, int):
        return "int", str(value)
    if isinstance(value, float):
        return "float", value
    if isinstance(value, str):
        if not value.strip():
            raise ReaderError(f"{where}: field 'label' is empty; give every row a label")
        return "str", value.strip()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "list", [v.strip() for v in value]
    raise ReaderError(f"{where}: field 'label' must be a string, a list of strings or a number, got {value!r}")


def resolve_labels(examples: list[ClassExample], name, problem_type: str | None = None,
                   textual: bool = False) -> str:
    """Turn the raw labels of one file into one kind, in place, and return the kind.

    With `problem_type` None the labels decide, as `transformers`' run_glue does: lists →
    multi_label_classification; whole numbers (`0`/`1`) and names → single_label_classification (the
    class names are the texts, "0" and "1"); numbers with a decimal point or exponent →
    regression. A given `problem_type` converts: regression needs numbers, single-label takes any
    scalar as a name, multi-label takes a scalar as a one-label list. After this a label is a str,
    a list of str or a float. Raises ReaderError naming file:line for a label that does not fit."""
    if problem_type is not None and problem_type not in PROBLEM_TYPES:
        raise ReaderError(f"--problem-type {problem_type!r}: use one of {', '.join(PROBLEM_TYPES)}")
    sorts = [_label_sort(e.label, f"{name}:{e.line}", textual) for e in examples]
    first: dict[str, int] = {}
    for e, (s, _) in zip(examples, sorts):
        first.setdefault(s, e.line)
    kind = problem_type
    if kind is None:
        clash = [("list", o) for o in ("int", "float", "str")] + [("float", "str")]
        for a, b in clash:
            if a in first and b in first:
                (la, a), (lb, b) = sorted([(first[a], a), (first[b], b)])
                raise ReaderError(f"{name}: field 'label' mixes kinds: {_SORTS[a]} at line {la} and "
                                  f"{_SORTS[b]} at line {lb}; use one kind throughout, or choose one with "
                                  "--problem-type")
        kind = ("multi_label_classification" if "list" in first else
                "regression" if "float" in first else "single_label_classification")
    for e, (s, v) in zip(examples, sorts):
        where = f"{name}:{e.line}"
        if kind == "regression":
            if s not in ("int", "float"):
                raise ReaderError(f"{where}: field 'label': {v!r} is not a number, but the task is regression; "
                                  "give numbers, or choose another --problem-type")
            e.label = float(v)
            if e.label != e.label or e.label in (float("inf"), float("-inf")):
                raise ReaderError(f"{where}: field 'label': {v!r} is not a finite number; give a finite value")
        elif s == "list":
            if kind != "multi_label_classification":
                raise ReaderError(f"{where}: field 'label' is a list, but the task is {kind}; give one label per "
                                  "row, or use --problem-type multi_label_classification")
            e.label = v
        else:
            label = str(v) if not isinstance(v, float) or s == "str" else _number_name(e.label, v, textual)
            e.label = [label] if kind == "multi_label_classification" else label
    return kind


def _number_name(raw, value: float, textual: bool) -> str:
    """The class name of a number with a decimal point: the text as written in CSV/TSV, else repr."""
    return raw.strip() if textual and isinstance(raw, str) else repr(value)


def _text_field(row: dict, name: str, where: str, required: bool) -> str | None:
    value = row.get(name)
    if value is None or value == "":
        if required:
            raise ReaderError(f"{where}: field {name!r} is missing or empty")
        return None
    if not isinstance(value, str):
        raise ReaderError(f"{where}: field {name!r} must be a string, got {type(value).__name__}")
    return value


def read_classification(path, require_label: bool = True, problem_type: str | None = None) -> list[ClassExample]:
    """Examples of a classification file: .csv, .tsv or .jsonl (see `read_records` for how each is
    parsed), `.txt` (one text per line) or "-" (stdin) when no label is required.

    Rows have `text`, optionally `text_pair` (then in every row), and `label` when `require_label`:
    the labels of the file become one kind (see `resolve_labels`; `problem_type` chooses it, as for
    an evaluation file read with the training file's kind). Without `require_label` labels are not read
    (ClassExample.label is None). Raises ReaderError naming file:line and the field."""
    name = STDIN if str(path) == "-" else Path(path)
    rows = read_records(path, ("text", "label") if require_label else ("text",))
    out = []
    for line, row in rows:
        where = f"{name}:{line}"
        text = _text_field(row, "text", where, True)
        pair = _text_field(row, "text_pair", where, False)
        out.append(ClassExample(text, pair, row.get("label") if require_label else None, line))
    paired = [e for e in out if e.text_pair is not None]
    if paired and len(paired) < len(out):
        e = next(e for e in out if e.text_pair is None)
        raise ReaderError(f"{name}:{e.line}: field 'text_pair' is missing or empty, but other rows have one "
                          f"(line {paired[0].line}); give a text_pair in every row or in none")
    if require_label:
        textual = name != STDIN and name.suffix.lower() in (".csv", ".tsv")
        resolve_labels(out, name, problem_type, textual)
    return out


def label_kind(examples: list[ClassExample], path="train") -> str:
    """single_label_classification | multi_label_classification | regression, from the labels' types
    (str, list, float: as `resolve_labels` leaves them)."""
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


def _natural(name: str):
    """Sort key: numbers by value ("9" before "10"), other names with their digit runs as numbers."""
    if _INT.fullmatch(name) or _FLOAT.fullmatch(name):
        return (0, float(name), [], name)
    parts = re.split(r"(\d+)", name)
    return (1, 0.0, [int(p) if i % 2 else p for i, p in enumerate(parts)], name)


def class_names(examples: list[ClassExample], path) -> list[str]:
    """The class names of a training set (single- or multi-label), in natural order: numbers by value
    ("10" after "9"), other names with their digit runs compared as numbers ("c2" before "c10").

    Raises ReaderError when a single-label file has only one class (nothing to learn: it would train to
    accuracy 1.0) or a multi-label file has no label at all."""
    names = {lab for e in examples for lab in (e.label if isinstance(e.label, list) else [e.label])}
    if not names:
        raise ReaderError(f"{path}: field 'label': every label list is empty; give the examples their labels")
    if len(names) == 1 and not any(isinstance(e.label, list) for e in examples):
        raise ReaderError(f"{path}: field 'label': every example has the label {names.pop()!r}, one class; "
                          "a classifier needs at least two, so add examples of another class")
    return sorted(names, key=_natural)


def check_labels(examples, label2id: dict[str, int], path, known: str = "the training labels") -> None:
    """An evaluation file may only use labels seen in training (or those of `known`, e.g. a teacher's)."""
    for e in examples:
        labels = e.label if isinstance(e.label, list) else [e.label] if isinstance(e.label, str) else []
        for lab in labels:
            if lab not in label2id:
                raise ReaderError(f"{path}:{e.line}: field 'label': {lab!r} is not one of {known} "
                                  f"({', '.join(label2id)})")


# -- NER (CoNLL) -------------------------------------------------------------------------------------

TAG = re.compile(r"^(O|[BIESLU]-.+)$")
_COLUMN_SEP = re.compile(r"[ \t]+")


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

    for line, text in physical_lines(_check_file(path)):
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

class _KeyLines:
    """Lines of the keys of a JSON document, in document order: `json` gives no positions, so each key
    has a cursor that moves forward through the text, one match per object read."""
    _decoder = json.JSONDecoder()
    _ANY = object()

    def __init__(self, raw: str):
        self.raw = raw
        self.at: dict[str, tuple[int, int]] = {}  # key → (offset of its last match, line of that offset)

    def next(self, key: str, value=_ANY) -> int | None:
        """The line of the next `"key": value` (any value when not given) after the last one found."""
        pattern = re.compile(r'(?<!\\)"' + re.escape(key) + r'"\s*:\s*')
        pos, line = self.at.get(key, (0, 1))
        start = pos + 1 if key in self.at else 0
        while True:
            m = pattern.search(self.raw, start)
            if m is None:
                return None
            if value is not self._ANY:
                try:
                    found = self._decoder.raw_decode(self.raw, m.end())[0]
                except (json.JSONDecodeError, RecursionError):
                    found = self._ANY
                if found != value:
                    start = m.end()
                    continue
            line += self.raw.count("\n", pos, m.start())
            self.at[key] = (m.start(), line)
            return line

    def last(self, key: str) -> int:
        return self.at.get(key, (0, 1))[1]


def read_squad(path) -> list[QAExample]:
    """SQuAD v1.1 / v2.0: data[].paragraphs[].{context, qas[].{id, question, answers, is_impossible}}.

    A question with "is_impossible": true is a no-answer question (QAExample.is_impossible), even when
    its `answers` list is not empty (the answers are kept, and still checked); so is a question with an
    empty `answers` list, as transformers' run_qa reads SQuAD 2.0 (the `datasets` export of squad_v2 has
    no is_impossible field). Question ids are unique. A question's line is the line of its "id" (of its
    "question" when it has no id). Raises ReaderError (file:line, the question and the field): invalid
    JSON, a missing context or question, an answer whose `answer_start` does not point at its text, a
    repeated id."""
    path = Path(path)
    raw = _check_file(path)
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ReaderError(f"{path}:{e.lineno}: not valid JSON ({e.msg.removesuffix(' at')} at column {e.colno}); "
                          "fix the JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise ReaderError(f"{path}:1: field 'data': expected a SQuAD file with a 'data' list of articles")
    keys = _KeyLines(raw)
    seen: dict[str, int] = {}
    out: list[QAExample] = []
    for a, article in enumerate(doc["data"]):
        paragraphs = article.get("paragraphs", []) if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise ReaderError(f"{path}:{keys.next('paragraphs') or keys.last('context')}: data[{a}]: expected an "
                              "article object with a 'paragraphs' list")
        for p, para in enumerate(paragraphs):
            where_p = f"data[{a}].paragraphs[{p}]"
            if not isinstance(para, dict):
                raise ReaderError(f"{path}:{keys.last('context')}: {where_p}: expected an object with 'context' "
                                  "and 'qas'")
            context = para.get("context")
            line_p = (keys.next("context") if "context" in para else None) or keys.last("context")
            if not isinstance(context, str) or not context:
                raise ReaderError(f"{path}:{line_p}: {where_p}.context is missing or empty")
            qas = para.get("qas", [])
            if not isinstance(qas, list):
                raise ReaderError(f"{path}:{line_p}: {where_p}.qas must be a list of questions")
            for q, qa in enumerate(qas):
                if not isinstance(qa, dict):
                    raise ReaderError(f"{path}:{line_p}: {where_p}.qas[{q}] must be a question object")
                raw_id = qa.get("id")
                qid = str(raw_id) if raw_id is not None else f"{a}-{p}-{q}"
                line = (keys.next("id", raw_id) if raw_id is not None else None) \
                    or (keys.next("question", qa["question"]) if "question" in qa else None) or line_p
                where = f"{path}:{line}: {where_p}.qas[{q}] (id {qid})"
                if qid in seen:
                    raise ReaderError(f"{where}: field 'id': {qid!r} is also the id of the question at "
                                      f"{path}:{seen[qid]}; give every question its own id")
                seen[qid] = line
                question = qa.get("question")
                if not isinstance(question, str) or not question.strip():
                    raise ReaderError(f"{where}: field 'question' is missing or empty")
                impossible = qa.get("is_impossible", False)
                if impossible not in (True, False) or isinstance(impossible, float):
                    raise ReaderError(f"{where}: field 'is_impossible' must be true or false, got {impossible!r}")
                impossible = bool(impossible)
                answers = qa.get("answers", [])
                if not isinstance(answers, list):
                    raise ReaderError(f"{where}: field 'answers' must be a list")
                for k, ans in enumerate(answers):
                    text, start = ans.get("text") if isinstance(ans, dict) else None, \
                        ans.get("answer_start") if isinstance(ans, dict) else None
                    if not isinstance(text, str) or not isinstance(start, int) or isinstance(start, bool):
                        raise ReaderError(f"{where}: answers[{k}] needs 'text' (string) and 'answer_start' (int)")
                    if context[start:start + len(text)] != text:
                        raise ReaderError(
                            f"{where}: answers[{k}].answer_start {start} points at "
                            f"{context[start:start + len(text)]!r}, not the answer text {text!r}")
                out.append(QAExample(qid, question, context, answers, impossible or not answers, line))
    if not out:
        raise ReaderError(f"{path}: no questions in the file")
    return out
