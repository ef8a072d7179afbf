"""Command arguments as dataclasses: `arg()` declares a field with its --help text, and
`add_arguments()` turns a dataclass into argparse options. No torch here, so `bertkit --help` is quick."""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import field
from typing import get_type_hints


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
