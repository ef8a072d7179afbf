"""Property test: random rows written by Python's own `csv` and `json` writers read back exactly.

Texts mix quotes, commas, tabs, CR, LF, CRLF, Unicode line and paragraph separators, NEL, form feeds,
byte order marks, emoji, CJK and backslashes; labels are names (str) or whole numbers (int). Each format
gets 2,400 rows over 8 files that vary the writer's options (line terminator, BOM, ensure_ascii, a
text_pair column). TSV texts are QUOTE_NONE-safe (no tab, CR or LF), as a TSV writer without quoting
requires; a `"` in them is text.
"""
import csv
import io
import json
import random

import pytest

from bertkit.data.readers import read_classification

PIECES = ["a", "b", "Z", "word", " ", "  ", ",", ";", '"', '""', "'", "\t", "\r", "\n", "\r\n", "\n\r", "\u2028",
          "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\ufeff", "😀", "👍🏽", "🇸🇪", "中文", "日本語", "한국어",
          "é", "ß", "\\", "{", "}", "[", "]", ":", "0", "1.5", "e", "#", "\u200b"]
LABEL_CHARS = list("abcdefghijklmnopqrstuvwxyz") + ["中", "文", "😀", "é", ",", '"', "'", " ", "-", "_", "/"]
ROWS, FILES = 300, 8  # per format: 2,400 rows
NOT_TSV = ("\t", "\r", "\n")


def _text(rng: random.Random, tsv: bool) -> str:
    pieces = [p for p in PIECES if not (tsv and any(c in p for c in NOT_TSV))]
    text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
    return text


def _label(rng: random.Random):
    if rng.random() < 0.4:
        return rng.randint(-3, 12)  # an int: a class named by its digits
    while True:
        name = "".join(rng.choice(LABEL_CHARS) for _ in range(rng.randint(1, 6))).strip()
        if name and name[0] not in "[-":  # "[...]" in CSV is a JSON list of labels; "-3" is a number
            return name


def _rows(rng, tsv: bool, pair: bool) -> list[dict]:
    rows = []
    for _ in range(ROWS):
        row = {"text": _text(rng, tsv), "label": _label(rng)}
        if pair:
            row["text_pair"] = _text(rng, tsv)
        rows.append(row)
    return rows


def _expected(rows):
    return [(r["text"], r.get("text_pair"), str(r["label"])) for r in rows]


def _check(path, rows, lines):
    xs = read_classification(path)
    assert [(e.text, e.text_pair, e.label) for e in xs] == _expected(rows)
    assert [e.line for e in xs] == lines


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_written_rows_read_back_exactly(tmp_path, fmt):
    rng = random.Random(f"readers-{fmt}")
    total = 0
    for k in range(FILES):
        pair, bom = k % 2 == 1, k % 4 >= 2
        rows = _rows(rng, fmt == "tsv", pair)
        columns = ["text"] + (["text_pair"] if pair else []) + ["label"]
        buf = io.StringIO(newline="")
        if fmt == "jsonl":
            ascii_, end = k >= 4, "\r\n" if k % 3 == 0 else "\n"
            buf.write("".join(json.dumps(r, ensure_ascii=ascii_) + end for r in rows))
            lines = list(range(1, ROWS + 1))
        else:
            end = "\r\n" if k < 4 else "\n"
            if fmt == "csv":
                # Python's writer quotes a field with a lone CR only when CR is in the line terminator, so
                # with "\n" lines it quotes every field (csv could not read its own output back otherwise)
                w = csv.writer(buf, lineterminator=end, quoting=csv.QUOTE_MINIMAL if end == "\r\n" else csv.QUOTE_ALL)
            else:
                w = csv.writer(buf, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None, lineterminator=end)
            w.writerow(columns)
            lines = []
            for r in rows:
                # a record starts on the line after everything written before it; only "\n" ends a line
                # (a lone CR inside a quoted field does not, though csv's own line_num counts it)
                lines.append(buf.getvalue().count("\n") + 1)
                w.writerow([r[c] for c in columns])
        path = tmp_path / f"f{k}.{fmt}"
        path.write_text(buf.getvalue(), encoding="utf-8-sig" if bom else "utf-8", newline="")
        _check(path, rows, lines)
        total += len(rows)
    assert total >= 2000
