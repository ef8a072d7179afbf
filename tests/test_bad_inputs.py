"""Every command against malformed files and options: a non-zero exit, one line `bertkit <command>: ...`
naming the file, line, field or option, no traceback, and no partial output.

The cases are a table (CASES): a command line with {placeholders} for the files of a small workspace (a tiny
random model, tokenizer and corpus built once per module), the pattern the message must match, and nothing
may be left at {out} (nor a temporary sibling of it). Add a case by adding a row. Most run in-process
(`bertkit.cli.main`); a few run `python -m bertkit` to show that the whole path prints no traceback.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from _finetune_util import tiny_folder
from bertkit.cli import main

SRC = Path(__file__).resolve().parents[1] / "src"


@dataclass
class Case:
    id: str
    argv: str  # split on spaces after formatting; placeholders are the workspace's paths
    message: str  # a regex the one message line must match (after "bertkit <command>: ")


# -- the workspace: each malformed file of the table, built once ------------------------------------------

@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad")
    p: dict[str, Path] = {}
    p["model"] = tiny_folder(root / "model")  # bare encoder + tokenizer, 64 positions

    p["text"] = root / "text.txt"
    p["text"].write_text("the cat sat on the mat\nthe dog was good\n", encoding="utf-8")
    p["empty"] = root / "empty.txt"
    p["empty"].write_text("", encoding="utf-8")
    p["blank"] = root / "blank.txt"
    p["blank"].write_text("\n  \n\n", encoding="utf-8")
    p["latin1"] = root / "latin1.txt"
    p["latin1"].write_bytes("the cat sat\nthe caf".encode() + "\xe9 was good\n".encode("latin-1"))
    p["folder"] = root / "a-folder"
    p["folder"].mkdir()
    p["regular"] = root / "regular-file"  # a path under it cannot be written, even by root
    p["regular"].write_text("I am a file\n", encoding="utf-8")
    p["absent"] = root / "absent.txt"
    docs = [" ".join(["the cat sat on the mat."] * 3) + "\nthe dog was good. the film was bad." for _ in range(8)]
    p["corpus"] = root / "corpus.txt"
    p["corpus"].write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    p["bad_jsonl"] = root / "docs.jsonl"
    p["bad_jsonl"].write_text('{"text": "the cat sat."}\n{"txt": "no text field"}\n', encoding="utf-8")
    p["not_json"] = root / "not-json.json"
    p["not_json"].write_text("{hidden_size: 32,}\n", encoding="utf-8")

    # model folders that are broken in one way each
    p["no_config"] = _copy(p["model"], root / "no-config", drop="config.json")
    p["no_vocab"] = _copy(p["model"], root / "no-vocab", drop=("vocab.txt", "tokenizer.json"))
    p["bad_json"] = _copy(p["model"], root / "bad-json")
    (p["bad_json"] / "config.json").write_text('{"hidden_size": 64,\n "num_hidden_layers": 2,,}', encoding="utf-8")
    p["bad_field"] = _copy(p["model"], root / "bad-field")
    cfg = json.loads((p["model"] / "config.json").read_text())
    (p["bad_field"] / "config.json").write_text(json.dumps({**cfg, "num_attention_heads": 5}), encoding="utf-8")
    p["truncated"] = _copy(p["model"], root / "truncated")
    st = p["truncated"] / "model.safetensors"
    st.write_bytes(st.read_bytes()[: st.stat().st_size // 2])
    p["garbage"] = _copy(p["model"], root / "garbage")
    (p["garbage"] / "model.safetensors").write_bytes(b"\x00\x01not safetensors at all" * 10)
    p["wrong_shape"] = _copy(p["model"], root / "wrong-shape")
    from safetensors.torch import load_file, save_file
    state = load_file(p["model"] / "model.safetensors")
    state["embeddings.word_embeddings.weight"] = torch.zeros(7, 64)
    save_file(state, p["wrong_shape"] / "model.safetensors", metadata={"format": "pt"})

    # a model with an MLM head (fill-mask), and a fine-tuned classifier (predict)
    from bertkit import BertConfig
    from bertkit.models import BertForPreTraining, BertForSequenceClassification, BertModel
    from bertkit.tokenization import BertTokenizer
    tok = BertTokenizer.from_pretrained(p["model"])
    small = {k: cfg[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                 "intermediate_size", "max_position_embeddings")}
    p["mlm"] = root / "mlm"
    BertForPreTraining(BertConfig(**small)).save_pretrained(p["mlm"])
    tok.save_pretrained(p["mlm"])
    p["clf"] = root / "clf"
    BertForSequenceClassification(BertConfig(**small, id2label={0: "bad", 1: "good"},
                                             label2id={"bad": 0, "good": 1})).save_pretrained(p["clf"])
    tok.save_pretrained(p["clf"])

    p["other_vocab"] = root / "other-vocab"  # weights and config for 20 tokens, a tokenizer of ~130
    BertModel(BertConfig(**{**small, "vocab_size": 20})).save_pretrained(p["other_vocab"])
    tok.save_pretrained(p["other_vocab"])
    p["damaged_run"] = root / "damaged-run"
    p["damaged_run"].mkdir()
    (p["damaged_run"] / "checkpoint.pt").write_bytes(b"PK\x03\x04 half a checkpoint")
    p["long_text"] = root / "long.txt"
    p["long_text"].write_text(" ".join(["the cat sat on the mat"] * 40) + "\n", encoding="utf-8")

    p["tiny_json"] = root / "tiny.json"
    p["tiny_json"].write_text(json.dumps({k: v for k, v in small.items() if k != "vocab_size"}), encoding="utf-8")
    p["train_csv"] = root / "train.csv"
    p["train_csv"].write_text("text,label\n" + "".join(f"the film was good {i},good\nthe film was bad {i},bad\n"
                                                       for i in range(4)), encoding="utf-8")
    # task files, each malformed in one way (the kinds of issue 13's real-world inputs)
    files = {
        "unclosed_csv": ("unclosed.csv", 'text,label\n"the film,good\nbad one,bad\n'),
        "fields_tsv": ("fields.tsv", "text\tlabel\ngood film\tgood\nbad\tfilm\tbad\n"),
        "bad_line_jsonl": ("badline.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": "y"\n'),
        "mixed_labels": ("mixed.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": 0.5}\n'),
        "one_class": ("one.csv", "text,label\nthe invoice,spam\nclaim your prize,spam\n"),
        "pair_missing": ("pairs.csv", "text,text_pair,label\na,b,dup\nc,,not_dup\ne,f,dup\n"),
        "unknown_tag": ("unknown.conll", "Alice B-PER\nmet O\nBob X-PER\n"),
        "no_scheme": ("noscheme.conll", "Alice B-PER\nSmith E-PER\nmet O\nBob I-PER\nJones L-PER\n"),
        "ragged_conll": ("ragged.conll", "Alice NNP B-PER\nmet O\n"),
        "ner_conll": ("ner.conll", "Alice B-PER\nmet O\nBob B-PER\n\nCarol B-PER\nran O\n"),
        "dup_ids": ("dup.json", '{"data":[{"paragraphs":[{"context":"Ada was born in Lund.","qas":[\n'
                    '{"id":"a","question":"Where?","answers":[{"text":"Lund","answer_start":16}]},\n'
                    '{"id":"a","question":"Who?","answers":[{"text":"Ada","answer_start":0}]}]}]}]}\n'),
        "squad": ("ok.json", '{"data":[{"paragraphs":[{"context":"Ada was born in Lund.","qas":[\n'
                  '{"id":"a","question":"Where?","answers":[{"text":"Lund","answer_start":16}]}]}]}]}\n'),
        "wrong_start": ("start.json", '{"data":[{"paragraphs":[{"context":"Ada was born in Lund.","qas":[\n'
                        '{"id":"a","question":"Where?","answers":[{"text":"Lund","answer_start":3}]}]}]}]}\n'),
        "no_text_field": ("sentences.jsonl", '{"sentence": "a joy"}\n'),
        "no_question": ("questions.jsonl", '{"context": "Ada was born in Lund."}\n'),
    }
    for key, (name, text) in files.items():
        p[key] = root / name
        p[key].write_text(text, encoding="utf-8")
    p["gbk"] = root / "gbk.txt"
    p["gbk"].write_bytes("北京欢迎你。\n我们是中国人。\n".encode("gbk"))
    p["latin1_jsonl"] = root / "latin1.jsonl"
    p["latin1_jsonl"].write_bytes('{"text": "caf\xe9"}\n'.encode("latin-1"))
    p["own_folder"] = root / "own-folder"  # a folder of the user's own files, given as --out
    p["own_folder"].mkdir()
    (p["own_folder"] / "notes.md").write_text("precious\n", encoding="utf-8")
    (p["own_folder"] / "train.csv").write_text(p["train_csv"].read_text(encoding="utf-8"), encoding="utf-8")
    p["bad_tok_config"] = _copy(p["model"], root / "bad-tok-config")
    (p["bad_tok_config"] / "tokenizer_config.json").write_text('{"do_lower_case": "yes"}', encoding="utf-8")
    return {k: str(v) for k, v in p.items()}


def _copy(src: Path, dst: Path, drop=()) -> Path:
    shutil.copytree(src, dst)
    for name in [drop] if isinstance(drop, str) else drop:
        (dst / name).unlink()
    return dst


# -- the table ------------------------------------------------------------------------------------------
# Placeholders: the keys of `ws`, plus {out} (a fresh path per case that must not exist afterwards).

CASES = [
    # tokenize
    Case("tokenize-missing-file", "tokenize {absent} --model {model}", r"{absent}: no such file"),
    Case("tokenize-folder-as-file", "tokenize {folder} --model {model}", r"{folder}: a folder, not a file"),
    Case("tokenize-not-utf8", "tokenize {latin1} --model {model}", r"{latin1}:2: not UTF-8 \(byte 0xe9 at byte 8 of the line\); .*iconv -f latin1 -t utf-8"),
    Case("vocab-jsonl", "vocab {latin1_jsonl} --out {out}", r"{latin1_jsonl}: vocab reads plain text, .*write its text fields to a \.txt file"),
    Case("vocab-heldout-empty", "vocab {corpus} --heldout {empty} --out {out}", r"--heldout {empty}: no text to measure the \[UNK\] rate on"),
    Case("tokenize-gbk", "tokenize {gbk} --model {model}", r"{gbk}:1: not UTF-8 \(byte 0xb1 at byte 1 of the line\); .*iconv -f gb18030 -t utf-8"),
    Case("tokenize-no-vocab", "tokenize {text} --model {no_vocab}", r"{no_vocab}.*vocab"),
    Case("tokenize-missing-model", "tokenize {text} --model {absent}", r"{absent}"),
    Case("tokenize-max-length-0", "tokenize {text} --model {model} --max-length 0", r"--max-length 0: must be at least"),
    Case("tokenize-engine", "tokenize {text} --model {model} --engine rust", r"--engine 'rust': use one of fast, python"),
    # embed
    Case("embed-empty-file", "embed {blank} --model {model} --output {out}", r"{blank}: no lines to embed"),
    Case("embed-batch-size-0", "embed {text} --model {model} --batch-size 0 --output {out}",
         r"--batch-size 0: must be at least 1"),
    Case("embed-batch-size-negative", "embed {text} --model {model} --batch-size -3 --output {out}",
         r"--batch-size -3: must be at least 1"),
    Case("embed-batch-size-text", "embed {text} --model {model} --batch-size abc --output {out}",
         r"argument --batch-size: invalid int value: 'abc'"),
    Case("embed-dtype", "embed {text} --model {model} --dtype fp17 --output {out}", r"--dtype 'fp17': use one of fp32, bf16"),
    Case("embed-unknown-option", "embed {text} --model {model} --batchsize 3 --output {out}",
         r"unrecognized arguments: --batchsize 3"),
    Case("embed-no-config", "embed {text} --model {no_config} --output {out}", r"{no_config}: not a model folder \(no config\.json\)"),
    Case("embed-config-not-json", "embed {text} --model {bad_json} --output {out}",
         r"{bad_json}/config\.json: not valid JSON \(line 2, column 25"),
    Case("embed-config-bad-field", "embed {text} --model {bad_field} --output {out}",
         r"{bad_field}/config\.json: hidden_size 64 is not a multiple of .*num_attention_heads"),
    Case("embed-truncated-weights", "embed {text} --model {truncated} --output {out}",
         r"{truncated}/model\.safetensors: not a readable safetensors file"),
    Case("embed-wrong-shape", "embed {text} --model {wrong_shape} --output {out}",
         r"{wrong_shape}/model\.safetensors: tensors of the wrong shape: embeddings\.word_embeddings\.weight: "
         r"checkpoint \(7, 64\) vs model \(\d+, 64\)"),
    Case("embed-max-length-over-positions", "embed {text} --model {model} --max-length 1000 --output {out}",
         r"--max-length 1000: the model has 64 positions"),
    Case("embed-tokenizer-of-another-model", "embed {text} --model {other_vocab} --output {out}",
         r"{other_vocab}: the tokenizer has \d+ tokens but the model's vocab_size is 20"),
    Case("embed-output-under-a-file", "embed {text} --model {model} --output {regular}/out.jsonl",
         r"{regular}/out\.jsonl: cannot write \(Not a directory.*\); a part of the path is a file"),
    Case("embed-output-is-a-folder", "embed {text} --model {model} --output {folder}",
         r"{folder}: cannot write \(Is a directory\); that is a folder; give a file path"),
    # info
    Case("info-missing", "info {absent}", r"{absent}: no such model folder"),
    Case("info-a-file", "info {text}", r"{text}: a file, not a model folder"),
    Case("info-config-not-json", "info {bad_json}", r"{bad_json}/config\.json: not valid JSON"),
    Case("info-garbage-weights", "info {garbage}", r"{garbage}/model\.safetensors: not a readable safetensors file"),
    # vocab
    Case("vocab-missing-file", "vocab {absent} --out {out}", r"{absent}: no such file"),
    Case("vocab-not-utf8", "vocab {latin1} --out {out}", r"{latin1}:2: not UTF-8 \(byte 0xe9"),
    Case("vocab-empty-file", "vocab {blank} {empty} --out {out}", r"{blank}, {empty}: no text to learn a vocabulary from"),
    Case("vocab-folder-as-file", "vocab {folder} --out {out}", r"{folder}: a folder, not a file"),
    Case("vocab-size-too-small", "vocab {text} --vocab-size 3 --out {out}", r"--vocab-size 3: must be larger than the 5 special"),
    Case("vocab-min-frequency", "vocab {text} --min-frequency -1 --out {out}", r"--min-frequency -1: must be at least 0"),
    Case("vocab-out-under-a-file", "vocab {corpus} --vocab-size 60 --min-frequency 1 --out {regular}/vocab",
         r"{regular}/vocab: cannot write \(.*\); a part of the path is a file"),
    # demo
    Case("demo-missing-model", "demo --model {absent}", r"{absent}"),
    Case("demo-no-config", "demo --model {no_config}", r"{no_config}/config\.json"),
    Case("demo-wrong-shape", "demo --model {wrong_shape}", r"{wrong_shape}/model\.safetensors: tensors of the wrong shape"),
    Case("demo-no-vocab", "demo --model {no_vocab}", r"{no_vocab}"),
    # prepare
    Case("prepare-no-tokenizer", "prepare {corpus} --out {out}", r"--tokenizer: missing"),
    Case("prepare-empty-file", "prepare {empty} --tokenizer {model} --out {out} --workers 1", r"{empty}: found 0 document"),
    Case("prepare-not-utf8", "prepare {latin1} --tokenizer {model} --out {out} --workers 1",
         r"{latin1}:2: not UTF-8 \(byte 0xe9 at byte 8 of the line\); .*--skip-bad-files"),
    Case("prepare-bad-jsonl", "prepare {bad_jsonl} --tokenizer {model} --out {out} --workers 1",
         r"{bad_jsonl}:2: expected an object with a string field 'text'"),
    Case("prepare-folder-as-file", "prepare {folder} --tokenizer {model} --out {out}", r"{folder}: a folder, not a file"),
    Case("prepare-eval-fraction", "prepare {corpus} --tokenizer {model} --out {out} --eval-fraction 0",
         r"--eval-fraction 0\.0: must be between 0 and 1"),
    Case("prepare-out-under-a-file", "prepare {corpus} --tokenizer {model} --out {regular}/shards --workers 1",
         r"{regular}/shards: cannot write \(.*\); a part of the path is a file"),
    Case("prepare-out-is-a-file", "prepare {corpus} --tokenizer {model} --out {regular} --workers 1",
         r"{regular}: cannot write \(a file of that name exists\); a file is in the way"),
    Case("prepare-tokenizer-no-vocab", "prepare {corpus} --tokenizer {no_vocab} --out {out} --workers 1", r"{no_vocab}"),
    # pretrain
    Case("pretrain-resume-nothing", "pretrain --vocab {model} --resume --out {out}",
         r"{out}/checkpoint\.pt: no checkpoint to resume from"),
    Case("pretrain-resume-damaged", "pretrain {corpus} --vocab {model} --resume --out {damaged_run}",
         r"{damaged_run}/checkpoint\.pt: cannot be read \(.*\); the file is damaged"),
    Case("pretrain-steps-negative", "pretrain {corpus} --vocab {model} --steps -1 --out {out}", r"--steps -1: must be at least 0"),
    Case("pretrain-lr-zero", "pretrain {corpus} --vocab {model} --lr 0 --out {out}", r"--lr 0\.0: must be greater than 0"),
    Case("pretrain-lr-nan", "pretrain {corpus} --vocab {model} --lr nan --out {out}", r"--lr nan: must be a finite number"),
    Case("pretrain-dtype", "pretrain {corpus} --vocab {model} --dtype fp17 --out {out}",
         r"--dtype 'fp17': use one of auto, bf16, fp16, fp32"),
    Case("pretrain-schedule", "pretrain {corpus} --vocab {model} --schedule cosine2 --out {out}", r"--schedule 'cosine2'"),
    Case("pretrain-log-every-0", "pretrain {corpus} --vocab {model} --log-every 0 --out {out}", r"--log-every 0"),
    Case("pretrain-max-seq-length", "pretrain {corpus} --vocab {model} --max-seq-length 4 --out {out}",
         r"--max-seq-length 4: must be at least 8"),
    Case("pretrain-max-seq-length-over-positions", "pretrain {corpus} --vocab {model} --config {tiny_json} --out {out}",
         r"--max-seq-length 128 exceeds the model's max_position_embeddings 64; use at most 64"),
    Case("pretrain-unknown-preset", "pretrain {corpus} --vocab {model} --config huge --out {out}",
         r"--config 'huge': not a preset"),
    Case("pretrain-config-not-json", "pretrain {corpus} --vocab {model} --config {not_json} --out {out}",
         r"{not_json}: not valid JSON \(line 1, column 2"),
    Case("pretrain-config-missing", "pretrain {corpus} --vocab {model} --config {absent}.json --out {out}",
         r"{absent}\.json: no such file"),
    Case("pretrain-data-missing", "pretrain --data {absent} --vocab {model} --out {out}", r"--data {absent}: no such folder"),
    Case("pretrain-no-vocab", "pretrain {corpus} --out {out}", r"--vocab: missing"),
    Case("pretrain-out-is-a-file", "pretrain {corpus} --vocab {model} --out {regular}", r"--out {regular}: a file, not a folder"),
    Case("pretrain-out-under-a-file", "pretrain {corpus} --vocab {model} --config {tiny_json} --out {regular}/run --workers 1 "
         "--max-seq-length 32",
         r"{regular}/run/shards: cannot write \(.*\); a part of the path is a file"),
    Case("pretrain-init-from-truncated", "pretrain {corpus} --init-from {truncated} --out {out} --workers 1 --steps 1",
         r"{truncated}/model\.safetensors: not a readable safetensors file"),
    # fill-mask
    Case("fill-mask-no-model", "fill-mask the_[MASK]_sat", r"--model: missing"),
    Case("fill-mask-no-mlm-head", "fill-mask the_[MASK]_sat --model {model}", r"{model}: the weights hold no masked-LM head"),
    Case("fill-mask-no-mask-token", "fill-mask the_cat_sat --model {mlm}", r"text 'the cat sat': no \[MASK\] token"),
    Case("fill-mask-top-k-0", "fill-mask the_[MASK]_sat --model {mlm} --top-k 0", r"--top-k 0: must be at least 1"),
    Case("fill-mask-top-k-huge", "fill-mask the_[MASK]_sat --model {mlm} --top-k 100000", r"--top-k 100000: more than the \d+ tokens"),
    Case("fill-mask-text-too-long", "fill-mask " + "the_cat_sat_" * 30 + "[MASK] --model {mlm}",
         r"text: \d+ tokens, but the model reads at most 64"),
    Case("fill-mask-garbage-weights", "fill-mask the_[MASK]_sat --model {garbage}", r"{garbage}/model\.safetensors: not a readable"),
    Case("fill-mask-missing-model", "fill-mask the_[MASK]_sat --model {absent}", r"{absent}: no such model folder"),
    # finetune
    Case("finetune-missing-train", "finetune --train {absent} --model {model} --out {out}", r"{absent}"),
    Case("finetune-batch-size-0", "finetune --train {train_csv} --model {model} --batch-size 0 --out {out}",
         r"--batch-size 0: must be at least 1"),
    Case("finetune-lr-negative", "finetune --train {train_csv} --model {model} --lr -1 --out {out}",
         r"--lr -1\.0: must be greater than 0"),
    Case("finetune-epochs-0", "finetune --train {train_csv} --model {model} --epochs 0 --out {out}", r"--epochs 0\.0"),
    Case("finetune-task", "finetune --task tagging --train {train_csv} --model {model} --out {out}",
         r"--task 'tagging': use one of classify, ner, qa"),
    Case("finetune-long", "finetune --long slide --train {train_csv} --model {model} --out {out}", r"--long 'slide'"),
    Case("finetune-no-config", "finetune --train {train_csv} --model {no_config} --out {out} --quiet",
         r"{no_config}/config\.json"),
    Case("finetune-garbage-weights", "finetune --train {train_csv} --model {garbage} --out {out} --quiet",
         r"{garbage}/model\.safetensors: not a readable safetensors file"),
    Case("finetune-out-under-a-file", "finetune --train {train_csv} --model {model} --out {regular}/clf --quiet",
         r"{regular}/clf: cannot write \(.*\); a part of the path is a file"),
    Case("finetune-out-is-the-users-folder", "finetune --train {train_csv} --model {model} --out {own_folder} --quiet",
         r"{own_folder}: the folder exists and holds files that are not bertkit output \(notes\.md, train\.csv\)"),
    Case("vocab-out-is-the-users-folder", "vocab {corpus} --vocab-size 60 --min-frequency 1 --out {own_folder}",
         r"{own_folder}: the folder exists and holds files that are not bertkit output"),
    Case("prepare-out-is-the-users-folder", "prepare {corpus} --tokenizer {model} --out {own_folder} --workers 1",
         r"{own_folder}: the folder exists and holds files that are not bertkit output"),
    # predict
    Case("predict-no-config", "predict --model {no_config} --input {text} --output {out}", r"{no_config}"),
    Case("predict-missing-input", "predict --model {clf} --input {absent} --output {out}", r"{absent}"),
    Case("predict-batch-size-0", "predict --model {clf} --input {text} --batch-size 0 --output {out}",
         r"--batch-size 0: must be at least 1"),
    Case("predict-task", "predict --model {clf} --input {text} --task sentiment --output {out}", r"--task 'sentiment'"),
    Case("predict-no-text-field", "predict --model {clf} --input {no_text_field} --output {out}",
         r"{no_text_field}:1: .*'text'"),
    Case("predict-not-utf8", "predict --model {clf} --input {latin1_jsonl} --output {out}",
         r"{latin1_jsonl}:1: not UTF-8 \(byte 0xe9"),
    Case("predict-qa-no-question", "predict --model {model} --task qa --input {no_question} --output {out}",
         r"{no_question}:1: .*'question'"),
    Case("predict-tokenizer-config", "predict --model {bad_tok_config} --task classify --input {text} --output {out}",
         r"{bad_tok_config}.*do_lower_case"),
    # finetune: task files (issue 13's kinds)
    Case("finetune-csv-unclosed-quote", "finetune --train {unclosed_csv} --model {model} --out {out}",
         r"{unclosed_csv}:2: a quoted field that opens in this record is never closed"),
    Case("finetune-tsv-fields", "finetune --train {fields_tsv} --model {model} --out {out}",
         r"{fields_tsv}:3: 3 fields, but the header \(line 1\) has 2 columns"),
    Case("finetune-jsonl-bad-line", "finetune --train {bad_line_jsonl} --model {model} --out {out}",
         r"{bad_line_jsonl}:2: not valid JSON \(Expecting ',' delimiter at column 27\)"),
    Case("finetune-dev-bad-line", "finetune --train {train_csv} --dev {bad_line_jsonl} --model {model} --out {out}",
         r"{bad_line_jsonl}:2: not valid JSON"),
    Case("finetune-label-kinds", "finetune --train {mixed_labels} --model {model} --out {out}",
         r"{mixed_labels}: field 'label' mixes kinds: a name at line 1 and a number .* at line 2"),
    Case("finetune-one-class", "finetune --train {one_class} --model {model} --out {out}",
         r"{one_class}: field 'label': every example has the label 'spam', one class"),
    Case("finetune-pair-missing", "finetune --train {pair_missing} --model {model} --out {out}",
         r"{pair_missing}:3: field 'text_pair' is missing or empty"),
    Case("finetune-problem-type", "finetune --train {train_csv} --model {model} --problem-type binary --out {out}",
         r"argument --problem-type: invalid choice: 'binary'"),
    Case("finetune-max-length-over-positions", "finetune --train {train_csv} --model {model} --max-length 600 --out {out}",
         r"--max-length 600: the model at .* reads at most 64 tokens \(max_position_embeddings\); use --max-length 64"),
    Case("finetune-ner-unknown-tag", "finetune --task ner --train {unknown_tag} --model {model} --out {out}",
         r"{unknown_tag}:3: field 'tag': 'X-PER' \(column 2\) is not O or B-/I-/E-/S-/L-/U-<type>"),
    Case("finetune-ner-no-scheme", "finetune --task ner --train {no_scheme} --model {model} --out {out}",
         r"{no_scheme}:4: field 'tag': 'I-PER' fits no tag scheme"),
    Case("finetune-ner-ragged-columns", "finetune --task ner --train {ragged_conll} --model {model} --out {out}",
         r"{ragged_conll}:2: expected 3 columns"),
    Case("finetune-ner-tag-column", "finetune --task ner --train {ner_conll} --tag-column 5 --model {model} --out {out}",
         r"{ner_conll}:1: --tag-column 5: the line has 2 columns"),
    Case("finetune-qa-duplicate-id", "finetune --task qa --train {dup_ids} --model {model} --out {out}",
         r"{dup_ids}:3: .*'a' is also the id of the question at {dup_ids}:2"),
    Case("finetune-qa-answer-start", "finetune --task qa --train {wrong_start} --model {model} --out {out}",
         r"{wrong_start}:2: .*answer_start 3 points at"),
    Case("finetune-qa-doc-stride", "finetune --task qa --train {squad} --model {model} --max-length 60 --doc-stride 100 "
         "--out {out}", r"--doc-stride 100: .* use --doc-stride 54 or less"),
    Case("predict-output-under-a-file", "predict --model {clf} --input {text} --output {regular}/pred.jsonl",
         r"{regular}/pred\.jsonl: cannot write \(.*\); a part of the path is a file"),
]
# the commands `bertkit --help` lists: each must appear in the table
COMMANDS = ("tokenize", "embed", "info", "vocab", "demo", "prepare", "pretrain", "fill-mask", "finetune", "predict")


def _argv(case: Case, paths: dict[str, str]) -> tuple[list[str], str]:
    # a placeholder inside a word stays inside it; "_" in a word stands for a space (fill-mask texts)
    argv = [w.format(**paths).replace("_", " ") if "{" not in w else w.format(**paths) for w in case.argv.split()]
    pattern = case.message.format(**{k: re.escape(v) for k, v in paths.items()})
    return argv, pattern


def _check_one_line(err: str, command: str, pattern: str) -> str:
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith(f"bertkit {command}: ")]
    assert len(lines) == 1, f"expected one message line, got:\n{err}"
    message = lines[0][len(f"bertkit {command}: "):]
    assert re.search(pattern, message), f"{message!r} does not match {pattern!r}"
    return message


def _leftovers(out: Path) -> list[str]:
    if not out.parent.exists():
        return []
    return sorted(p.name for p in out.parent.iterdir() if p.name == out.name or p.name.startswith(f".{out.name}."))


def test_the_table_covers_every_command_and_thirty_cases():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.argv.split()[0] for c in CASES} == set(COMMANDS)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_leaves_nothing(case, ws, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BERTKIT_DEBUG", raising=False)
    out = tmp_path / "out"
    paths = {**ws, "out": str(out)}
    argv, pattern = _argv(case, paths)
    before = _snapshot(Path(ws["model"]).parent)
    with pytest.raises(SystemExit) as e:  # any other exception escaping main fails the test
        main(argv)
    assert e.value.code == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out
    _check_one_line(captured.err, argv[0], pattern)
    assert _leftovers(out) == []  # no partial output file or folder, no temporary sibling
    assert _snapshot(Path(ws["model"]).parent) == before  # nothing written, moved or left in the workspace


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size if p.is_file() else -1 for p in root.rglob("*")}


def test_long_input_is_cut_to_the_model_positions(ws, tmp_path, capsys):
    """A line longer than the model's 64 positions is cut to them (the tokenizer's own limit is 512)."""
    out = tmp_path / "vectors.jsonl"
    main(["embed", ws["long_text"], "--model", ws["model"], "--output", str(out)])
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").split("\n") if line]
    assert len(rows) == 1 and len(rows[0]["embedding"]) == 64


def test_every_help_still_works(capsys):
    for command in COMMANDS:
        with pytest.raises(SystemExit) as e:
            main([command, "--help"])
        assert e.value.code == 0
        assert f"usage: bertkit {command}" in capsys.readouterr().out


def test_debug_shows_the_traceback(ws, monkeypatch):
    monkeypatch.setenv("BERTKIT_DEBUG", "1")
    from bertkit.errors import DataError
    with pytest.raises(DataError, match="not UTF-8"):
        main(["tokenize", ws["latin1"], "--model", ws["model"]])


# -- failed writes in the middle of a run: what was saved before stays loadable ---------------------------

def test_full_disk_at_the_second_checkpoint(ws, tmp_path, capsys, monkeypatch):
    """pretrain with --save-every 1: the disk fills while writing the second checkpoint. One line names the
    file and the cause; the first checkpoint stays and loads."""
    out = tmp_path / "run"
    real_save, calls = torch.save, []

    def save(obj, path, *a, **k):
        if str(path).startswith(str(out / ".checkpoint.pt.")):
            calls.append(path)
            if len(calls) == 2:
                Path(path).write_bytes(b"half a checkpoint")
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, path, *a, **k)

    monkeypatch.setattr(torch, "save", save)
    threads = torch.get_num_threads()
    argv = ["pretrain", ws["corpus"], "--vocab", ws["model"], "--config", ws["tiny_json"], "--out", str(out),
            "--steps", "3", "--batch-size", "2", "--max-seq-length", "32", "--save-every", "1", "--eval-every", "0",
            "--eval-examples", "4", "--dtype", "fp32", "--threads", "1", "--workers", "1", "--no-progress"]
    try:
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        message = _check_one_line(capsys.readouterr().err, "pretrain",
                                  re.escape(str(out / "checkpoint.pt")) + r": cannot write \(No space left on device\); "
                                  r"free some disk space or write elsewhere; the previous checkpoint \(step 1\) is "
                                  r"intact: continue with --resume$")
        assert message
        assert torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)["step"] == 1
        assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left
    finally:
        torch.set_num_threads(threads)
    # (that --resume then finishes the run: test_pretrain_errors.test_full_disk_while_saving_...)


def test_full_disk_while_finetune_saves_leaves_no_folder(ws, tmp_path, capsys, monkeypatch):
    """The model is written into the temporary folder last; a full disk there leaves no output folder (and an
    earlier folder of the same name untouched)."""
    import safetensors.torch
    out = tmp_path / "clf"
    out.mkdir()
    (out / "metrics.jsonl").write_text("an earlier run\n")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    with pytest.raises(SystemExit) as e:
        main(["finetune", "--train", ws["train_csv"], "--model", ws["model"], "--out", str(out), "--epochs", "1",
              "--batch-size", "4", "--quiet", "--fp32"])
    assert e.value.code == 2
    _check_one_line(capsys.readouterr().err, "finetune",
                    r"model\.safetensors: cannot write \(No space left on device\); free some disk space")
    assert sorted(p.name for p in out.iterdir()) == ["metrics.jsonl"]
    assert (out / "metrics.jsonl").read_text() == "an earlier run\n"
    assert _leftovers(out) == ["clf"]


def test_full_disk_while_writing_shards_keeps_the_old_ones(ws, tmp_path, capsys, monkeypatch):
    import numpy as np
    out = tmp_path / "shards"
    assert main(["prepare", ws["corpus"], "--tokenizer", ws["model"], "--out", str(out), "--workers", "1"]) is None
    meta = (out / "meta.json").read_text()
    corpus2 = tmp_path / "corpus2.txt"
    corpus2.write_text(Path(ws["corpus"]).read_text() * 2, encoding="utf-8")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    with pytest.raises(SystemExit):
        main(["prepare", str(corpus2), "--tokenizer", ws["model"], "--out", str(out),
              "--workers", "1"])
    _check_one_line(capsys.readouterr().err, "prepare", re.escape(str(out)) + r": cannot write \(No space left")
    assert (out / "meta.json").read_text() == meta  # the earlier shards are still there, whole
    assert _leftovers(out) == ["shards"]


def test_permission_denied_is_named(ws, tmp_path, capsys, monkeypatch):
    """A folder one may not write to (simulated: the tests run as root, whom chmod does not stop)."""
    import tempfile
    real = tempfile.mkstemp

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", k.get("dir"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    out = tmp_path / "vectors.jsonl"
    with pytest.raises(SystemExit):
        main(["embed", ws["text"], "--model", ws["model"], "--output", str(out)])
    monkeypatch.setattr(tempfile, "mkstemp", real)
    _check_one_line(capsys.readouterr().err, "embed", re.escape(str(out)) + r": cannot write \(Permission denied"
                    r".*\); choose a folder you may write to")
    assert not out.exists()


# -- the whole path, as a user runs it --------------------------------------------------------------------

SUBPROCESS = ["tokenize-not-utf8", "pretrain-resume-nothing",
              pytest.param("embed-wrong-shape", marks=pytest.mark.slow),
              pytest.param("vocab-out-under-a-file", marks=pytest.mark.slow)]


@pytest.mark.parametrize("case_id", SUBPROCESS)
def test_real_command_line_prints_no_traceback(case_id, ws, tmp_path):
    case = next(c for c in CASES if c.id == case_id)
    argv, pattern = _argv(case, {**ws, "out": str(tmp_path / "out")})
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("BERTKIT_DEBUG", None)
    r = subprocess.run([sys.executable, "-m", "bertkit", *argv], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr + r.stdout and "panicked" not in r.stderr
    _check_one_line(r.stderr, argv[0], pattern)
    assert _leftovers(tmp_path / "out") == []


def test_embed_output_under_a_file_is_refused_before_the_work(ws, capsys, monkeypatch):
    import bertkit.inference
    monkeypatch.setattr(bertkit.inference, "sentence_embeddings", lambda *a, **k: pytest.fail("embedded first"))
    with pytest.raises(SystemExit) as e:
        main(["embed", ws["text"], "--model", ws["model"], "--output", ws["regular"] + "/out.jsonl"])
    assert e.value.code == 2
    _check_one_line(capsys.readouterr().err, "embed", r"regular-file/out\.jsonl: cannot write \(Not a directory")


@pytest.mark.parametrize("text, encoding, hint", [
    ("北京欢迎你，我们是中国人。\n", "gbk", "gb18030"),
    ("价格：１２９９元！！质量：好。\n", "gbk", "gb18030"),  # full-width digits and punctuation outnumber the characters
    ("我们 在 １９９８年 ＢＥＲＴ ，。：abc\n", "gbk", "gb18030"),
    ("the café was good\n", "latin-1", "latin1"),
    ("Straße München über\n", "latin-1", "latin1"),
    ("Été à là\n", "latin-1", "latin1"),
])
def test_the_not_utf8_hint_names_an_encoding_that_converts_the_file(text, encoding, hint):
    from bertkit.errors import BertkitError
    from bertkit.data.readers import decode_utf8
    data = text.encode(encoding)
    with pytest.raises(BertkitError, match=f"iconv -f {hint} -t utf-8"):
        decode_utf8(data, "f.txt")
    assert data.decode(hint) == text  # the hint gives the text back
