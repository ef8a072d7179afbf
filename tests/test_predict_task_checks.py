"""`bertkit predict` and `bertkit finetune` against folders and files that do not fit each other: a --task
that is not the folder's, a config.json that is not JSON, a head that was never trained, sentence pairs in
one file and not another, an NER file without entities, QA questions too long for the model's windows, and
a classification --stride that does not fit --max-length. Each is one line, exit 2 (tiny random models)."""
import json
import shutil

import pytest

from _finetune_util import cli_error, leftovers, task_folders, write_jsonl
from bertkit.cli import main


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return task_folders(tmp_path_factory.mktemp("folders"))


def test_task_other_than_the_folders_is_one_line(folders, tmp_path, capsys):
    texts = write_jsonl(tmp_path / "in.jsonl", [{"text": "john visited paris", "question": "who ?",
                                                 "context": "john visited paris"}])
    for folder, task, saved in (("classify", "ner", "classify"), ("classify", "qa", "classify"),
                                ("ner", "classify", "ner"), ("qa", "ner", "qa")):
        f = folders[folder]
        assert cli_error(["predict", "--model", str(f), "--task", task, "--input", str(texts)], capsys,
                         stdout_empty=True) == (
            f"bertkit predict: --task {task}: {f} was fine-tuned for {saved}; leave --task out or give a folder "
            f"fine-tuned for {task}")
    # the folder's own task, given or not, predicts
    for task in ([], ["--task", "classify"]):
        main(["predict", "--model", str(folders["classify"]), "--input", str(texts), *task])
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert len(rows) == 1 and rows[0]["label"] in ("pos", "neg")


def test_config_json_not_json_is_one_line(folders, tmp_path, capsys):
    f = tmp_path / "broken"
    shutil.copytree(folders["classify"], f)
    (f / "config.json").write_text('{"hidden_size": 64,\n', encoding="utf-8")
    texts = write_jsonl(tmp_path / "in.jsonl", [{"text": "good"}])
    msg = cli_error(["predict", "--model", str(f), "--input", str(texts)], capsys, stdout_empty=True)
    assert msg.startswith(f"bertkit predict: {f / 'config.json'}: not valid JSON (line 2, column 1: "), msg
    assert msg.endswith("; fix the file or write it again")


@pytest.mark.parametrize("task,head,names", [
    ("classify", "classifier head", "classifier.bias, classifier.weight"),
    ("ner", "token-classification head", "classifier.bias, classifier.weight"),
    ("qa", "question-answering head", "qa_outputs.bias, qa_outputs.weight"),
])
def test_untrained_head_is_refused(folders, tmp_path, capsys, task, head, names):
    base = folders["base"]
    texts = write_jsonl(tmp_path / "in.jsonl", [{"text": "good", "question": "who ?", "context": "john"}])
    assert cli_error(["predict", "--model", str(base), "--task", task, "--input", str(texts)], capsys,
                     stdout_empty=True) == (
        f"bertkit predict: {base}: holds no trained {head} ({names}); fine-tune it first with bertkit "
        f"finetune --task {task}")


def test_fresh_tensors_are_still_logged_for_other_callers(folders, caplog):
    from bertkit.models import BertForSequenceClassification
    with caplog.at_level("WARNING", logger="bertkit"):
        BertForSequenceClassification.from_pretrained(folders["base"])
    assert "initialised fresh in BertForSequenceClassification" in caplog.text
    caplog.clear()
    fresh = []
    with caplog.at_level("WARNING", logger="bertkit"):
        BertForSequenceClassification.from_pretrained(folders["base"], fresh=fresh)
    assert fresh == ["classifier.bias", "classifier.weight"] and "initialised fresh" not in caplog.text


def test_pairs_must_match_across_files(folders, tmp_path, capsys):
    base, out = folders["base"], tmp_path / "out"
    single, pairs = folders["single"], folders["pairs"]
    assert cli_error(["finetune", "--model", str(base), "--train", str(pairs), "--dev", str(single), "--out",
                      str(out), "--quiet"], capsys) == (
        f"bertkit finetune: {single}:1: field 'text_pair' is missing, but the training file {pairs} has sentence "
        "pairs (text + text_pair); give text_pair on every row")
    assert cli_error(["finetune", "--model", str(base), "--train", str(single), "--test", str(pairs), "--out",
                      str(out), "--quiet"], capsys) == (
        f"bertkit finetune: {pairs}:1: field 'text_pair' is given, but the training file {single} has single "
        "texts (no text_pair); remove text_pair, or use sentence pairs everywhere")
    assert leftovers(out) == []
    pclf, clf = folders["pair_classify"], folders["classify"]
    assert json.loads((pclf / "config.json").read_text())["bertkit_task"]["pair"] is True
    assert json.loads((clf / "config.json").read_text())["bertkit_task"]["pair"] is False
    rows = write_jsonl(tmp_path / "rows.jsonl", [{"text": "good"}, {"text": "bad"}])
    assert cli_error(["predict", "--model", str(pclf), "--input", str(rows)], capsys, stdout_empty=True) == (
        f"bertkit predict: {rows}:1: field 'text_pair' is missing, but the model at {pclf} was fine-tuned on "
        "sentence pairs (text + text_pair); give text_pair on every row")
    rows = write_jsonl(tmp_path / "rows.jsonl", [{"text": "good", "text_pair": "great"},
                                                 {"text": "bad", "text_pair": "awful"}])
    assert cli_error(["predict", "--model", str(clf), "--input", str(rows)], capsys, stdout_empty=True) == (
        f"bertkit predict: {rows}:1: field 'text_pair' is given, but the model at {clf} was fine-tuned on "
        "single texts (no text_pair); remove text_pair, or use sentence pairs everywhere")
    main(["predict", "--model", str(pclf), "--input", str(pairs)])
    assert len(capsys.readouterr().out.splitlines()) == 4


def test_ner_file_without_entities_is_refused(folders, tmp_path, capsys):
    f = tmp_path / "all_o.conll"
    f.write_text("the O\ncat O\n\nsat O\n", encoding="utf-8")
    out = tmp_path / "out"
    assert cli_error(["finetune", "--task", "ner", "--model", str(folders["base"]), "--train", str(f), "--out",
                      str(out), "--quiet"], capsys) == (
        f"bertkit finetune: {f}: every tag is O, no entity to learn; tag the entities (B-PER, I-PER, ...), "
        "or check --tag-column")
    assert leftovers(out) == []


def test_qa_predict_cuts_a_long_question_to_what_fits(folders, tmp_path, capsys):
    qa = folders["qa"]  # max_length 64, doc_stride 16: a question keeps at most 64 - 4 - 16 = 44 tokens
    question = " ".join(["who"] * 50) + " visited paris ?"
    rows = write_jsonl(tmp_path / "q.jsonl", [{"id": "a", "question": "who ?", "context": "john visited paris"},
                                              {"id": "b", "question": question, "context": "john visited paris"}])
    main(["predict", "--model", str(qa), "--input", str(rows)])
    out, err = capsys.readouterr()
    assert [json.loads(r)["id"] for r in out.splitlines()] == ["a", "b"]
    assert err.strip() == ("qa: 1 question longer than 44 tokens truncated to 44 (what a window of the model's "
                           "max_length 64 leaves beside 3 special tokens and doc_stride 16 + 1 context tokens)")
    # a model whose windows hold no question at all: one line naming file:line
    f = tmp_path / "tight"
    shutil.copytree(qa, f)
    cfg = json.loads((f / "config.json").read_text())
    cfg["bertkit_task"]["doc_stride"] = 60
    (f / "config.json").write_text(json.dumps(cfg))
    assert cli_error(["predict", "--model", str(f), "--input", str(rows)], capsys, stdout_empty=True) == (
        f"bertkit predict: {rows}:1: the model's windows of max_length 64 tokens, with doc_stride 60, leave no "
        "room for a question (3 special tokens and 61 context tokens fill them); fine-tune with a larger "
        "--max-length or a smaller --doc-stride")


def test_qa_training_message_quotes_the_id(folders, tmp_path, capsys):
    squad = tmp_path / "t.json"
    squad.write_text(json.dumps({"version": "v2.0", "data": [{"title": "t", "paragraphs": [{
        "context": "john visited paris .", "qas": [{"id": "l", "question": " ".join(["who"] * 70),
                                                    "answers": [{"text": "john", "answer_start": 0}]}]}]}]}),
        encoding="utf-8")
    msg = cli_error(["finetune", "--task", "qa", "--model", str(folders["base"]), "--train", str(squad), "--out",
                     str(tmp_path / "out"), "--max-length", "64", "--doc-stride", "128", "--quiet"], capsys)
    assert msg == (f"bertkit finetune: --max-length 64: the question of id 'l' ({squad}:1) has 64 tokens (cut to "
                   "--max-query-length 64), which with [CLS] and two [SEP] leaves no room for the context; use "
                   "--max-length 196 or more (the question, 3 special tokens and --doc-stride 128 + 1 context "
                   "tokens), or a smaller --max-query-length")


def test_classify_stride_that_does_not_fit_is_refused_first(folders, tmp_path, capsys):
    missing = tmp_path / "absent.jsonl"  # never read: the options are checked first
    assert cli_error(["finetune", "--model", str(folders["base"]), "--train", str(missing), "--out",
                      str(tmp_path / "out"), "--long", "windows", "--stride", "40", "--max-length", "32", "--quiet"],
                     capsys) == (
        "bertkit finetune: --stride 40: windows of --max-length 32 hold 30 tokens besides [CLS] and [SEP], and "
        "consecutive windows must move on; use --stride 29 or less")


def test_classify_pair_windows_leave_room_for_the_text(folders, tmp_path, capsys):
    """With pairs the text is cut, so the longest text_pair limits --stride (and --max-length)."""
    rows = write_jsonl(tmp_path / "p.jsonl", [
        {"text": " ".join(["good movie"] * 20), "text_pair": "great film plot", "label": "pos"},
        {"text": " ".join(["bad film"] * 20), "text_pair": "awful", "label": "neg"}])
    args = ["finetune", "--model", str(folders["base"]), "--train", str(rows), "--out", str(tmp_path / "out"),
            "--long", "windows", "--quiet"]
    assert cli_error(args + ["--max-length", "32", "--stride", "28"], capsys) == (
        f"bertkit finetune: --stride 28: a window of --max-length 32 holds 26 tokens of text beside 3 special "
        f"tokens and the text_pair of {rows}:1 (3 tokens); consecutive windows must move on, so use --stride 25 "
        "or less (or a larger --max-length)")
    assert cli_error(args + ["--max-length", "6", "--stride", "1"], capsys) == (
        f"bertkit finetune: --max-length 6: the text_pair of {rows}:1 has 3 tokens, which with 3 special tokens "
        "leaves no room for the text; use --max-length 8 or more")
    assert leftovers(tmp_path / "out") == []
    pclf = folders["pair_classify"]  # max_length 64, truncate
    rows = write_jsonl(tmp_path / "in.jsonl", [{"text": "good", "text_pair": "great"},
                                               {"text": "bad", "text_pair": " ".join(["awful"] * 70)}])
    assert cli_error(["predict", "--model", str(pclf), "--input", str(rows)], capsys, stdout_empty=True) == (
        f"bertkit predict: {rows}:2: field 'text_pair' has 70 tokens, but the model at {pclf} (max_length 64) "
        "holds at most 60 beside 3 special tokens and 1 of the text; shorten the text_pair")
