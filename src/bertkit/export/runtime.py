"""Run a model folder on PyTorch or on its exported ONNX file, behind one interface.

    model = load_model("clf", "classify", engine="onnx")   # clf/model.onnx, checked against clf/config.json
    model(input_ids, attention_mask=mask).logits            # (B, num_labels), a torch tensor

`load_model` is the one loader of `bertkit embed`, `predict` and `serve`: engine "torch" gives the
PyTorch model (the bare encoder for embed, the fine-tuned head for classify / ner / qa), engine "onnx" an
`OnnxModel`, which takes the same inputs and returns the same output dataclasses (models/outputs.py), so
the task code (WindowClassifier, Tagger and its CRF, the QA span search) runs on either unchanged.

The file's metadata (written by `bertkit export`, export/onnx.py) must fit the folder and the task: a
file exported for another task or from another model is refused (CheckpointError) instead of giving
numbers that mean something else.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import BertkitError, CheckpointError, ConfigError, OptionError

Tensor = torch.Tensor

TASKS = ("embed", "classify", "ner", "qa")
ENGINES = ("torch", "onnx")
# the graph's outputs per task, in order: embed is the bare encoder's (B, T, C); classify (B, L); ner
# (B, T, L); qa two (B, T)
OUTPUTS = {"embed": ("last_hidden_state",), "classify": ("logits",), "ner": ("logits",),
           "qa": ("start_logits", "end_logits")}
META = "bertkit."  # the prefix of bertkit's keys in the file's metadata_props


def load_model(folder, task: str, engine: str = "torch", onnx_file=None) -> nn.Module:
    """The model of `folder` for `task` (embed | classify | ner | qa) on `engine`.

    engine "torch": embed → the bare encoder (AutoModel; a head the folder holds is not used), classify /
    ner / qa → the folder's fine-tuned head (ConfigError when the folder holds none). engine "onnx": an
    OnnxModel of `onnx_file` (default <folder>/model.onnx), which must have been exported for `task`
    from this folder's model (CheckpointError naming the file otherwise). The model is in eval mode."""
    folder = Path(folder)
    if task not in TASKS:
        raise ConfigError(f"task {task!r}: use one of {', '.join(TASKS)}")
    if engine not in ENGINES:
        raise OptionError(f"--engine {engine!r}: use one of {', '.join(ENGINES)}")
    if not (folder / "config.json").is_file():
        what = "no such folder" if not folder.exists() else "not a model folder (no config.json)"
        raise CheckpointError(f"{folder}: {what}; give a model folder (Hugging Face layout)")
    if engine == "torch":
        if onnx_file is not None:
            raise OptionError(f"--onnx {onnx_file}: an ONNX file is run by --engine onnx; add --engine onnx or "
                              "drop --onnx")
        if task == "embed":
            from ..registry import AutoModel
            model = AutoModel.from_pretrained(folder, fresh=[])  # a pooler or head the folder lacks is not used
        else:
            from ..tasks.finetune import _trained
            model = _trained(folder, task)
        return model.eval()
    model = OnnxModel(onnx_file if onnx_file is not None else folder / "model.onnx", folder)
    if model.task != task:
        raise CheckpointError(f"{model.path}: exported for {model.task}, not {task}; export the model for {task} "
                              f"with bertkit export --model {folder} --task {task} --out FILE, and give --onnx FILE")
    return model.eval()


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:  # a declared dependency; said plainly if the environment lacks it
        raise BertkitError("onnxruntime is not installed; pip install onnxruntime (or use --engine torch)") from None
    return onnxruntime


def session(path, threads: int | None = None):
    """An onnxruntime InferenceSession of `path` on the CPU, with `threads` intra-op threads (default: as many
    as torch uses) and its log quiet. CheckpointError naming the file when it is not a loadable ONNX model."""
    ort = _onnxruntime()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or torch.get_num_threads()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # errors only: no notes about initializers and providers on stderr
    # idle threads sleep instead of spinning: a server shares the cores with its event loop (spinning
    # halved the onnx engine's throughput under load in benchmarks/serve.py)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime's InvalidProtobuf, Fail, InvalidGraph, NoSuchFile: its own classes
        detail = " ".join(str(e).split())[:200]
        raise CheckpointError(f"{path}: not an ONNX model onnxruntime can load ({detail}); export it again with "
                              "bertkit export") from None


def run(sess, feeds: dict, what) -> list:
    """sess.run(None, feeds); an error of onnxruntime's while running is a BertkitError naming `what`."""
    try:
        return sess.run(None, feeds)
    except Exception as e:  # onnxruntime's Fail, InvalidArgument, RuntimeException: its own classes
        detail = " ".join(str(e).split())[:300]
        raise BertkitError(f"{what}: onnxruntime could not run it on a batch of shape "
                           f"{tuple(feeds['input_ids'].shape)} ({detail}); export it again, or use --engine torch") from None


class OnnxModel(nn.Module):
    """An exported file run by onnxruntime (CPU), with the PyTorch models' interface.

    `config` is the folder's config (labels, sizes, task options), `task` the file's task, `metadata` its
    bertkit metadata. forward(input_ids (B, T), attention_mask (B, T) = all ones, token_type_ids (B, T) =
    zeros) returns BaseModelOutput (embed: last_hidden_state (B, T, C)), SequenceClassifierOutput (logits
    (B, L)), TokenClassifierOutput (logits (B, T, L)) or QuestionAnsweringOutput (start_logits, end_logits
    (B, T)), as torch tensors on the CPU. No loss, hidden states or attentions: an exported graph predicts.

    Raises CheckpointError (at construction) for a missing file, a file that is not ONNX or was not written
    by `bertkit export`, and a file whose model does not fit the folder's config.json (model_type,
    hidden_size, vocab_size, num_labels)."""

    def __init__(self, path, folder):
        super().__init__()
        from ..registry import AutoConfig
        self.path, self.folder = Path(path), Path(folder)
        if not self.path.is_file():
            what = "a folder, not a file" if self.path.is_dir() else "no such file"
            raise CheckpointError(f"{self.path}: {what}; export it first with bertkit export --model {self.folder}"
                                  + (f" --out {self.path}" if self.path != self.folder / "model.onnx" else ""))
        self.config = AutoConfig.from_pretrained(self.folder / "config.json")
        self.session = session(self.path)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.metadata = {k[len(META):]: v for k, v in meta.items() if k.startswith(META)}
        self.task = self.metadata.get("task")
        if self.task not in TASKS:
            raise CheckpointError(f"{self.path}: no bertkit metadata (bertkit.task), so what the graph computes is "
                                  f"unknown; export it with bertkit export --model {self.folder}")
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self._check_fits()
        # The task code asks `next(model.parameters()).device` where to put its batches. The graph's
        # weights live in onnxruntime, so this one empty, frozen parameter on the CPU answers it.
        self.device_anchor = nn.Parameter(torch.empty(0), requires_grad=False)

    def _check_fits(self) -> None:
        cfg, m = self.config, self.metadata
        labels = {"classify": cfg.num_labels, "ner": cfg.num_labels, "qa": 2}.get(self.task)
        for key, want in (("model_type", cfg.model_type), ("hidden_size", cfg.hidden_size),
                          ("vocab_size", cfg.vocab_size), ("num_labels", labels)):
            if want is not None and m.get(key) != str(want):
                raise CheckpointError(f"{self.path}: exported from a model with {key} {m.get(key)}, but "
                                      f"{self.folder / 'config.json'} has {want}; the file belongs to another "
                                      f"model: export this folder again with bertkit export --model {self.folder}")
        if tuple(self.output_names) != OUTPUTS[self.task] or self.input_names[:2] != ["input_ids", "attention_mask"]:
            raise CheckpointError(f"{self.path}: inputs {self.input_names} and outputs {self.output_names} are not "
                                  f"those of a bertkit {self.task} export; export it again with bertkit export")

    @property
    def segments(self) -> bool:
        """Whether the graph reads token_type_ids (families with a segment table)."""
        return "token_type_ids" in self.input_names

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None, token_type_ids: Tensor | None = None,
                **ignored):
        asked = sorted(k for k, v in ignored.items() if v is not None and v is not False)
        if asked:
            raise BertkitError(f"{', '.join(asked)}: an exported ONNX graph takes input_ids, attention_mask and "
                               "token_type_ids only (no labels, positions or hidden states); use --engine torch")
        if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
            shape = tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids).__name__
            raise BertkitError(f"input_ids must be a 2-D tensor (batch, seq_len), got {shape}")
        B, T = input_ids.shape
        limit = self.config.max_sequence_length
        if T > limit:
            raise BertkitError(f"sequence length {T} exceeds the model's {limit} positions; truncate the input "
                               "(tokenizer truncation=True, max_length=...)")
        feeds = {"input_ids": input_ids.detach().to("cpu", torch.long).numpy()}
        mask = torch.ones(B, T, dtype=torch.long) if attention_mask is None else attention_mask
        feeds["attention_mask"] = mask.detach().to("cpu", torch.long).numpy()
        if self.segments:
            types = torch.zeros(B, T, dtype=torch.long) if token_type_ids is None else token_type_ids
            feeds["token_type_ids"] = types.detach().to("cpu", torch.long).numpy()
        out = dict(zip(self.output_names, (torch.from_numpy(o) for o in run(self.session, feeds, self.path))))
        from ..models import outputs as o
        if self.task == "embed":
            return o.BaseModelOutput(last_hidden_state=out["last_hidden_state"])  # (B, T, C)
        if self.task == "classify":
            return o.SequenceClassifierOutput(logits=out["logits"])  # (B, L)
        if self.task == "ner":
            return o.TokenClassifierOutput(logits=out["logits"])  # (B, T, L)
        return o.QuestionAnsweringOutput(start_logits=out["start_logits"], end_logits=out["end_logits"])  # (B, T)

    def extra_repr(self) -> str:
        return f"{self.path}, task={self.task}, quantization={self.metadata.get('quantization', 'none')}"
