"""`bertkit export --format onnx`: a model folder as one ONNX file, checked before it is written.

    bertkit export --model clf                        # clf/model.onnx, the folder's task (classify)
    bertkit export --model clf --optimize --quantize int8   # clf/model.int8.onnx

The graph is traced with torch.export (`torch.onnx.export(dynamo=True)`) on a short batch, with the
batch and sequence axes dynamic: the models take their padded path with a key mask under export
(models/base.py), so one graph runs any batch of any length up to the model's positions. Inputs are
input_ids, attention_mask (B, T) int64 and, for families with a segment table, token_type_ids; outputs
per task are in runtime.OUTPUTS.

Before anything is written, onnxruntime runs the file on real text (the texts given, else SENTENCES) in
padded batches of other sizes and lengths than the traced one, and its outputs are compared with the
PyTorch model's at the real (unpadded) positions: beyond TOLERANCE (max abs) on an fp32 file the export
is refused, naming the output. --optimize fuses attention, residual LayerNorms and GELUs into
onnxruntime's kernels (onnxscript's fusions for this exporter's graphs, then onnxruntime's BERT
optimiser) and checks the result the same way; --quantize int8 quantises the weights to int8 (onnxruntime's dynamic quantisation) and reports
its difference and how often its argmax (or, for embed, its direction) agrees, without refusing. The
file carries its task, family, sizes, inputs, opset and quantisation in metadata_props, which the loader
(runtime.OnnxModel) checks against the folder.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..cliargs import arg
from ..errors import BertkitError, CheckpointError, ConfigError, OptionError, WriteError

TOLERANCE = 1e-4  # max abs difference of an fp32 file's outputs from PyTorch's, at real positions
# the ONNX opsets torch's exporter writes here and onnxruntime (1.32) runs: at 17 and below its Split is
# invalid; at 23 attention becomes the ONNX Attention op, whose CPU kernel refuses the (B, 1, 1, T) key mask
OPSETS = (18, 22)
FORMATS = ("onnx",)
QUANTIZE = ("int8",)
MAX_BYTES = 2 ** 31 - 2 ** 24  # protobuf's 2 GB limit on one file, less room for the graph itself

# the check's default texts: English sentences of different lengths (classify, ner, embed), paired in
# order as question and context for qa
SENTENCES = (
    "A gorgeous, witty and deeply moving film.",
    "Tedious.",
    "The actors try hard, but the script gives them nothing to do, and the second half drags on far longer "
    "than anyone in the audience would have wished.",
    "Who directed the film?",
    "John Smith visited London in May, and Mary now works at Google in Paris.",
    "Not bad at all, really.",
    "The river runs past the old church and the market square before it reaches the sea, some forty miles "
    "to the south.",
    "It rains.",
)


@dataclass
class ExportArgs:
    """Export a model folder to ONNX (dynamic batch and sequence axes), checked with onnxruntime against the
    PyTorch model on real text before it is written; optionally fused for BERT and quantised to int8."""
    format: str = arg("onnx", "output format: onnx (the only one for now)")
    model: str | None = arg(None, "model folder (Hugging Face layout; a fine-tuned folder exports its head)")
    out: str | None = arg(None, "file to write (default: <model>/model.onnx, or <model>/model.int8.onnx with "
                                "--quantize int8)")
    task: str | None = arg(None, "embed | classify | ner | qa (default: the folder's fine-tuned task, else embed: "
                                 "the bare encoder's last_hidden_state)")
    opset: int | None = arg(None, f"ONNX opset, {OPSETS[0]}..{OPSETS[1]} (default: the exporter's, 20)")
    optimize: bool = arg(False, "fuse attention, residual + LayerNorm and bias + GELU into onnxruntime's kernels "
                                "(onnxscript's fusions, then onnxruntime's BERT optimiser), checked like the rest")
    quantize: str | None = arg(None, "int8: dynamic quantisation of the weights (per channel), on the (optimised) "
                                     "fp32 graph")
    quiet: bool = arg(False, "no progress lines on stderr")


def _check_out(out: Path) -> None:
    """The file `out` can be written: its folder exists and is writable, and it is not a folder. WriteError."""
    from ..io import check_writable
    check_writable(out)
    if out.suffix.lower() != ".onnx":  # never over a folder's vocab.txt, config.json, weights...
        raise WriteError(f"--out {out}: an ONNX file's name ends in .onnx; e.g. --out {out.with_suffix('.onnx')}")
    if not out.parent.is_dir():
        raise WriteError(f"{out}: cannot write (the folder {out.parent} does not exist); create it or choose "
                         "another --out")
    if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise WriteError(f"{out}: cannot write (permission denied); choose a folder you may write to")


def _resolve_task(folder: Path, task: str | None) -> str:
    from ..tasks.finetune import _task_of
    from .runtime import TASKS
    saved, _ = _task_of(folder)
    if task is None:
        return saved or "embed"
    if task not in TASKS:
        raise OptionError(f"--task {task!r}: use one of {', '.join(TASKS)}")
    if task != "embed" and saved and task != saved:
        raise ConfigError(f"--task {task}: {folder} was fine-tuned for {saved}; leave --task out, give --task "
                          f"{saved} (or embed, the bare encoder), or a folder fine-tuned for {task}")
    return task


def _encode(tok, texts: Sequence[str], task: str, max_length: int, names: Sequence[str]) -> dict:
    """A padded batch of `texts` (qa: consecutive texts as question and context pairs) as int64 tensors."""
    if task == "qa":
        firsts, seconds = list(texts[0::2]), list(texts[1::2]) or list(texts[:1])
        firsts = firsts[:len(seconds)]
        enc = tok(firsts, seconds, truncation=True, max_length=max_length, padding=True, return_tensors="pt",
                  return_token_type_ids=True)
    else:
        enc = tok(list(texts), truncation=True, max_length=max_length, padding=True, return_tensors="pt",
                  return_token_type_ids=True)
    return {n: enc[n].long() for n in names}


def _check_batches(tok, texts: Sequence[str], task: str, max_length: int, names) -> list[dict]:
    """The batches the export is checked on: all texts (in groups of 32) and the longest alone (batch 1)."""
    batches = [_encode(tok, texts[i:i + 32], task, max_length, names) for i in range(0, len(texts), 32)]
    longest = max(range(len(texts)), key=lambda i: len(texts[i]))
    one = [texts[longest]] + ([texts[longest - 1] if longest else texts[-1]] if task == "qa" else [])
    return batches + [_encode(tok, one, task, max_length, names)]


def _run(path, batches: list[dict], what: str) -> list[list]:
    from .runtime import run, session
    s = session(path)
    return [run(s, {k: v.numpy() for k, v in b.items()}, what) for b in batches]


def _compare(task: str, names, ours: list[list], ref: list[list], batches: list[dict]) -> tuple[dict, dict]:
    """Max abs difference per output at real positions, and how the predictions agree: the share of equal
    argmaxes (classify per row, ner per real token, qa per row for start and end) or, for embed, the
    smallest cosine of the mean-pooled vectors."""
    import torch
    diffs = {n: 0.0 for n in names}
    same = total = 0
    cosines = []
    for o, r, b in zip(ours, ref, batches):
        mask = b["attention_mask"].bool()  # (B, T)
        outs = [torch.from_numpy(x) for x in o]
        for n, x, y in zip(names, outs, r):
            real = x if task == "classify" else x[mask]  # (B, L), or (N_real, ...) for per-token outputs
            want = y if task == "classify" else y[mask]
            if real.numel():
                diffs[n] = max(diffs[n], float((real - want).abs().max()))
        if task == "embed":
            m = mask.unsqueeze(-1).float()
            a, c = (outs[0] * m).sum(1) / m.sum(1), (r[0] * m).sum(1) / m.sum(1)  # (B, C)
            cosines += torch.nn.functional.cosine_similarity(a, c, dim=-1).tolist()
        elif task == "classify":
            same += int((outs[0].argmax(-1) == r[0].argmax(-1)).sum())
            total += outs[0].shape[0]
        elif task == "ner":
            same += int((outs[0].argmax(-1) == r[0].argmax(-1))[mask].sum())
            total += int(mask.sum())
        else:
            for x, y in zip(outs, r):
                same += int((x.argmax(-1) == y.argmax(-1)).sum())
                total += x.shape[0]
    agree = ({"min_cosine": round(min(cosines), 6)} if task == "embed" else
             {"argmax_agreement": round(same / max(total, 1), 6), "argmax_compared": total})
    return diffs, agree


def _refuse_beyond(diffs: dict, what: str, hint: str) -> None:
    bad = {n: d for n, d in diffs.items() if not d <= TOLERANCE}  # NaN too
    if bad:
        n, d = max(bad.items(), key=lambda kv: kv[1] if kv[1] == kv[1] else float("inf"))
        raise BertkitError(f"{what}: output {n} differs from the PyTorch model by {d:.3g} (max abs, real positions), "
                           f"beyond the tolerance {TOLERANCE:g}; nothing was written; {hint}")


def export_onnx(folder, out=None, task: str | None = None, opset: int | None = None, quantize: str | None = None,
                optimize: bool = False, texts: Sequence[str] | None = None,
                progress: Callable[[str], None] | None = None) -> dict:
    """Export `folder` for `task` to the ONNX file `out` (default <folder>/model.onnx, model.int8.onnx with
    quantize="int8"), checked against the PyTorch model on `texts` (default SENTENCES) before it is written
    (in one step: a failed export leaves no file). `progress` gets a line per stage.

    Returns the report: file, task, model_type, inputs, outputs, opset, size_bytes, seconds, checked_on
    (texts and batch shapes), max_abs_diff per output (of the written file), fp32_max_abs_diff, tolerance,
    agreement (argmax agreement, or the embeddings' smallest cosine), optimize (fused node counts) and
    quantize facts.

    Raises CheckpointError / ConfigError for a folder that is missing or cannot be loaded for the task,
    OptionError for a bad task, opset or quantize, WriteError when `out` cannot be written, and
    BertkitError when the fp32 (or optimised) graph differs from PyTorch beyond TOLERANCE."""
    from .runtime import META, OUTPUTS, load_model
    say = progress or (lambda line: None)
    start = time.time()
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: " + ("a file, not a model folder" if folder.exists() else "no such folder")
                              + "; give --model a model folder (Hugging Face layout)")
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"{folder}: not a model folder (no config.json); give --model a model folder")
    task = _resolve_task(folder, task)
    if opset is not None and (isinstance(opset, bool) or not OPSETS[0] <= opset <= OPSETS[1]):
        raise OptionError(f"--opset {opset}: use {OPSETS[0]}..{OPSETS[1]} (or leave it out for the exporter's default)")
    if quantize is not None and quantize not in QUANTIZE:
        raise OptionError(f"--quantize {quantize!r}: use {', '.join(QUANTIZE)} (or leave it out for fp32)")
    out = Path(out) if out is not None else folder / ("model.int8.onnx" if quantize else "model.onnx")
    _check_out(out)
    texts = list(SENTENCES if texts is None else texts)
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if len(texts) < 2:
        raise BertkitError("texts: the check needs at least 2 non-blank texts; give more (or none for the built-in ones)")

    import torch

    from ..tasks.finetune import load_tokenizer
    say(f"loading {folder} ({task})")
    model = load_model(folder, task, "torch")
    cfg = model.config
    weight_bytes = sum(p.numel() * 4 for p in model.parameters())
    if weight_bytes > MAX_BYTES:
        raise CheckpointError(f"{folder}: {weight_bytes / 2 ** 30:.1f} GB of fp32 weights; bertkit export writes one "
                              "ONNX file, and a file holds at most 2 GB (protobuf); the model is too large to export")
    tok = load_tokenizer(folder, task)
    from ..cli import check_vocab_fits
    check_vocab_fits(tok, cfg, folder)
    segments = model.base_model.embeddings.token_type is not None
    inputs = ("input_ids", "attention_mask") + (("token_type_ids",) if segments else ())
    outputs = OUTPUTS[task]
    max_length = min(n for n in (tok.model_max_length, cfg.max_sequence_length) if n)
    batches = _check_batches(tok, texts, task, max_length, inputs)
    short = sorted(texts, key=len)[:4 if task == "qa" else 2]  # traced on a short batch of 2
    example = _encode(tok, short, task, max_length, inputs)
    if example["input_ids"].shape[1] <= 2:  # a length equal to the batch of 2 would tie the two axes together
        example = {n: torch.nn.functional.pad(t, (0, 3 - t.shape[1]), value=tok.pad_token_id if n == "input_ids"
                                              else 0) for n, t in example.items()}  # padding: mask 0

    with torch.no_grad():
        ref = [[getattr(model(**b), n).float() for n in outputs] for b in batches]
    report: dict = {"file": str(out), "task": task, "model_type": cfg.model_type, "inputs": list(inputs),
                    "outputs": list(outputs), "tolerance": TOLERANCE,
                    "checked_on": {"texts": len(texts), "batches": [list(b["input_ids"].shape) for b in batches],
                                   "traced_on": list(example["input_ids"].shape)}}
    with tempfile.TemporaryDirectory(prefix=".bertkit-export.", dir=out.parent) as tmp:
        tmp = Path(tmp)
        say(f"tracing and exporting (torch.export → ONNX{'' if opset is None else f', opset {opset}'})")
        t = time.time()
        _export(model, task, inputs, outputs, example, opset, tmp / "fp32.onnx")
        report["export_seconds"] = round(time.time() - t, 2)
        say(f"checking with onnxruntime on {len(texts)} texts, batches {report['checked_on']['batches']}")
        diffs, agree = _compare(task, outputs, _run(tmp / "fp32.onnx", batches, f"{folder}: the exported graph"), ref, batches)
        report["fp32_max_abs_diff"] = diffs
        _refuse_beyond(diffs, f"{folder}: the exported graph",
                       "report it with the model folder (BERTKIT_DEBUG=1 shows where)")
        current = tmp / "fp32.onnx"
        if optimize:
            say("fusing (onnxscript's onnxruntime fusions, then onnxruntime's BERT optimiser)")
            report["optimize"] = _optimize(current, tmp / "opt.onnx", cfg)
            current = tmp / "opt.onnx"
            diffs, agree = _compare(task, outputs, _run(current, batches, f"{folder}: the optimised graph"), ref,
                                   batches)
            report["optimize"]["max_abs_diff"] = diffs
            _refuse_beyond(diffs, f"{folder}: the optimised graph", "export without --optimize")
        if quantize == "int8":
            say("quantising the weights to int8 (dynamic, per channel)")
            report["quantize"] = _quantize(current, tmp / "int8.onnx")
            current = tmp / "int8.onnx"
            diffs, agree = _compare(task, outputs, _run(current, batches, f"{folder}: the int8 graph"), ref, batches)
            report["tolerance"] = None  # reported, not enforced: int8 weights move the numbers by design
        report["max_abs_diff"] = diffs
        report["agreement"] = agree

        import onnx
        proto = onnx.load(str(current))
        report["opset"] = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
        meta = {"task": task, "model_type": cfg.model_type, "hidden_size": cfg.hidden_size,
                "vocab_size": cfg.vocab_size, "num_labels": cfg.num_labels if task != "embed" else "none",
                "inputs": ",".join(inputs), "outputs": ",".join(outputs), "opset": report["opset"],
                "quantization": quantize or "none", "optimized": "yes" if optimize else "no",
                "max_abs_diff": ",".join(f"{n}={d:.3g}" for n, d in diffs.items())}
        del proto.metadata_props[:]
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = META + k, str(v)
        proto.producer_name = "bertkit"
        size = proto.ByteSize()
        if size > MAX_BYTES:
            raise CheckpointError(f"{folder}: the graph is {size / 2 ** 30:.1f} GB; one ONNX file holds at most 2 GB")
        from ..io import atomic_path, writing
        with writing(out), atomic_path(out) as part:
            onnx.save_model(proto, str(part))
    report["size_bytes"] = out.stat().st_size
    report["seconds"] = round(time.time() - start, 2)
    return report


def _export(model, task: str, inputs, outputs, example: dict, opset: int | None, path: Path) -> None:
    """torch.onnx.export (dynamo) of `model` with inputs (B, T) → `outputs`, dynamic batch and sequence."""
    import logging
    import warnings

    import torch

    class Graph(torch.nn.Module):  # the model's output dataclass → a tuple of tensors, in `outputs` order
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            out = self.m(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return tuple(getattr(out, n) for n in outputs)

    B, T = torch.export.Dim("batch"), torch.export.Dim("sequence")
    args = tuple(example[n] for n in inputs)
    noisy = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in noisy]
    try:
        for lg in noisy:
            lg.setLevel(logging.ERROR)
        # the exporter prints its stages and warns about its own internals: none of it is the user's business
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(Graph(model), args, dynamo=True, opset_version=opset, verbose=False,
                                        input_names=list(inputs), output_names=list(outputs),
                                        dynamic_shapes=tuple({0: B, 1: T} for _ in inputs))
            program.save(str(path), external_data=False)
    except BertkitError:
        raise
    except Exception as e:
        if os.environ.get("BERTKIT_DEBUG"):
            raise
        detail = " ".join(str(e).split())[:300]
        raise BertkitError(f"the ONNX exporter failed on the {model.config.model_type} model ({type(e).__name__}: "
                           f"{detail}); BERTKIT_DEBUG=1 shows the traceback") from None
    finally:
        for lg, level in zip(noisy, levels):
            lg.setLevel(level)


FUSED = ("Attention", "MultiHeadAttention", "SkipLayerNormalization", "LayerNormalization", "EmbedLayerNormalization",
         "BiasGelu", "Gelu", "FastGelu", "SkipSimplifiedLayerNormalization")


def _optimize(src: Path, dst: Path, cfg) -> dict:
    """Fuse `src` into `dst` for onnxruntime, in two passes: onnxscript's onnxruntime fusions (written for
    the graphs torch's dynamo exporter makes: attention → MultiHeadAttention, residual + LayerNorm →
    SkipLayerNormalization, bias + GELU → BiasGelu), then onnxruntime's own BERT optimiser
    (onnxruntime.transformers.optimizer, model_type "bert"), which matches the graphs of other exporters
    and fuses what the first pass left. Returns the fused nodes of the result, each pass's own counts, and
    a note when no attention was fused (the caller checks the result against PyTorch)."""
    import logging
    import warnings

    import onnx
    from onnxruntime.transformers.optimizer import optimize_model
    noisy = [logging.getLogger(n) for n in ("onnxruntime.transformers", "onnxscript")]
    levels = [lg.level for lg in noisy]
    passes: dict = {}
    mid = src
    try:
        for lg in noisy:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            try:
                import onnx_ir as ir
                from onnxscript.rewriter.ort_fusions import optimize_for_ort
                model, counts = optimize_for_ort(ir.load(str(src)))
                mid = dst.with_name(dst.stem + ".pass1.onnx")
                ir.save(model, str(mid))
                passes["onnxscript"] = {k: v for k, v in counts.items() if v}
            except Exception as e:  # an optional first pass: onnxruntime's optimiser still runs on the graph
                passes["onnxscript"] = {"failed": " ".join(f"{type(e).__name__}: {e}".split())[:200]}
            opt = optimize_model(str(mid), model_type="bert", num_heads=cfg.num_attention_heads,
                                 hidden_size=cfg.hidden_size)
            passes["onnxruntime"] = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
            opt.save_model_to_file(str(dst), use_external_data_format=False)
    finally:
        for lg, level in zip(noisy, levels):
            lg.setLevel(level)
    ops: dict = {}
    for node in onnx.load(str(dst)).graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    fused = {k: ops[k] for k in FUSED if ops.get(k)}
    report = {"fused": fused, "passes": passes, "nodes": sum(ops.values())}
    if not any(k in fused for k in ("Attention", "MultiHeadAttention")):
        report["note"] = "no attention was fused: neither pass matched this graph's attention"
    return report


def _quantize(src: Path, dst: Path) -> dict:
    """int8 dynamic quantisation of `src`'s weights (per output channel) into `dst`."""
    import logging
    import warnings

    from onnxruntime.quantization import QuantType, quantize_dynamic
    noisy = logging.getLogger()
    level = noisy.level
    noisy.setLevel(logging.ERROR)  # quantize_dynamic logs its notes on the root logger
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        noisy.setLevel(level)
    import onnx
    ops: dict = {}
    for node in onnx.load(str(dst), load_external_data=False).graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    quantized = {k: v for k, v in ops.items() if "Integer" in k or "Quant" in k}
    return {"type": "int8", "weights": "QInt8", "per_channel": True, "quantized_nodes": quantized}


def export_cli(a: ExportArgs) -> None:
    if a.format not in FORMATS:
        raise OptionError(f"--format {a.format!r}: use {', '.join(FORMATS)}")
    if a.model is None:
        raise OptionError("--model: give the model folder to export (bertkit export --model DIR)")

    def say(line):
        print(f"bertkit export: {line}", file=sys.stderr, flush=True)

    r = export_onnx(a.model, a.out, task=a.task, opset=a.opset, quantize=a.quantize, optimize=a.optimize,
                    progress=None if a.quiet else say)
    diffs = ", ".join(f"{n} {d:.2g}" for n, d in r["max_abs_diff"].items())
    print(f"wrote {r['file']} ({r['size_bytes'] / 2 ** 20:.1f} MB, {r['task']}, {r['model_type']}, opset {r['opset']}"
          f"{', int8' if r.get('quantize') else ''}) in {r['seconds']} s (export {r['export_seconds']} s)")
    print(f"  inputs {', '.join(r['inputs'])} (batch, sequence); outputs {', '.join(r['outputs'])}")
    checked = (f"max abs diff vs PyTorch on {r['checked_on']['texts']} texts (real positions): {diffs}")
    print("  " + checked + (f" (tolerance {r['tolerance']:g})" if r["tolerance"] else " (int8: not enforced)"))
    agree = r["agreement"]
    print("  " + (f"embeddings: smallest cosine {agree['min_cosine']}" if "min_cosine" in agree else
                  f"argmax agreement {agree['argmax_agreement']:.1%} of {agree['argmax_compared']}"))
    if r.get("optimize"):
        o = r["optimize"]
        fused = ", ".join(f"{k} {v}" for k, v in o["fused"].items()) or "none"
        print(f"  --optimize: fused nodes {fused}" + (f"; {o['note']}" if "note" in o else ""))
    if r.get("quantize"):
        q = r["quantize"]
        print(f"  --quantize int8: {', '.join(f'{k} {v}' for k, v in q['quantized_nodes'].items()) or 'no'} "
              "quantised nodes (QInt8 weights, per channel)")
