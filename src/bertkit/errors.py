"""The errors a user can cause, in one family.

Every error that bad input, a bad option or a bad file can cause is a `BertkitError`. `bertkit`'s command
line catches the family once (in `cli.main`) and prints one line, `bertkit <command>: <message>`, with
exit code 2; `BERTKIT_DEBUG=1` shows the traceback instead. A message says where (file:line, field,
option or tensor), what is wrong, and after a `;` what to do.

`BertkitError` is a `ValueError`, as `transformers` raises `ValueError` for the same mistakes, so code
written against `transformers` catches ours too. No torch here: the tokenizer imports this module.
"""
from __future__ import annotations


class BertkitError(ValueError):
    """Bad input, options or files: the message names where, what, and what to do."""


class ConfigError(BertkitError):
    """A config field is missing, of the wrong type, or inconsistent with another field."""


class CheckpointError(BertkitError):
    """A checkpoint folder or file cannot be loaded or written as asked; the message names the file and tensor."""


class TokenizerError(BertkitError):
    """A tokenizer folder, vocabulary, argument or input cannot be used as given."""


class DataError(BertkitError):
    """An input data file cannot be read; the message names the file, line and field."""


class TrainError(BertkitError):
    """A training run cannot start or go on as asked; the message says what to change."""


class OptionError(BertkitError):
    """A command-line option has a value the command cannot use; the message names the option."""


class WriteError(BertkitError, OSError):
    """A file or folder could not be written; the message names the path and the cause. Also an OSError,
    as Python's own failed writes are, so code that catches OSError around a save still does."""


__all__ = ["BertkitError", "ConfigError", "CheckpointError", "TokenizerError", "DataError", "TrainError", "OptionError",
           "WriteError"]
