"""The generic training loop on a toy model: learning, logs, best checkpoint, early stopping, atomic output."""
import json
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from bertkit.train.optim import OptimConfig
from bertkit.train.trainer import OutputFolder, TrainConfig, train


@dataclass
class Out:
    loss: torch.Tensor


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 1)

    def forward(self, x, y):
        return Out(((self.lin(x).squeeze(-1) - y) ** 2).mean())


def data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return x, x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.25


def batcher(x, y, bs):
    def batches(epoch, gen):
        perm = torch.randperm(len(x), generator=gen)
        return [{"x": x[perm[i:i + bs]], "y": y[perm[i:i + bs]]} for i in range(0, len(x), bs)]
    return batches


def save_weights(model, folder):
    torch.save(model.state_dict(), folder / "w.pt")


def _cfg(tmp_path, **kw):
    base = dict(out=str(tmp_path / "out"), epochs=20, bf16=False, metric="neg_mse", progress=False, log_every=1)
    return TrainConfig(**{**base, **kw})


def test_learns_and_writes_logs(tmp_path):
    x, y = data()
    model = Toy()

    def evaluate(m):
        mse = float(((m.lin(x).squeeze(-1) - y) ** 2).mean())
        return {"neg_mse": -mse, "mse": mse}

    s = train(model, batcher(x, y, 16), evaluate, save_weights, OptimConfig(lr=0.1, weight_decay=0.0, warmup=0.1),
              _cfg(tmp_path))
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["curves.png", "metrics.jsonl", "w.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary sibling left
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["event"] == "config" and rows[-1]["event"] == "done"
    assert sum(r["event"] == "eval" for r in rows) == 20 and sum(r["event"] == "train" for r in rows) == 80
    assert s["best_neg_mse"] > -0.01 and s["steps"] == 80


def test_keeps_best_and_stops_early(tmp_path):
    x, y = data()
    model = Toy()
    scores = iter([0.1, 0.9, 0.5, 0.4, 0.3, 0.2])
    snapshots = []

    def evaluate(m):
        snapshots.append({k: v.clone() for k, v in m.state_dict().items()})
        return {"neg_mse": next(scores)}

    s = train(model, batcher(x, y, 16), evaluate, save_weights, OptimConfig(lr=0.1, weight_decay=0.0),
              _cfg(tmp_path, patience=2))
    assert s["stopped_early"] and s["best_step"] == 8 and len(snapshots) == 4
    for k, v in model.state_dict().items():  # the weights of the best evaluation (the second) are restored
        assert torch.equal(v, snapshots[1][k])
    saved = torch.load(tmp_path / "out" / "w.pt", weights_only=True)
    assert torch.equal(saved["lin.weight"], snapshots[1]["lin.weight"])


def test_eval_every_and_grad_accum(tmp_path):
    x, y = data(32)
    evals = []
    s = train(Toy(), batcher(x, y, 4), lambda m: evals.append(1) or {"neg_mse": 0.0}, save_weights,
              OptimConfig(lr=0.01), _cfg(tmp_path, epochs=2, grad_accum=2, eval_every=3))
    assert s["steps"] == 8 and len(evals) == 3  # steps 3 and 6, and the last (8)


def test_grad_accum_matches_one_big_batch(tmp_path):
    x, y = data(8)
    results = []
    for bs, accum in ((8, 1), (4, 2)):
        torch.manual_seed(0)
        model = Toy()
        fixed = lambda epoch, gen, bs=bs: [{"x": x[i:i + bs], "y": y[i:i + bs]} for i in range(0, 8, bs)]
        train(model, fixed, None, save_weights, OptimConfig(lr=0.1, warmup=0),
              _cfg(tmp_path / str(bs), epochs=1, grad_accum=accum))
        results.append(model.lin.weight.detach().clone())
    torch.testing.assert_close(results[0], results[1])


def test_same_seed_same_run(tmp_path):
    x, y = data()
    weights = []
    for run in range(2):
        torch.manual_seed(0)
        model = Toy()
        train(model, batcher(x, y, 16), None, save_weights, OptimConfig(lr=0.05),
              _cfg(tmp_path / str(run), epochs=2, seed=7))
        weights.append(model.lin.weight.detach().clone())
    assert torch.equal(weights[0], weights[1])


def test_error_leaves_no_folder_and_keeps_old_one(tmp_path):
    x, y = data()
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.jsonl").write_text("previous run")

    def evaluate(m):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        train(Toy(), batcher(x, y, 16), evaluate, save_weights, OptimConfig(), _cfg(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in out.iterdir()] == ["metrics.jsonl"]
    # and a successful run replaces it in one step
    folder = OutputFolder(out)
    (folder.tmp / "config.json").write_text("x")
    folder.commit()
    assert [p.name for p in out.iterdir()] == ["config.json"] and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_schedules_match_transformers_and_wsd_holds_the_peak():
    import transformers

    from bertkit.train.optim import lr_factor
    total, warm = 50, 5
    for name, oracle in (("linear", transformers.get_linear_schedule_with_warmup),
                         ("cosine", transformers.get_cosine_schedule_with_warmup)):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        sched = oracle(opt, warm, total)
        for step in range(total):
            assert opt.param_groups[0]["lr"] == pytest.approx(lr_factor(step, total, warm, name), abs=1e-9)
            opt.step()
            sched.step()
    wsd = [lr_factor(s, 100, 10, "wsd") for s in range(100)]
    assert wsd[5] == 0.5 and wsd[10:81] == [1.0] * 71
    assert wsd[90] == pytest.approx(0.5) and wsd[99] == pytest.approx(0.05)


@pytest.mark.parametrize("bf16_speed, expected", [(3.0, True), (0.7, False)])
def test_auto_bf16_only_where_its_matmul_is_faster(monkeypatch, bf16_speed, expected):
    """`bf16=None` (the default) picks bf16 autocast only where a bf16 matmul beats fp32 by 1.2×:
    AVX-512 BF16 without AMX runs it slower than fp32, and there fp32 must win."""
    from bertkit.train import precision
    monkeypatch.setattr(precision, "bf16_supported", lambda device: True)
    monkeypatch.setattr(precision, "matmul_peak",
                        lambda dtype, device, seconds=0.3: 100.0 * (bf16_speed if dtype == torch.bfloat16 else 1.0))
    precision.bf16_pays.cache_clear()
    try:
        assert precision.bf16_pays(torch.device("cpu")) is expected
        assert precision.resolve_dtype("auto", torch.device("cpu")) == ("bf16" if expected else "fp32")
    finally:
        precision.bf16_pays.cache_clear()
