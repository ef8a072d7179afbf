"""`bertkit explain`: token attributions for a classifier's prediction, as a page and as JSONL.

No torch at import time (the command table is read by `bertkit --help`); the work imports it."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ..cliargs import OptionError, arg


@dataclass
class ExplainArgs:
    """Token attributions for a fine-tuned classifier's prediction: integrated gradients over the input
    word embeddings (baseline: [PAD] at every token but [CLS]/[SEP]) and/or attention rollout. Writes
    explain.html (the text highlighted per token, self-contained) and attributions.jsonl (one row per
    token: text_index, method, label, token, start, end, score; special tokens left out, start:end slice
    the text), and prints the top tokens. Texts longer than the classifier's max_length are truncated to
    it (a classifier fine-tuned on windows of long documents is explained on the first window)."""
    text: list[str] = arg([], "text(s) to explain", positional=True, nargs="*")
    model: str = arg("finetuned", "fine-tuned classifier folder (bertkit finetune --task classify, or any "
                                  "…ForSequenceClassification folder)")
    input: str | None = arg(None, "file of texts: .txt (one per line), .jsonl / .csv / .tsv with 'text' "
                                  "(and 'text_pair' for a pair classifier)")
    method: str = arg("ig", "ig (integrated gradients) | rollout (attention rollout) | both")
    steps: int = arg(50, "integrated gradients: interpolation steps (Gauss-Legendre points) to start with")
    tolerance: float = arg(0.01, "integrated gradients: while the scores miss F(x) - F(baseline) by more than "
                                 "this share, double the steps (up to --max-steps); 0 keeps --steps")
    max_steps: int = arg(400, "integrated gradients: the most steps --tolerance may double up to")
    out: str = arg("explain", "folder to write explain.html and attributions.jsonl into")
    top: int = arg(3, "tokens printed per text and method, for the label (and, for ig, against it)")


def load_classifier(folder):
    """(model, tokenizer, options) of a fine-tuned classify folder: options are the saved task options
    (config.json bertkit_task), with max_length the one it was trained with, else the model's positions. ReaderError for a folder with
    no config.json, ConfigError for one fine-tuned for another task or without a trained classifier."""
    from ..data.readers import ReaderError
    from ..errors import ConfigError
    from ..tasks.finetune import _task_of, _trained, check_max_length, load_tokenizer
    folder = Path(folder)
    if not (folder / "config.json").exists():
        raise ReaderError(f"{folder}: not a model folder (no config.json); give a fine-tuned classifier folder")
    task, opts = _task_of(folder)
    if task != "classify":
        what = f"fine-tuned for {task}" if task else "not fine-tuned for a task (a bare encoder)"
        raise ConfigError(f"{folder}: {what}, not a classifier; explain needs a folder from "
                          "bertkit finetune --task classify")
    if "max_length" in opts:
        check_max_length(opts["max_length"], folder, f"max_length (in {folder / 'config.json'}, bertkit_task)")
    model = _trained(folder, "classify")
    return model, load_tokenizer(folder), {**opts, "max_length": opts.get("max_length", model.config.max_sequence_length)}


def explain_cli(a: ExplainArgs) -> None:
    from ..io import atomic_path, check_writable
    if a.tolerance < 0:
        raise OptionError(f"--tolerance {a.tolerance}: must be at least 0; see --help")
    if a.max_steps < a.steps:
        raise OptionError(f"--max-steps {a.max_steps}: below --steps {a.steps}; give at least {a.steps}")
    if not a.text and a.input is None:
        raise OptionError("text: nothing to explain; give a text, or --input FILE")
    blank = next((i for i, t in enumerate(a.text) if not t.strip()), None)
    if blank is not None:
        raise OptionError(f"text {blank + 1}: empty; give a sentence to explain")
    out = Path(a.out)
    page, table = out / "explain.html", out / "attributions.jsonl"
    for p in (page, table):
        check_writable(p)
    texts: list[tuple[str, str | None]] = [(t, None) for t in a.text]
    if a.input is not None:
        from ..data.readers import read_classification
        texts += [(x.text, x.text_pair) for x in read_classification(a.input, require_label=False)]
    model, tok, opts = load_classifier(a.model)
    max_length = opts["max_length"]
    if opts.get("pair") is True and any(p is None for _, p in texts):
        from ..errors import DataError
        raise DataError(f"{a.model}: the classifier was fine-tuned on sentence pairs; give --input FILE with "
                        "text and text_pair on every row")
    from .attribution import explain, explain_page
    methods = ("ig", "rollout") if a.method == "both" else (a.method,)
    results = []
    for i, (text, text_pair) in enumerate(texts):
        by_method = {m: explain(model, tok, text, m, text_pair=text_pair, n_steps=a.steps, max_length=max_length,
                                tolerance=a.tolerance or None, max_steps=max(a.steps, a.max_steps))
                     for m in methods}
        results.append(by_method)
        first = next(iter(by_method.values()))
        head = (f"output {first.logit:.4f}" if first.kind == "regression"
                else f"{first.label} {first.probability:.3f}")
        short = text if len(text) <= 70 else text[:67] + "..."
        print(f"[{i}] {head}  {short}")
        for m, e in by_method.items():
            off = abs(e.delta) / max(abs(e.gap), 1e-12) if m == "ig" else 0.0
            steps = f"{e.n_steps} step{'s' if e.n_steps != 1 else ''}" if m == "ig" else ""
            extra = f"  (completeness: {off:.2%} off at {steps})" if m == "ig" else ""
            print(f"    {m:>7}: {e.summary(a.top)}{extra}")
            if m == "ig" and a.tolerance and off > a.tolerance:
                print(f"    (text {i}: the scores miss F(x) - F(baseline) = {e.gap:+.4f} by {off:.1%} even at "
                      f"{steps}; raise --max-steps)", file=sys.stderr)
        if first.truncated:
            print(f"    (the text is {first.truncated} tokens longer than max_length {max_length}: the rest "
                  "is not explained)", file=sys.stderr)
    rows = []
    for i, by_method in enumerate(results):
        for m, e in by_method.items():
            for x in e:
                rows.append({"text_index": i, "method": m, "label": e.label,
                             **x.to_dict(pair=e.text_pair is not None) | {"score": round(x.score, 6)}})
    with atomic_path(table) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with atomic_path(page) as tmp:
        tmp.write_text(explain_page(results, model_name=Path(a.model).name), encoding="utf-8")
    print(f"wrote {page} and {table} ({len(rows)} token rows)", file=sys.stderr)
