"""Bad input to `bertkit prepare` / `bertkit pretrain` gets an error that says what and where, and never
costs a checkpoint: an empty corpus, a non-UTF-8 file, a vocabulary that does not fit the config, a
--resume with another config, a full disk while saving."""
import errno
import json
import re

import pytest
import torch

from bertkit.data.corpus import CorpusError, PrepareConfig, prepare_corpus
from bertkit.io import WriteError
from bertkit.train import pretrain as pretrain_mod
from bertkit.train.pretrain import PretrainError, pretrain
from bertkit.train.pretrain_args import PretrainArgs

pytestmark = pytest.mark.usefixtures("keep_threads")  # pretrain() sets the thread count

TINY = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 64}


@pytest.fixture(scope="module")
def shards(pretrain_text, pretrain_vocab, tmp_path_factory):
    return prepare_corpus([pretrain_text], pretrain_vocab, tmp_path_factory.mktemp("err") / "shards",
                          PrepareConfig(eval_fraction=0.05, workers=1), progress=False)


def _config(folder, **fields):
    path = folder / f"config-{len(list(folder.glob('config-*')))}.json"
    path.write_text(json.dumps({**TINY, **fields}))
    return str(path)


def _args(shards, vocab, out, config, **kw):
    values = dict(data=str(shards), vocab=str(vocab), config=config, out=str(out), max_seq_length=32,
                  batch_size=4, steps=2, dtype="fp32", eval_examples=8, eval_every=0, save_every=1,
                  threads=1, no_progress=True)
    values.update(kw)
    return PretrainArgs(**values)


def test_empty_corpus(pretrain_vocab, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"empty\.txt: found 0 document"):
        prepare_corpus([empty], pretrain_vocab, tmp_path / "shards", PrepareConfig(workers=1), progress=False)
    assert not (tmp_path / "shards").exists()


def test_non_utf8_file_named_with_byte_offset_or_skipped(pretrain_text, pretrain_vocab, tmp_path, capsys):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("first line\nsecond line caf".encode() + "\xe9 au lait\n".encode("latin-1"))
    out = tmp_path / "shards"
    with pytest.raises(CorpusError, match=r"latin1\.txt:2: not UTF-8 \(byte 0xe9 at byte 16 of the line\).*--skip-bad-files"):
        prepare_corpus([pretrain_text, bad], pretrain_vocab, out, PrepareConfig(workers=1), progress=False)
    assert not out.exists()
    prepare_corpus([pretrain_text, bad], pretrain_vocab, out, PrepareConfig(workers=1, skip_bad_files=True),
                   progress=False)
    assert "latin1.txt:2: not UTF-8 (byte 0xe9 at byte 16 of the line)" in capsys.readouterr().err
    meta = json.loads((out / "meta.json").read_text())
    assert meta["splits"]["train"]["documents"] > 0


def test_bad_jsonl_line_is_named(pretrain_vocab, tmp_path):
    bad = tmp_path / "docs.jsonl"
    bad.write_text('{"text": "a document."}\n{"txt": "no text field"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"docs\.jsonl:2: expected an object with a string field 'text'"):
        prepare_corpus([bad], pretrain_vocab, tmp_path / "shards", PrepareConfig(workers=1), progress=False)


def test_vocab_size_that_does_not_fit_the_config(shards, pretrain_vocab, tmp_path):
    config = _config(tmp_path, vocab_size=12345)
    with pytest.raises(PretrainError, match=r"vocab_size is 12345, but the tokenizer has \d+ tokens"):
        pretrain(_args(shards, pretrain_vocab, tmp_path / "run", config))
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_resume_with_another_config_keeps_the_checkpoint(shards, pretrain_vocab, tmp_path):
    out = tmp_path / "run"
    pretrain(_args(shards, pretrain_vocab, out, _config(tmp_path)))
    before = (out / "checkpoint.pt").read_bytes()
    wider = _config(tmp_path, hidden_size=64, intermediate_size=128)
    with pytest.raises(PretrainError, match=r"checkpoint\.pt was written by a different model: hidden_size 32 "
                                            r"\(this run: 64\)"):
        pretrain(_args(shards, pretrain_vocab, out, wider, steps=4, resume=True))
    assert (out / "checkpoint.pt").read_bytes() == before


@pytest.mark.parametrize("failure", [
    OSError(errno.ENOSPC, "No space left on device"),
    # what torch.save itself raises when the disk fills in the middle of the file
    RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 11456 vs 11344"),
])
def test_full_disk_while_saving_keeps_the_previous_checkpoint(shards, pretrain_vocab, tmp_path, monkeypatch, failure):
    out = tmp_path / "run"
    real_save, calls = torch.save, []

    def save(obj, path):
        calls.append(path)
        if len(calls) >= 3:  # the third checkpoint: some bytes land, then the disk is full
            with open(path, "wb") as f:
                f.write(b"partial")
            raise failure
        real_save(obj, path)

    monkeypatch.setattr(pretrain_mod.torch, "save", save)
    cause = "No space left on device" if isinstance(failure, OSError) else "the write stopped short .*unexpected pos"
    with pytest.raises(WriteError, match=rf"^{re.escape(str(out / 'checkpoint.pt'))}: cannot write \({cause}.*\); "
                                         r".*; the previous checkpoint \(step 2\) is intact: continue with --resume$"):
        pretrain(_args(shards, pretrain_vocab, out, _config(tmp_path), steps=5))
    monkeypatch.undo()
    state = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert state["step"] == 2
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no temp files left
    if isinstance(failure, OSError):  # space again: the run goes on from the intact checkpoint
        pretrain(_args(shards, pretrain_vocab, out, _config(tmp_path), steps=5, resume=True))
        assert torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)["step"] == 5
