"""FSDP2 building blocks: shard a model, save and load its sharded checkpoints, gather it for export.

    model ─► shard_model: fully_shard(each distinct encoder layer), then fully_shard(root)
          ─► train: model(**batch) (call the module, not .forward), loss.backward(), optimizer.step()
          ─► save_sharded / load_sharded: torch.distributed.checkpoint folder (+ extra.pt), atomic
          ─► full_model_state / export_pretrained: the unsharded weights on rank 0 → a Hugging Face folder

Used by the training loop under `torchrun --nproc_per_node N -m bertkit pretrain ... --fsdp`. Every
function here that takes a sharded model is a collective: all ranks call it, in the same order.

FSDP2 (`torch.distributed.fsdp.fully_shard`, PyTorch ≥ 2.6) replaces each parameter by a DTensor sharded
on dim 0 across the ranks; a module given to `fully_shard` becomes one communication group whose
parameters are all-gathered before its forward and backward and freed after, and whose gradients are
reduce-scattered (averaged over the ranks, as DDP does). Sources:
https://docs.pytorch.org/docs/stable/distributed.fsdp.fully_shard.html (the user contract: shard the
layers bottom-up, then the root; call `model(x)`, not `model.forward(x)`; build the optimizer after
sharding), https://docs.pytorch.org/docs/stable/distributed.checkpoint.html (dcp.save / dcp.load,
get_state_dict / set_state_dict, StateDictOptions).

Works on CPU with gloo (checked with torch 2.13.0+cpu, tests/test_fsdp.py: a 2-process run matches a
1-process run of the same global batches; bf16 mixed precision runs too). On GPUs (nccl) the same calls
apply; that path is not tested here (no GPU on this machine).
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from ..errors import CheckpointError, TrainError
from ..io import check_replaceable, write_error, writing
from .loop import one_line as _one_line

__all__ = ["init_distributed", "shard_model", "mixed_precision", "encoder_layers", "is_sharded",
           "clip_grad_norm", "save_sharded", "load_sharded", "full_model_state", "unwrap_class",
           "export_pretrained", "EXTRA", "FSDPError", "ShardedCheckpointIO"]

_KEPT = "the previous checkpoint there (if any) is intact"


def init_distributed() -> tuple[int, int, torch.device]:
    """(rank, world_size, device). Under torchrun (WORLD_SIZE > 1): gloo on CPU, nccl on GPUs."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world > 1:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if cuda:
            torch.cuda.set_device(local)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if cuda else "gloo")
        return dist.get_rank(), world, torch.device(f"cuda:{local}" if cuda else "cpu")
    return 0, 1, torch.device("cuda" if cuda else "cpu")
EXTRA = "extra.pt"  # beside the DCP files: step, position, RNG states, scheduler state, ...
_DCP_FILES = re.compile(r"\.metadata|__\d+_\d+\.distcp|" + re.escape(EXTRA))


class FSDPError(TrainError):
    """An FSDP run cannot do what was asked (e.g. a precision name it does not know)."""


# -- sharding -----------------------------------------------------------------------------------------

def mixed_precision(dtype: str | None):
    """A `torch.distributed.fsdp.MixedPrecisionPolicy` for a precision name, or None for full fp32.

    "bf16" / "fp16": parameters are all-gathered and computed in that type; gradients are reduced in
    float32 and the sharded master weights and optimizer state stay float32 (the policy's
    `reduce_dtype`). "fp32" / None: None (no policy). Anything else: FSDPError."""
    from torch.distributed.fsdp import MixedPrecisionPolicy
    if dtype in (None, "fp32", "float32"):
        return None
    types = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}
    if dtype not in types:
        raise FSDPError(f"--dtype {dtype}: not a precision FSDP knows; use fp32, bf16 or fp16")
    return MixedPrecisionPolicy(param_dtype=types[dtype], reduce_dtype=torch.float32)


def encoder_layers(model: nn.Module) -> tuple[list[nn.Module], list[nn.Module]]:
    """(to_shard, kept_in_root): the distinct transformer layers of every encoder inside `model`.

    A layer is found as an item of `<encoder model>.encoder.layers` of each `EncoderModel` in the module
    tree (a head model's base model, ELECTRA's generator and discriminator, ...); a module that appears
    at several depths (ALBERT's cross-layer sharing) is listed once. The last layer of an encoder whose
    head model runs the sparse last-layer fast path (`sparse_last_layer`, on by default) (models/sparse.py reads that layer's weights outside
    its own forward, where FSDP's hooks would not gather them) goes to `kept_in_root`: its parameters
    then live in the root's group, which is gathered for the whole forward and backward."""
    from ..models.base import EncoderModel, PreTrainedModel
    bypassed: set[int] = set()
    for m in model.modules():
        if isinstance(m, PreTrainedModel) and getattr(m, "sparse_last_layer", False):
            base = m.base_model
            layers = getattr(getattr(base, "encoder", None), "layers", None)
            if base is not m and isinstance(base, EncoderModel) and layers is not None and len(layers):
                bypassed.add(id(layers[-1]))
    shard, keep, seen = [], [], set()
    for m in model.modules():  # modules() yields each module once, in registration order
        if not isinstance(m, EncoderModel):
            continue
        for layer in getattr(getattr(m, "encoder", None), "layers", ()):
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            (keep if id(layer) in bypassed else shard).append(layer)
    return shard, keep


def shard_model(model: nn.Module, mesh=None, mp_policy=None, *, layers: list[nn.Module] | None = None,
                reshard_after_forward: bool = True) -> nn.Module:
    """Apply FSDP2 to `model` in place and return it: `fully_shard` on each distinct encoder layer
    (`encoder_layers(model)`, or the given `layers`), then on the root.

    The root's group holds everything not in a layer: the embeddings, the pooler and the heads. So the
    word-embedding table and the MLM decoder that reads it (tied weights) are gathered together, once,
    and get one gradient. Call after the model is on its device and before the optimizer is built (the
    optimizer must hold the sharded DTensor parameters).

    mesh: a 1-D `DeviceMesh` (None: all ranks of the default process group, on the device type of the
    current accelerator, else CPU). mp_policy: a `MixedPrecisionPolicy`, or a precision name for
    `mixed_precision` ("bf16", "fp16", "fp32"), or None for fp32. The process group must be initialised
    (`init_distributed()` under torchrun; a 1-process group works too).

    Source: https://docs.pytorch.org/docs/stable/distributed.fsdp.fully_shard.html"""
    from torch.distributed.fsdp import fully_shard
    if not dist.is_initialized():
        raise FSDPError("--fsdp: no process group; run under torchrun (torchrun --nproc_per_node N -m bertkit ...)")
    if mp_policy is None or isinstance(mp_policy, str):
        mp_policy = mixed_precision(mp_policy)
    kwargs = {"mesh": mesh, "reshard_after_forward": reshard_after_forward}
    if mp_policy is not None:
        kwargs["mp_policy"] = mp_policy
    if layers is None:
        layers, _ = encoder_layers(model)
    done: set[int] = set()
    for layer in layers:
        if id(layer) not in done:
            done.add(id(layer))
            fully_shard(layer, **kwargs)
    fully_shard(model, **kwargs)
    return model


def is_sharded(model: nn.Module) -> bool:
    """True when `model` is the root of an FSDP2 model (shard_model was applied)."""
    from torch.distributed.fsdp import FSDPModule
    return isinstance(model, FSDPModule)


def clip_grad_norm(model: nn.Module, max_norm: float) -> float:
    """Clip the gradients of `model` (sharded or not) to a total 2-norm of `max_norm`; return the norm
    before clipping, the same number on every rank. With FSDP2 the gradients are DTensor shards and
    `torch.nn.utils.clip_grad_norm_` returns the norm as a DTensor: it is gathered here."""
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    if hasattr(norm, "full_tensor"):
        norm = norm.full_tensor()
    return float(norm)


# -- sharded checkpoints ------------------------------------------------------------------------------

def _rank_world() -> tuple[int, int]:
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def _broadcast(obj):
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def save_sharded(folder, model: nn.Module, optimizer: torch.optim.Optimizer, extra: dict) -> Path:
    """Write a sharded checkpoint of `model` and `optimizer` to the folder `folder`, atomically; every
    rank calls it. Returns the folder.

    The model and optimizer states come from `torch.distributed.checkpoint.state_dict.get_state_dict`
    (each rank's shards, keyed by parameter name) and are written with `dcp.save` (one
    `__<rank>_0.distcp` file per rank and a `.metadata` index). `extra` is this rank's small state (step,
    data position, RNG states, scheduler state_dict, ...: plain Python values and tensors, as
    `torch.load(weights_only=True)` reads back); the extras of all ranks are gathered and rank 0 writes
    them to `extra.pt`.

    Atomic: everything goes to a new folder beside `folder`; after a barrier rank 0 renames it onto
    `folder` (an old checkpoint there is replaced only then), so an interrupted save leaves the previous
    checkpoint whole. The folder must be on a file system all ranks see (one machine, or a shared
    mount). A failed write is a WriteError naming `folder`.

    Source: https://docs.pytorch.org/docs/stable/distributed.checkpoint.html"""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.api import CheckpointException
    from torch.distributed.checkpoint.state_dict import get_state_dict
    folder = Path(folder).absolute()
    rank, world = _rank_world()
    tmp = _broadcast(str(_temp_dir(folder)) if rank == 0 else None)
    try:
        model_state, optim_state = get_state_dict(model, optimizer)
        try:
            dcp.save({"model": model_state, "optimizer": optim_state}, checkpoint_id=tmp)
        except (OSError, RuntimeError, CheckpointException) as e:  # DCP wraps the ranks' failures
            raise write_error(folder, e, note=_KEPT) from None
        extras = [None] * world
        if dist.is_initialized():
            dist.all_gather_object(extras, extra)
        else:
            extras = [extra]
        if rank == 0:
            try:
                torch.save({"format": 1, "world_size": world, "ranks": extras}, Path(tmp) / EXTRA)
            except (OSError, RuntimeError) as e:
                raise write_error(folder / EXTRA, e, note=_KEPT) from None
        _barrier()  # every rank's shard is on disk before the rename
        if rank == 0:
            _swap(Path(tmp), folder)
        _barrier()  # nobody reads or writes the folder before it is in place
    except BaseException:
        if rank == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _check_replaceable(folder: Path) -> None:
    # an old checkpoint there (saved by another number of ranks, it has shard files the new one lacks) is
    # ours to replace; a folder holding anything else is refused (OptionError naming it)
    check_replaceable(folder, also=[p.name for p in folder.iterdir() if _DCP_FILES.fullmatch(p.name)]
                      if folder.is_dir() else ())


def _temp_dir(folder: Path) -> Path:
    """A new empty folder beside `folder` (same file system: it can be renamed onto it)."""
    _check_replaceable(folder)
    with writing(folder):
        folder.parent.mkdir(parents=True, exist_ok=True)
        if folder.exists() and not folder.is_dir():
            raise FileExistsError(errno.EEXIST, "a file of that name exists", str(folder))
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
        mask = os.umask(0)
        os.umask(mask)
        tmp.chmod(0o777 & ~mask)  # the permissions a new folder gets (mkdtemp's own are 0700)
        return tmp


def _swap(tmp: Path, folder: Path) -> None:
    """Rename the complete `tmp` onto `folder`; an old checkpoint there is moved aside first and
    removed after, or put back if the rename fails."""
    _check_replaceable(folder)
    with writing(folder):
        old = None
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            os.replace(folder, old)
        try:
            os.replace(tmp, folder)
        except OSError:
            if old is not None:
                os.replace(old, folder)  # put the previous checkpoint back
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def load_sharded(folder, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """Load a checkpoint written by `save_sharded` into `model` and `optimizer` (both built and sharded
    as for the run that saved it; the number of ranks may differ: DCP reshards). Every rank calls it.

    Returns this rank's `extra` as it was saved, plus "saved_world_size": the number of ranks that
    wrote it. With another number of ranks now, rank r gets the extra of rank min(r, saved - 1) and
    per-rank state such as RNG states should be reseeded (the caller decides).

    Raises CheckpointError naming the folder when it is not such a checkpoint, is damaged, or does not
    fit the model (another config)."""
    folder = Path(folder)
    rank, world = _rank_world()
    if not (folder / ".metadata").is_file() or not (folder / EXTRA).is_file():
        raise CheckpointError(f"{folder}: not a sharded checkpoint (no .metadata or {EXTRA}); give the folder "
                              "save_sharded wrote (the --out of an --fsdp run)")
    import torch.distributed.checkpoint as dcp  # here: a few seconds of imports on first use
    from torch.distributed.checkpoint.api import CheckpointException
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
    try:
        saved = torch.load(folder / EXTRA, map_location="cpu", weights_only=True)
        n = int(saved["world_size"])
        extra = dict(saved["ranks"][min(rank, n - 1)])
    except Exception as e:  # noqa: BLE001 - any read failure means a damaged file
        raise CheckpointError(f"{folder / EXTRA}: cannot be read ({_one_line(e, 300)}); the checkpoint is damaged: "
                              "start a new --out (or restore the folder)") from None
    # the current states give DCP the names, shapes and shardings to load into (in place)
    model_state, optim_state = get_state_dict(model, optimizer)
    state = {"model": model_state, "optimizer": optim_state}
    try:
        dcp.load(state, checkpoint_id=str(folder))
        set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])
    except (Exception, CheckpointException) as e:  # noqa: BLE001 - missing keys, shapes, bad files alike
        raise CheckpointError(f"{folder}: does not fit this run's model or is damaged ({_one_line(e, 300)}); "
                              "resume with the run's own --config/--vocab, or start a new --out") from None
    extra["saved_world_size"] = n
    return extra


# -- export -------------------------------------------------------------------------------------------

def full_model_state(model: nn.Module) -> dict[str, torch.Tensor] | None:
    """The full (unsharded) state dict of `model` as plain CPU tensors on rank 0, None on the other
    ranks; every rank calls it (the shards are all-gathered one parameter at a time). The keys are the
    model's own `state_dict()` names, so `type(model)(config).load_state_dict(state)` takes it.

    get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True)).
    Source: https://docs.pytorch.org/docs/stable/distributed.checkpoint.html"""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    rank, _ = _rank_world()
    return state if rank == 0 else None


def unwrap_class(model: nn.Module) -> type:
    """The model's own class: fully_shard swaps a module's class for a subclass `FSDP<Name>`."""
    from torch.distributed.fsdp import FSDPModule
    return next(c for c in type(model).__mro__ if not issubclass(c, FSDPModule))


def export_pretrained(model: nn.Module, folder, tokenizer=None) -> Path | None:
    """Write a sharded (or plain) bertkit model as a normal Hugging Face folder (config.json,
    model.safetensors, and the tokenizer's files when given), atomically, on rank 0; every rank calls
    it. Rank 0 builds an unsharded copy of the model's class from its config, loads
    `full_model_state(model)` into it (strict) and calls its `save_pretrained`. Returns the folder on
    rank 0, None elsewhere."""
    from ..io import atomic_dir
    state = full_model_state(model)
    if state is None:
        return None
    plain = unwrap_class(model)(model.config)
    plain.load_state_dict(state)
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        plain.save_pretrained(tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
    return folder


class ShardedCheckpointIO:
    """The loop's checkpoints of an FSDP run: a torch.distributed.checkpoint folder (save_sharded), with
    the loop's own state (step, data position, RNG states, schedule) as each rank's `extra`. The same
    methods as loop.CheckpointIO; every rank calls them."""

    def __init__(self, folder):
        self.path = Path(folder)

    def save(self, loop) -> None:
        save_sharded(self.path, loop.model, loop.optimizer, loop.state_dict())

    def read(self) -> dict:
        """Rank 0's saved loop state (its config and batch size are checked before the model is built);
        CheckpointError when the folder is not a sharded checkpoint or is damaged."""
        if not (self.path / ".metadata").is_file() or not (self.path / EXTRA).is_file():
            raise CheckpointError(f"{self.path}: not a sharded checkpoint (no .metadata or {EXTRA}); give the "
                                  "--out of an --fsdp run")
        try:
            saved = torch.load(self.path / EXTRA, map_location="cpu", weights_only=True)
            return dict(saved["ranks"][0])
        except Exception as e:  # noqa: BLE001 - any read failure means a damaged file
            raise CheckpointError(f"{self.path / EXTRA}: cannot be read ({_one_line(e, 300)}); the checkpoint is "
                                  "damaged: start a new --out (or restore the folder)") from None

    def load(self, loop, state: dict) -> None:
        extra = load_sharded(self.path, loop.model, loop.optimizer)
        loop.load_state_dict(extra)
