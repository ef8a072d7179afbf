"""Command arguments as dataclasses: `arg()` declares a field with its --help text, and
`add_arguments()` turns a dataclass into argparse options. No torch here, so `bertkit --help` is quick."""
from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import field
from typing import get_type_hints

from .errors import OptionError  # noqa: F401  (re-exported: bertkit.cliargs.OptionError)


def arg(default=dataclasses.MISSING, help: str = "", positional: bool = False, **kwargs):
    """A dataclass field with its --help text (and optionally a positional argument)."""
    meta = {"help": help, "positional": positional, **kwargs}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        meta = dict(f.metadata)
        helptext, positional = meta.pop("help", ""), meta.pop("positional", False)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        hint = hints[f.name]
        # state the default, unless there is none to state, it is an off flag, or the help already says it
        quiet = (default in (None, [], "") or default is False or "default" in helptext
                 or helptext == argparse.SUPPRESS)
        kwargs: dict = {"help": helptext if quiet else f"{helptext} (default: {default})"}
        if hint is bool:
            kwargs["action"] = "store_true"
        else:
            base = next((t for t in getattr(hint, "__args__", (hint,)) if t is not type(None)), str)
            if getattr(base, "__origin__", None) is list:
                base = base.__args__[0]
            kwargs["type"] = base
        kwargs.update(meta)
        if positional:
            if "nargs" not in kwargs:
                kwargs["nargs"] = "?"
            kwargs["default"] = default
            parser.add_argument(f.name, **kwargs)
        else:
            parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=default, **kwargs)


# -- option values --------------------------------------------------------------------------------------
# Checked by field name for every command that has the field, before any work is done; a command's own
# function checks what depends on files (e.g. --max-length against the model's max_position_embeddings).

def at_least(n):
    return (lambda v: v >= n), f"must be at least {n}"


def _in_open(lo, hi):
    return (lambda v: lo < v < hi), f"must be between {lo} and {hi} (both excluded)"


def _in_closed(lo, hi):
    return (lambda v: lo <= v <= hi), f"must be between {lo} and {hi}"


POSITIVE = ((lambda v: v > 0), "must be greater than 0")

LIMITS: dict[str, tuple] = {
    "batch_size": at_least(1), "micro_batch_size": at_least(0), "grad_accum": at_least(1),
    "steps": at_least(0), "epochs": POSITIVE, "lr": POSITIVE, "warmup": at_least(0),
    "weight_decay": at_least(0), "max_length": at_least(1), "max_seq_length": at_least(8),
    "top_k": at_least(1), "vocab_size": at_least(1), "min_frequency": at_least(0),
    "eval_every": at_least(0), "save_every": at_least(0), "log_every": at_least(1),
    "eval_examples": at_least(1), "workers": at_least(0), "threads": at_least(0), "seed": at_least(0),
    "eval_fraction": _in_open(0, 1), "mlm_probability": _in_open(0, 1),
    "eval_mlm_probability": _in_open(0, 1), "short_seq_prob": _in_closed(0, 1),
    "dropout": (lambda v: 0 <= v < 1, "must be in [0, 1)"), "clip": at_least(0),
    "beta2": (lambda v: 0 <= v < 1, "must be in [0, 1)"), "min_lr_ratio": _in_closed(0, 1),
    "patience": at_least(0), "limit": at_least(1), "stride": at_least(0), "doc_stride": at_least(1),
    "max_answer_length": at_least(1),
    "temperature": POSITIVE, "holdout": at_least(2), "augment": at_least(0), "augment_top_k": at_least(1),
    "augment_prob": (lambda v: 0 < v <= 1, "must be in (0, 1]"), "relation_heads": at_least(1),
    **{f"alpha_{w}": at_least(0) for w in ("kd", "hard", "hidden", "attention", "relation", "mse", "cos")},
}
# choices that do not depend on the command (a command with other choices for the same name lists its own)
CHOICES: dict[str, tuple[str, ...]] = {
    "engine": ("fast", "python"), "schedule": ("linear", "cosine", "constant", "wsd"),
    "mlm_bias_init": ("unigram", "zero"), "long": ("truncate", "windows"), "pool": ("mean", "max"),
    "task": ("classify", "ner", "qa"),
}


def option_name(name: str, cls: type | None = None) -> str:
    """The command-line spelling of a field: --batch-size (or the bare name of a positional argument)."""
    if cls is not None:
        f = next((f for f in dataclasses.fields(cls) if f.name == name), None)
        if f is not None and f.metadata.get("positional"):
            return name
    return "--" + name.replace("_", "-")


def check_options(args, choices: dict[str, tuple[str, ...]] | None = None, limits: dict[str, tuple] | None = None) -> None:
    """Raise OptionError naming the first option whose value is out of range or not one of its choices.

    `args` is a command's dataclass; LIMITS and CHOICES say what each field name allows (None always
    means "the default"); `choices` and `limits` add or override choices and limits for this command."""
    allowed = {**CHOICES, **(choices or {})}
    bounds = {**LIMITS, **(limits or {})}
    cls = type(args)
    for f in dataclasses.fields(args):
        v = getattr(args, f.name)
        if v is None or isinstance(v, bool):
            continue
        opt = option_name(f.name, cls)
        if isinstance(v, float) and not math.isfinite(v):
            raise OptionError(f"{opt} {v}: must be a finite number")
        if f.name in bounds and isinstance(v, (int, float)):
            ok, what = bounds[f.name]
            if not ok(v):
                raise OptionError(f"{opt} {v}: {what}; see --help")
        if f.name in allowed and isinstance(v, str) and v not in allowed[f.name]:
            raise OptionError(f"{opt} {v!r}: use one of {', '.join(allowed[f.name])}")
