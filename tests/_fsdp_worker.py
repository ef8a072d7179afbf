"""One rank of the FSDP2 checks in tests/test_fsdp.py, run as
`torchrun --nproc_per_node 2 tests/_fsdp_worker.py OUT` (gloo, CPU, 1 thread). Rank 0 writes OUT/results.json:
each check's numbers, or the error it raised (type and message), so the test can say what failed."""
from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fsdp_util import CLIP, OPTIM, STEPS, eval_batch, global_batch, part, tiny_model  # noqa: E402

from bertkit.train.distributed import (clip_grad_norm, export_pretrained, full_model_state,  # noqa: E402
                                       init_distributed, load_sharded, save_sharded, shard_model)
from bertkit.train.optim import make_optimizer, make_scheduler  # noqa: E402


def mean_over_ranks(x: float) -> float:
    t = torch.tensor([x], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t) / dist.get_world_size()


def setup(dropout=0.0, shared=False, mp=None, total=STEPS):
    model = shard_model(tiny_model(dropout, shared), mp_policy=mp)
    model.train()
    opt = make_optimizer(model, OPTIM)
    return model, opt, make_scheduler(opt, OPTIM, total)


def train(model, opt, sched, start: int, stop: int) -> tuple[list[float], list[float]]:
    rank, world = dist.get_rank(), dist.get_world_size()
    losses, norms = [], []
    for step in range(start, stop):
        loss = model(**part(global_batch(step), rank, world)).loss
        loss.backward()
        norms.append(clip_grad_norm(model, CLIP))
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(mean_over_ranks(float(loss.detach())))
    return losses, norms


def check_curve(out: Path) -> dict:
    model, opt, sched = setup()
    losses, norms = train(model, opt, sched, 0, STEPS)
    model.eval()
    with torch.no_grad():
        logits = model(**eval_batch())
    if dist.get_rank() == 0:
        torch.save({"prediction_logits": logits.prediction_logits, "seq_relationship_logits":
                    logits.seq_relationship_logits}, out / "sharded_logits.pt")
    full = full_model_state(model)
    export_pretrained(model, out / "hf")
    res = {"losses": losses, "norms": norms}
    if full is not None:
        res["full_keys"] = sorted(full)
        res["full_is_plain_cpu"] = all(type(v) is torch.Tensor and v.device.type == "cpu" for v in full.values())
        res["root_holds_tied"] = _root_holds_tied(model)
    else:
        res["full_on_rank1"] = None
    return res


def _root_holds_tied(model) -> bool:
    from torch.distributed.fsdp import FSDPModule
    enc = model.bert
    return (isinstance(model, FSDPModule) and not isinstance(enc.embeddings, FSDPModule)
            and not isinstance(model.mlm, FSDPModule)
            and all(isinstance(layer, FSDPModule) for layer in enc.encoder.layers[:-1])
            and not isinstance(enc.encoder.layers[-1], FSDPModule))


def check_shared(out: Path) -> dict:
    from torch.distributed.fsdp import FSDPModule
    model, opt, sched = setup(shared=True)
    layers = model.bert.encoder.layers
    losses, _ = train(model, opt, sched, 0, STEPS)
    return {"losses": losses, "shared_layer_sharded": layers[0] is layers[1] and isinstance(layers[0], FSDPModule)}


def check_resume(out: Path) -> dict:
    """12 steps straight vs 6 steps, save, a fresh model (other weights) and optimizer, load, 6 more
    steps; with dropout, so the restored RNG states matter."""
    rank, total, half = dist.get_rank(), 12, 6
    torch.manual_seed(100 + rank)
    model, opt, sched = setup(dropout=0.1, total=total)
    straight, _ = train(model, opt, sched, 0, total)

    torch.manual_seed(100 + rank)
    model, opt, sched = setup(dropout=0.1, total=total)
    first, _ = train(model, opt, sched, 0, half)
    ckpt = out / "ckpt"
    save_sharded(ckpt, model, opt, {"step": 3, "rng": torch.get_rng_state()})  # an older save ...
    save_sharded(ckpt, model, opt, {"step": half, "scheduler": sched.state_dict(), "rng": torch.get_rng_state(),
                                    "rank": rank})  # ... replaced in place
    files = sorted(p.name for p in ckpt.iterdir())
    full = full_model_state(model)  # what a 1-process load of the checkpoint must give (test_fsdp.py)
    if rank == 0:
        torch.save(full, out / "ckpt_full.pt")
    leftovers = sorted(p.name for p in out.iterdir() if p.name.startswith("."))

    torch.manual_seed(999)  # other weights and RNG: only the checkpoint can put them back
    fresh = tiny_model(0.1)
    with torch.no_grad():
        for p in fresh.parameters():
            p.add_(torch.randn_like(p))
    model = shard_model(fresh)
    model.train()
    opt = make_optimizer(model, OPTIM)
    sched = make_scheduler(opt, OPTIM, total)
    extra = load_sharded(ckpt, model, opt)
    sched.load_state_dict(extra["scheduler"])
    torch.set_rng_state(extra["rng"])
    second, _ = train(model, opt, sched, extra["step"], total)
    return {"straight": straight, "resumed": first + second, "files": files, "leftovers": leftovers,
            "extra_rank": extra["rank"], "extra_step": extra["step"], "saved_world_size": extra["saved_world_size"]}


def check_bf16(out: Path) -> dict:
    model, opt, sched = setup(mp="bf16")
    losses, _ = train(model, opt, sched, 0, 3)
    dtype = str(next(model.parameters()).dtype)
    return {"losses": losses, "param_dtype": dtype}


def main() -> None:
    out = Path(sys.argv[1])
    torch.set_num_threads(1)
    rank, world, _ = init_distributed()
    results = {"world_size": world, "torch": torch.__version__}
    for name, fn in [("curve", check_curve), ("shared", check_shared), ("resume", check_resume),
                     ("bf16", check_bf16)]:
        try:
            results[name] = fn(out)
        except Exception as e:  # noqa: BLE001 - reported to the test with its exact text
            results[name] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-3000:]}
        dist.barrier()
    if rank == 0:
        (out / "results.json").write_text(json.dumps(results, indent=1))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
