"""The families under test, in one table: what the parity suites need to know about each.

test_model_parity.py, test_checkpoint_roundtrip.py and test_model_inputs_parity.py run the same tests
over every family here (BERT, RoBERTa, DistilBERT, ALBERT). Everything family-specific lives in
FAMILIES: the `transformers` config class, the class-name prefix, the heads the family has, the
attribute that holds the bare encoder in a head model, whether it has a pooler and segment embeddings,
its pretraining head's sentence task (BERT's NSP, ALBERT's SOP) and the heads that read the pooler,
and its random tiny shapes, written with the family's own config.json field names (DistilBERT's dim,
n_layers, n_heads, hidden_dim, activation). ALBERT's embeddings are `embedding_size` wide and each of
its layers may run several inner layers: tests read `shape.embed_width` and `shape.layer_passes`.
A family may leave some shapes and round-trip heads to the slow tier, to keep the default one fast.

A test reads a shape's value by its shared name (`shape["hidden_size"]`), which the family's bertkit
config maps to its own field (DistilBERT: dim), with the family's defaults for fields a shape leaves out
(`shape["pad_token_id"]` is RoBERTa's 1 unless the shape sets it).

BERT's shapes are the ones the BERT suite always had; their test ids gain a `bert-` prefix.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pytest

transformers = pytest.importorskip("transformers")

from bertkit.config import (AlbertConfig, BertConfig, DistilBertConfig, ElectraConfig, PretrainedConfig,  # noqa: E402
                            RobertaConfig)
from bertkit.models import MODELS  # noqa: E402

# every head a family may have, by its class-name suffix (as in transformers: BertForMaskedLM)
ALL_HEADS = ("Model", "ForPreTraining", "ForMaskedLM", "ForSequenceClassification", "ForTokenClassification",
             "ForQuestionAnswering")
SEQLEN = 12  # the padded length of every test batch; within every shape's position table
LENGTHS = (12, 7, 2, 10)  # one row without padding, one with only 2 real tokens


@dataclass(frozen=True)
class Family:
    model_type: str
    prefix: str  # class names: prefix + head suffix (BertForMaskedLM)
    hf_config_name: str  # the transformers config class
    config_class: type[PretrainedConfig]  # bertkit's
    base: str  # the attribute of a head model that holds the bare encoder (base_model_prefix)
    heads: tuple[str, ...]  # head suffixes the family has
    shapes: dict[str, dict[str, Any]]  # random tiny shapes, in the family's config.json names
    small: dict[str, Any]  # one small shape for the checkpoint round trips
    pooler: bool = True  # the bare encoder has a pooler
    head_extra: dict[str, dict] = field(default_factory=dict)
    # ForPreTraining's sentence-level task, where it has one: (label keyword, logits field, loss field)
    sentence_task: tuple[str, str, str] | None = None
    pooled_heads: tuple[str, ...] = ()  # the heads that read the pooler
    pooler_key: str = "pooler.dense.weight"  # the pooler's weight as the family's files name it
    # ForPreTraining is replaced-token detection (ELECTRA's discriminator): per-token 0/1 labels, logits
    # (B, T), no vocabulary decoder; the family's MLM is its ForMaskedLM (the generator)
    replaced_token_detection: bool = False
    # the default tier's time budget: these shapes run every shape-parametrised test, and these heads
    # the per-head folder round trips, only in the slow tier (-m slow)
    slow_shapes: tuple[str, ...] = ()
    slow_round_trip_heads: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.model_type

    @property
    def hf_config_class(self):
        return getattr(transformers, self.hf_config_name)

    def name(self, head: str) -> str:
        """The class name of a head (suffix) in this family, as both libraries spell it."""
        return self.prefix + head

    def hf_class(self, head: str):
        return getattr(transformers, self.name(head))

    def our_class(self, head: str):
        return MODELS[self.name(head)]

    def shape(self, name: str) -> "Shape":
        return Shape(self, name, self.shapes[name])


@dataclass(frozen=True)
class Shape:
    """One tiny random model shape of a family; `shape["hidden_size"]` reads any field by its shared name."""

    family: Family
    name: str
    fields: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.family.model_type}-{self.name}"

    def __hash__(self) -> int:
        return hash(str(self))

    def __eq__(self, other) -> bool:
        return isinstance(other, Shape) and str(other) == str(self)

    @cached_property
    def config(self) -> PretrainedConfig:
        return self.family.config_class(**self.fields)

    def __getitem__(self, shared: str) -> Any:
        return getattr(self.config, shared)

    @property
    def slow(self) -> bool:
        return self.name in self.family.slow_shapes

    @property
    def layer_passes(self) -> int:
        """Layer outputs (and attention maps) the encoder gives: num_hidden_layers, times ALBERT's
        inner_group_num (each of its layers runs a group of inner layers)."""
        return self.config.num_hidden_layers * getattr(self.config, "inner_group_num", 1)

    @property
    def embed_width(self) -> int:
        """The width of the word embeddings, and so of inputs_embeds: embedding_size where the family
        has one (ALBERT), hidden_size otherwise."""
        return getattr(self.config, "embedding_size", None) or self.config.hidden_size

    @property
    def segments(self) -> int:
        """Token types the model embeds (0 for DistilBERT, which has no segment table)."""
        return self.config.type_vocab_size

    def hf_config(self, **extra):
        return self.family.hf_config_class(**self.fields, attn_implementation="eager", **extra)


BERT = Family(
    "bert", "Bert", "BertConfig", BertConfig, "bert", ALL_HEADS,
    # different depths, widths, head counts, odd FFN sizes, vocabularies, position tables, segment
    # vocabularies, activations, LayerNorm eps and pad ids
    shapes={
        "L1-H32-A2": dict(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=37,
                          vocab_size=99, max_position_embeddings=24, type_vocab_size=2, hidden_act="gelu"),
        "L2-H64-A4": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128,
                          vocab_size=211, max_position_embeddings=40, type_vocab_size=3, hidden_act="gelu_new"),
        "L3-H48-A6": dict(num_hidden_layers=3, hidden_size=48, num_attention_heads=6, intermediate_size=96,
                          vocab_size=150, max_position_embeddings=16, type_vocab_size=2, hidden_act="gelu",
                          layer_norm_eps=1e-5, pad_token_id=1),
    },
    small=dict(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=40,
               max_position_embeddings=24, type_vocab_size=2, hidden_act="gelu"),
    sentence_task=("next_sentence_label", "seq_relationship_logits", "nsp_loss"),
    pooled_heads=("ForPreTraining", "ForSequenceClassification"),
)

ROBERTA = Family(
    "roberta", "Roberta", "RobertaConfig", RobertaConfig, "roberta",
    tuple(h for h in ALL_HEADS if h != "ForPreTraining"),
    # pad 1 and one segment as in roberta-base; L1's table holds exactly SEQLEN tokens (12 + pad 1 + 1);
    # L2's hidden_act gelu_new, while the lm_head keeps gelu; L3 has odd sizes (hidden 48, 3 heads), two
    # segments and another pad id
    shapes={
        "L1-H32-A2": dict(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=37,
                          vocab_size=99, max_position_embeddings=SEQLEN + 2, type_vocab_size=1, pad_token_id=1,
                          hidden_act="gelu", layer_norm_eps=1e-5),
        "L2-H64-A4": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128,
                          vocab_size=211, max_position_embeddings=40, type_vocab_size=1, pad_token_id=1,
                          hidden_act="gelu_new"),
        "L3-H48-A3": dict(num_hidden_layers=3, hidden_size=48, num_attention_heads=3, intermediate_size=83,
                          vocab_size=150, max_position_embeddings=20, type_vocab_size=2, pad_token_id=3,
                          hidden_act="gelu", layer_norm_eps=1e-5),
    },
    small=dict(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=40,
               max_position_embeddings=26, type_vocab_size=1, pad_token_id=1, hidden_act="gelu"),
)

DISTILBERT = Family(
    "distilbert", "DistilBert", "DistilBertConfig", DistilBertConfig, "distilbert",
    tuple(h for h in ALL_HEADS if h != "ForPreTraining"),
    # DistilBERT's own names; L2 has the fixed sinusoidal position table; L3 odd sizes and pad id 1
    shapes={
        "L1-H32-A2": dict(n_layers=1, dim=32, n_heads=2, hidden_dim=37, vocab_size=99, max_position_embeddings=24,
                          activation="gelu"),
        "L2-H64-A4": dict(n_layers=2, dim=64, n_heads=4, hidden_dim=128, vocab_size=211, max_position_embeddings=40,
                          activation="gelu", sinusoidal_pos_embds=True),
        "L3-H48-A3": dict(n_layers=3, dim=48, n_heads=3, hidden_dim=83, vocab_size=150, max_position_embeddings=16,
                          activation="relu", pad_token_id=1),
    },
    small=dict(vocab_size=97, dim=32, n_layers=2, n_heads=4, hidden_dim=40, max_position_embeddings=24),
    pooler=False,
)

ALBERT = Family(
    "albert", "Albert", "AlbertConfig", AlbertConfig, "albert", ALL_HEADS,
    # L1: embedding_size = hidden_size, one group of one layer (BERT's shape, ALBERT's projection);
    # L2: factorised embeddings (16 → 64), three segments; L3: embeddings 24 → 48 and two groups of two
    # layers over three layers, so layer i runs group int(i / 1.5) (0, 0, 1): 6 layer passes
    shapes={
        "L1-H32-A2": dict(num_hidden_layers=1, hidden_size=32, embedding_size=32, num_attention_heads=2,
                          intermediate_size=37, vocab_size=99, max_position_embeddings=24, type_vocab_size=2,
                          hidden_act="gelu"),
        "L2-H64-A4": dict(num_hidden_layers=2, hidden_size=64, embedding_size=16, num_attention_heads=4,
                          intermediate_size=128, vocab_size=211, max_position_embeddings=40, type_vocab_size=3,
                          hidden_act="gelu_new"),
        "L3-H48-A6-G2x2": dict(num_hidden_layers=3, hidden_size=48, embedding_size=24, num_hidden_groups=2,
                               inner_group_num=2, num_attention_heads=6, intermediate_size=96, vocab_size=150,
                               max_position_embeddings=16, type_vocab_size=2, hidden_act="gelu_new",
                               layer_norm_eps=1e-5, pad_token_id=1),
    },
    small=dict(vocab_size=97, hidden_size=32, embedding_size=16, num_hidden_layers=2, num_hidden_groups=2,
               num_attention_heads=4, intermediate_size=40, max_position_embeddings=24, type_vocab_size=2),
    sentence_task=("sentence_order_label", "sop_logits", "sop_loss"),
    pooled_heads=("ForPreTraining", "ForSequenceClassification"),
    pooler_key="pooler.weight",
    # the default tier runs the shape that has it all (E != H, two groups of two inner layers) and the
    # round trips of the heads ALBERT builds differently; the rest in the slow tier
    slow_shapes=("L1-H32-A2", "L2-H64-A4"),
    slow_round_trip_heads=("ForTokenClassification", "ForQuestionAnswering"),
)

ELECTRA = Family(
    "electra", "Electra", "ElectraConfig", ElectraConfig, "electra", ALL_HEADS,
    # L1's embeddings are narrower than the hidden size (ELECTRA-Small's discriminator: 128 → 256); L2's
    # are as wide (ELECTRA-Base: no embeddings_project), with gelu_new, which the generator head does not
    # follow; L3's are wider (a generator's: embedding_size 768, hidden 256), with relu, odd sizes, eps
    # 1e-5 and pad id 1
    shapes={
        "L1-H32-A2": dict(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=37,
                          embedding_size=16, vocab_size=99, max_position_embeddings=24, type_vocab_size=2,
                          hidden_act="gelu"),
        "L2-H64-A4": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128,
                          embedding_size=64, vocab_size=211, max_position_embeddings=40, type_vocab_size=3,
                          hidden_act="gelu_new"),
        "L3-H48-A3": dict(num_hidden_layers=3, hidden_size=48, num_attention_heads=3, intermediate_size=83,
                          embedding_size=72, vocab_size=150, max_position_embeddings=16, type_vocab_size=2,
                          hidden_act="relu", layer_norm_eps=1e-5, pad_token_id=1),
    },
    small=dict(vocab_size=97, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=40, max_position_embeddings=24, type_vocab_size=2, hidden_act="gelu"),
    pooler=False,
    replaced_token_detection=True,
    slow_shapes=("L2-H64-A4", "L3-H48-A3"),  # the default tier runs L1 (embeddings narrower than hidden)
)

FAMILIES: dict[str, Family] = {f.model_type: f for f in (BERT, ROBERTA, DISTILBERT, ALBERT, ELECTRA)}

# every (family, shape) pair, and every (family, head) pair
SHAPES: list[Shape] = [fam.shape(name) for fam in FAMILIES.values() for name in fam.shapes]
HEAD_CASES: list[tuple[Family, str]] = [(fam, head) for fam in FAMILIES.values() for head in fam.heads]


def head_id(case) -> str:
    """Test id of a (family, head) pair: the class name (BertForMaskedLM), as the BERT suite had."""
    fam, head = case
    return fam.name(head)


def shapes_of(*families: str) -> list[Shape]:
    return [s for s in SHAPES if s.family.model_type in families]


def slow_mark(shape: Shape) -> tuple:
    """The marks of a test parametrised on `shape`: slow for its family's slow_shapes."""
    return (pytest.mark.slow,) if shape.name in shape.family.slow_shapes else ()


def shape_params(shapes: list[Shape]) -> list:
    """`shapes` as pytest params named by the shape (bert-L1-H32-A2), the slow ones marked slow."""
    return [pytest.param(s, id=str(s), marks=slow_mark(s)) for s in shapes]


def round_trip_params(cases: list[tuple[Family, str]]) -> list:
    """pytest params of (family, head) cases for the folder round trips, the family's slow ones marked slow."""
    return [pytest.param(c, id=head_id(c), marks=pytest.mark.slow if c[1] in c[0].slow_round_trip_heads else ())
            for c in cases]
