"""`bertkit pretrain --fsdp` end to end, as a user runs it: `torchrun --nproc_per_node 2 -m bertkit pretrain
... --fsdp` (2 gloo processes on CPU, FSDP2 per layer, checkpoints as torch.distributed.checkpoint folders).

- 2 sharded processes train what 1 process trains on the same global batches (--dropout 0, the same
  micro-batches): losses and per-part losses within 1e-4 relative for 20 steps, for BERT (MLM + NSP, with
  gradient accumulation: gradient sync skipped on all but the last micro-batch) and ELECTRA (the
  generator's samples must be the same however the batch is split);
- the exported model/ (and ELECTRA's generator/) loads in `transformers` to the logits of the 1-process
  run's folder;
- a run killed with SIGKILL right after its checkpoint (tests/hang_after.py, the test hook) and resumed
  with --resume logs the same losses as the run that was never stopped, bit for bit, and ends with the
  same weights;
- in one process, --fsdp is a one-line error.
The runs are started together (a module fixture) to keep the wall time down, and checked by one test."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from test_pretrain import _cmd, _env, shards  # noqa: F401  (shards: the module fixture, prepared shards)

STEPS, SAVE = 20, 10
COMMON = ("--steps", str(STEPS), "--eval-every", "0", "--dropout", "0", "--threads", "1")
LOSSES = {"bert": ("loss", "mlm_loss", "nsp_loss"), "electra": ("loss", "mlm_loss", "rtd_loss")}


def test_fsdp_in_one_process_is_a_one_line_error(tmp_path, capsys, monkeypatch, keep_threads):
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    from bertkit.cli import main
    with pytest.raises(SystemExit) as e:
        main(["pretrain", "--vocab", str(tmp_path / "vocab"), "--out", str(tmp_path / "run"), "--fsdp"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err == ("bertkit pretrain: --fsdp: shards the model over the processes of a torchrun launch; run it "
                   "as `torchrun --nproc_per_node N -m bertkit pretrain ... --fsdp` (one process needs no "
                   "sharding: drop --fsdp)\n")
    assert not (tmp_path / "run").exists()


def test_electra_samples_of_a_keyed_micro_batch_do_not_depend_on_earlier_ones():
    """What makes N processes draw one process's replacements: a micro-batch that carries its stream
    position (SAMPLE_KEY) gets the same samples (so the same loss) whether the sampler drew for another
    micro-batch before or not; without the key it does not, and another position draws other samples."""
    from test_pretrain_objectives import _electra_pair, _masked_batch

    from bertkit.train.objectives.electra import SAMPLE_KEY, ReplacedTokenDetection
    pair = _electra_pair()
    first, second = _masked_batch(seed=1), _masked_batch(seed=2)

    def loss(batches, key=None):  # the loss of the last batch, after the others, from a fresh objective
        objective = ReplacedTokenDetection(7, torch.device("cpu"))
        for k, batch in enumerate(batches):
            out, _ = objective(pair, batch if key is None else {**batch, SAMPLE_KEY: key + k})
        return out.detach()

    assert torch.equal(loss([first, second], key=0), loss([second], key=1))  # rank 1 of 2 = micro-batch 2 of 1
    assert not torch.equal(loss([first, second]), loss([second]))  # sequential draws: what went wrong before
    assert not torch.equal(loss([second], key=1), loss([second], key=2))


# -- the runs ---------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(script=("-m",)):
    return (sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
            str(_free_port()), *script)


def _start(shards, vocab, out, *extra, launcher=(sys.executable, "-m")):
    log = open(out.with_suffix(".log"), "w")
    return subprocess.Popen(_cmd(shards, vocab, out, *COMMON, *extra, launcher=launcher), env=_env(),
                            stdout=log, stderr=subprocess.STDOUT)


def _finish(proc, out, timeout=600):
    assert proc.wait(timeout=timeout) == 0, out.with_suffix(".log").read_text()[-3000:]


def _tree(pid: int) -> list[int]:
    """`pid` and all its descendants (torchrun starts its workers in sessions of their own, so a process
    group kill does not reach them)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def _kill9(proc) -> None:
    for p in _tree(proc.pid):  # the whole tree first, then the kills: orphans would be lost
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=60)


@pytest.fixture(scope="module")
def runs(shards, pretrain_vocab, tmp_path_factory):  # noqa: F811
    """All runs, started together: {name: out folder}."""
    if not Path("/proc").is_dir():
        pytest.skip("finding torchrun's workers to kill -9 reads /proc (Linux)")
    root = tmp_path_factory.mktemp("fsdp_runs")
    out = {k: root / k for k in ("bert_one", "bert_two", "bert_killed", "electra_one", "electra_two")}
    hang = _torchrun((str(Path(__file__).with_name("hang_after.py")), str(SAVE)))  # the test hook
    bert = ("--model-type", "bert", "--micro-batch-size", "2", "--save-every", str(SAVE))
    electra = ("--model-type", "electra", "--micro-batch-size", "4", "--save-every", "0")
    procs = {
        "bert_killed": _start(shards, pretrain_vocab, out["bert_killed"], *bert, "--fsdp", launcher=hang),
        "bert_two": _start(shards, pretrain_vocab, out["bert_two"], *bert, "--fsdp", launcher=_torchrun()),
        "electra_two": _start(shards, pretrain_vocab, out["electra_two"], *electra, "--fsdp", launcher=_torchrun()),
        "bert_one": _start(shards, pretrain_vocab, out["bert_one"], *bert),
        "electra_one": _start(shards, pretrain_vocab, out["electra_one"], *electra),
    }
    try:
        killed, deadline = procs.pop("bert_killed"), time.time() + 600
        while not (out["bert_killed"] / "checkpoint").exists():  # renamed into place once complete
            assert killed.poll() is None, out["bert_killed"].with_suffix(".log").read_text()[-3000:]
            assert time.time() < deadline, "no checkpoint after 10 minutes"
            time.sleep(0.2)
        time.sleep(0.5)
        _kill9(killed)  # kill -9: no chance to clean up
        assert not (out["bert_killed"] / "model").exists()
        procs["bert_killed"] = _start(shards, pretrain_vocab, out["bert_killed"], *bert, "--fsdp", "--resume",
                                      launcher=_torchrun())
        for name, proc in procs.items():
            _finish(proc, out[name])
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                _kill9(proc)
    return out


def _rows(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


def _train(out: Path) -> list[dict]:
    return [r for r in _rows(out) if "loss" in r]


# -- the tests --------------------------------------------------------------------------------------------

def _check_two_sharded_processes_match_one(runs, model_type):
    one, two = _train(runs[f"{model_type}_one"]), _train(runs[f"{model_type}_two"])
    assert [r["step"] for r in one] == [r["step"] for r in two] == list(range(1, STEPS + 1))
    for a, b in zip(one, two):
        for k in LOSSES[model_type] + ("grad_norm",):
            assert abs(a[k] - b[k]) <= 1e-4 * abs(a[k]), (a["step"], k, a[k], b[k])
    ev1, ev2 = ([r for r in _rows(runs[f"{model_type}_{n}"]) if "eval_mlm_loss" in r] for n in ("one", "two"))
    assert [r["step"] for r in ev1] == [r["step"] for r in ev2] == [STEPS]  # every rank evaluates with FSDP
    assert abs(ev1[0]["eval_mlm_loss"] - ev2[0]["eval_mlm_loss"]) <= 1e-4 * ev1[0]["eval_mlm_loss"]
    assert (runs[f"{model_type}_two"] / "checkpoint" / ".metadata").is_file()  # a DCP folder, no checkpoint.pt
    assert not (runs[f"{model_type}_two"] / "checkpoint.pt").exists()


def _hf(cls, folder: Path):
    model, info = cls.from_pretrained(folder, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    return model.eval()


def _check_sharded_export_loads_in_transformers_like_the_one_process_folder(runs, model_type):
    import transformers
    one, two = runs[f"{model_type}_one"], runs[f"{model_type}_two"]
    ids = torch.tensor([[2, 40, 41, 42, 4, 43, 3, 0], [2, 50, 51, 3, 52, 53, 54, 3]])
    mask = (ids != 0).long()
    if model_type == "bert":
        parts = [("model", transformers.BertForPreTraining, ("prediction_logits", "seq_relationship_logits"))]
    else:
        parts = [("model", transformers.ElectraForPreTraining, ("logits",)),
                 ("generator", transformers.ElectraForMaskedLM, ("logits",))]
    for folder, cls, fields in parts:
        with torch.no_grad():
            a, b = _hf(cls, one / folder)(ids, attention_mask=mask), _hf(cls, two / folder)(ids, attention_mask=mask)
        for f in fields:
            torch.testing.assert_close(getattr(b, f), getattr(a, f), atol=1e-4, rtol=1e-4)


def _check_sharded_run_killed_after_its_checkpoint_resumes_exactly(runs):
    straight, killed = runs["bert_two"], runs["bert_killed"]
    a, b = _train(straight), _train(killed)
    assert [r["step"] for r in b] == list(range(1, STEPS + 1))
    keys = LOSSES["bert"] + ("grad_norm", "lr")
    assert [{k: r[k] for k in keys} for r in a] == [{k: r[k] for k in keys} for r in b]  # bitwise
    from safetensors.torch import load_file
    wa, wb = load_file(straight / "model" / "model.safetensors"), load_file(killed / "model" / "model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.slow
def test_fsdp_runs(runs):
    """One test over the runs of the module fixture (so that `pytest -n 2` does not start them twice)."""
    pytest.importorskip("transformers")
    for model_type in ("bert", "electra"):
        _check_two_sharded_processes_match_one(runs, model_type)
        _check_sharded_export_loads_in_transformers_like_the_one_process_folder(runs, model_type)
    _check_sharded_run_killed_after_its_checkpoint_resumes_exactly(runs)
