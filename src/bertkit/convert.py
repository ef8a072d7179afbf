"""`bertkit convert`: a smaller model initialised from some of a BERT's layers.

DistilBERT's student starts from its teacher: the same width, every other layer copied (Sanh et al.,
2019, section 3, "we initialize the student from the teacher by taking one layer out of two").
`convert --to distilbert --layers 0,2,4` does that for any BERT folder (all-MiniLM-L6-v2 included), and
`--to bert` keeps BERT's own layout (segments, pooler, heads) with fewer layers: both are where
distillation starts.

What carries over exactly: word and position embeddings, their LayerNorm, the chosen layers in order,
and the masked-LM head. DistilBERT has no segment embeddings: BERT adds segment 0's vector to every
token of a single sentence, so it is folded into the position table. The converted model before any
training therefore gives the same hidden states as a BERT made of those layers, on inputs whose
token_type_ids are all 0 (single texts); segment-1 tokens of a pair lose their segment vector. BERT's
pooler and classification heads have no DistilBERT counterpart (DistilBERT classifies with its own
pre_classifier) and are left out; `--to bert` keeps them.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .cliargs import arg
from .errors import ConfigError, OptionError

TARGETS = ("distilbert", "bert")
# why a family other than BERT is not a source: said in the one-line error
_NOT_A_SOURCE = {
    "albert": "ALBERT's layers share their weights across depth (num_hidden_groups), so there are no separate "
              "layers to take",
    "electra": "ELECTRA's embeddings are embedding_size wide with their own projection to the hidden size, "
               "and its heads (discriminator, generator) have no BERT or DistilBERT counterpart",
    "roberta": "RoBERTa's positions start after the padding index and its tokenizer is byte-level BPE, which "
               "a BERT or DistilBERT folder cannot hold",
    "distilbert": "it is already a converted model",
}


def source_error(folder, model_type: str) -> str:
    """The one-line message for a source folder of a family convert does not read."""
    why = _NOT_A_SOURCE.get(model_type)
    return (f"{folder}: model_type {model_type!r}; convert takes layers from a BERT folder"
            + (f" ({why})" if why else "") + "; give a BERT folder, or fine-tune this model as it is")


@dataclass
class ConvertArgs:
    """Make a shallower model from some layers of a BERT folder: a DistilBERT (as DistilBERT initialises
    its student) or a BERT. The output is a Hugging Face folder with the source's tokenizer."""
    source: str = arg(None, "BERT model folder to take the layers from", positional=True)
    out: str = arg(None, "folder to write", positional=True)
    to: str = arg("distilbert", "distilbert or bert: the family of the new model")
    layers: str | None = arg(None, "comma-separated layer numbers of the source, counted from 0, e.g. 0,2,4 "
                                   "(default: every other layer, 0,2,4,..., as DistilBERT)")


def parse_layers(spec: str | None, n_layers: int) -> list[int]:
    """"0,2,4" → [0, 2, 4]; None → every other layer. OptionError for anything else (names --layers)."""
    if spec is None:
        return list(range(0, n_layers, 2))
    try:
        layers = [int(p) for p in spec.split(",")]
    except ValueError:
        raise OptionError(f"--layers {spec!r}: give layer numbers separated by commas, e.g. 0,2,4") from None
    bad = [i for i in layers if not 0 <= i < n_layers]
    if bad:
        raise OptionError(f"--layers {spec}: the source has layers 0..{n_layers - 1}; {bad[0]} is not one of them")
    if len(set(layers)) != len(layers):
        raise OptionError(f"--layers {spec}: a layer is named twice; name each at most once")
    return layers


def student_config(teacher, target: str, n_layers: int):
    """The config of a `target` model as wide as `teacher` (a BertConfig) with `n_layers` layers."""
    from .config import BertConfig, DistilBertConfig
    t = teacher
    if target == "bert":
        d = t.to_dict()
        d.update(num_hidden_layers=n_layers, architectures=None)
        return BertConfig.from_dict(d)
    return DistilBertConfig(
        vocab_size=t.vocab_size, max_position_embeddings=t.max_position_embeddings, n_layers=n_layers,
        n_heads=t.num_attention_heads, dim=t.hidden_size, hidden_dim=t.intermediate_size,
        dropout=t.hidden_dropout_prob, attention_dropout=t.attention_probs_dropout_prob, activation=t.hidden_act,
        initializer_range=t.initializer_range, pad_token_id=t.pad_token_id,
        id2label=t.id2label, label2id=t.label2id)


def convert_model(teacher, target: str, layers: list[int]):
    """A new model of family `target` ("distilbert" or "bert") holding `teacher`'s weights for the
    listed layers (teacher: a BERT model, bare or with a head). The student is a masked LM when the
    teacher has an MLM head, else a bare encoder; for "bert" a classification or QA head is kept too.
    Raises ConfigError for a teacher that is not a BERT or a target bertkit does not convert to."""
    import torch

    from .models import BertPreTrainedModel
    from .registry import family
    if not isinstance(teacher, BertPreTrainedModel) or teacher.config.model_type != "bert":
        raise ConfigError(source_error(type(teacher).__name__, teacher.config.model_type))
    if target not in TARGETS:
        raise ConfigError(f"--to {target!r}: use one of {', '.join(TARGETS)}")
    has_mlm = hasattr(teacher, "mlm")
    task = "masked-lm" if has_mlm else "base"
    if target == "bert" and not has_mlm:  # keep the teacher's head as it is
        task = next((t for t, c in family("bert").models.items() if c is type(teacher)), "base")
    config = student_config(teacher.config, target, len(layers))
    student = family(target).model(task)(config).eval()
    src, dst = teacher.base_model, student.base_model
    with torch.no_grad():
        dst.embeddings.word.weight.copy_(src.embeddings.word.weight)
        position = src.embeddings.position.weight
        if dst.embeddings.token_type is None:  # DistilBERT: segment 0's vector goes into every position
            position = position + src.embeddings.token_type.weight[0]
        dst.embeddings.position.weight.copy_(position)
        if dst.embeddings.token_type is not None:
            dst.embeddings.token_type.weight.copy_(src.embeddings.token_type.weight)
        dst.embeddings.norm.load_state_dict(src.embeddings.norm.state_dict())
        for k, i in enumerate(layers):  # the same module layout in every family (models/blocks.py)
            dst.encoder.layers[k].load_state_dict(src.encoder.layers[i].state_dict())
        if dst.pooler is not None and src.pooler is not None:
            dst.pooler.load_state_dict(src.pooler.state_dict())
        for name in ("mlm", "classifier", "qa_outputs"):
            if hasattr(student, name) and hasattr(teacher, name):
                getattr(student, name).load_state_dict(getattr(teacher, name).state_dict())
    return student


def convert_command(a: ConvertArgs) -> None:
    from .io import atomic_dir, check_replaceable
    from .registry import AutoConfig, AutoModelForPreTraining, family
    if a.to not in TARGETS:
        raise OptionError(f"--to {a.to!r}: use one of {', '.join(TARGETS)}")
    if a.source is None or a.out is None:
        raise OptionError("give the source folder and the output folder: bertkit convert SOURCE OUT")
    config = AutoConfig.from_pretrained(a.source)
    if config.model_type != "bert":
        raise ConfigError(source_error(a.source, config.model_type))
    layers = parse_layers(a.layers, config.num_hidden_layers)
    if Path(a.out).resolve() == Path(a.source).resolve():
        raise OptionError(f"{a.out}: the output folder is the source; write the new model elsewhere")
    check_replaceable(a.out)
    # BertForPreTraining has a place for every tensor a BERT folder holds (pooler, MLM, NSP): nothing is
    # dropped, and what the folder lacks comes back in `fresh`
    fresh: list = []
    teacher = AutoModelForPreTraining.from_pretrained(a.source, fresh=fresh)
    if any(name.startswith("cls.predictions.") for name in fresh):  # no MLM head: the bare encoder, or
        arch = (config.architectures or [""])[0]  # the fine-tuned head, which --to bert keeps
        heads = {c.__name__: c for task, c in family("bert").models.items() if task != "pretraining"}
        teacher = heads.get(arch, heads["BertModel"]).from_pretrained(a.source, config=config)
    tok = family(a.to).tokenizer.from_pretrained(a.source)  # BERT's WordPiece files, as the target's class
    student = convert_model(teacher, a.to, layers)
    with atomic_dir(a.out) as tmp:
        student.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    if config.layer_norm_eps != 1e-12 and a.to == "distilbert":
        print(f"note: the source's LayerNorm eps is {config.layer_norm_eps}; DistilBERT's is fixed at 1e-12, "
              "so outputs differ slightly from the source's layers", file=sys.stderr)
    print(f"wrote {a.out}: {type(student).__name__}, layers {','.join(map(str, layers))} of "
          f"{config.num_hidden_layers}, {student.num_parameters() / 1e6:.1f}M parameters", file=sys.stderr)


def take_layers(model, layers: list[int]):
    """A copy of `model` (any family but ALBERT, bare or with a head) with only the listed layers of its
    encoder, in that order: everything else (embeddings, pooler, heads) is copied as it is. This is how
    DistilBERT initialises its student (Sanh et al., 2019, §3) and where `bertkit distill --student
    layers:0,2,4` starts. Raises ConfigError for ALBERT (its layers share one set of weights) and
    OptionError for a layer the model does not have."""
    import copy
    import re

    config = model.config
    if config.model_type == "albert":
        raise ConfigError(f"{_NOT_A_SOURCE['albert']}; give a student folder or a preset instead")
    n = config.num_hidden_layers
    bad = [i for i in layers if not 0 <= i < n]
    if bad or not layers or len(set(layers)) != len(layers):
        raise OptionError(f"the model has layers 0..{n - 1}; name each at most once, e.g. "
                          f"layers:{','.join(map(str, range(0, n, 2)))}")
    config = copy.deepcopy(config)
    config.num_hidden_layers = len(layers)
    student = type(model)(config)
    pattern = re.compile(r"^(.*\bencoder\.layers\.)(\d+)(\..*)$")
    state = {}
    for key, value in model.state_dict().items():
        m = pattern.match(key)
        if m is None:
            state[key] = value
        elif int(m.group(2)) in layers:
            state[f"{m.group(1)}{layers.index(int(m.group(2)))}{m.group(3)}"] = value
    student.load_state_dict(state)  # strict: every tensor of the student is the teacher's
    return student.train(model.training)
