"""Hugging Face checkpoint folders in and out, for every family: strict checks, nothing unpickled.

A model folder is what `transformers` writes: `config.json` plus `model.safetensors` (or a legacy
`pytorch_model.bin`, read with `torch.load(weights_only=True)` only). Our module names are chosen for
reading; each family declares in its own file how `transformers` names them (`key_table`, a
models.KeyTable) and the prefix of its encoder in head models (`base_model_prefix`: bert., roberta.,
distilbert., albert.). This module applies those tables and knows nothing of any one family. The one
structural difference is attention's fused QKV projection: Hugging Face stores query, key and value
separately, and they are concatenated on load and split on save. Layer paths carry one number, or
two (ALBERT's albert_layer_groups.G.albert_layers.I), as the key table's templates say.

Loading is strict. A tensor that is missing, unexpected or of the wrong shape is an error naming it,
with two deliberate exceptions that mirror how people use BERT:
- a head (and the pooler) absent from the checkpoint is freshly initialised, e.g. a bare encoder
  loaded into BertForSequenceClassification: said in one line;
- a head present in the checkpoint but absent from the model is dropped, e.g. BertForPreTraining
  weights loaded into BertModel: also said in one line.
"""
from __future__ import annotations

import json
import logging
import os
import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from .errors import CheckpointError  # noqa: F401  (re-exported)
from .config import ConfigError, PretrainedConfig
from .io import atomic_path, write_error, writing
from .models.base import EncoderModel, KeyTable

log = logging.getLogger("bertkit")


@contextmanager
def loading_quietly():
    """No loading notes (tensors initialised fresh, or dropped) within: for a caller to whom they say nothing,
    e.g. a resumed run whose weights come from its checkpoint, or a probe for a head that may be absent."""
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)

WEIGHTS_NAME = "model.safetensors"
LEGACY_WEIGHTS_NAME = "pytorch_model.bin"


def _pattern(path: str) -> re.Pattern:
    return re.compile("^" + re.escape(path).replace(r"\{\}", r"(\d+)") + r"(\..+)?$")


def _renamer(pairs):
    compiled = [(_pattern(src), dst) for src, dst in pairs]

    def rename(key: str) -> str | None:
        for pat, dst in compiled:
            m = pat.match(key)
            if m:
                *layer, rest = m.groups()
                return dst.format(*layer) + (rest or "")
        return None

    return rename


class _Names:
    """A key table compiled into renaming functions, both ways."""

    def __init__(self, table: KeyTable):
        self.table = table
        self.enc_to_ours = _renamer(table.encoder)
        self.enc_to_hf = _renamer([(b, a) for a, b in table.encoder])
        self.head_to_ours = _renamer(table.heads)
        self.head_to_hf = _renamer([(b, a) for a, b in table.heads])
        template, self.qkv_parts = table.qkv
        self.qkv_template = template
        self.our_qkv_template = table.our_qkv
        n = table.our_qkv.count("{}")  # layer indices: one, or ALBERT's group and inner layer
        if template.count("{}") != n + 1:
            raise ValueError(f"key table: {template!r} needs {n} layer indices and the part, as {table.our_qkv!r}")
        hf = re.escape(template).replace(r"\{\}", "{}").format(*[r"(\d+)"] * n, f"({'|'.join(self.qkv_parts)})")
        self.hf_qkv = re.compile(f"^{hf}\\.(weight|bias)$")
        ours = re.escape(table.our_qkv).replace(r"\{\}", r"(\d+)")
        self.our_qkv = re.compile(f"^{ours}\\.(weight|bias)$")


@lru_cache(maxsize=None)
def _names(table: KeyTable) -> _Names:
    return _Names(table)


def _some(names: list[str], n: int = 6) -> str:
    """The first `n` names, and how many more: a message stays one readable line."""
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def _is_base(model: nn.Module) -> bool:
    """True for a bare encoder (keys start at embeddings./encoder.), False for a head model (bert.*)."""
    return isinstance(model, EncoderModel)


def _legacy_name(key: str) -> str:
    # TF-converted checkpoints name LayerNorm parameters gamma/beta
    return re.sub(r"\.gamma$", ".weight", re.sub(r"\.beta$", ".bias", key))


def hf_to_ours(hf_state: dict[str, torch.Tensor], model: nn.Module, source: str = "checkpoint"):
    """Map a Hugging Face state dict to `model`'s keys, through its family's key table.

    Returns (state, dropped_heads): keys of heads a bare encoder has no place for are left out and
    listed. Unknown keys raise CheckpointError."""
    names, base, root = _names(model.key_table), _is_base(model), model.base_model_prefix + "."
    prefix = "" if base else root
    state: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[tuple[str, ...], str], dict[str, torch.Tensor]] = {}
    unknown, dropped = [], []
    for raw_key, tensor in hf_state.items():
        key = _legacy_name(raw_key)
        inner = key[len(root):] if key.startswith(root) else key
        if inner in names.table.derived:
            continue
        if inner.startswith(names.table.encoder_roots):
            m = names.hf_qkv.match(inner)
            if m:
                *layer, part, kind = m.groups()
                qkv.setdefault((tuple(layer), kind), {})[part] = tensor
                continue
            ours = names.enc_to_ours(inner)
            if ours is None:
                unknown.append(raw_key)
            else:
                state[prefix + ours] = tensor
            continue
        ours = names.head_to_ours(key)
        if base:
            (unknown if ours is None else dropped).append(raw_key)
        else:
            state[ours or key] = tensor  # a custom head's tensors keep their names
    for (layer, kind), parts in qkv.items():
        path = prefix + names.our_qkv_template.format(*layer)
        hf = {p: f"{prefix}{names.qkv_template.format(*layer, p)}.{kind}" for p in names.qkv_parts}
        missing = [hf[p] for p in names.qkv_parts if p not in parts]
        if missing:
            raise CheckpointError(f"{source}: missing tensors: {', '.join(missing)}")
        shapes = {hf[p]: tuple(parts[p].shape) for p in names.qkv_parts}
        if len(set(shapes.values())) != 1:
            raise CheckpointError(f"{source}: query, key and value must have one shape: {shapes}")
        state[f"{path}.{kind}"] = torch.cat([parts[p] for p in names.qkv_parts], dim=0)
    if unknown:
        family = model.config_class.model_type or "bertkit"
        raise CheckpointError(f"{source}: unexpected tensors that are not part of a {family} model "
                              f"({type(model).__name__}): {_some(sorted(unknown))}; is config.json's model_type "
                              "the model's own?")
    return state, dropped


def ours_to_hf(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Map `model`'s state dict (or part of it) to the Hugging Face layout (separate query/key/value).

    Tensors of a custom head (a subclass's own modules) keep their names, as in `transformers`."""
    names, base, root = _names(model.key_table), _is_base(model), model.base_model_prefix + "."
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if base or key.startswith(root):
            prefix = "" if base else root
            inner = key[len(prefix):]
            m = names.our_qkv.match(inner)
            if m:
                *layer, kind = m.groups()
                for part, piece in zip(names.qkv_parts, tensor.chunk(3, dim=0)):
                    out[prefix + f"{names.qkv_template.format(*layer, part)}.{kind}"] = piece
                continue
            hf = names.enc_to_hf(inner)
            if hf is None:
                raise CheckpointError(f"no Hugging Face name for tensor {key!r}; add it to "
                                      f"{type(model).__name__}.key_table")
        else:
            prefix, hf = "", names.head_to_hf(key) or key
        out[prefix + hf] = tensor
    return out


def hf_names(model: nn.Module, keys: list[str]) -> list[str]:
    """Our keys as the names they have in a Hugging Face file (a fused QKV key names all three)."""
    dummy = {k: torch.empty(3) for k in keys}
    return sorted(ours_to_hf(dummy, model))


def read_state_dict(folder: str | os.PathLike) -> tuple[dict[str, torch.Tensor], Path]:
    """Read the weights of a model folder: model.safetensors, else pytorch_model.bin (weights only)."""
    folder = Path(folder)
    st, legacy = folder / WEIGHTS_NAME, folder / LEGACY_WEIGHTS_NAME
    if st.exists():
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            return load_file(st), st
        except (SafetensorError, OSError, ValueError, RuntimeError) as e:
            raise CheckpointError(f"{st}: not a readable safetensors file ({' '.join(str(e).split())}); the "
                                  "download or copy may be incomplete: fetch or save it again") from None
    if legacy.exists():
        try:
            state = torch.load(legacy, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unpickling failure means a bad file
            detail = " ".join(str(e).split())[:200]
            raise CheckpointError(f"{legacy}: cannot be read as plain tensors with weights_only=True ({detail}); "
                                  f"convert it to {WEIGHTS_NAME} with a tool you trust") from None
        if not isinstance(state, dict):
            raise CheckpointError(f"{legacy}: expected a dict of tensors, got {type(state).__name__}")
        return state, legacy
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such model folder")
    raise CheckpointError(f"{folder}: neither {WEIGHTS_NAME} nor {LEGACY_WEIGHTS_NAME} is here")


def load_state(model: nn.Module, hf_state: dict[str, torch.Tensor], source: str = "checkpoint",
               warn_fresh: bool = True) -> list[str]:
    """Load Hugging Face-named tensors into `model`, strictly (see the module docstring). Returns the
    Hugging Face names of the tensors initialised fresh (not in the checkpoint); they are also logged
    as a warning unless `warn_fresh` is False."""
    state, dropped = hf_to_ours(hf_state, model, source)
    expected = model.state_dict()
    mismatched = [f"{' + '.join(hf_names(model, [k]))}: checkpoint {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
                  for k, v in state.items() if k in expected and v.shape != expected[k].shape]
    if mismatched:
        raise CheckpointError(f"{source}: tensors of the wrong shape: {'; '.join(mismatched)}")
    unexpected = sorted(k for k in state if k not in expected)
    # a known head (or the pooler) that the model lacks is dropped; anything else unexpected is an error
    root = model.base_model_prefix + "."
    droppable = [k for k in unexpected if k.startswith(model.key_table.head_modules + ("pooler.", root + "pooler."))]
    unexpected = [k for k in unexpected if k not in droppable]
    if unexpected:
        raise CheckpointError(f"{source}: unexpected tensors: {_some(hf_names(model, unexpected))}")
    dropped += hf_names(model, droppable)
    state = {k: v for k, v in state.items() if k not in droppable}
    missing = sorted(k for k in expected if k not in state)
    fresh = [k for k in missing if not k.startswith(("embeddings.", "encoder.", root + "embeddings.", root + "encoder."))]
    missing = [k for k in missing if k not in fresh]
    if missing:
        raise CheckpointError(f"{source}: missing tensors: {_some(hf_names(model, missing))}")
    for k in fresh:
        state[k] = expected[k]  # keep the fresh initialisation
    model.load_state_dict(state, strict=True)
    name = type(model).__name__
    if fresh and warn_fresh:
        log.warning("%s: initialised fresh in %s (not in the checkpoint): %s", source, name,
                    ", ".join(hf_names(model, fresh)))
    if dropped:
        log.warning("%s: not used by %s (dropped): %s", source, name, ", ".join(sorted(dropped)))
    return hf_names(model, fresh)


def model_folder(folder) -> Path:
    """`folder` as a Path; CheckpointError when it is missing or a file."""
    folder = Path(folder)
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such model folder")
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: a file, not a model folder; give the folder that holds config.json "
                              "and model.safetensors")
    return folder


def load_pretrained(cls, folder, config: PretrainedConfig | None = None, *, fresh: list | None = None,
                    **config_overrides):
    """`cls` built from a folder's config.json and loaded with its weights (load_state). With a list as
    `fresh`, the names of the tensors initialised fresh are appended to it instead of being logged."""
    folder = model_folder(folder)
    try:
        config = config or cls.config_class.from_pretrained(folder, **config_overrides)
    except ConfigError as e:
        raise CheckpointError(_other_family(cls, folder) or str(e)) from None
    hf_state, path = read_state_dict(folder)
    model = cls(config)
    names = load_state(model, hf_state, source=str(path), warn_fresh=fresh is None)
    if fresh is not None:
        fresh.extend(names)
    model.eval()  # as in transformers: from_pretrained gives a model in eval mode
    return model


def _other_family(cls, folder: Path) -> str | None:
    """For a folder of another registered family than `cls`'s: a message naming the class to load it
    with (the same head in the folder's family) and the Auto class. None for anything else."""
    from .registry import (FAMILIES, AutoModel, AutoModelForMaskedLM, AutoModelForPreTraining,
                           AutoModelForQuestionAnswering, AutoModelForSequenceClassification,
                           AutoModelForTokenClassification)
    try:
        model_type = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model_type", "bert")
    except (OSError, ValueError, AttributeError):
        return None
    own = cls.config_class.model_type
    if model_type == own or own not in FAMILIES or not isinstance(model_type, str) or model_type not in FAMILIES:
        return None
    autos = {a.task: a.__name__ for a in (AutoModel, AutoModelForPreTraining, AutoModelForMaskedLM,
                                          AutoModelForSequenceClassification, AutoModelForTokenClassification,
                                          AutoModelForQuestionAnswering)}
    tasks = [t for t, c in FAMILIES[own].models.items() if issubclass(cls, c)]
    use = (f"{FAMILIES[model_type].models[tasks[-1]].__name__} or {autos[tasks[-1]]}" if tasks
           else f"the {model_type} classes or AutoModel*")
    return (f"{folder / 'config.json'}: model_type {model_type!r} is not {cls.__name__}'s {own!r}; "
            f"load the folder with {use}")


def save_pretrained(model: nn.Module, folder) -> None:
    """Write config.json and model.safetensors, each to a temporary file renamed into place."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file
    folder = Path(folder)
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
    # clone: safetensors refuses tensors that share memory (the q/k/v chunks of the fused weight do)
    state = {k: v.detach().to("cpu").contiguous().clone()
             for k, v in ours_to_hf(model.state_dict(), model).items()}
    with atomic_path(folder / WEIGHTS_NAME) as tmp:
        try:
            save_file(state, str(tmp), metadata={"format": "pt"})
        except SafetensorError as e:  # the Rust writer reports a failed write (e.g. a full disk) this way
            raise write_error(folder / WEIGHTS_NAME, OSError(str(e))) from e
    config = model.config
    config.architectures = [type(model).__name__]
    with writing(folder / "config.json"):
        config.save_pretrained(folder)


def _sharing(config: PretrainedConfig) -> str:
    """The embedding width where the family factorises it (ALBERT, ELECTRA) and ALBERT's shared layers, for
    `describe`; "" for the other families."""
    if not hasattr(config, "num_hidden_groups"):
        return f", embeddings {config.embedding_size}" if getattr(config, "embedding_size", None) else ""
    return (f", embedding {config.embedding_size}, {config.num_hidden_groups} shared group(s) of "
            f"{config.inner_group_num} layer(s)")


def describe(folder) -> str:
    """A short report on a model folder: config, parameter count, and which heads its weights hold."""
    folder = model_folder(folder)
    try:
        config = PretrainedConfig.from_pretrained(folder)
    except ConfigError as e:
        raise CheckpointError(str(e)) from None
    from .registry import family
    model_class = family(config.model_type).model("base")
    hf_state, path = read_state_dict(folder)
    table, root = model_class.key_table, model_class.base_model_prefix + "."
    inner = [_legacy_name(k).removeprefix(root) for k in hf_state]
    n_params = sum(t.numel() for k, t in zip(inner, hf_state.values()) if k not in table.derived)
    head_names = _names(table).head_to_ours
    ours = {k if k.startswith(table.encoder_roots) else (head_names(k) or k) for k in inner}
    heads = {
        "pooler": any(k.startswith("pooler.") for k in ours),
        "masked LM": any(k.startswith("mlm.") for k in ours),
        "next sentence": any(k.startswith("nsp.") for k in ours),
        "sentence order": any(k.startswith("sop.") for k in ours),
        "replaced-token detection": any(k.startswith("discriminator.") for k in ours),
        "classifier": any(k.startswith(("classifier.", "pre_classifier.")) for k in ours),
        "question answering": any(k.startswith("qa_outputs.") for k in ours),
    }
    lines = [f"{folder}",
             f"  model_type: {config.model_type}; architectures: {', '.join(config.architectures or ['(not recorded)'])}",
             f"  weights: {path.name}, {len(hf_state)} tensors, {n_params:,} parameters",
             f"  layers {config.num_hidden_layers}, hidden {config.hidden_size}, heads {config.num_attention_heads}, "
             f"ffn {config.intermediate_size}, vocab {config.vocab_size}, max positions {config.max_position_embeddings}"
             + _sharing(config),
             f"  heads present: {', '.join(k for k, v in heads.items() if v) or 'none (bare encoder)'}"]
    if heads["classifier"]:  # a bare encoder's config carries transformers' default LABEL_0/LABEL_1 map
        lines.append(f"  labels: {config.id2label}")
    lines.append("  config: " + json.dumps(config.to_dict(), sort_keys=True))
    return "\n".join(lines)
