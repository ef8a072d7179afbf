"""A fine-tuned folder, loaded once, that predicts on examples: what `bertkit predict` and the server share.

    p = Predictor.load("clf")                     # task, options and labels from config.json
    p.predict([ClassExample("A fine film.")])     # [{"label": ..., "score": ..., "scores": {...}}]

The rows are the ones `bertkit predict` writes: classify {text[, text_pair], label, score, scores} (or
labels/scores for multi-label, score for regression); ner {text, entities: [{type, start, end, text}]};
qa {id, answer, score, start, end, question} (see tasks/classification.py, ner.py, qa.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..data.readers import ClassExample, NerExample, QAExample


@dataclass
class Predictor:
    folder: Path
    task: str  # classify | ner | qa
    options: dict  # the task options saved in config.json ("bertkit_task"); empty if none were
    tokenizer: Any
    model: Any  # the head model (a Tagger for ner), PyTorch or onnxruntime (export/runtime.py)
    bf16: bool = False

    @classmethod
    def load(cls, folder, task: str | None = None, engine: str = "torch", onnx_file=None,
             bf16: bool = False, tokenizer=None) -> "Predictor":
        """Load `folder` for its task (or `task`, which must agree with the folder's) on `engine` ("torch",
        or "onnx": `onnx_file`, default <folder>/model.onnx). ConfigError or ReaderError (one line, naming
        the folder or file) for a folder that is not a fine-tuned model or a file that does not fit it."""
        from ..export.runtime import load_model
        from .finetune import load_tokenizer, resolve_task
        folder = Path(folder)
        task, opts = resolve_task(folder, task)
        model = load_model(folder, task, engine, onnx_file)
        if task == "ner":
            from .ner import load_tagger
            model = load_tagger(model, folder)
        return cls(folder, task, opts, tokenizer or load_tokenizer(folder, task), model, bf16)

    @property
    def pair(self) -> bool | None:
        """classify: whether the model was trained on sentence pairs (None: not recorded)."""
        p = self.options.get("pair")
        return p if isinstance(p, bool) else None

    def classify_options(self):
        from .classification import ClassifyOptions
        from .finetune import _known
        return ClassifyOptions(**_known(self.options, ClassifyOptions))

    def ner_options(self):
        from .ner import NerOptions, default_stride, guess_scheme
        max_length = self.options.get("max_length", 128)
        return NerOptions(max_length, self.options.get("stride", default_stride(max_length)),
                          self.options.get("scheme") or guess_scheme(self.model.config.label2id),
                          self.options.get("words", "tokenizer"))

    def qa_options(self):
        from .finetune import _known
        from .qa import QAOptions
        return QAOptions(**_known(self.options, QAOptions))

    def predict(self, examples: Sequence, batch_size: int = 32, path="") -> list[dict]:
        """One row per example, in order: ClassExample for classify, str (raw text) or NerExample (words)
        for ner, QAExample for qa."""
        import torch

        from ..train.precision import autocast_for
        if not examples:
            return []
        with autocast_for(torch.device("cpu"), self.bf16):
            if self.task == "classify":
                from .classification import predict
                preds = predict(self.model, self.tokenizer, examples, self.classify_options(), batch_size)
                return [{"text": x.text, **({"text_pair": x.text_pair} if x.text_pair else {}), **p}
                        for x, p in zip(examples, preds)]
            if self.task == "ner":
                from .ner import predict, predict_words
                if isinstance(examples[0], NerExample):
                    return predict_words(self.model, self.tokenizer, examples, self.ner_options(), batch_size)
                return predict(self.model, self.tokenizer, list(examples), self.ner_options(), batch_size)
            from .qa import predict
            preds = predict(self.model, self.tokenizer, examples, self.qa_options(), batch_size, path=path)
            return [{k: v for k, v in p.items() if k != "n_best"} | {"question": x.question}
                    for x, p in zip(examples, preds)]


__all__ = ["Predictor", "ClassExample", "NerExample", "QAExample"]
