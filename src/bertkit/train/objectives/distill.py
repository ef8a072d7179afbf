"""Knowledge distillation: a student learns from a teacher's outputs, not only from the labels.

    loss = α_kd        · T² · KL(softmax(z_t / T) ‖ softmax(z_s / T))      soft targets at temperature T
                                                                            (Hinton et al., 2015, §2)
         + α_hard      · the task head's own loss on the labels
         + α_hidden    · MSE(W h_s, h_t) over real tokens, layer to layer    (TinyBERT, Jiao et al., 2020, §3.1;
                                                                            W only when the widths differ)
         + α_attention · KL(A_t ‖ A_s) per head and query, layer to layer   (TinyBERT's attention transfer,
                                                                            on the distributions)
         + α_relation  · KL of the last layer's q·k and v·v relations       (MiniLM, Wang et al., 2020, §3.1:
                                                                            attention and value relation;
                                                                            relation heads as MiniLMv2 §3.2, so
                                                                            the widths and head counts may differ)

Layers are matched uniformly, as TinyBERT's g(m) = m·N/M: the student's hidden state m (0 is the embeddings)
learns the teacher's round(m·N/M), so the last learns the last. The soft targets are per row for
classification (a document's pooled logits), per real token for NER, and over the positions of a window
(start and end) for QA; a regression head's are its outputs (MSE, no temperature), a multi-label head's
are per-label Bernoulli distributions.

The teacher stays in eval mode and outside the optimizer; its logits come from a live forward pass under
the same autocast as the student's, or from a cache computed once for a fixed data set (TeacherCache).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...labels import IGNORE_INDEX

Tensor = torch.Tensor


# -- the losses ---------------------------------------------------------------------------------------------

def soft_target_loss(student: Tensor, teacher: Tensor, temperature: float = 1.0, kind: str = "softmax",
                     mask: Tensor | None = None) -> Tensor:
    """The distillation loss between logits of the same shape (..., K), averaged over the rows (every
    leading position, or those where `mask` (...) is True).

    kind "softmax": KL(softmax(teacher / T) ‖ softmax(student / T)) · T² (Hinton et al., 2015, §2: the T²
    keeps the gradients' scale as T changes); "sigmoid": the same with a Bernoulli distribution per label,
    summed over the labels (multi-label heads); "regression": the mean squared difference (T unused)."""
    s, t = student.float(), teacher.float()
    if kind == "regression":
        rows = ((s - t) ** 2).mean(-1)
    elif kind == "sigmoid":
        T = float(temperature)
        ls_pos, ls_neg = F.logsigmoid(s / T), F.logsigmoid(-s / T)
        lt_pos, lt_neg = F.logsigmoid(t / T), F.logsigmoid(-t / T)
        rows = (lt_pos.exp() * (lt_pos - ls_pos) + lt_neg.exp() * (lt_neg - ls_neg)).sum(-1) * T * T
    elif kind == "softmax":
        T = float(temperature)
        ls, lt = F.log_softmax(s / T, dim=-1), F.log_softmax(t / T, dim=-1)
        rows = (lt.exp() * (lt - ls)).sum(-1) * T * T
    else:
        raise ValueError(f"soft_target_loss: kind {kind!r} is not softmax, sigmoid or regression")
    if mask is not None:
        rows = rows[mask]
    return rows.mean() if rows.numel() else rows.sum()


def hidden_mse(student: Tensor, teacher: Tensor, mask: Tensor) -> Tensor:
    """Mean squared difference over the real tokens and the channels: (B, T, C) twice (the student's
    already projected to the teacher's width), mask (B, T) bool."""
    diff = (student.float() - teacher.float())[mask]  # (N, C)
    return (diff ** 2).mean() if diff.numel() else diff.sum()


def attention_kl(student: Tensor, teacher: Tensor, mask: Tensor) -> Tensor:
    """KL(teacher ‖ student) of attention distributions (B, H, T, T) over the keys, averaged over the
    heads and the real queries (mask (B, T) bool). Padded keys hold probability 0 on both sides."""
    tiny = torch.finfo(torch.float32).tiny
    s, t = student.float(), teacher.float()
    kl = (t * (t.clamp_min(tiny).log() - s.clamp_min(tiny).log())).sum(-1)  # (B, H, T)
    kl = kl.transpose(1, 2)[mask]  # (N, H): real queries
    return kl.mean() if kl.numel() else kl.sum()


def relation_kl(student: tuple[Tensor, Tensor], teacher: tuple[Tensor, Tensor], heads: int,
                mask: Tensor) -> Tensor:
    """MiniLM's self-attention relation transfer for one pair of vectors (a, b), e.g. (query, key) or
    (value, value): each side's (B, T, C) vectors are split into `heads` relation heads of C / heads
    channels, the relation is softmax(a_h · b_hᵀ / √d) over the real keys, and the loss is
    KL(teacher ‖ student) averaged over the relation heads and the real queries (mask (B, T) bool).
    The two sides may have different widths: only `heads` must divide both."""
    def log_relation(a: Tensor, b: Tensor) -> Tensor:  # (B, T, C) twice → (B, heads, T, T) log-probabilities
        B, T, C = a.shape
        d = C // heads
        a = a.float().view(B, T, heads, d).transpose(1, 2)
        b = b.float().view(B, T, heads, d).transpose(1, 2)
        scores = a @ b.transpose(-2, -1) / math.sqrt(d)
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
        return scores.log_softmax(-1)

    ls, lt = log_relation(*student), log_relation(*teacher)
    real = mask[:, None, None, :]
    kl = torch.where(real, lt.exp() * (lt - ls), torch.zeros((), device=ls.device)).sum(-1)  # (B, heads, T)
    kl = kl.transpose(1, 2)[mask]
    return kl.mean() if kl.numel() else kl.sum()


def embedding_loss(student: Tensor, teacher: Tensor, mse: float = 1.0, cosine: float = 1.0) -> tuple[Tensor, dict]:
    """Task-agnostic distillation of sentence vectors (B, C) (Reimers & Gurevych, 2020: MSE to the
    teacher's vectors; plus 1 − cosine, which ignores the length): mse · MSE + cosine · mean(1 − cos)."""
    s, t = student.float(), teacher.float()
    parts = {"mse": F.mse_loss(s, t), "cosine": (1 - F.cosine_similarity(s, t, dim=-1)).mean()}
    return mse * parts["mse"] + cosine * parts["cosine"], {k: v.detach() for k, v in parts.items()}


def layer_map(student_layers: int, teacher_layers: int) -> list[int]:
    """Teacher hidden-state index for each student hidden-state index 0..M (0 = the embeddings), TinyBERT's
    uniform g(m) = m·N/M rounded: 3 of 6 → [0, 2, 4, 6]."""
    return [round(m * teacher_layers / student_layers) for m in range(student_layers + 1)]


# -- what a task's forward pass gives the losses -------------------------------------------------------------

@dataclass
class Outputs:
    """One side's outputs on a batch: `logits` (a tuple: one tensor, or start and end for QA) in the shape
    the soft targets are taken over; `loss` the head's loss on the labels (student only); every hidden
    state and attention map when asked for; `mask` (B, T) bool, the real tokens."""
    logits: tuple[Tensor, ...]
    mask: Tensor
    loss: Tensor | None = None
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


def _encoder_inputs(batch: dict) -> dict:
    return {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if batch.get(k) is not None}


class ClassifyAdapter:
    """Classification (a WindowClassifier): the soft targets are the documents' pooled logits (D, L); the
    cache is keyed by document (the batch's `docs`)."""
    index_key, token_level = "docs", False

    def __init__(self, problem_type: str | None):
        self.problem_type = problem_type or "single_label_classification"
        self.kind = {"regression": "regression", "multi_label_classification": "sigmoid"}.get(self.problem_type,
                                                                                             "softmax")

    def run(self, module, batch: dict, hidden: bool, attentions: bool, labels: bool) -> Outputs:
        from ...tasks.classification import classification_loss
        inputs = _encoder_inputs(batch)
        out = module.model(**inputs, output_hidden_states=hidden, output_attentions=attentions)
        logits = module.pool_logits(out.logits, batch.get("doc_index"))  # (D, L)
        loss = None
        if labels and batch.get("labels") is not None:
            y = batch["labels"]
            if self.problem_type == "single_label_classification":  # augmented rows have no label (IGNORE_INDEX)
                keep = y.view(-1) != IGNORE_INDEX
                if bool(keep.any()):
                    loss = classification_loss(logits[keep], y.view(-1)[keep], self.problem_type)
            else:
                loss = classification_loss(logits, y, self.problem_type)
        return Outputs((logits,), inputs["attention_mask"].bool(), loss, out.hidden_states, out.attentions)

    def kd_loss(self, s: Outputs, t: tuple[Tensor, ...], temperature: float) -> Tensor:
        return soft_target_loss(s.logits[0], t[0], temperature, self.kind)


class TokenAdapter:
    """NER (a Tagger): soft targets per real token (B, T, L); the hard loss is the head's (softmax or
    CRF); the cache is keyed by feature (the batch's `features`)."""
    index_key, token_level = "features", True

    def run(self, module, batch: dict, hidden: bool, attentions: bool, labels: bool) -> Outputs:
        inputs = _encoder_inputs(batch)
        out = module.model(**inputs, output_hidden_states=hidden, output_attentions=attentions)
        loss = module.loss(out.logits, batch["labels"]) if labels and batch.get("labels") is not None else None
        return Outputs((out.logits,), inputs["attention_mask"].bool(), loss, out.hidden_states, out.attentions)

    def kd_loss(self, s: Outputs, t: tuple[Tensor, ...], temperature: float) -> Tensor:
        return soft_target_loss(s.logits[0], t[0], temperature, "softmax", mask=s.mask)


class SpanAdapter:
    """Extractive QA: soft targets over the window's real positions, for the start and for the end
    (B, T) each; the cache is keyed by feature."""
    index_key, token_level = "features", True

    def run(self, module, batch: dict, hidden: bool, attentions: bool, labels: bool) -> Outputs:
        inputs = _encoder_inputs(batch)
        spans = {k: batch[k] for k in ("start_positions", "end_positions") if labels and k in batch}
        out = module(**inputs, **spans, output_hidden_states=hidden, output_attentions=attentions)
        return Outputs((out.start_logits, out.end_logits), inputs["attention_mask"].bool(),
                       out.loss if spans else None, out.hidden_states, out.attentions)

    def kd_loss(self, s: Outputs, t: tuple[Tensor, ...], temperature: float) -> Tensor:
        low = torch.finfo(torch.float32).min / 4  # padding: no probability on either side

        def masked(x: Tensor) -> Tensor:
            return x.float().masked_fill(~s.mask, low)

        return sum(soft_target_loss(masked(a), masked(b), temperature) for a, b in zip(s.logits, t)) / len(t)


ADAPTERS = {"classify": ClassifyAdapter, "ner": TokenAdapter, "qa": SpanAdapter}


# -- the student and the objective -------------------------------------------------------------------------

@dataclass
class DistillWeights:
    """The weight of each loss term (0 turns it off) and the temperature of the soft targets."""
    kd: float = 0.5
    hard: float = 0.5
    hidden: float = 0.0
    attention: float = 0.0
    relation: float = 0.0
    temperature: float = 2.0
    relation_heads: int | None = None  # default: the student's attention heads


class Distiller(nn.Module):
    """What the loop trains: the `student` (a task module), and, for hidden-state transfer between
    different widths, the learned `projection` of the student's states to the teacher's width (TinyBERT's
    W_h, one for every layer). Only `student` is saved at the end."""

    def __init__(self, student: nn.Module, student_width: int, teacher_width: int, project: bool):
        super().__init__()
        self.student = student
        self.projection = nn.Linear(student_width, teacher_width) if project and student_width != teacher_width \
            else None

    def project(self, h: Tensor) -> Tensor:
        return h if self.projection is None else self.projection(h)


class TeacherCache:
    """A teacher's soft-target logits for every training example of a fixed data set, computed once:
    `rows[i]` is a tuple with one tensor per logits tensor, (L,) for a document or (T_i, ...) for a
    feature of T_i tokens. `lookup(batch)` pads them back into the batch's shape."""

    def __init__(self, rows: list[tuple[Tensor, ...]], index_key: str, token_level: bool):
        self.rows, self.index_key, self.token_level = rows, index_key, token_level

    @classmethod
    @torch.no_grad()
    def compute(cls, teacher: nn.Module, adapter, batches, n: int, autocast=None, progress: bool = False
                ) -> "TeacherCache":
        """Run `teacher` over `batches` (each with the adapter's index key) for `n` examples."""
        from contextlib import nullcontext

        from tqdm.auto import tqdm
        rows: list = [None] * n
        device = next(teacher.parameters()).device
        for batch in tqdm(batches, desc="teacher", unit="batch", disable=not progress):
            batch = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in batch.items()}
            with autocast() if autocast else nullcontext():
                out = adapter.run(teacher, batch, False, False, False)
            lengths = out.mask.sum(1).tolist()
            for r, i in enumerate(batch[adapter.index_key].tolist()):
                if adapter.token_level:
                    rows[i] = tuple(x[r, :lengths[r]].float().cpu() for x in out.logits)
                else:
                    rows[i] = tuple(x[r].float().cpu() for x in out.logits)
        missing = [i for i, r in enumerate(rows) if r is None]
        if missing:
            raise ValueError(f"TeacherCache: the batches left out {len(missing)} of {n} examples (first: {missing[0]})")
        return cls(rows, adapter.index_key, adapter.token_level)

    def lookup(self, batch: dict) -> tuple[Tensor, ...]:
        idx = batch[self.index_key].tolist()
        device = batch["input_ids"].device
        parts = []
        for k in range(len(self.rows[idx[0]])):
            rows = [self.rows[i][k] for i in idx]
            if self.token_level:
                T = batch["input_ids"].size(1)
                out = rows[0].new_zeros((len(rows), T) + tuple(rows[0].shape[1:]))
                for r, x in enumerate(rows):
                    out[r, :x.size(0)] = x
            else:
                out = torch.stack(rows)
            parts.append(out.to(device))
        return tuple(parts)


class DistillationObjective:
    """(loss, metrics) of a batch for the loop: the weighted sum in this module's docstring.

    `teacher` is a task module like the student's (eval mode, no gradients); `adapter` one of ADAPTERS;
    `cache` a TeacherCache to read the soft targets from instead of running the teacher (only when no
    intermediate-layer loss is on: those need the teacher's layers). Metrics: loss and each term on."""

    def __init__(self, teacher: nn.Module, adapter, weights: DistillWeights, cache: TeacherCache | None = None):
        self.teacher, self.adapter, self.w, self.cache = freeze(teacher), adapter, weights, cache
        if cache is not None and self.needs_layers:
            raise ValueError("a teacher cache holds logits only; the hidden, attention and relation losses need "
                             "the teacher's layers")

    @property
    def needs_layers(self) -> bool:
        return bool(self.w.hidden or self.w.attention or self.w.relation)

    def __call__(self, model: nn.Module, batch: dict):
        distiller = getattr(model, "module", model)  # DDP-wrapped or not
        w = self.w
        hidden = bool(w.hidden or w.relation)
        attn = bool(w.attention)
        s = self.adapter.run(distiller.student, batch, hidden, attn, labels=w.hard > 0)
        t_out = None
        with torch.no_grad():
            if not (w.kd or self.needs_layers):
                t_logits = ()  # labels alone: the teacher has nothing to add (a baseline run)
            elif self.cache is not None:
                t_logits = self.cache.lookup(batch)
            else:
                t_out = self.adapter.run(self.teacher, batch, hidden, attn, labels=False)
                t_logits = tuple(x.detach() for x in t_out.logits)
        terms: dict[str, Tensor] = {}
        if w.kd:
            terms["kd"] = self.adapter.kd_loss(s, t_logits, w.temperature)
        if w.hard and s.loss is not None:
            terms["hard"] = s.loss
        if self.needs_layers:
            mapping = layer_map(distiller.student.config.num_hidden_layers, self.teacher.config.num_hidden_layers)
            if w.hidden:
                terms["hidden"] = sum(hidden_mse(distiller.project(s.hidden_states[m]), t_out.hidden_states[n], s.mask)
                                      for m, n in enumerate(mapping)) / len(mapping)
            if w.attention:
                pairs = [(m - 1, n - 1) for m, n in enumerate(mapping) if m > 0]
                terms["attention"] = sum(attention_kl(s.attentions[m], t_out.attentions[n], s.mask)
                                         for m, n in pairs) / len(pairs)
            if w.relation:
                terms["relation"] = self._relation(distiller.student, s, t_out)
        loss = sum(getattr(w, k) * v for k, v in terms.items())  # each term's weight is the field of its name
        if not terms:
            loss = s.logits[0].sum() * 0.0  # nothing to learn from in this batch (e.g. unlabelled, kd off)
        metrics = {"loss": loss.detach(), **{k: v.detach() for k, v in terms.items()}}
        return loss, metrics

    def _relation(self, student: nn.Module, s: Outputs, t: Outputs) -> Tensor:
        s_q, s_k, s_v = last_layer_qkv(student, s.hidden_states)
        t_q, t_k, t_v = last_layer_qkv(self.teacher, t.hidden_states)
        heads = self.w.relation_heads or student.config.num_attention_heads
        return (relation_kl((s_q, s_k), (t_q, t_k), heads, s.mask)
                + relation_kl((s_v, s_v), (t_v, t_v), heads, s.mask)) / 2


def freeze(teacher: nn.Module) -> nn.Module:
    """`teacher` in eval mode with no gradients (it is never trained, and dropout stays off); returned."""
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def last_layer_qkv(module: nn.Module, hidden_states: tuple[Tensor, ...]) -> tuple[Tensor, Tensor, Tensor]:
    """The last layer's query, key and value (B, T, C) each: its input (hidden_states[-2]) through its own
    attention projection (every family lists its layers in running order in `encoder.layers`; ALBERT's
    shared ones once per pass)."""
    last = _inner_model(module).base_model.encoder.layers[-1]
    return last.attn._project(hidden_states[-2])


def _inner_model(module: nn.Module) -> nn.Module:
    """The Hugging Face-style model inside a task module (WindowClassifier and Tagger hold it as `.model`)."""
    return module.model if hasattr(module, "model") and hasattr(module.model, "base_model") else module


def check_relation_heads(heads: int, student_width: int, teacher_width: int) -> None:
    """MiniLM's relation heads split both sides' widths evenly: ValueError otherwise."""
    if heads < 1 or student_width % heads or teacher_width % heads:
        raise ValueError(f"{heads} relation heads do not divide the student's width {student_width} and the "
                         f"teacher's {teacher_width}")


__all__ = ["soft_target_loss", "hidden_mse", "attention_kl", "relation_kl", "embedding_loss", "layer_map",
           "Outputs", "ClassifyAdapter", "TokenAdapter", "SpanAdapter", "ADAPTERS", "DistillWeights", "Distiller",
           "TeacherCache", "DistillationObjective", "freeze", "last_layer_qkv", "check_relation_heads"]
