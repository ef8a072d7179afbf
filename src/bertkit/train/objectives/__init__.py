"""Objectives: each turns a micro-batch into (loss, metrics) for the one loop (train/loop.py), and says how
a held-out set is scored.

    mlm.py       masked LM, with next-sentence (BERT) or sentence-order (ALBERT) prediction when the
                 batch carries those labels: the pretraining head's own loss
    electra.py   replaced-token detection: a small generator fills masked positions, the discriminator
                 tells replaced tokens from original ones (ELECTRA)
    task.py      fine-tuning: the task head's loss
"""
from .mlm import PreTrainingObjective, evaluate_mlm
from .task import TaskObjective

__all__ = ["PreTrainingObjective", "evaluate_mlm", "TaskObjective"]
