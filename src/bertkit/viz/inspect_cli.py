"""`bertkit inspect --model DIR FILE`: which layer knows the labels of a file (a linear probe per layer), how
alike the layers are (linear CKA), and a map of the sentences. The work is in viz/probe.py; torch,
scikit-learn and matplotlib are imported inside the command, so `bertkit --help` stays quick."""
from __future__ import annotations

import math
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import paths
from ..cliargs import OptionError, arg

MIN_EXAMPLES = 10  # fewer cannot give a probe a training part and a held-out part worth scoring
HELD_OUT_NAMES = ("test", "dev", "validation", "valid", "eval", "held-out", "heldout")
OUTPUTS = ("probe.png", "similarity.png", "map.png", "map.html", "inspect.json")


@dataclass
class InspectArgs:
    """Look inside a model with a labelled file: a linear probe on each layer's sentence vectors (which
    layer knows the labels?), the similarity of every layer to every other (linear CKA), and a 2-D map of
    the sentences coloured by label. Writes probe.png, similarity.png, map.png, map.html (hover a point
    to read its sentence; works offline) and inspect.json to --out, and prints the accuracy per layer."""
    file: str | None = arg(None, "labelled .csv, .tsv or .jsonl: `text` (optionally `text_pair`) and `label` per "
                                 "row; an optional `split` field (train, or test/dev/validation) chooses the "
                                 "held-out part, else a hash of the text holds out a fifth", positional=True)
    model: str = arg(str(paths.MINILM), "model folder (any family; a fine-tuned folder's encoder is used)")
    out: str = arg("inspect-out", "folder to write probe.png, similarity.png, map.png, map.html, inspect.json")
    layer: int | None = arg(None, "the layer whose vectors the map shows: 0 = embeddings output, 1..L "
                                  "(default: the last)")
    pooling: str = arg("mean", "sentence vector of a layer: mean (over the real tokens) or cls (the first token; "
                               "at the embeddings output it is the same vector for every text, so that layer "
                               "scores the majority class)")
    map: str = arg("pca", "2-D projection: pca, tsne (scikit-learn) or umap (needs umap-learn)")
    max_examples: int = arg(2000, "use at most this many examples, chosen by a hash of the text (0: all)")
    batch_size: int = arg(32, "texts per forward pass (inputs are length-sorted first)")
    max_length: int | None = arg(None, "cut longer inputs to this many tokens (default: the model's limit)")


def _caveats(result) -> list[str]:
    """What makes the probe's accuracies weak evidence: a small held-out part (one example moves the
    accuracy by 1/n), one class missing from it, or a class with very few training examples."""
    notes = []
    n = result.n_held_out
    if n < 100:
        notes.append(f"only {n} held-out examples: each moves the accuracy by {1 / n:.3f}, so layers within a few "
                     "points cannot be told apart; give more examples (--max-examples 0 uses them all)")
    missing = [c for c in result.classes if not result.held_out_counts.get(c)]
    if missing:
        notes.append(f"the held-out part has no example of {', '.join(map(repr, missing))}: its accuracy does not "
                     "test them; give more examples of them, or a split column")
    rare = [c for c in result.classes if 0 < result.train_counts.get(c, 0) < 5]
    if rare:
        notes.append(f"fewer than 5 training examples of {', '.join(map(repr, rare))}")
    return notes


def _check_out(out: str) -> None:
    """The WriteError that writing into `out` would end in, before the work (a file in the way, a folder
    that cannot be written)."""
    import errno

    from ..io import check_writable, writing
    path = Path(out)
    for name in OUTPUTS:
        check_writable(path / name)
    with writing(path):
        existing = next((p for p in [path, *path.parents] if p.exists()), None)
        if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(existing))


def _split_column(file: str):
    """The file's own split, when its rows have a `split` field: a bool array (True = held out), else None."""
    import numpy as np

    from ..data.readers import ReaderError, read_records
    rows = read_records(file, ("text", "label"))
    has = [(line, row.get("split")) for line, row in rows]
    given = [(line, v) for line, v in has if v not in (None, "")]
    if not given:
        return None
    if len(given) < len(has):
        line = next(line for line, v in has if v in (None, ""))
        raise ReaderError(f"{file}:{line}: field 'split' is missing or empty, but other rows have one "
                          f"(line {given[0][0]}); give a split in every row or in none")
    held = []
    for line, v in has:
        name = str(v).strip().lower()
        if name not in ("train", *HELD_OUT_NAMES):
            raise ReaderError(f"{file}:{line}: field 'split': {v!r} is not train or test; use train, or one of "
                              f"{', '.join(HELD_OUT_NAMES)} for the held-out part")
        held.append(name != "train")
    return np.array(held, dtype=bool)


def inspect_cli(a: InspectArgs) -> None:
    from ..cli import _check_max_length, check_vocab_fits
    from ..data.readers import ReaderError, class_names, label_kind, read_classification
    from ..plots import save
    from . import probe as P

    if a.file is None:
        raise OptionError("file: give a labelled .csv, .tsv or .jsonl file (text and label per row)")
    if a.max_examples < 0:
        raise OptionError(f"--max-examples {a.max_examples}: must be at least 0 (0: all examples)")
    if a.layer is not None and a.layer < 0:
        raise OptionError(f"--layer {a.layer}: must be at least 0 (0 = embeddings output)")
    P.check_map_method(a.map)  # before the work: umap-learn may be missing
    _check_out(a.out)

    xs = read_classification(a.file)
    kind = label_kind(xs, a.file)
    if kind != "single_label_classification":
        what = "numbers (regression)" if kind == "regression" else "lists (multi-label)"
        raise ReaderError(f"{a.file}: field 'label' holds {what}; a probe needs one class name per row")
    class_names(xs, a.file)  # a file of one class is an error here
    held = _split_column(a.file)
    keys = [P.text_key(x.text, x.text_pair) for x in xs]
    if a.max_examples and len(xs) > a.max_examples:
        pick = P.hash_subset([P.text_key(x.text, x.text_pair, salt="subset\x00") for x in xs], a.max_examples)
    else:
        pick = list(range(len(xs)))
    n_read = len(xs)
    xs, keys = [xs[i] for i in pick], [keys[i] for i in pick]
    split_from = "the file's split field" if held is not None else "sha256 of the text"
    held = held[pick] if held is not None else P.hash_split(keys)
    if len(xs) < MIN_EXAMPLES and len(xs) < n_read:
        raise OptionError(f"--max-examples {a.max_examples}: too few for a probe; use at least {MIN_EXAMPLES}")
    if len(xs) < MIN_EXAMPLES:
        raise ReaderError(f"{a.file}: {len(xs)} examples are too few for a probe; give at least {MIN_EXAMPLES} "
                          "(a part is held out to score it)")
    labels = [x.label for x in xs]
    train_classes = {lab for lab, h in zip(labels, held) if not h}
    if held.all() and split_from != "the file's split field":  # one distinct text: ceil(20%) of 1 is 1
        raise ReaderError(f"{a.file}: every example has the same text; a probe needs different texts")
    if held.all() or not held.any():
        side = "training" if held.all() else "held-out"
        raise ReaderError(f"{a.file}: field 'split' leaves no {side} examples; mark some rows "
                          f"{'train' if side == 'training' else 'test'}")
    if len(train_classes) < 2:
        raise ReaderError(f"{a.file}: the training part has one class ({train_classes.pop()!r}); a probe needs "
                          "examples of at least two classes to train on")
    classes = class_names(xs, a.file)

    from ..registry import AutoModel
    from ..tokenization import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(a.model)
    from ..checkpoint import loading_quietly
    with loading_quietly():  # the bare encoder of any folder: a head it drops is not wanted here
        model = AutoModel.from_pretrained(a.model, fresh=[])
    check_vocab_fits(tok, model.config, a.model)
    _check_max_length(a.max_length, tok, model.config.max_sequence_length)
    L = model.config.num_hidden_layers
    layer = L if a.layer is None else a.layer
    if layer > L:
        raise OptionError(f"--layer {a.layer}: {a.model} has layers 0 (embeddings output) to {L}; use one of those")

    pairs = [x.text_pair for x in xs] if xs[0].text_pair is not None else None
    states = P.layer_states(model, tok, [x.text for x in xs], batch_size=a.batch_size, max_length=a.max_length,
                            pooling=a.pooling, progress=True, pairs=pairs)  # (L+1, N, C)
    result = P.layer_probe(states, labels, held)
    sim = P.layer_similarity(states)
    print(f"map: {a.map} of layer {layer}", file=sys.stderr)
    points = P.embedding_map(states[layer], a.map)

    model_name, file_name = Path(a.model).name or str(a.model), Path(a.file).name
    names = P.layer_names(L + 1)
    texts = [x.text if x.text_pair is None else f"{x.text} ‖ {x.text_pair}" for x in xs]
    out = Path(a.out)
    save(P.probe_figure(result, f"Linear probe per layer ({a.pooling} pooling): {model_name} on {file_name}\n"
                                f"{result.n_train} training, {result.n_held_out} held-out examples"),
         out / "probe.png")
    save(P.similarity_figure(sim, f"Layer similarity (linear CKA, {a.pooling} pooling)\n{model_name} on "
                                  f"{file_name}, {len(xs)} examples"), out / "similarity.png")
    map_title = f"{a.map.upper() if a.map != 'tsne' else 't-SNE'} of layer {names[layer]} ({a.pooling} pooling)"
    save(P.map_figure(points, labels, classes, f"{map_title}: {model_name} on {file_name}", a.map), out / "map.png")
    from ..io import atomic_write_text
    atomic_write_text(out / "map.html", P.map_page(
        points, labels, texts, classes, f"{map_title}: {model_name} on {file_name}",
        f"{len(xs)} sentences, coloured by label"))
    counts = {c: sum(1 for lab in labels if lab == c) for c in classes}
    P.write_json(out / "inspect.json", {
        "model": str(a.model), "file": str(a.file), "options": asdict(a),
        "counts": {"read": n_read, "used": len(xs), "train": result.n_train, "held_out": result.n_held_out,
                   "per_class": counts, "train_per_class": result.train_counts,
                   "held_out_per_class": result.held_out_counts},
        "split": split_from, "layers": names,
        "probe": {"accuracy": result.accuracy, "train_accuracy": result.train_accuracy,
                  "baseline": result.baseline, "majority_class": result.majority_class,
                  "best_layer": result.best_layer, "classes": result.classes,
                  "C": result.C, "method": "standardised features, L2 logistic regression (scikit-learn, "
                  "random_state 0), C per layer by 5-fold cross-validation on the training part"},
        "similarity": {"method": "linear CKA (null: a layer whose vectors are all the same)",
                       "matrix": [[None if math.isnan(v) else round(float(v), 6) for v in row] for row in sim]},
        "map": {"method": a.map, "layer": layer},
    })

    print(f"{model_name} on {file_name}: {len(xs)} examples ({result.n_train} train, {result.n_held_out} held out "
          f"by {split_from}), {a.pooling} pooling")
    print(f"{'layer':>6}  {'held-out':>8}  {'train':>6}  {'C':>6}")
    for name, acc, tr, c in zip(names, result.accuracy, result.train_accuracy, result.C):
        print(f"{name:>6}  {acc:8.3f}  {tr:6.3f}  {c:6.0e}")
    print(f"majority class {result.majority_class!r}: {result.baseline:.3f}; best: layer {names[result.best_layer]} "
          f"({result.accuracy[result.best_layer]:.3f})")
    for warning in _caveats(result):
        print(f"bertkit inspect: note: {warning}", file=sys.stderr)
    print(f"wrote {', '.join(OUTPUTS)} to {a.out}")

