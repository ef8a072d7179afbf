"""The pretraining loop on a tiny model: exact resume after kill -9, DDP equivalence, the final folder
loads in `transformers`, fill-mask."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

SRC = str(Path(__file__).resolve().parents[1] / "src")
TINY = {"vocab_size": 300, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 64, "max_position_embeddings": 64}


@pytest.fixture(scope="module")
def shards(pretrain_text, pretrain_vocab, tmp_path_factory):
    from bertkit.data.corpus import PrepareConfig, prepare_corpus
    from bertkit.tokenization import BertTokenizer
    out = prepare_corpus([pretrain_text], pretrain_vocab, tmp_path_factory.mktemp("run") / "shards",
                         PrepareConfig(eval_fraction=0.05, workers=1), progress=False)
    config = out.parent / "tiny.json"
    config.write_text(json.dumps({**TINY, "vocab_size": len(BertTokenizer.from_pretrained(pretrain_vocab))}))
    return out


def _cmd(shards, vocab, out, *extra, launcher=(sys.executable, "-m")):
    return [*launcher, *(["bertkit"] if launcher[-1] == "-m" else []), "pretrain", "--data", str(shards), "--vocab", str(vocab),
            "--config", str(shards.parent / "tiny.json"), "--out", str(out), "--max-seq-length", "32",
            "--batch-size", "8", "--dtype", "fp32", "--lr", "1e-3", "--log-every", "1", "--eval-examples", "16",
            "--no-progress", *extra]


def _env(threads=1):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def _losses(out: Path) -> list[tuple[int, float, float]]:
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["mlm_loss"], r.get("nsp_loss")) for r in rows if "loss" in r]  # no NSP: None


def _weights(out: Path) -> dict:
    from safetensors.torch import load_file
    return load_file(out / "model" / "model.safetensors")


@pytest.mark.slow  # 30 s of subprocesses; the default tier keeps the in-process exact-resume tests of every
# objective (test_pretrain_roberta.py, test_pretrain_objectives.py)
def test_exact_resume_after_kill(shards, pretrain_vocab, tmp_path):
    N = 4
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    common = ("--steps", str(2 * N), "--save-every", str(N), "--eval-every", str(N), "--threads", "1")
    subprocess.run(_cmd(shards, pretrain_vocab, straight, *common), env=_env(), check=True, timeout=300)

    hang = (sys.executable, str(Path(__file__).with_name("hang_after.py")), str(N))  # a test hook, not an option
    proc = subprocess.Popen(_cmd(shards, pretrain_vocab, killed, *common, launcher=hang), env=_env())
    try:
        deadline = time.time() + 300
        while not (killed / "checkpoint.pt").exists():
            assert proc.poll() is None, "the run ended before its checkpoint"
            assert time.time() < deadline
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)  # kill -9: no chance to clean up
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (killed / "model").exists()
    subprocess.run(_cmd(shards, pretrain_vocab, killed, *common, "--resume"), env=_env(), check=True, timeout=300)

    a, b = _losses(straight), _losses(killed)
    assert [s for s, *_ in a] == list(range(1, 2 * N + 1))
    assert a == b  # bitwise: the floats are written exactly
    wa, wb = _weights(straight), _weights(killed)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert (straight / "loss.png").stat().st_size > 1000
    rows = [json.loads(x) for x in (straight / "metrics.jsonl").read_text().splitlines()]
    ev = [r for r in rows if "eval_mlm_acc" in r]
    assert [r["step"] for r in ev] == [0, N, 2 * N] and all(0 <= r["eval_nsp_acc"] <= 1 for r in ev)
    assert all(r["tokens_per_s"] > 0 and r["mfu"] > 0 for r in rows if "loss" in r)


@pytest.mark.slow  # 13 s: a whole pretraining run, exported and read by transformers
def test_final_folder_loads_in_transformers_and_fills_masks(shards, pretrain_vocab, tmp_path):
    transformers = pytest.importorskip("transformers")
    from bertkit.fill_mask import fill_mask
    from bertkit.models import BertForPreTraining
    out = tmp_path / "run"
    subprocess.run(_cmd(shards, pretrain_vocab, out, "--steps", "3", "--eval-every", "0", "--save-every", "0"),
                   env=_env(), check=True, timeout=300)
    ours = BertForPreTraining.from_pretrained(out / "model").eval()
    theirs = transformers.BertForPreTraining.from_pretrained(out / "model").eval()
    ids = torch.tensor([[2, 40, 41, 42, 4, 43, 3]])
    with torch.no_grad():
        a, b = ours(ids), theirs(ids)
    torch.testing.assert_close(a.prediction_logits, b.prediction_logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(a.seq_relationship_logits, b.seq_relationship_logits, atol=1e-4, rtol=1e-4)
    preds = fill_mask(out / "model", "the river [MASK] in the city.", top_k=3)
    assert len(preds) == 1 and len(preds[0]) == 3
    scores = [p["score"] for p in preds[0]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1 + 1e-6
    res = subprocess.run([sys.executable, "-m", "bertkit", "fill-mask", "--model", str(out / "model"), "--json",
                          "the [MASK] of the [MASK]."], env=_env(), capture_output=True, text=True, check=True)
    assert len(json.loads(res.stdout)) == 2


def test_dropout_flag_is_for_the_run_only(tmp_path):
    """--dropout 0 trains without dropout, but the config (and so the exported folder) keeps 0.1, so a
    model fine-tuned from it has dropout again."""
    from bertkit.train.pretrain import build_model
    from bertkit.train.pretrain_args import PretrainArgs
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    model = build_model(PretrainArgs(config=str(config), dropout=0.0, max_seq_length=32), TINY["vocab_size"]).train()
    ids = torch.randint(5, TINY["vocab_size"], (2, 12))
    a, b = model(ids).prediction_logits, model(ids).prediction_logits
    assert torch.equal(a, b)  # no dropout in this run
    assert model.config.hidden_dropout_prob == model.config.attention_probs_dropout_prob == 0.1
    model.save_pretrained(tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "config.json").read_text())
    assert saved["hidden_dropout_prob"] == saved["attention_probs_dropout_prob"] == 0.1
    with_dropout = build_model(PretrainArgs(config=str(config), max_seq_length=32), TINY["vocab_size"]).train()
    assert not torch.equal(with_dropout(ids).prediction_logits, with_dropout(ids).prediction_logits)


def test_fill_mask_needs_an_mlm_head(minilm_dir):
    from bertkit.checkpoint import CheckpointError
    from bertkit.fill_mask import fill_mask
    with pytest.raises(CheckpointError, match="masked-LM head"):
        fill_mask(minilm_dir, "Paris is the [MASK] of France.")


@pytest.mark.slow
@pytest.mark.parametrize("model_type", ["bert", "roberta"])
def test_ddp_two_processes_match_one(shards, pretrain_vocab, tmp_path, model_type):
    """2 gloo processes × 4 examples = 1 process × (2 micro-batches of 4): the same losses for 20 steps."""
    common = ("--steps", "20", "--save-every", "0", "--eval-every", "0", "--dropout", "0", "--threads", "1",
              "--model-type", model_type)
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run(_cmd(shards, pretrain_vocab, one, *common, "--micro-batch-size", "4"), env=_env(),
                   check=True, timeout=600)
    launcher = (sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
                "-m")
    subprocess.run(_cmd(shards, pretrain_vocab, two, *common, launcher=launcher), env=_env(), check=True, timeout=600)
    a, b = _losses(one), _losses(two)
    assert len(a) == len(b) == 20
    for (s1, m1, n1), (s2, m2, n2) in zip(a, b):
        assert s1 == s2
        assert abs(m1 - m2) <= 1e-4 * abs(m1), (s1, m1, m2)
        assert (n1 is None) == (n2 is None) == (model_type == "roberta")
        assert n1 is None or abs(n1 - n2) <= 1e-4 * abs(n1), (s1, n1, n2)
