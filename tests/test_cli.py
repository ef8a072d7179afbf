"""The command line: help, info, tokenize, vocab, errors."""
import json
import subprocess
import sys

import pytest

from bertkit.cli import COMMANDS, build_parser, main, summary


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for name in ("tokenize", "embed", "info", "vocab", "demo"):
        assert name in out


def test_each_command_is_listed_with_a_whole_sentence():
    """The one-line summaries in `bertkit --help` end where a sentence ends, not where a docstring
    line happens to wrap."""
    for name, (_, cls) in COMMANDS.items():
        line = summary(cls.__doc__ or "")
        assert line.endswith((".", ")")), f"{name}: {line!r}"
    assert summary("Do a thing across\n    two lines. Then more.\n\n    Details.") == "Do a thing across two lines."


def test_command_help_explains_options():
    text = build_parser()._subparsers._group_actions[0].choices["embed"].format_help()
    assert "--batch-size" in text and "mean-pooled" in text


def test_help_states_defaults_once():
    text = build_parser()._subparsers._group_actions[0].choices["finetune"].format_help()
    text = " ".join(text.split())
    assert "(default: 42)" in text  # --seed
    assert "False" not in text  # an off flag has nothing to state
    assert "default 3; the demo uses 1" in text and "(default: None)" not in text


def test_testing_hooks_stay_out_of_help():
    text = build_parser()._subparsers._group_actions[0].choices["pretrain"].format_help()
    assert "--hang-after" not in text and "--resume" in text


def test_no_command_prints_help_and_fails(capsys):
    with pytest.raises(SystemExit) as e:
        main([])
    assert e.value.code == 2


def test_module_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "bertkit", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "embed" in r.stdout


def test_info_describes_minilm(minilm_dir, capsys):
    main(["info", str(minilm_dir)])
    out = capsys.readouterr().out
    assert "22,713,216 parameters" in out  # all-MiniLM-L6-v2's published size
    assert "layers 6, hidden 384" in out
    assert "heads present: pooler" in out


def test_info_on_missing_folder_says_where(tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["info", str(tmp_path / "nope")])
    assert "nope" in str(e.value)


def test_tokenize_prints_json_lines(minilm_dir, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("Hello, world!\n\nUnbelievable héllo 中国\n", encoding="utf-8")
    main(["tokenize", str(src), "--model", str(minilm_dir)])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2  # blank lines are skipped
    assert rows[0]["tokens"] == ["[CLS]", "hello", ",", "world", "!", "[SEP]"]
    assert rows[1]["tokens"][-3:] == ["中", "国", "[SEP]"]
    text = rows[1]["text"]
    pieces = [text[s:e] for s, e in rows[1]["offsets"]]
    assert pieces == ["", "Unbelievable", "héllo", "中", "国", ""]  # the original text, accents and case kept


def test_embed_missing_input_file_says_which(minilm_dir, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["embed", str(tmp_path / "absent.txt"), "--model", str(minilm_dir)])
    assert str(e.value) == f"bertkit embed: {tmp_path / 'absent.txt'}: no such file; check the path"  # which command, which file


def test_embed_and_vocab_refuse_empty_or_missing_input(minilm_dir, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(SystemExit) as e:
        main(["embed", str(empty), "--model", str(minilm_dir)])
    assert str(e.value) == f"bertkit embed: {empty}: no lines to embed"
    with pytest.raises(SystemExit) as e:
        main(["vocab", str(tmp_path / "absent.txt"), "--out", str(tmp_path / "v")])
    assert str(e.value) == f"bertkit vocab: {tmp_path / 'absent.txt'}: no such file; check the path"


def test_vocab_command_writes_a_loadable_folder(tmp_path, wiki_txt):
    transformers = pytest.importorskip("transformers")
    corpus = tmp_path / "corpus.txt"
    lines = wiki_txt.read_text(encoding="utf-8").splitlines()[:400]
    corpus.write_text("\n".join(lines), encoding="utf-8")
    out = tmp_path / "vocab"
    main(["vocab", str(corpus), "--vocab-size", "2000", "--out", str(out)])
    hf = transformers.BertTokenizer.from_pretrained(out)
    from bertkit import BertTokenizer
    ours = BertTokenizer.from_pretrained(out)
    held_out = wiki_txt.read_text(encoding="utf-8").splitlines()[1000:1100]
    assert ours(held_out)["input_ids"] == hf(held_out)["input_ids"]
    assert len(hf) == len(ours) <= 2000


def test_bad_options_are_one_line_naming_the_option(capsys):
    for argv, expected in [
        (["nosuchcommand"], "bertkit: argument command: invalid choice: 'nosuchcommand'"),
        (["embed", "--batch-size", "x"], "bertkit embed: argument --batch-size: invalid int value: 'x'"),
        (["embed", "--batch-size", "0"], "bertkit embed: --batch-size 0: must be at least 1"),
        (["pretrain", "--dtype", "fp17"], "bertkit pretrain: --dtype 'fp17': use one of auto, bf16, fp16, fp32"),
    ]:
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and err.startswith(expected), err


def test_info_describes_an_albert_folder(tmp_path, capsys):
    """A folder transformers wrote for AlbertForPreTraining: its parameter count (shared layers once, the
    tied decoder not at all), its factorised embeddings and groups, and its heads."""
    transformers = pytest.importorskip("transformers")
    config = transformers.AlbertConfig(vocab_size=60, embedding_size=8, hidden_size=16, num_hidden_layers=3,
                                       num_hidden_groups=2, inner_group_num=2, num_attention_heads=2,
                                       intermediate_size=20, max_position_embeddings=32)
    model = transformers.AlbertForPreTraining(config)
    model.save_pretrained(tmp_path)
    main(["info", str(tmp_path)])
    out = capsys.readouterr().out
    assert f"{model.num_parameters():,} parameters" in out
    assert "layers 3, hidden 16" in out and "embedding 8, 2 shared group(s) of 2 layer(s)" in out
    assert "heads present: pooler, masked LM, sentence order" in out


def test_help_imports_neither_torch_nor_matplotlib():
    """`bertkit --help` stays quick: the command table imports no torch, matplotlib, sklearn or captum."""
    import subprocess
    import sys
    code = ("import sys, bertkit.cli; bertkit.cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'matplotlib', 'sklearn', 'captum', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
