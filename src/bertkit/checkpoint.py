"""Hugging Face checkpoint folders in and out: one key table, strict checks, nothing unpickled.

A model folder is what `transformers` writes: `config.json` plus `model.safetensors` (or a legacy
`pytorch_model.bin`, read with `torch.load(weights_only=True)` only). Our module names are chosen for
reading; RENAMES below is the one place that maps them to the Hugging Face names. The one structural
difference is attention's fused QKV projection: Hugging Face stores query, key and value separately,
and they are concatenated on load and split on save.

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
from pathlib import Path

import torch
from torch import nn

from .errors import CheckpointError  # noqa: F401  (re-exported)
from .config import BertConfig, ConfigError
from .io import atomic_path, write_error, writing

log = logging.getLogger("bertkit")

WEIGHTS_NAME = "model.safetensors"
LEGACY_WEIGHTS_NAME = "pytorch_model.bin"




# (Hugging Face, bertkit) module paths; "{}" is a layer number. Encoder paths are relative to the
# encoder root, which is `bert.` in a head model; head paths are relative to the model.
ENCODER_RENAMES = [
    ("embeddings.word_embeddings", "embeddings.word"),
    ("embeddings.position_embeddings", "embeddings.position"),
    ("embeddings.token_type_embeddings", "embeddings.token_type"),
    ("embeddings.LayerNorm", "embeddings.norm"),
    ("encoder.layer.{}.attention.output.dense", "encoder.layers.{}.attn.out"),
    ("encoder.layer.{}.attention.output.LayerNorm", "encoder.layers.{}.attn_norm"),
    ("encoder.layer.{}.intermediate.dense", "encoder.layers.{}.ffn.up"),
    ("encoder.layer.{}.output.dense", "encoder.layers.{}.ffn.down"),
    ("encoder.layer.{}.output.LayerNorm", "encoder.layers.{}.ffn_norm"),
    ("pooler.dense", "pooler.dense"),
]
HEAD_RENAMES = [
    ("cls.predictions.transform.dense", "mlm.dense"),
    ("cls.predictions.transform.LayerNorm", "mlm.norm"),
    ("cls.predictions.bias", "mlm.bias"),
    ("cls.seq_relationship", "nsp"),
    ("classifier", "classifier"),
    ("qa_outputs", "qa_outputs"),
]
# query, key and value (HF) are the three row blocks of one fused projection (bertkit)
HF_QKV = "encoder.layer.{}.attention.self.{}"
OUR_QKV = "encoder.layers.{}.attn.qkv"
QKV_PARTS = ("query", "key", "value")
# Present in Hugging Face files, derived here: the decoder is tied to the word embeddings and
# its bias to `cls.predictions.bias`; position_ids/token_type_ids are buffers in old files.
HF_DERIVED = ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias",
              "embeddings.position_ids", "embeddings.token_type_ids")
ENCODER_ROOTS = ("embeddings.", "encoder.", "pooler.")
HEAD_MODULES = tuple(ours.split(".")[0] + "." for _, ours in HEAD_RENAMES) + ("mlm.bias",)


def _pattern(path: str) -> re.Pattern:
    return re.compile("^" + re.escape(path).replace(r"\{\}", r"(\d+)") + r"(\..+)?$")


def _renamer(pairs: list[tuple[str, str]]):
    compiled = [(_pattern(src), dst) for src, dst in pairs]

    def rename(key: str) -> str | None:
        for pat, dst in compiled:
            m = pat.match(key)
            if m:
                *layer, rest = m.groups()
                return dst.format(*layer) + (rest or "")
        return None

    return rename


_enc_to_ours = _renamer(ENCODER_RENAMES)
_enc_to_hf = _renamer([(b, a) for a, b in ENCODER_RENAMES])
_head_to_ours = _renamer(HEAD_RENAMES)
_head_to_hf = _renamer([(b, a) for a, b in HEAD_RENAMES])
_hf_qkv = re.compile(r"^encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.(weight|bias)$")
_our_qkv = re.compile(r"^encoder\.layers\.(\d+)\.attn\.qkv\.(weight|bias)$")


def _is_base(model: nn.Module) -> bool:
    """True for a bare encoder (keys start at embeddings./encoder.), False for a head model (bert.*)."""
    return not hasattr(model, "bert")


def _legacy_name(key: str) -> str:
    # TF-converted checkpoints name LayerNorm parameters gamma/beta
    return re.sub(r"\.gamma$", ".weight", re.sub(r"\.beta$", ".bias", key))


def hf_to_ours(hf_state: dict[str, torch.Tensor], base: bool, source: str = "checkpoint"):
    """Map a Hugging Face state dict to bertkit keys.

    Returns (state, dropped_heads): keys of heads the target model has no place for (only for a bare
    encoder target) are left out and listed. Unknown keys raise CheckpointError.
    """
    state: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    unknown, dropped = [], []
    for raw_key, tensor in hf_state.items():
        key = _legacy_name(raw_key)
        inner = key[len("bert."):] if key.startswith("bert.") else key
        if inner in HF_DERIVED:
            continue
        if inner.startswith(ENCODER_ROOTS):
            prefix = "" if base else "bert."
            m = _hf_qkv.match(inner)
            if m:
                layer, part, kind = m.groups()
                qkv.setdefault((prefix + OUR_QKV.format(layer), kind), {})[part] = tensor
                continue
            ours = _enc_to_ours(inner)
            if ours is None:
                unknown.append(raw_key)
            else:
                state[prefix + ours] = tensor
            continue
        ours = _head_to_ours(key)
        if base:
            (unknown if ours is None else dropped).append(raw_key)
        else:
            state[ours or key] = tensor  # a custom head's tensors keep their names
    for (path, kind), parts in qkv.items():
        names = {p: f"{'' if base else 'bert.'}{HF_QKV.format(path.split('.')[-3], p)}.{kind}" for p in QKV_PARTS}
        missing = [names[p] for p in QKV_PARTS if p not in parts]
        if missing:
            raise CheckpointError(f"{source}: missing tensors: {', '.join(missing)}")
        shapes = {names[p]: tuple(parts[p].shape) for p in QKV_PARTS}
        if len(set(shapes.values())) != 1:
            raise CheckpointError(f"{source}: query, key and value must have one shape: {shapes}")
        state[f"{path}.{kind}"] = torch.cat([parts[p] for p in QKV_PARTS], dim=0)
    if unknown:
        raise CheckpointError(f"{source}: unexpected tensors that are not part of a BERT: {', '.join(sorted(unknown))}")
    return state, dropped


def ours_to_hf(state: dict[str, torch.Tensor], base: bool) -> dict[str, torch.Tensor]:
    """Map a bertkit state dict to the Hugging Face layout (separate query/key/value).

    Tensors of a custom head (a subclass's own modules) keep their names, as in `transformers`."""
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if base or key.startswith("bert."):
            prefix = "" if base else "bert."
            inner = key[len(prefix):]
            m = _our_qkv.match(inner)
            if m:
                layer, kind = m.groups()
                for part, piece in zip(QKV_PARTS, tensor.chunk(3, dim=0)):
                    out[prefix + f"{HF_QKV.format(layer, part)}.{kind}"] = piece
                continue
            hf = _enc_to_hf(inner)
            if hf is None:
                raise CheckpointError(f"no Hugging Face name for tensor {key!r}; add it to checkpoint.RENAMES")
        else:
            prefix, hf = "", _head_to_hf(key) or key
        out[prefix + hf] = tensor
    return out


def hf_names(model: nn.Module, keys: list[str]) -> list[str]:
    """Our keys as the names they have in a Hugging Face file (a fused QKV key names all three)."""
    dummy = {k: torch.empty(3) for k in keys}
    return sorted(ours_to_hf(dummy, _is_base(model)))


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
    base = _is_base(model)
    state, dropped = hf_to_ours(hf_state, base, source)
    expected = model.state_dict()
    mismatched = [f"{' + '.join(hf_names(model, [k]))}: checkpoint {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
                  for k, v in state.items() if k in expected and v.shape != expected[k].shape]
    if mismatched:
        raise CheckpointError(f"{source}: tensors of the wrong shape: {'; '.join(mismatched)}")
    unexpected = sorted(k for k in state if k not in expected)
    # a known head (or the pooler) that the model lacks is dropped; anything else unexpected is an error
    droppable = [k for k in unexpected if k.startswith(HEAD_MODULES) or k.startswith(("pooler.", "bert.pooler."))]
    unexpected = [k for k in unexpected if k not in droppable]
    if unexpected:
        raise CheckpointError(f"{source}: unexpected tensors: {', '.join(hf_names(model, unexpected))}")
    dropped += hf_names(model, droppable)
    state = {k: v for k, v in state.items() if k not in droppable}
    missing = sorted(k for k in expected if k not in state)
    fresh = [k for k in missing if not k.startswith(("embeddings.", "encoder.", "bert.embeddings.", "bert.encoder."))]
    missing = [k for k in missing if k not in fresh]
    if missing:
        raise CheckpointError(f"{source}: missing tensors: {', '.join(hf_names(model, missing))}")
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


def load_pretrained(cls, folder, config: BertConfig | None = None, *, fresh: list | None = None,
                    **config_overrides):
    """`cls` built from a folder's config.json and loaded with its weights (load_state). With a list as
    `fresh`, the names of the tensors initialised fresh are appended to it instead of being logged."""
    folder = Path(folder)
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such model folder")
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: a file, not a model folder; give the folder that holds config.json "
                              "and model.safetensors")
    try:
        config = config or BertConfig.from_pretrained(folder, **config_overrides)
    except ConfigError as e:
        raise CheckpointError(str(e)) from None
    hf_state, path = read_state_dict(folder)
    model = cls(config)
    names = load_state(model, hf_state, source=str(path), warn_fresh=fresh is None)
    if fresh is not None:
        fresh.extend(names)
    model.eval()  # as in transformers: from_pretrained gives a model in eval mode
    return model


def save_pretrained(model: nn.Module, folder) -> None:
    """Write config.json and model.safetensors, each to a temporary file renamed into place."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file
    folder = Path(folder)
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
    base = _is_base(model)
    # clone: safetensors refuses tensors that share memory (the q/k/v chunks of the fused weight do)
    state = {k: v.detach().to("cpu").contiguous().clone()
             for k, v in ours_to_hf(model.state_dict(), base).items()}
    with atomic_path(folder / WEIGHTS_NAME) as tmp:
        try:
            save_file(state, str(tmp), metadata={"format": "pt"})
        except SafetensorError as e:  # the Rust writer reports a failed write (e.g. a full disk) this way
            raise write_error(folder / WEIGHTS_NAME, OSError(str(e))) from e
    config = model.config
    config.architectures = [type(model).__name__]
    with writing(folder / "config.json"):
        config.save_pretrained(folder)


def describe(folder) -> str:
    """A short report on a model folder: config, parameter count, and which heads its weights hold."""
    folder = Path(folder)
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such model folder")
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: a file, not a model folder; give the folder that holds config.json "
                              "and model.safetensors")
    try:
        config = BertConfig.from_pretrained(folder)
    except ConfigError as e:
        raise CheckpointError(str(e)) from None
    hf_state, path = read_state_dict(folder)
    n_params = sum(t.numel() for k, t in hf_state.items() if _legacy_name(k).removeprefix("bert.") not in HF_DERIVED)
    keys = {_legacy_name(k).removeprefix("bert.") for k in hf_state}
    heads = {
        "pooler": any(k.startswith("pooler.") for k in keys),
        "masked LM": any(k.startswith("cls.predictions.") for k in keys),
        "next sentence": any(k.startswith("cls.seq_relationship.") for k in keys),
        "classifier": any(k.startswith("classifier.") for k in keys),
        "question answering": any(k.startswith("qa_outputs.") for k in keys),
    }
    lines = [f"{folder}",
             f"  architectures: {', '.join(config.architectures or ['(not recorded)'])}",
             f"  weights: {path.name}, {len(hf_state)} tensors, {n_params:,} parameters",
             f"  layers {config.num_hidden_layers}, hidden {config.hidden_size}, heads {config.num_attention_heads}, "
             f"ffn {config.intermediate_size}, vocab {config.vocab_size}, max positions {config.max_position_embeddings}",
             f"  heads present: {', '.join(k for k, v in heads.items() if v) or 'none (bare encoder)'}"]
    if heads["classifier"]:  # a bare encoder's config carries transformers' default LABEL_0/LABEL_1 map
        lines.append(f"  labels: {config.id2label}")
    lines.append("  config: " + json.dumps(config.to_dict(), sort_keys=True))
    return "\n".join(lines)
