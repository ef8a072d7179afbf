"""Task file readers: formats that work, and errors that name the file, line and field."""
import json

import pytest

from bertkit.data.readers import (ReaderError, check_labels, label_kind, read_classification, read_conll,
                                  read_squad)


def test_classification_formats(tmp_path):
    (tmp_path / "a.csv").write_text('text,label\n"Hello, world",pos\nbad day,neg\n', encoding="utf-8")
    (tmp_path / "a.tsv").write_text("text\ttext_pair\tlabel\nq1\tp1\t0.5\nq2\tp2\t-1\n", encoding="utf-8")
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "x", "label": ["a", "b"]}) + "\n\n"
                                      + json.dumps({"text": "y", "label": []}) + "\n", encoding="utf-8")
    csv_ = read_classification(tmp_path / "a.csv")
    assert [(e.text, e.label, e.line) for e in csv_] == [("Hello, world", "pos", 2), ("bad day", "neg", 3)]
    assert label_kind(csv_) == "single_label_classification"
    tsv = read_classification(tmp_path / "a.tsv")
    assert [(e.text, e.text_pair, e.label) for e in tsv] == [("q1", "p1", 0.5), ("q2", "p2", -1.0)]
    assert label_kind(tsv) == "regression"
    jl = read_classification(tmp_path / "a.jsonl")
    assert [e.label for e in jl] == [["a", "b"], []] and [e.line for e in jl] == [1, 3]
    assert label_kind(jl) == "multi_label_classification"


def test_classification_errors(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"empty\.jsonl: the file is empty"):
        read_classification(empty)
    nolabel = tmp_path / "nolabel.csv"
    nolabel.write_text("text,target\nhi,1\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"nolabel\.csv:1: no 'label' column"):
        read_classification(nolabel)
    missing = tmp_path / "missing.jsonl"
    missing.write_text('{"text": "a", "label": "x"}\n{"text": "b"}\n', encoding="utf-8")
    with pytest.raises(ReaderError, match=r"missing\.jsonl:2: field 'label' is missing"):
        read_classification(missing)
    notext = tmp_path / "notext.jsonl"
    notext.write_text('{"label": "x"}\n', encoding="utf-8")
    with pytest.raises(ReaderError, match=r"notext\.jsonl:1: field 'text'"):
        read_classification(notext)
    badjson = tmp_path / "bad.jsonl"
    badjson.write_text('{"text": "a", "label": "x"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(ReaderError, match=r"bad\.jsonl:2: not valid JSON"):
        read_classification(badjson)
    ok = tmp_path / "ok.jsonl"
    ok.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n', encoding="utf-8")
    dev = tmp_path / "dev.jsonl"
    dev.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "z"}\n', encoding="utf-8")
    with pytest.raises(ReaderError, match=r"dev\.jsonl:2: field 'label': 'z' is not one of the training labels"):
        check_labels(read_classification(dev), {"x": 0, "y": 1}, dev)


def test_conll(tmp_path):
    f = tmp_path / "a.conll"
    f.write_text("-DOCSTART- O\n\nJohn B-PER\nlives O\nin O\nNew B-LOC\nYork I-LOC\n\t\nParis S-LOC\n"
                 "and O\nLos B-LOC\nAngeles E-LOC\n", encoding="utf-8")
    xs = read_conll(f)
    assert [x.words for x in xs] == [["John", "lives", "in", "New", "York"], ["Paris", "and", "Los", "Angeles"]]
    assert xs[1].tags == ["S-LOC", "O", "B-LOC", "E-LOC"] and xs[0].line == 3 and xs[1].line == 9


def test_conll_errors(tmp_path):
    f = tmp_path / "bad.conll"
    f.write_text("John B-PER\nlives O extra\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"bad\.conll:2: expected 2 columns \(token tag\), got 3"):
        read_conll(f)
    f.write_text("John B-PER\nlives\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"bad\.conll:2: expected 2 columns"):
        read_conll(f)
    f.write_text("John PER\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"bad\.conll:1: field 'tag': 'PER'"):
        read_conll(f)
    f.write_text("", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"bad\.conll: the file is empty"):
        read_conll(f)


def _squad(paragraphs):
    return {"version": "v2.0", "data": [{"title": "t", "paragraphs": paragraphs}]}


def test_squad(tmp_path):
    f = tmp_path / "s.json"
    f.write_text(json.dumps(_squad([{"context": "Mary lives in Paris.", "qas": [
        {"id": "q1", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 14}]},
        {"id": "q2", "question": "Who is John?", "answers": [], "is_impossible": True}]}]), indent=1),
        encoding="utf-8")
    xs = read_squad(f)
    assert [(x.id, x.is_impossible) for x in xs] == [("q1", False), ("q2", True)]
    assert xs[0].answers[0]["text"] == "Paris"


def test_squad_answer_start_mismatch(tmp_path):
    f = tmp_path / "s.json"
    f.write_text(json.dumps(_squad([{"context": "Mary lives in Paris.", "qas": [
        {"id": "q1", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 14}]},
        {"id": "q2", "question": "Who?", "answers": [{"text": "Mary", "answer_start": 3}]}]}]), indent=1),
        encoding="utf-8")
    line = next(i for i, t in enumerate(f.read_text().splitlines(), 1) if '"q2"' in t)
    with pytest.raises(ReaderError, match=rf"s\.json:{line}: data\[0\]\.paragraphs\[0\]\.qas\[1\] \(id q2\): "
                                          r"answers\[0\]\.answer_start 3 points at 'y li', not the answer text 'Mary'"):
        read_squad(f)
    f.write_text("", encoding="utf-8")
    with pytest.raises(ReaderError, match="the file is empty"):
        read_squad(f)


def test_real_data_reads(rt_dir, wnut_dir, wnut_qa_dir):
    """What `make data` wrote reads cleanly: split sizes, label sets, SQuAD 2.0 no-answer questions."""
    rt = {s: read_classification(rt_dir / f"{s}.jsonl") for s in ("train", "dev", "test")}
    assert [len(v) for v in rt.values()] == [8456, 1056, 1056]
    assert {e.label for e in rt["train"]} == {"positive", "negative"}
    wnut = {s: read_conll(wnut_dir / f"{s}.conll") for s in ("train", "dev", "test")}
    assert [len(v) for v in wnut.values()] == [1916, 239, 239]
    types = {t[2:] for e in wnut["train"] for t in e.tags if t != "O"}
    assert len(types) == 10
    qa = read_squad(wnut_qa_dir / "train.json")
    assert sum(e.is_impossible for e in qa) == 1916 and len(qa) > 1916


# -- real-world inputs (tests/cases/real-world-inputs): each file read as its format says ----------------

import csv  # noqa: E402
import io  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from bertkit.data.readers import class_names, read_records, resolve_labels  # noqa: E402
from bertkit.tasks.qa import _positions, squad_metrics  # noqa: E402

CASES = Path(__file__).parent / "cases" / "real-world-inputs"


def test_int_labels_are_two_classes():
    xs = read_classification(CASES / "int_labels.csv")
    assert label_kind(xs) == "single_label_classification"
    assert [e.label for e in xs] == ["0", "0", "1", "1", "0", "1", "1", "0", "0", "1"]
    assert class_names(xs, "int_labels.csv") == ["0", "1"]
    assert xs[8].text == "boring, flat, lifeless"


def test_tsv_quotes_are_text_as_glue_reads_them():
    xs = read_classification(CASES / "quote_opens_text.tsv")
    assert len(xs) == 6 and [e.line for e in xs] == [2, 3, 4, 5, 6, 7]
    assert xs[1].text == '"Best film ever, said nobody' and xs[1].label == "neg"
    assert xs[3].text == 'I loved every minute of the 3" tape' and xs[3].label == "pos"
    # the oracle: GLUE's DataProcessor._read_tsv (csv.reader, tab-separated, quotechar=None)
    with open(CASES / "quote_opens_text.tsv", encoding="utf-8-sig", newline="") as f:
        glue = list(csv.reader(f, delimiter="\t", quotechar=None))
    assert [[e.text, e.label] for e in xs] == glue[1:]


def test_excel_csv_keeps_the_line_break_inside_quotes():
    xs = read_classification(CASES / "excel_style.csv")
    assert [(e.text, e.label, e.line) for e in xs] == [
        ("Great film, truly great", "pos", 2), ("First line of review\r\nsecond line", "neg", 3),
        ('He said "wow", then left', "pos", 5), ("boring", "neg", 6)]
    with open(CASES / "excel_style.csv", encoding="utf-8-sig", newline="") as f:  # the oracle: csv
        assert [(e.text, e.label) for e in xs] == [(r["text"], r["label"]) for r in csv.DictReader(f)]


def test_jsonl_unicode_separators_stay_in_the_text():
    xs = read_classification(CASES / "unicode_separators.jsonl")
    assert len(xs) == 4 and [e.line for e in xs] == [1, 2, 3, 4]
    assert xs[2].text == "Line one of a scraped review\u2028line two of it"
    assert xs[3].text == "boring\x85and flat"
    raw = (CASES / "unicode_separators.jsonl").read_text(encoding="utf-8")
    assert [(e.text, e.label) for e in xs] == [(r["text"], r["label"]) for r in map(json.loads, raw.split("\n")[:-1])]


def test_one_class_is_an_error():
    xs = read_classification(CASES / "one_class.csv")
    with pytest.raises(ReaderError, match=r"one_class\.csv: field 'label': every example has the label 'spam', "
                                          r"one class; a classifier needs at least two"):
        class_names(xs, CASES / "one_class.csv")


def test_pair_missing_names_the_line_and_field():
    with pytest.raises(ReaderError, match=r"pair_missing\.csv:3: field 'text_pair' is missing or empty, but other "
                                          r"rows have one \(line 2\)"):
        read_classification(CASES / "pair_missing.csv")
    with pytest.raises(ReaderError, match=r"pair_missing\.csv:3: field 'text_pair'"):
        read_classification(CASES / "pair_missing.csv", require_label=False)  # predict reads it the same way


def test_predict_inputs():
    with pytest.raises(ReaderError, match=r"predict_wrong_field\.jsonl:1: field 'text' is missing "
                                          r"\(the row has: 'sentence'\)"):
        read_classification(CASES / "predict_wrong_field.jsonl", require_label=False)
    xs = read_classification(CASES / "predict_wrong_field.txt", require_label=False)
    assert [e.text for e in xs] == ['{"sentence": "a joy to watch"}', '{"sentence": "boring, flat, lifeless"}']
    assert [r["text"] for _, r in read_records(CASES / "predict_bom_ner.jsonl")] == ["Tomas Rinn met Varek ."]


def test_squad2_impossible_with_answer():
    xs = read_squad(CASES / "squad2_impossible_with_answer.json")
    assert [(x.id, x.is_impossible, len(x.answers)) for x in xs] == [("q1", False, 1), ("q2", True, 1), ("q3", True, 0)]
    ctx = xs[0].context
    words, pos = [], 0
    for w in ctx.split(" "):
        words.append((pos, pos + len(w)))
        pos += len(w) + 1
    offsets = [None] + words + [None]  # [CLS] context tokens [SEP]
    assert _positions(xs[0], offsets) == (6, 6)  # "Lund", the sixth word
    assert _positions(xs[1], offsets) == (0, 0)  # trained as no-answer, though it lists "Porto"
    assert _positions(xs[2], offsets) == (0, 0)
    m = squad_metrics(xs, ["Lund", "", ""])
    assert (m["HasAns_total"], m["NoAns_total"], m["exact"]) == (1, 2, 100.0)
    m = squad_metrics(xs, ["Lund", "Porto", ""])  # answering q2 is wrong
    assert m["NoAns_exact"] == 50.0 and m["HasAns_exact"] == 100.0


def test_squad_repeated_id_names_both_places(tmp_path):
    f = tmp_path / "s.json"
    f.write_text(json.dumps(_squad([
        {"context": "Mary lives in Paris.", "qas": [{"id": "q1", "question": "Where?",
                                                     "answers": [{"text": "Paris", "answer_start": 14}]}]},
        {"context": "John lives in Rome.", "qas": [{"id": "q1", "question": "Where?",
                                                    "answers": [{"text": "Rome", "answer_start": 14}]}]}]),
        indent=1), encoding="utf-8")
    lines = [i for i, t in enumerate(f.read_text().split("\n"), 1) if '"q1"' in t]
    assert len(lines) == 2
    with pytest.raises(ReaderError, match=rf"s\.json:{lines[1]}: data\[0\]\.paragraphs\[1\]\.qas\[0\] \(id q1\): "
                                          rf"field 'id': 'q1' is also the id of the question at .*s\.json:{lines[0]}"):
        read_squad(f)


def test_squad_is_impossible_must_be_a_boolean(tmp_path):
    f = tmp_path / "s.json"
    f.write_text(json.dumps(_squad([{"context": "Mary lives in Paris.", "qas": [
        {"id": "q1", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 14}],
         "is_impossible": "false"}]}])), encoding="utf-8")
    with pytest.raises(ReaderError, match=r"s\.json:1: .*field 'is_impossible' must be true or false, got 'false'"):
        read_squad(f)


# -- labels: what the values mean -------------------------------------------------------------------------

def test_labels_kinds(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("text,label\na,10\nb,9\nc,2\nd,-1\n", encoding="utf-8")
    xs = read_classification(f)
    assert [e.label for e in xs] == ["10", "9", "2", "-1"] and class_names(xs, f) == ["-1", "2", "9", "10"]
    f.write_text("text,label\na,c10\nb,c9\nc,b\n", encoding="utf-8")
    assert class_names(read_classification(f), f) == ["b", "c9", "c10"]
    f.write_text("text,label\na,1\nb,0.5\nc,1e-3\n", encoding="utf-8")  # a decimal point or exponent: regression
    xs = read_classification(f)
    assert [e.label for e in xs] == [1.0, 0.5, 0.001] and label_kind(xs) == "regression"
    f.write_text("text,label\na,1\nb,0\n", encoding="utf-8")
    xs = read_classification(f, problem_type="regression")
    assert [e.label for e in xs] == [1.0, 0.0]
    xs = read_classification(f, problem_type="multi_label_classification")
    assert [e.label for e in xs] == [["1"], ["0"]]
    f.write_text("text,label\na,0.5\nb,pos\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"a\.csv: field 'label' mixes kinds: a number with a decimal point or "
                                          r"exponent at line 2 and a name at line 3"):
        read_classification(f)
    with pytest.raises(ReaderError, match=r"a\.csv:3: field 'label': 'pos' is not a number, but the task is "
                                          "regression"):
        read_classification(f, problem_type="regression")
    assert [e.label for e in read_classification(f, problem_type="single_label_classification")] == ["0.5", "pos"]
    j = tmp_path / "a.jsonl"
    j.write_text('{"text": "a", "label": 1}\n{"text": "b", "label": 0}\n{"text": "c", "label": "0"}\n',
                 encoding="utf-8")
    assert [e.label for e in read_classification(j)] == ["1", "0", "0"]  # JSON ints are classes too
    j.write_text('{"text": "a", "label": 1.0}\n{"text": "b", "label": 0}\n', encoding="utf-8")
    assert [e.label for e in read_classification(j)] == [1.0, 0.0]
    with pytest.raises(ReaderError, match="--problem-type 'binary': use one of"):
        resolve_labels(read_classification(j), j, "binary")


# -- how each format is split: physical lines, CSV records, errors that name the line -------------------

def test_errors_name_the_physical_line(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text('text,label\n"two\nlines",pos\nx,neg,extra\n', encoding="utf-8")
    with pytest.raises(ReaderError, match=r"a\.csv:4: 3 fields, but the header \(line 1\) has 2 columns "
                                          r"\(text, label\)"):
        read_classification(f)
    f.write_text('text,label\nfine,pos\n"never closed,neg\nx,pos\n', encoding="utf-8")
    with pytest.raises(ReaderError, match=r"a\.csv:3: a quoted field that opens in this record is never closed"):
        read_classification(f)
    f.write_text('text,label\n"quoted"then text,neg\n', encoding="utf-8")
    with pytest.raises(ReaderError, match=r"a\.csv:2: not valid CSV"):
        read_classification(f)
    t = tmp_path / "a.tsv"
    t.write_text("text\tlabel\r\nfine\tpos\r\na\ttab\tneg\r\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"a\.tsv:3: 3 fields, but the header \(line 1\) has 2 columns"):
        read_classification(t)
    j = tmp_path / "a.jsonl"
    j.write_text('{"text": "a\u2028b", "label": "x"}\n{"text": "tab\there", "label": "y"}\n', encoding="utf-8")
    with pytest.raises(ReaderError) as err:
        read_classification(j)
    assert str(err.value).startswith(f"{j}:2: not valid JSON (Invalid control character at column 14); ")
    j.write_text('[{"text": "a", "label": "x"}]\n', encoding="utf-8")
    with pytest.raises(ReaderError, match=r"a\.jsonl:1: expected a JSON object, got list"):
        read_classification(j)
    j.write_text('{\n "text": "a", "label": "x"\n}\n', encoding="utf-8")
    with pytest.raises(ReaderError, match=r"a\.jsonl:1: not valid JSON .*looks like one JSON document"):
        read_classification(j)


def test_not_utf8_names_the_line(tmp_path):
    for name in ("a.csv", "a.tsv", "a.jsonl"):
        f = tmp_path / name
        row = {"a.csv": b"caf\xe9,pos\n", "a.tsv": b"caf\xe9\tpos\n",
               "a.jsonl": b'{"text": "caf\xe9", "label": "pos"}\n'}
        head = {"a.csv": b"text,label\nok,neg\n", "a.tsv": b"text\tlabel\nok\tneg\n",
                "a.jsonl": b'{"text": "ok", "label": "neg"}\n\n'}
        f.write_bytes(b"\xef\xbb\xbf" + head[name] + row[name])
        with pytest.raises(ReaderError, match=rf"{name}:3: not UTF-8 \(byte 0xe9 at byte \d+ of the line\); "
                                              "save the file as UTF-8"):
            read_classification(f)
    s = tmp_path / "s.json"
    s.write_bytes(b'{"data": [\n{"title": "caf\xe9"}]}')
    with pytest.raises(ReaderError, match=r"s\.json:2: not UTF-8"):
        read_squad(s)


def test_txt_and_stdin(tmp_path, monkeypatch):
    f = tmp_path / "a.txt"
    f.write_bytes('\ufeffone\r\n{"text": "two"}\n\nthree\u2028still three\x85and\x0cmore'.encode())
    xs = read_classification(f, require_label=False)
    assert [(e.text, e.line) for e in xs] == [("one", 1), ('{"text": "two"}', 2),
                                              ("three\u2028still three\x85and\x0cmore", 4)]
    with pytest.raises(ReaderError, match=r"a\.txt: unknown format|a\.txt: a \.txt file holds one text per line"):
        read_classification(f)  # training needs labels
    data = '\ufeffplain text\r\n{"text": "json", "text_pair": "p"}\n'.encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    with pytest.raises(ReaderError, match=r"<stdin>:1: field 'text_pair' is missing or empty, but other rows "
                                          r"have one \(line 2\)"):
        read_classification("-", require_label=False)
    data = 'plain text\r\n{"text": "json"}\nline\u2028same line\n'.encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    assert [(e.text, e.line) for e in read_classification("-", require_label=False)] == [
        ("plain text", 1), ("json", 2), ("line\u2028same line", 3)]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"sentence": "x"}\n'), encoding="utf-8"))
    with pytest.raises(ReaderError, match=r"<stdin>:1: field 'text' is missing \(the row has: 'sentence'\)"):
        read_classification("-", require_label=False)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"ok\n\xff\n"), encoding="utf-8"))
    with pytest.raises(ReaderError, match=r"<stdin>:2: not UTF-8"):
        read_classification("-", require_label=False)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a question\n"), encoding="utf-8"))
    with pytest.raises(ReaderError, match=r"<stdin>:1: expected a JSON object with the fields 'question', 'context'"):
        read_records("-", ("question", "context"))


def test_csv_line_numbers_count_newlines_only(tmp_path):
    """A lone CR inside a quoted field is not a line end: lines are the file's "\\n"-terminated lines."""
    ok = tmp_path / "cr.csv"
    ok.write_bytes(b'text,label\n"a\rb",x\n"c\r\nd",y\nok,y\n')
    assert [(e.line, e.text) for e in read_classification(ok)] == [(2, "a\rb"), (3, "c\r\nd"), (5, "ok")]
    bad = tmp_path / "crbad.csv"
    bad.write_bytes(b'text,label\n"a\rb",x\nok,y\nbad,row,extra\n')
    with pytest.raises(ReaderError, match=r"crbad\.csv:4: 3 fields, but the header \(line 1\) has 2 columns"):
        read_classification(bad)


def test_squad_empty_answers_is_a_no_answer_question(tmp_path):
    """As transformers' run_qa reads SQuAD 2.0 (the datasets export has no is_impossible field)."""
    path = tmp_path / "v2.json"
    path.write_text(json.dumps({"data": [{"paragraphs": [{"context": "Ada was born in Lund.", "qas": [
        {"id": "a", "question": "Where was Ada born?", "answers": [{"text": "Lund", "answer_start": 16}]},
        {"id": "b", "question": "Where did Ada die?", "answers": []}]}]}]}), encoding="utf-8")
    xs = read_squad(path)
    assert [(x.id, x.is_impossible) for x in xs] == [("a", False), ("b", True)]
