"""The one way bertkit draws a PNG: matplotlib's file-only Agg backend, and an atomic save.

Commands draw curves and matrices that people would rather look at than read (training curves,
confusion matrices). matplotlib is imported on first use, so that `bertkit --help` stays quick.
"""
from __future__ import annotations

import os


_FONTS_READY = False


def pyplot():
    """matplotlib.pyplot, on the Agg backend (no display needed), with a CJK font behind the default one
    where the system has Noto Sans CJK (Debian's fonts-noto-cjk): tokens in Chinese or Japanese then show
    as themselves instead of empty boxes. Without it, the missing-glyph warnings are not repeated per
    character."""
    global _FONTS_READY
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if not _FONTS_READY:
        _FONTS_READY = True
        import warnings
        from matplotlib import font_manager
        cjk = [f for f in font_manager.findSystemFonts() if os.path.basename(f).startswith("NotoSansCJK-Regular")]
        for f in cjk:
            font_manager.fontManager.addfont(f)
        if cjk:  # matplotlib falls back glyph by glyph along this list (3.6 and later)
            plt.rcParams["font.family"] = ["DejaVu Sans", "Noto Sans CJK JP"]
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
    return plt


def save(fig, path: str | os.PathLike, dpi: int = 100, tight: bool = False) -> None:
    """Write `fig` as a PNG to `path` (a temporary file renamed into place: a failed write leaves the old
    file as it was, and is a WriteError naming `path`), then close it. `tight`: crop the blank margins."""
    from .io import atomic_path
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, **({"bbox_inches": "tight", "pad_inches": 0.15} if tight else {}))
    finally:
        pyplot().close(fig)
