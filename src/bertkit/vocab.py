"""Vocabulary training moved to `bertkit.tokenization.vocab`; this module keeps `from bertkit.vocab import ...`
working for existing code."""
from .tokenization.vocab import *  # noqa: F401,F403
from .tokenization.vocab import __all__  # noqa: F401
from .tokenization.wordpiece import DEFAULT_SPECIALS  # noqa: F401
