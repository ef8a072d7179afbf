"""Fine-tuning stops and resumes exactly on the one loop (train/loop.py, train/trainer.py).

A run works in `<out>.partial/`, writes checkpoint.pt there after each evaluation (or every --save-every
steps) and on SIGINT/SIGTERM, and `--resume` continues it. In fp32 on a CPU the continued run must give the
very floats of a run that was never stopped: metrics.jsonl rows equal, model.safetensors tensors equal.

The default tier runs the CLI in-process: a crash raised right after the checkpoint of step N (the files on
disk are then those of a `kill -9` at that moment) and real signals sent to this process. The slow tier kills
a separate process with SIGKILL (tests/hang_after.py, a test hook) and sends it SIGTERM/SIGINT from outside,
for classification, NER (with and without CRF) and QA.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from _finetune_util import cli_error, tiny_folder
from safetensors.torch import load_file

from bertkit.cli import main
from bertkit.tasks import finetune as ft
from bertkit.train import loop as loop_mod
from bertkit.train import trainer
from bertkit.train.optim import OptimConfig

SRC = str(Path(__file__).resolve().parents[1] / "src")
HANG = str(Path(__file__).with_name("hang_after.py"))


@pytest.fixture(autouse=True, scope="module")
def one_thread_no_plots():
    """One torch thread; curves.png is not drawn in this process (a second of matplotlib per run, and not
    what these tests are about: the runs in a separate process draw it)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(trainer, "plot_curves", lambda history, path: None)
        yield
    torch.set_num_threads(n)


class Crash(BaseException):
    """Raised right after a checkpoint is written: nothing after it runs, as after a kill -9 there."""


# -- tiny model and files ----------------------------------------------------------------------------------

def with_dropout(folder: Path, p: float = 0.1) -> Path:
    """Turn dropout on in a tiny folder's config (the weights do not depend on it): resume must then also
    continue the dropout RNG."""
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(hidden_dropout_prob=p, attention_probs_dropout_prob=p)
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return make_files(tmp_path_factory.mktemp("ftresume"))


def make_files(d: Path) -> Path:
    """A tiny random BERT with dropout (d/model), 16 training and 8 dev sentences whose label a word tells."""
    with_dropout(tiny_folder(d / "model", hidden=32, max_positions=32))
    rng = random.Random(0)
    rows = []
    for i in range(24):
        label = "pos" if i % 2 else "neg"
        cue = ["good", "great"] if label == "pos" else ["bad", "awful"]
        rows.append({"text": " ".join(rng.choice(cue + ["the", "movie", "plot"]) for _ in range(6)), "label": label})
    (d / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:16]), encoding="utf-8")
    (d / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[16:]), encoding="utf-8")
    return d


def classify_args(files: Path, out: Path, *extra: str) -> list[str]:
    """6 epochs of 4 steps (16 examples, batch 4), an evaluation after each: 24 steps, train rows at 10, 20, 24."""
    return ["finetune", "--task", "classify", "--model", str(files / "model"), "--train", str(files / "train.jsonl"),
            "--dev", str(files / "dev.jsonl"), "--out", str(out), "--epochs", "6", "--batch-size", "4",
            "--lr", "1e-2", "--warmup", "0", "--dtype", "fp32", "--quiet", *extra]


@pytest.fixture(scope="module")
def straight(files):
    out = files / "straight"
    main(classify_args(files, out))
    return out


# -- what is compared ---------------------------------------------------------------------------------------

def rows(out: Path, *events: str) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text(encoding="utf-8").split("\n")
    return [r for r in map(json.loads, filter(None, lines)) if r.get("event") in events]


def assert_same_run(a: Path, b: Path) -> None:
    """The same training: train and eval rows with equal floats, equal weights, the same best step."""
    assert rows(a, "train", "eval") == rows(b, "train", "eval")
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    (da,), (db,) = rows(a, "done"), rows(b, "done")
    for key in ("steps", "best_step", "stopped_early"):
        assert da[key] == db[key], key
    if (a / "crf.safetensors").exists() or (b / "crf.safetensors").exists():
        ca, cb = load_file(a / "crf.safetensors"), load_file(b / "crf.safetensors")
        assert ca.keys() == cb.keys() and all(torch.equal(ca[k], cb[k]) for k in ca)
    assert not (b / "checkpoint.pt").exists() and not trainer.partial_dir(b).exists()


def crash_after(monkeypatch, n: int) -> None:
    save = loop_mod.Loop.save_checkpoint

    def save_then_crash(self):
        save(self)
        if self.step == n:
            raise Crash

    monkeypatch.setattr(loop_mod.Loop, "save_checkpoint", save_then_crash)


def checkpoint_step(out: Path) -> int:
    return torch.load(trainer.partial_dir(out) / "checkpoint.pt", map_location="cpu", weights_only=True)["step"]


# -- 1. a run stopped dead after a checkpoint continues bitwise ----------------------------------------------

def test_straight_run_shape(straight):
    assert [r["step"] for r in rows(straight, "eval")] == [4, 8, 12, 16, 20, 24]
    assert [r["step"] for r in rows(straight, "train")] == [10, 20, 24]
    accuracy = [r["accuracy"] for r in rows(straight, "eval")]
    assert len(set(accuracy)) > 1  # the model learns: the best step is a real choice


def test_crash_mid_epoch_then_resume_is_bitwise(files, straight, tmp_path, monkeypatch):
    """--save-every 3: the checkpoint of step 6 is in the middle of epoch 2 (its batch order and index must
    come back) and in the middle of a 10-step metrics window (its partial sums must come back)."""
    out = tmp_path / "out"
    crash_after(monkeypatch, 6)
    with pytest.raises(Crash):
        main(classify_args(files, out, "--save-every", "3"))
    monkeypatch.undo()
    assert not out.exists() and checkpoint_step(out) == 6
    assert [r["step"] for r in rows(trainer.partial_dir(out), "eval")] == [4]
    main(classify_args(files, out, "--resume"))  # --save-every may change: it does not shape the run
    assert_same_run(straight, out)


def test_crash_after_the_last_checkpoint_then_resume(files, straight, tmp_path, monkeypatch):
    """Stopped after the final step's checkpoint, while the output folder was being written: --resume
    trains no further and writes the same folder."""
    out = tmp_path / "out"
    crash_after(monkeypatch, 24)
    with pytest.raises(Crash):
        main(classify_args(files, out))
    monkeypatch.undo()
    assert not out.exists() and checkpoint_step(out) == 24
    main(classify_args(files, out, "--resume"))
    assert_same_run(straight, out)


# -- 2. SIGTERM and SIGINT save, exit 128 + signal, and --resume finishes the run -----------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_saves_exits_and_resumes(files, straight, tmp_path, monkeypatch, capsys, sig):
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.jsonl").write_text("an older run\n")  # an old --out stays as it was
    take = loop_mod.Loop.train_step

    def step_then_signal(self, batches):
        metrics = take(self, batches)
        if self.step + 1 == 10:  # during step 10 (epoch 3, second batch)
            os.kill(os.getpid(), sig)
        return metrics

    monkeypatch.setattr(loop_mod.Loop, "train_step", step_then_signal)
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN when pytest runs in the background
    with pytest.raises(SystemExit) as e:
        main(classify_args(files, out))
    monkeypatch.undo()
    assert e.value.code == 128 + sig
    err = capsys.readouterr().err
    assert f"stopped by signal {int(sig)} at step 10" in err and "--resume" in err
    assert checkpoint_step(out) == 10
    assert [p.name for p in out.iterdir()] == ["metrics.jsonl"] and (out / "metrics.jsonl").read_text() == "an older run\n"
    assert signal.getsignal(signal.SIGINT) is before  # the handlers are put back
    main(classify_args(files, out, "--resume"))
    assert_same_run(straight, out)


# -- 3. the best weights and the patience count survive the interruption ------------------------------------

SCORES = {4: 0.5, 8: 0.9, 12: 0.6, 16: 0.7, 20: 0.95, 24: 0.1}  # best at 8; patience 2 stops at 16


@pytest.fixture
def scripted(monkeypatch):
    """The dev accuracy as a function of the step (the real evaluation still runs), and the weights seen
    at each evaluation."""
    seen, now = {}, {}
    on_step_end = trainer.EvaluateAndKeepBest.on_step_end
    evaluate = ft._Classify.evaluate

    def track(self, loop, metrics):
        now["step"] = loop.step
        on_step_end(self, loop, metrics)

    def scored(self, module, split="dev", folder=None):
        result = evaluate(self, module, split, folder)
        if split == "dev":
            result["accuracy"] = SCORES[now["step"]]
            seen[now["step"]] = {k: v.clone() for k, v in module.model.state_dict().items()}
        return result

    monkeypatch.setattr(trainer.EvaluateAndKeepBest, "on_step_end", track)
    monkeypatch.setattr(ft._Classify, "evaluate", scored)
    return seen


def test_best_weights_and_patience_survive_resume(files, tmp_path, monkeypatch, scripted):
    """The accuracy peaks at step 8, before a crash at step 12 (one evaluation without improvement so far)
    or at step 16 (the early stop's own checkpoint). The resumed run must keep step 8's weights and stop
    at step 16 exactly as the run that was never stopped."""
    first = tmp_path / "first"
    main(classify_args(files, first, "--patience", "2"))
    (done,) = rows(first, "done")
    assert done["steps"] == 16 and done["best_step"] == 8 and done["stopped_early"]
    from bertkit.registry import AutoModelForSequenceClassification
    final = AutoModelForSequenceClassification.from_pretrained(first).state_dict()
    assert final.keys() == scripted[8].keys()
    assert all(torch.equal(final[k], scripted[8][k]) for k in final)  # step 8's weights, not step 16's
    assert not all(torch.equal(final[k], scripted[16][k]) for k in final)

    for crash_at in (12, 16):
        out = tmp_path / f"crash{crash_at}"
        with monkeypatch.context() as m:
            crash_after(m, crash_at)
            with pytest.raises(Crash):
                main(classify_args(files, out, "--patience", "2"))
        state = torch.load(trainer.partial_dir(out) / "checkpoint.pt", map_location="cpu", weights_only=True)
        best = state["callbacks"]["best"]
        assert (state["step"], best["step"], best["score"], best["bad_evals"]) == (crash_at, 8, 0.9, crash_at // 4 - 2)
        main(classify_args(files, out, "--patience", "2", "--resume"))
        assert_same_run(first, out)


# -- the trainer alone: gradient accumulation, --eval-every, no dev set -------------------------------------

class _DropToy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin, self.drop = torch.nn.Linear(4, 1), torch.nn.Dropout(0.3)

    def forward(self, x, y):
        return SimpleNamespace(loss=((self.lin(self.drop(x)).squeeze(-1) - y) ** 2).mean())


def _toy_run(tmp_path, name, evaluate, crash_at=None, resume=False, monkeypatch=None, **kw):
    """10 examples in batches of 3 (the last holds 1), 2 per optimizer step: 2 steps per epoch, the second
    of one batch; 5 epochs."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(10, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])

    def batches(epoch, gen):
        perm = torch.randperm(10, generator=gen)
        return [{"x": x[perm[i:i + 3]], "y": y[perm[i:i + 3]]} for i in range(0, 10, 3)]

    torch.manual_seed(0)
    model = _DropToy()
    cfg = trainer.TrainConfig(out=str(tmp_path / name), epochs=5, grad_accum=2, dtype="fp32", progress=False,
                              metric="neg_mse", log_every=1, resume=resume, **kw)
    save = lambda m, folder: torch.save(m.state_dict(), folder / "w.pt")
    optim = OptimConfig(lr=0.05, weight_decay=0.01, warmup=2)
    if crash_at is None:
        return trainer.train(model, batches, evaluate, save, optim, cfg)
    with monkeypatch.context() as m:
        crash_after(m, crash_at)
        with pytest.raises(Crash):
            trainer.train(model, batches, evaluate, save, optim, cfg)


@pytest.mark.parametrize("with_dev, kw, crash_at", [
    (False, {}, 4),  # no dev set: a checkpoint at each epoch's end all the same
    (True, {"eval_every": 3}, 6),
    (True, {"save_every": 1}, 5),  # mid-epoch: after the first of the epoch's two steps
])
def test_trainer_resume_with_grad_accum(tmp_path, monkeypatch, with_dev, kw, crash_at):
    def evaluate(m):
        return {"neg_mse": -float(((m.lin(torch.ones(2, 4)).squeeze(-1) - 1) ** 2).mean())}

    evaluate = evaluate if with_dev else None
    a = _toy_run(tmp_path, "a", evaluate, **kw)
    assert a["steps"] == 10
    _toy_run(tmp_path, "b", evaluate, crash_at=crash_at, monkeypatch=monkeypatch, **kw)
    assert checkpoint_step(tmp_path / "b") == crash_at
    b = _toy_run(tmp_path, "b", evaluate, resume=True, **kw)
    assert (a["steps"], a["best_step"]) == (b["steps"], b["best_step"])
    assert rows(tmp_path / "a", "train", "eval") == rows(tmp_path / "b", "train", "eval")
    assert len(rows(tmp_path / "a", "train")) == 10
    wa, wb = (torch.load(tmp_path / n / "w.pt", weights_only=True) for n in "ab")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


# -- 4. errors: one line, exit 2, nothing written or lost ---------------------------------------------------

@pytest.fixture(scope="module")
def interrupted(files):
    """The <out>.partial folder of a run stopped after the checkpoint of step 8."""
    out = files / "interrupted"
    save = loop_mod.Loop.save_checkpoint

    def save_then_crash(self):
        save(self)
        if self.step == 8:
            raise Crash

    loop_mod.Loop.save_checkpoint = save_then_crash
    try:
        with pytest.raises(Crash):
            main(classify_args(files, out))
    finally:
        loop_mod.Loop.save_checkpoint = save
    return trainer.partial_dir(out)


def copy_interrupted(interrupted: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(interrupted, trainer.partial_dir(out))
    return out


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_resume_without_a_checkpoint(files, tmp_path, capsys):
    out = tmp_path / "out"
    line = cli_error(classify_args(files, out, "--resume"), capsys)
    assert line == (f"bertkit finetune: --resume: {trainer.partial_dir(out) / 'checkpoint.pt'} does not exist, so "
                    f"there is no interrupted run of --out {out} to continue; start without --resume")
    assert names(tmp_path) == []


def test_new_run_over_an_interrupted_one(files, interrupted, tmp_path, capsys):
    out = copy_interrupted(interrupted, tmp_path)
    before = (trainer.partial_dir(out) / "checkpoint.pt").read_bytes()
    line = cli_error(classify_args(files, out), capsys)
    assert line == (f"bertkit finetune: {trainer.partial_dir(out)} holds an interrupted run (checkpoint.pt); "
                    "continue it with --resume, or delete that folder to start over")
    assert (trainer.partial_dir(out) / "checkpoint.pt").read_bytes() == before and not out.exists()


@pytest.mark.parametrize("change, said", [
    (["--epochs", "7"], "--epochs 6.0 (this run: 7.0), total steps 24 (this run: 28)"),
    (["--lr", "0.002"], "--lr 0.01 (this run: 0.002)"),
    (["--seed", "1"], "--seed 42 (this run: 1)"),
    (["--batch-size", "5"], "--batch-size 4 (this run: 5)"),  # 4 steps per epoch either way
    (["--max-length", "16"], "--max-length 32 (this run: 16), --stride 15 (this run: 7), --doc-stride 10 (this run: 5)"),
])
def test_resume_with_other_options(files, interrupted, tmp_path, capsys, caplog, change, said):
    out = copy_interrupted(interrupted, tmp_path)
    partial = trainer.partial_dir(out)
    before = {n: (partial / n).read_bytes() for n in names(partial)}
    args = classify_args(files, out, "--resume")
    for i in range(0, len(change), 2):
        if change[i] in args:
            args[args.index(change[i]) + 1] = change[i + 1]
        else:
            args += change[i:i + 2]
    line = cli_error(args, capsys)
    assert line == (f"bertkit finetune: --resume: the run in {partial} was started with {said}; resume with "
                    "the run's own options, or start a new --out")
    assert {n: (partial / n).read_bytes() for n in names(partial)} == before and not out.exists()
    assert "initialised fresh" not in caplog.text  # the head comes from the checkpoint: no such warning line


def test_damaged_checkpoint(files, interrupted, tmp_path, capsys):
    out = copy_interrupted(interrupted, tmp_path)
    ckpt = trainer.partial_dir(out) / "checkpoint.pt"
    whole = ckpt.read_bytes()
    ckpt.write_bytes(whole[:len(whole) // 2])  # cut short, as by a full disk or a copy that stopped
    line = cli_error(classify_args(files, out, "--resume"), capsys)
    assert line.startswith(f"bertkit finetune: {ckpt}: cannot be read (")
    assert line.endswith("); the file is damaged: start a new --out (or restore the file)")
    assert ckpt.read_bytes() == whole[:len(whole) // 2] and not out.exists()

    torch.save({"step": 3}, ckpt)  # readable, but not a training checkpoint
    line = cli_error(classify_args(files, out, "--resume"), capsys)
    assert line == (f"bertkit finetune: {ckpt}: not a bertkit training checkpoint (no model, optimizer, "
                    "optimizer_scheduler, rng, world_size, source); start a new --out")


@pytest.mark.skipif(torch.cuda.is_available(), reason="fp16 is refused only without CUDA")
def test_fp16_without_cuda(files, tmp_path, capsys):
    out = tmp_path / "out"
    args = classify_args(files, out)
    args[args.index("--dtype") + 1] = "fp16"
    line = cli_error(args, capsys)
    import torch

    from bertkit.train.precision import bf16_supported
    instead = "--dtype bf16 or fp32" if bf16_supported(torch.device("cpu")) else "--dtype fp32"
    assert line == ("bertkit finetune: --dtype fp16: needs a CUDA GPU (fp16 autocast with a gradient scaler), and "
                    f"this run is on cpu; use {instead}")
    assert names(tmp_path) == []


# -- 5. the gradient scaler's state goes through the checkpoint -------------------------------------------

class _Batches:
    """Step i's batch is x = ones(1, 4) * (1 + i / 100): a resumable toy source."""

    def __init__(self):
        self.i = 0

    def next_step(self):
        self.i += 1
        return loop_mod.StepBatches([{"x": torch.full((1, 4), 1 + self.i / 100)}], float(self.i))

    def state_dict(self):
        return {"i": self.i}

    def load_state_dict(self, state):
        self.i = state["i"]


def _fp16_loop(steps: int, ckpt: Path) -> loop_mod.Loop:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)

    def objective(m, batch):  # d(loss)/d(output) = 1: scaled by 65536 it is inf in fp16
        out = m(batch["x"])
        assert out.dtype == torch.float16  # fp16 autocast
        return out.sum(), {"loss": out.sum()}

    return loop_mod.Loop(model, objective, _Batches(), opt, sched,
                         loop_mod.LoopConfig(steps=steps, dtype="fp16", max_grad_norm=0.0, progress=False),
                         device=torch.device("cpu"), checkpoint_io=loop_mod.CheckpointIO(ckpt))


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`")
def test_grad_scaler_state_round_trip(tmp_path):  # (the step the scaler skips makes torch warn so)
    """fp16 autocast and torch.amp.GradScaler run on this CPU (torch ≥ 2.3), so the real scaler is used.
    Its first step overflows at the initial scale 2**16 and is skipped, the scale halves to 2**15; a
    resumed run must start from 2**15 (and its growth count), or it would skip a step again."""
    straight = _fp16_loop(6, tmp_path / "a.pt")
    straight.run()
    assert straight.scaler.is_enabled()
    assert straight.scaler.state_dict()["scale"] == 2.0 ** 15
    assert straight.scaler.state_dict()["_growth_tracker"] == 5  # 5 good steps since the backoff

    first = _fp16_loop(3, tmp_path / "b.pt")
    first.run()
    saved = torch.load(tmp_path / "b.pt", weights_only=True)
    assert saved["scaler"]["scale"] == 2.0 ** 15 and saved["scaler"]["_growth_tracker"] == 2

    resumed = _fp16_loop(6, tmp_path / "b.pt")
    resumed.checkpoint_io.load(resumed, resumed.checkpoint_io.read())
    assert resumed.step == 3 and resumed.scaler.state_dict() == saved["scaler"]
    resumed.run()
    assert resumed.scaler.state_dict() == straight.scaler.state_dict()
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k])

    # without the scaler's state the resumed run starts at 2**16 again and skips step 4: other weights
    del saved["scaler"]
    torch.save(saved, tmp_path / "c.pt")
    fresh = _fp16_loop(6, tmp_path / "c.pt")
    fresh.checkpoint_io.load(fresh, fresh.checkpoint_io.read())
    fresh.run()
    assert not torch.equal(fresh.model.weight, straight.model.weight)


# -- slow tier: a separate process, killed with SIGKILL or signalled from outside ---------------------------

def _env():
    return dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, "the run ended before writing its checkpoint"
        assert time.time() < deadline, "no checkpoint in time"
        time.sleep(0.1)


def kill9_then_resume(args: list[str], out: Path, n: int) -> None:
    """Run `bertkit <args> --out out` in its own process, SIGKILL it once the checkpoint of step `n` is on disk
    (tests/hang_after.py holds it there), then --resume in this process."""
    proc = subprocess.Popen([sys.executable, HANG, str(n), *args], env=_env(), stderr=subprocess.DEVNULL)
    try:
        _wait_for(trainer.partial_dir(out) / "checkpoint.pt", proc)
        while checkpoint_step_or_none(out) != n:
            assert proc.poll() is None
            time.sleep(0.1)
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not out.exists()
    main([*args, "--resume"])


def checkpoint_step_or_none(out: Path):
    try:
        return checkpoint_step(out)
    except Exception:  # noqa: BLE001 - not there yet
        return None


@pytest.mark.slow
def test_kill9_classify(files, straight, tmp_path):
    out = tmp_path / "out"
    kill9_then_resume(classify_args(files, out), out, 8)
    assert_same_run(straight, out)


@pytest.fixture(scope="module")
def ner_qa_files(files):
    rng = random.Random(1)
    d = files / "ner_qa"
    d.mkdir()

    def sentence():
        return [(rng.choice(["john", "mary"]), "B-PER"), ("visited", "O"), (rng.choice(["paris", "london"]), "B-LOC"),
                ("and", "O"), ("the", "O"), ("river", "O")]

    for split, n in (("train", 16), ("dev", 8)):
        (d / f"{split}.conll").write_text("\n".join("\n".join(f"{w}\t{t}" for w, t in sentence()) + "\n"
                                                    for _ in range(n)), encoding="utf-8")
        paragraphs = []
        for i in range(n):
            who = rng.choice(["john", "mary"])
            ctx = f"the {who} visited {rng.choice(['paris', 'london'])} and the river"
            paragraphs.append({"context": ctx, "qas": [{"id": f"{split}{i}", "question": "which person is mentioned ?",
                                                        "answers": [{"text": who, "answer_start": ctx.index(who)}]}]})
        (d / f"{split}.json").write_text(json.dumps({"version": "1.1", "data": [{"title": split,
                                                                                   "paragraphs": paragraphs}]}))
    return d


def _task_args(files, d, task, out, *extra):
    ext = "conll" if task == "ner" else "json"
    return ["finetune", "--task", task, "--model", str(files / "model"), "--train", str(d / f"train.{ext}"),
            "--dev", str(d / f"dev.{ext}"), "--out", str(out), "--epochs", "4", "--batch-size", "4",
            "--lr", "5e-3", "--dtype", "fp32", "--quiet", "--max-length", "32", *extra]


@pytest.mark.slow
@pytest.mark.parametrize("task, extra", [("ner", ()), ("ner", ("--crf",)), ("qa", ("--doc-stride", "8"))])
def test_kill9_ner_and_qa(files, ner_qa_files, tmp_path, task, extra):
    straight, out = tmp_path / "straight", tmp_path / "out"
    main(_task_args(files, ner_qa_files, task, straight, *extra))
    assert [r["step"] for r in rows(straight, "eval")] == [4, 8, 12, 16]
    kill9_then_resume(_task_args(files, ner_qa_files, task, out, "--save-every", "3", *extra), out, 6)  # mid-epoch
    assert_same_run(straight, out)


SLOW_STEPS = """
import sys, time
from bertkit.train import loop
take = loop.Loop.train_step
def slow(self, batches):
    time.sleep(0.3)
    return take(self, batches)
loop.Loop.train_step = slow
from bertkit.cli import main
main(sys.argv[1:])
"""


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_from_outside(files, straight, tmp_path, sig):
    """A signal sent by another process (kill -TERM, Ctrl-C) while the run trains: it finishes its step,
    writes the checkpoint, says --resume and exits 128 + signal; --resume then ends as the straight run."""
    out = tmp_path / "out"
    args = classify_args(files, out)
    proc = subprocess.Popen([sys.executable, "-c", SLOW_STEPS, *args], env=_env(), stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(trainer.partial_dir(out) / "checkpoint.pt", proc)  # the first evaluation's (step 4)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, err
    step = checkpoint_step(out)
    assert 4 <= step < 24
    assert f"stopped by signal {int(sig)} at step {step}" in err and "continue with --resume" in err
    assert "Traceback" not in err and not out.exists()
    main([*args, "--resume"])
    assert_same_run(straight, out)
