"""The one way bertkit draws a PNG: matplotlib's file-only Agg backend, and an atomic save.

Commands draw curves and matrices that people would rather look at than read (training curves,
confusion matrices). matplotlib is imported on first use, so that `bertkit --help` stays quick.
"""
from __future__ import annotations

import os


def pyplot():
    """matplotlib.pyplot, on the Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save(fig, path: str | os.PathLike, dpi: int = 100) -> None:
    """Write `fig` as a PNG to `path` (a temporary file renamed into place: a failed write leaves the old
    file as it was, and is a WriteError naming `path`), then close it."""
    from .io import atomic_path
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        pyplot().close(fig)
