"""Replaced-token detection: ELECTRA's pretraining objective (Clark et al., 2020, §2; google-research/electra
`run_pretraining.py` and `pretrain_helpers.py` for the details this follows).

    masked input ─► generator (a small MLM, ElectraForMaskedLM) ─► logits at the masked positions
                 ─► sample a token at each masked position from softmax(logits)   (no gradient through it)
    corrupted input (the samples in place of the masks) ─► discriminator (ElectraForPreTraining)
                 ─► one logit per token: was it replaced?  (a sample equal to the original counts as original)
    loss = MLM(generator) + λ · BCE(discriminator over all real tokens),  λ = 50 (the paper's)

The generator and the discriminator share their token, position and segment embeddings and the LayerNorm
after them (the paper's §3.2 "tied embeddings"); each keeps its own projection to its own width. Both are
trained together by one optimizer. Samples are drawn from an explicit torch.Generator that the loop saves
in every checkpoint, so a resumed run draws the same replacements.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ...labels import IGNORE_INDEX
from ...models.electra import share_embeddings
from ...models.outputs import ModelOutput
from ..precision import autocast

RTD_WEIGHT = 50.0  # λ of the paper (§3.1, "we set λ = 50")


@dataclass
class ElectraPreTrainingOutput(ModelOutput):
    loss: torch.Tensor | None = None  # mlm_loss + λ · rtd_loss
    mlm_loss: torch.Tensor | None = None  # the generator's cross-entropy per masked token
    rtd_loss: torch.Tensor | None = None  # the discriminator's binary cross-entropy per real token
    mlm_logits: torch.Tensor | None = None  # (N_masked, V) the generator's logits at the masked positions
    rtd_logits: torch.Tensor | None = None  # (B, T) the discriminator's logits, > 0 = "replaced"
    replaced: torch.Tensor | None = None  # (B, T) 1 where the corrupted input differs from the original
    sampled: torch.Tensor | None = None  # (N_masked,) the generator's samples, in masked-position order


class ElectraPretrainer(nn.Module):
    """A generator (ElectraForMaskedLM) and a discriminator (ElectraForPreTraining) trained as one module.

    `forward(input_ids, attention_mask, token_type_ids, labels, sampler)`: input_ids (B, T) with masks at
    the positions where labels (B, T) hold the original ids (-100 elsewhere); `sampler` the torch.Generator
    the replacements are drawn from. Returns ElectraPreTrainingOutput. `config` is the discriminator's."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, rtd_weight: float = RTD_WEIGHT):
        super().__init__()
        self.generator, self.discriminator, self.rtd_weight = generator, discriminator, rtd_weight
        share_embeddings(generator, discriminator)  # models/electra.py: the shared tables and LayerNorm

    @property
    def config(self):
        return self.discriminator.config

    def get_output_embeddings(self):
        """The generator's vocabulary decoder (its bias is the one a unigram start sets)."""
        return self.generator.get_output_embeddings()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None,
                sampler: torch.Generator | None = None) -> ElectraPreTrainingOutput:
        gen = self.generator(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                             labels=labels)
        scored = labels != IGNORE_INDEX  # (B, T)
        original = labels[scored]  # (N,)
        with torch.no_grad():
            probs = torch.softmax(gen.logits.detach().float(), dim=-1)  # (N, V)
            sampled = torch.multinomial(probs, 1, generator=sampler).squeeze(-1)  # (N,)
        corrupted = input_ids.clone()
        corrupted[scored] = sampled
        replaced = torch.zeros_like(input_ids)
        replaced[scored] = (sampled != original).to(replaced.dtype)
        disc = self.discriminator(input_ids=corrupted, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids, labels=replaced)
        return ElectraPreTrainingOutput(loss=gen.loss + self.rtd_weight * disc.loss, mlm_loss=gen.loss,
                                        rtd_loss=disc.loss, mlm_logits=gen.logits, rtd_logits=disc.logits,
                                        replaced=replaced, sampled=sampled)


SAMPLE_KEY = "sample_key"  # a batch's optional int: where its first example is in the stream


def sample_seed(seed: int, key: int) -> int:
    """The seed of the replacements of the micro-batch whose first example is at stream position `key`."""
    return (seed * 0x9E3779B97F4A7C15 + key) % 2 ** 63


class ReplacedTokenDetection:
    """The loop's objective for an ElectraPretrainer: draws the replacements from its own generator
    (`seed`), whose state is in `state_dict()` so that resume is exact.

    A batch that carries SAMPLE_KEY (an int: the stream position of its first example; pretraining's
    source adds it) reseeds the generator with sample_seed(seed, key) first, so a micro-batch's samples
    depend on which examples it holds, not on how many micro-batches this process drew before: N processes
    (DDP or FSDP) draw the replacements one process draws for the same global batches."""

    def __init__(self, seed: int, device: torch.device):
        self.seed = seed
        self.sampler = torch.Generator(device).manual_seed(seed)

    def __call__(self, model: nn.Module, batch: dict):
        if SAMPLE_KEY in batch:
            batch = dict(batch)
            self.sampler.manual_seed(sample_seed(self.seed, int(batch.pop(SAMPLE_KEY))))
        out = model(**batch, sampler=self.sampler)
        real = batch["attention_mask"].bool()
        guess = (out.rtd_logits.detach() > 0).long()
        metrics = {"loss": out.loss.detach(), "mlm_loss": out.mlm_loss.detach(), "rtd_loss": out.rtd_loss.detach(),
                   "rtd_acc": (guess == out.replaced)[real].float().mean(),
                   "replaced_frac": out.replaced[real].float().mean()}
        return out.loss, metrics

    def state_dict(self) -> dict:
        return {"sampler": self.sampler.get_state()}

    def load_state_dict(self, state: dict) -> None:
        if "sampler" in state:
            self.sampler.set_state(state["sampler"])


@torch.no_grad()
def evaluate_electra(model: ElectraPretrainer, batches: list[dict], dtype: str, device, seed: int = 12345) -> dict:
    """Held-out scores of both halves, with replacements drawn from a fixed seed (the same every time):
    the generator's MLM loss, accuracy and perplexity; the discriminator's replaced-token-detection
    accuracy over real tokens, and its recall of the replaced ones."""
    was = model.training
    model.eval()
    sampler = torch.Generator(device).manual_seed(seed)
    loss_sum = correct = masked = rtd_ok = real_n = hit = repl = 0.0
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast(device, dtype):
            out = model(**batch, sampler=sampler)
        labels = batch["labels"][batch["labels"] != IGNORE_INDEX]
        n = labels.numel()
        loss_sum += float(out.mlm_loss) * n
        correct += float((out.mlm_logits.argmax(-1) == labels).sum())
        masked += n
        real = batch["attention_mask"].bool()
        guess = (out.rtd_logits > 0).long()
        rtd_ok += float((guess == out.replaced)[real].sum())
        real_n += float(real.sum())
        is_repl = out.replaced.bool() & real
        hit += float((guess.bool() & is_repl).sum())
        repl += float(is_repl.sum())
    model.train(was)
    mlm_loss = loss_sum / max(masked, 1)
    return {"eval_mlm_loss": mlm_loss, "eval_mlm_acc": correct / max(masked, 1), "eval_ppl": math.exp(min(mlm_loss, 50)),
            "eval_rtd_acc": rtd_ok / max(real_n, 1), "eval_rtd_recall": hit / max(repl, 1)}
