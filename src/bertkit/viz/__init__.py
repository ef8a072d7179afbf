"""Seeing inside a model: attention maps (PNG and a self-contained page), per-layer probes and
similarity, embedding maps, and token attributions for a prediction.

Names are imported on first use, so `import bertkit.viz` stays light:
- `attention_page(outputs, tokens)` → an AttentionPage (`.html`, `.save(path)`, inline in Jupyter);
- `attention_png(attentions, tokens, layer=None, head=None)` → a matplotlib Figure;
- `attention_maps(model, tokenizer, text, pair=None)` → tokens and (L, H, T, T) weights for one input;
- `layer_probe`, `layer_similarity`, `embedding_map` (viz/probe.py), `integrated_gradients`,
  `attention_rollout`, `explain` (viz/attribution.py).
"""
from __future__ import annotations

import importlib

_WHERE = {
    "attention_page": "page", "AttentionPage": "page", "page_attentions": "page",
    "attention_png": "attention", "attention_maps": "attention", "AttentionMaps": "attention",
    "layer_states": "probe", "layer_probe": "probe", "layer_similarity": "probe", "embedding_map": "probe",
    "integrated_gradients": "attribution", "attention_rollout": "attribution", "explain": "attribution",
    "Attribution": "attribution",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
