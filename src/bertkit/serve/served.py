"""One model behind the server: its tokenizer, its limits, its batcher, and the work of each route.

A folder without a fine-tuned head is an embedding model (`/embed`, `/v1/embeddings`); a folder
fine-tuned by `bertkit finetune` serves `/predict` for its task (classify, ner or qa). Every model
serves `/tokenize`. Inputs are checked and tokenized on the event loop (fast, and bad input is answered
at once); the forward passes run on the batcher's worker thread (batcher.py).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import BertkitError

EMBED = "embed"


class InputError(BertkitError):
    """A request the model cannot take; `status` is the HTTP status to answer with (413 or 422)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


@dataclass
class Limits:
    """The bounds of one model's requests (text-embeddings-inference's names)."""
    max_batch_tokens: int = 16384  # tokens per forward pass (rows × the longest row)
    max_client_batch_size: int = 32  # inputs per request
    max_input_length: int | None = None  # tokens per input (default: the model's positions)
    auto_truncate: bool = False  # cut longer inputs instead of refusing them (a request's "truncate" wins)
    max_batch_wait_ms: float = 5.0  # how long a batch may wait for requests in flight that have not queued yet
    max_batch_requests: int | None = None  # requests per call of the model (None: what max_batch_tokens holds)


@dataclass
class EmbedItem:
    input_ids: list[int]
    token_type_ids: list[int] | None
    pooling: str  # mean | cls | none
    normalize: bool


class ServedModel:
    """Load `folder` and serve it as `name`. `engine` is "torch" or "onnx" (an exported file, `onnx_file`,
    default <folder>/model.onnx); `dtype` "fp32" or "bf16" (autocast, torch only). `metrics`: a
    metrics.Metrics or None. Errors in the folder are BertkitErrors naming it."""

    def __init__(self, name: str, folder, limits: Limits, engine: str = "torch", onnx_file=None,
                 dtype: str = "fp32", metrics=None):
        from ..registry import AutoConfig
        from ..tasks.finetune import TASKS, _task_of
        self.name, self.folder, self.engine, self.dtype = name, Path(folder), engine, dtype
        self.metrics = metrics
        if not (self.folder / "config.json").is_file():
            raise BertkitError(f"--model {name}={folder}: not a model folder (no config.json); give a folder "
                               "written by bertkit finetune, bertkit pretrain or transformers")
        task, _ = _task_of(self.folder)
        self.task = task if task in TASKS else EMBED
        self.config = AutoConfig.from_pretrained(self.folder / "config.json")
        positions = self.config.max_sequence_length
        if limits.max_input_length is None:
            limits = replace(limits, max_input_length=positions)
        elif self.task == EMBED and limits.max_input_length > positions:
            raise BertkitError(f"--max-input-length {limits.max_input_length}: the model {name} has {positions} "
                               f"positions; use at most {positions}")
        self.limits = limits
        self.predictor = None
        if self.task == EMBED:
            from ..cli import check_vocab_fits
            from ..export.runtime import load_model
            from ..tokenization import AutoTokenizer
            self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
            self.model = load_model(self.folder, EMBED, engine, onnx_file)
            check_vocab_fits(self.tokenizer, self.model.config, self.folder)
            run = self.run_embed
        else:
            from ..tasks.predictor import Predictor
            self.predictor = Predictor.load(self.folder, self.task, engine=engine, onnx_file=onnx_file,
                                            bf16=dtype == "bf16")
            self.tokenizer, self.model = self.predictor.tokenizer, self.predictor.model
            run = self.run_predict
        self.model.eval()
        from .batcher import Batcher
        self.batcher = Batcher(run, limits.max_batch_tokens, name,
                               on_wait=(lambda s: metrics.queue_time.labels(name).observe(s)) if metrics else None,
                               max_wait=limits.max_batch_wait_ms / 1000, max_requests=limits.max_batch_requests)

    def expect(self, in_flight) -> None:
        """Tell the batcher how many requests the server is answering (a callable), so it can wait for the
        ones on their way (batcher.py)."""
        self.batcher.expected = in_flight

    # -- what /info and /v1/models say ---------------------------------------------------------------

    def info(self) -> dict:
        return {"model_id": self.name, "model_path": str(self.folder), "model_type": self.config.model_type,
                "task": self.task, "engine": self.engine, "dtype": self.dtype,
                "hidden_size": self.config.hidden_size,
                "labels": list(self.config.id2label.values()) if self.task != EMBED else None,
                "max_input_length": self.limits.max_input_length,
                "max_batch_tokens": self.limits.max_batch_tokens,
                "max_client_batch_size": self.limits.max_client_batch_size,
                "auto_truncate": self.limits.auto_truncate}

    # -- checks on the event loop ---------------------------------------------------------------------

    def check_batch(self, n: int, field: str = "inputs") -> None:
        if n == 0:
            raise InputError(f"{field}: an empty list; send at least one input")
        if n > self.limits.max_client_batch_size:
            raise InputError(f"{field}: {n} inputs, more than --max-client-batch-size "
                             f"{self.limits.max_client_batch_size}; split the request", 413)

    def _too_long(self, where: str, n: int) -> InputError:
        return InputError(f"{where}: {n} tokens, more than --max-input-length {self.limits.max_input_length}; "
                          "shorten it, send \"truncate\": true, or start the server with --auto-truncate", 413)

    def encode_for_embedding(self, texts: list[str], truncate: bool | None, pooling: str, normalize: bool,
                             field: str = "inputs") -> list[EmbedItem]:
        """Tokenize and check `texts`: an empty text is a 422, one longer than max_input_length a 413 unless
        truncated. Returns the batcher's items."""
        _check_texts(texts, field)
        cut = self.limits.auto_truncate if truncate is None else truncate
        L = self.limits.max_input_length
        with warnings.catch_warnings():  # a text over the model's length is answered below, not warned of
            warnings.simplefilter("ignore")
            enc = self.tokenizer(texts, truncation=cut, max_length=L if cut else None, return_token_type_ids=True)
        ids, types = enc["input_ids"], enc.get("token_type_ids")
        for i, row in enumerate(ids):
            if len(row) > L:
                raise self._too_long(f"{field}[{i}]" if len(texts) > 1 else field, len(row))
        return [EmbedItem(r, types[i] if types else None, pooling, normalize) for i, r in enumerate(ids)]

    def tokenize(self, texts: list[str], add_special_tokens: bool = True) -> list[list[dict]]:
        """TEI's /tokenize rows: per token its id, its text (the input's characters, or the special token),
        whether it is special, and its character span [start, stop) (null for special tokens)."""
        _check_texts(texts, "inputs")
        enc = self.tokenizer(texts, add_special_tokens=add_special_tokens, return_offsets_mapping=True)
        special = set(self.tokenizer.all_special_ids)
        out = []
        for text, ids, offsets in zip(texts, enc["input_ids"], enc["offset_mapping"]):
            tokens = self.tokenizer.convert_ids_to_tokens(ids)
            row = []
            for i, tid in enumerate(ids):
                s, e = offsets[i]
                is_special = tid in special and s == e
                row.append({"id": tid, "text": tokens[i] if is_special else text[s:e], "special": is_special,
                            "start": None if is_special else s, "stop": None if is_special else e})
            out.append(row)
        return out

    def encode_for_prediction(self, inputs: list, truncate: bool | None, field: str = "inputs") -> tuple[list, int]:
        """The task's examples for `inputs` (classify: text or [text, text_pair]; ner: text; qa: {question,
        context}) and their token count. A wrong kind of input is a 422 naming it; one longer than
        max_input_length tokens a 413 unless truncated (its text, or qa's context, is cut at the token
        where the limit falls)."""
        from ..data.readers import ClassExample, QAExample
        where = (lambda i: f"{field}[{i}]") if len(inputs) > 1 else (lambda i: field)
        cut = self.limits.auto_truncate if truncate is None else truncate
        L = self.limits.max_input_length
        examples, firsts, seconds = [], [], []
        for i, x in enumerate(inputs):
            if self.task == "qa":
                if not isinstance(x, dict):
                    raise InputError(f"{where(i)}: a qa model takes {{\"question\": ..., \"context\": ...}}, "
                                     f"got {_kind(x)}")
                missing = [k for k in ("question", "context") if k not in x]
                extra = sorted(set(x) - {"question", "context", "id"})
                if missing or extra:
                    what = f"has no {' or '.join(missing)}" if missing else f"has unknown fields {', '.join(extra)}"
                    raise InputError(f"{where(i)}: {what}; a qa model takes {{\"question\": ..., \"context\": ...}}")
                _check_texts([x["question"], x["context"]], where(i), names=("question", "context"))
                firsts.append(x["question"])
                seconds.append(x["context"])
                examples.append(QAExample(str(x.get("id", i)), x["question"], x["context"]))
            elif self.task == "classify":
                if isinstance(x, str):
                    pair = None
                elif isinstance(x, list) and len(x) == 2 and all(isinstance(t, str) for t in x):
                    x, pair = x
                else:
                    raise InputError(f"{where(i)}: a classifier takes a text or a pair [text, text_pair], got "
                                     f"{_kind(x)}")
                _check_texts([x] if pair is None else [x, pair], where(i),
                             None if pair is None else ("text", "text_pair"))
                want = self.predictor.pair
                if want is not None and (pair is not None) != want:
                    raise InputError(f"{where(i)}: the model {self.name} was fine-tuned on "
                                     f"{'sentence pairs: send [text, text_pair]' if want else 'single texts: send a text, not a pair'}")
                firsts.append(x)
                seconds.append(pair)
                examples.append(ClassExample(x, pair))
            else:
                if not isinstance(x, str):
                    raise InputError(f"{where(i)}: an ner model takes a text, got {_kind(x)}")
                _check_texts([x], where(i))
                firsts.append(x)
                seconds.append(None)
                examples.append(x)
        counts = self._counts(firsts, seconds)
        total = 0
        for i, n in enumerate(counts):
            if n > L:
                if not cut:
                    raise self._too_long(where(i), n)
                examples[i] = self._truncated(examples[i], n - L)
                n = L
            total += n
        return examples, total

    def _counts(self, firsts: list[str], seconds: list[str | None]) -> list[int]:
        """Tokens of each input (a text, or a pair when its second is given) as the model would read it
        whole, before any window cut."""
        singles = [i for i, s in enumerate(seconds) if s is None]
        pairs = [i for i, s in enumerate(seconds) if s is not None]
        n = [0] * len(firsts)
        with warnings.catch_warnings():  # long texts are expected here: the task's windows read them
            warnings.simplefilter("ignore")
            if singles:
                for i, ids in zip(singles, self.tokenizer([firsts[i] for i in singles])["input_ids"]):
                    n[i] = len(ids)
            if pairs:
                enc = self.tokenizer([firsts[i] for i in pairs], [seconds[i] for i in pairs])
                for i, ids in zip(pairs, enc["input_ids"]):
                    n[i] = len(ids)
        return n

    def _truncated(self, x, excess: int):
        """`x` with its text (qa: its context; a pair: its first text) cut by `excess` tokens at the end."""
        from ..data.readers import ClassExample, QAExample
        text = x.context if isinstance(x, QAExample) else x.text if isinstance(x, ClassExample) else x
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        keep = max(len(offsets) - excess, 1)
        end = offsets[keep - 1][1]
        if isinstance(x, QAExample):
            return replace(x, context=text[:end])
        if isinstance(x, ClassExample):
            return replace(x, text=text[:end])
        return text[:end]

    # -- the forward passes, on the batcher's thread --------------------------------------------------

    def run_embed(self, items: list[EmbedItem]) -> list:
        """Sentence vectors (C,) or token vectors (T, C) for each item, in order: length-sorted forward
        passes within max_batch_tokens, each pooled as its items ask."""
        import torch

        from ..data.batching import collate, token_budget_groups
        from ..inference import autocast, pool
        out: list[Any] = [None] * len(items)
        lengths = [len(x.input_ids) for x in items]
        with torch.inference_mode(), autocast(self.dtype if self.engine == "torch" else None):
            for group in token_budget_groups(lengths, self.limits.max_batch_tokens):
                t0 = time.perf_counter()
                batch = collate([{"input_ids": items[i].input_ids, "token_type_ids": items[i].token_type_ids}
                                 for i in group], self.tokenizer.pad_token_id)
                hidden = self.model(**batch).last_hidden_state  # (B, T, C)
                for how, normalize in {(items[i].pooling, items[i].normalize) for i in group}:
                    rows = [k for k, i in enumerate(group) if (items[i].pooling, items[i].normalize) == (how, normalize)]
                    sel = torch.tensor(rows)
                    vecs = pool(hidden[sel], batch["attention_mask"][sel], how, normalize)
                    for k, v in zip(rows, vecs):
                        out[group[k]] = v
                if self.metrics is not None:
                    self.metrics.batch(self.name, len(group), len(group) * lengths[group[0]], time.perf_counter() - t0)
        return out

    def run_predict(self, examples: list) -> list[dict]:
        """The task's rows for `examples`, in order; the task's own length-sorted batches, as many rows per
        forward pass as max_batch_tokens holds at the task's window length."""
        t0 = time.perf_counter()
        window = self.predictor.options.get("max_length") or (384 if self.task == "qa" else 128)
        batch_size = max(1, self.limits.max_batch_tokens // window)
        rows = self.predictor.predict(examples, batch_size=batch_size)
        if self.metrics is not None:
            self.metrics.batch(self.name, len(examples), len(examples) * window, time.perf_counter() - t0)
        return rows


def _kind(x) -> str:
    return {dict: "an object", list: "a list", str: "a text", bool: "a boolean", type(None): "null"}.get(
        type(x), "a number" if isinstance(x, (int, float)) else type(x).__name__)


def _check_texts(texts: list, where: str, names: tuple[str, ...] | None = None) -> None:
    """Each of `texts` must be a non-blank string: InputError naming `where` (with `[k]` for several texts,
    or `.name` for the named parts of one input) otherwise."""
    for k, t in enumerate(texts):
        at = f"{where}.{names[k]}" if names else (f"{where}[{k}]" if len(texts) > 1 else where)
        if not isinstance(t, str):
            raise InputError(f"{at}: must be a text, got {_kind(t)}")
        if not t.strip():
            raise InputError(f"{at}: an empty text; send some text")
        try:
            t.encode("utf-8")
        except UnicodeEncodeError as e:  # JSON's "\ud800" escape decodes to a lone surrogate, not a character
            raise InputError(f"{at}: not valid Unicode (a lone surrogate \\u{ord(t[e.start]):04x} at character "
                             f"{e.start}); escape a character outside the BMP as a surrogate pair, or send it as UTF-8") from None
