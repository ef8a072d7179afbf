"""Pretraining on the one loop (train/loop.py): BERT (MLM + NSP) or RoBERTa (dynamic MLM on full sentences
packed across documents), from scratch or from a checkpoint, resumable bit for bit, DDP-ready.

    shards ─► ExampleStream (position = epoch, index) ─► this rank's slice of each global batch (StreamSource)
           ─► micro-batches ─► objective (train/objectives/) ─► the loop: accumulate, clip, AdamW, schedule
           every log_every: metrics.jsonl line (loss, lr, tokens/s, MFU)
           every eval_every: held-out MLM loss/accuracy, perplexity (NSP accuracy with NSP); loss.png
           every save_every, and on SIGINT/SIGTERM: checkpoint.pt (atomic)
           at the end: model/ (a Hugging Face folder with the tokenizer)

Exact resume: the examples are a pure function of (seed, position), the masks of (seed, epoch, document,
k), and the checkpoint holds the model, optimizer, scheduler, every rank's torch RNG (dropout) and the
position; a resumed run in float32 reproduces the uninterrupted run bit for bit.

Distributed: `torchrun --nproc_per_node N -m bertkit pretrain ...`. Each rank reads the same stream and
takes its contiguous share of every global batch, so the gradient (the mean over micro-batches, averaged
by DDP) is the one a single process computes with the same global batch. Rank 0 evaluates, logs and saves.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from ..config import PRESETS, BertConfig, ConfigError, PretrainedConfig, RobertaConfig
from ..data.corpus import PrepareConfig, TokenCorpus, prepare_corpus
from ..errors import TrainError
from ..data.masking import Masker, MaskingConfig, continuation_table
from ..data.pretraining import ExampleConfig, ExampleStream, collate
from ..io import atomic_dir, atomic_write_text, writing
from ..labels import IGNORE_INDEX
from ..models import BertForPreTraining
from ..models.attention import SelfAttention
from .distributed import init_distributed
from .loop import Callback, CheckpointIO, Loop, LoopConfig, MetricsLog, StepBatches
from .objectives.mlm import PreTrainingObjective, evaluate_mlm
from .optim import OptimConfig, make_optimizer, make_scheduler
from .precision import matmul_peak, resolve_dtype
from .pretrain_args import PretrainArgs

CHECKPOINT = "checkpoint.pt"
SHARDED_CHECKPOINT = "checkpoint"  # an --fsdp run's: a torch.distributed.checkpoint folder


class PretrainError(TrainError):
    """The run cannot start as asked; the message says what to change."""


# -- speed --------------------------------------------------------------------------------------------

def train_flops(config: BertConfig, batch: dict[str, torch.Tensor]) -> float:
    """Model FLOPs of one forward + backward (3 × forward) on this batch, real tokens only.

    Layer passes, not distinct layers, count: ALBERT runs each of its shared layers L × inner_group_num
    times. With factorised embeddings (ALBERT, ELECTRA: embedding_size E ≠ hidden C) the E → C projection
    runs on every token and the MLM head maps C → E before its E → V decoder."""
    C, V = config.hidden_size, config.vocab_size
    L = config.num_hidden_layers * getattr(config, "inner_group_num", 1)
    E = getattr(config, "embedding_size", C)
    lens = batch["attention_mask"].sum(1).double()
    tokens = float(lens.sum())
    dense = L * (4 * C * C + 2 * C * config.intermediate_size)  # QKV + out, FFN up + down: weights per token
    dense += E * C if E != C else 0  # the embedding projection
    attn = L * 4 * C * float((lens ** 2).sum())  # QKᵀ and attention·V
    masked = float((batch["labels"] != IGNORE_INDEX).sum())
    head = masked * (C * E + E * V)  # MLM transform + decoder, only where scored
    return 3 * (2 * dense * tokens + attn + 2 * head)


def model_train_flops(model: nn.Module, batch: dict[str, torch.Tensor]) -> float:
    """train_flops of a pretraining model; ELECTRA's: the generator's (MLM at the masked positions) plus
    the discriminator's encoder and its per-token head (dense C → C, then C → 1)."""
    if hasattr(model, "discriminator"):
        d = model.discriminator.config
        tokens = float(batch["attention_mask"].sum())
        no_head = {**batch, "labels": torch.full((1,), IGNORE_INDEX)}
        return (train_flops(model.generator.config, batch) + train_flops(d, no_head)
                + 3 * 2 * tokens * (d.hidden_size * d.hidden_size + d.hidden_size))
    return train_flops(model.config, batch)


# -- pieces -------------------------------------------------------------------------------------------

def _check_config(name: str) -> None:
    """--config is a preset name or a readable, valid config.json (ConfigError naming it otherwise)."""
    if name.endswith(".json"):
        PretrainedConfig.from_json_file(name)  # the class its model_type names
    elif name not in PRESETS:
        raise ConfigError(f"--config {name!r}: not a preset ({', '.join(PRESETS)}) nor a .json file")


def _load_tokenizer(folder: str):
    from ..tokenization import AutoTokenizer  # any family's tokenizer folder
    return AutoTokenizer.from_pretrained(folder)


def _a(word: str) -> str:
    """The word with its article: a bert, an albert."""
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _folder_model_type(folder: str) -> str | None:
    """model_type of a model folder's config.json (None when unreadable: loading it says why)."""
    try:
        cfg = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return cfg.get("model_type", "bert") if isinstance(cfg, dict) else None


def _resumed_model_type(a: PretrainArgs) -> str | None:
    """The model type a run being resumed was started with (from its args.json; None when unknown)."""
    if not a.resume:
        return None
    try:
        found = json.loads((Path(a.out) / "args.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None
    return found if isinstance(found, str) and found else None


def resolve_model_type(a: PretrainArgs, resumed: str | None = None) -> PretrainArgs:
    """The run's arguments with model_type decided (--model-type, else the type of the run being resumed,
    else the --init-from folder's, else bert) and the combinations checked: PretrainError (one line) for
    an unknown type, a --model-type that contradicts the --init-from folder or the --config file, or an
    NSP-only option with roberta. roberta implies no_nsp=True."""
    from dataclasses import replace
    from .pretrain_args import PRETRAIN_MODEL_TYPES
    known = ", ".join(PRETRAIN_MODEL_TYPES)
    if a.model_type and a.model_type not in PRETRAIN_MODEL_TYPES:
        raise PretrainError(f"--model-type {a.model_type!r}: not a model type bertkit pretrain has a recipe for; "
                            f"use one of {known}")
    if not a.model_type and resumed in PRETRAIN_MODEL_TYPES:
        a = replace(a, model_type=resumed)  # --resume without --model-type: the run's own
    model_type = a.model_type or "bert"
    if a.init_from:
        found = _folder_model_type(a.init_from)
        if found is not None and found not in PRETRAIN_MODEL_TYPES:
            raise PretrainError(f"--init-from {a.init_from}: a {found!r} model; bertkit pretrain continues "
                                f"{known} models")
        if found is not None and a.model_type and a.model_type != found:
            raise PretrainError(f"--model-type {a.model_type}: the --init-from folder {a.init_from} holds "
                                f"{_a(found)} model; drop --model-type (or give {_a(a.model_type)} folder)")
        model_type = found or model_type
    elif a.config.endswith(".json"):
        try:
            found = json.loads(Path(a.config).read_text(encoding="utf-8")).get("model_type")
        except (OSError, ValueError, AttributeError):
            found = None  # reading it again in build_model says what is wrong
        if found is not None and found not in PRETRAIN_MODEL_TYPES:
            raise PretrainError(f"{a.config}: model_type is {found!r}; bertkit pretrain trains {known} models: "
                                "give a config of one of them (or a preset)")
        if found is not None and found != model_type:
            raise PretrainError(f"{a.config}: model_type is {found!r} but this run pretrains {model_type}; "
                                f"pass --model-type {found} (or drop model_type from the file)")
    if model_type in ("albert", "electra") and a.init_from:
        raise PretrainError(f"--init-from with --model-type {model_type}: continuing {_a(model_type)} checkpoint is "
                            "not supported yet; pretrain it from scratch (--vocab, --config)")
    if model_type == "albert" and a.no_nsp:
        raise PretrainError("--no-nsp: --model-type albert pairs consecutive segments for sentence-order "
                            "prediction (its recipe); drop --no-nsp")
    if model_type == "electra":
        return replace(a, model_type=model_type, no_nsp=True)  # single segments, full sentences of a document
    if model_type == "roberta":
        default_short = PretrainArgs.__dataclass_fields__["short_seq_prob"].default
        if a.short_seq_prob != default_short:
            raise PretrainError(f"--short-seq-prob {a.short_seq_prob}: shortens next-sentence pairs only; "
                                "--model-type roberta packs full sentences (no NSP): drop --short-seq-prob")
        return replace(a, model_type=model_type, no_nsp=True)
    return replace(a, model_type=model_type)


def _registry():
    from .. import registry
    return registry


def _family_config(a: PretrainArgs, vocab_size: int, tok) -> object:
    """The config of a model from scratch: --config (preset or file) with the tokenizer's vocabulary and,
    for roberta, its pad id (RoBERTa's positions count from pad_token_id + 1, so a preset gets
    max_seq_length + pad_token_id + 1 positions at least)."""
    if a.config.endswith(".json"):
        fields = json.loads(Path(a.config).read_text(encoding="utf-8"))
        if a.model_type == "bert":
            config = BertConfig.from_json_file(a.config)
        else:
            fields.pop("model_type", None)
            pad = fields.get("pad_token_id", tok.pad_token_id if tok is not None else 1)
            # what the file leaves out is the recipe's (RoBERTa's presets), not transformers' BERT-like defaults
            recipe = RobertaConfig.released_defaults(pad) if a.model_type == "roberta" else {}
            config = _registry().AutoConfig.for_model(a.model_type, **{**recipe, **fields})
        if "vocab_size" in fields and config.vocab_size != vocab_size:
            raise PretrainError(f"{a.config}: vocab_size is {config.vocab_size}, but the tokenizer has "
                                f"{vocab_size} tokens; fix vocab_size (or drop it to take the tokenizer's)")
        config.vocab_size = vocab_size
        if a.model_type != "bert" and tok is not None:
            if "pad_token_id" in fields and config.pad_token_id != tok.pad_token_id:
                raise PretrainError(f"{a.config}: pad_token_id is {config.pad_token_id}, but the tokenizer's pad "
                                    f"token is {tok.pad_token_id}; fix pad_token_id (or drop it to take the "
                                    "tokenizer's)")
            config.pad_token_id = tok.pad_token_id
            _set_bos_eos(config, tok, fields)
        return config
    if a.model_type == "bert":
        return BertConfig.preset(a.config, vocab_size=vocab_size)
    kind = _registry().family(a.model_type).config_class
    config = kind.preset(a.config, vocab_size=vocab_size, **({} if tok is None else {"pad_token_id": tok.pad_token_id}))
    if tok is not None:
        _set_bos_eos(config, tok, {})
    if a.model_type == "roberta":  # RoBERTa's positions count from pad_token_id + 1
        config.max_position_embeddings = max(config.max_position_embeddings,
                                             a.max_seq_length + config.pad_token_id + 1)
    return config


def _set_bos_eos(config, tok, given: dict) -> None:
    """<s> and </s> of this tokenizer (its cls and sep), where the config records them and the file did not."""
    for field, value in (("bos_token_id", tok.cls_token_id), ("eos_token_id", tok.sep_token_id)):
        if hasattr(config, field) and field not in given:
            setattr(config, field, value)


def build_model(a: PretrainArgs, vocab_size: int, tok=None) -> nn.Module:
    """BertForPreTraining (model_type bert) or RobertaForMaskedLM (roberta), from --init-from or from
    --config with the tokenizer's vocabulary (and, for roberta, pad id; `tok` None: the config's own)."""
    torch.manual_seed(a.seed)  # weight init: the same on every rank (DDP also broadcasts rank 0's)
    model_type = a.model_type or "bert"
    if a.init_from:
        if model_type == "bert":
            model = BertForPreTraining.from_pretrained(a.init_from)
        else:
            model = _registry().AutoModelForMaskedLM.from_pretrained(a.init_from)
    else:
        config = _family_config(replace_model_type(a, model_type), vocab_size, tok)
        if model_type == "bert":
            model = BertForPreTraining(config)
        elif model_type == "electra":
            model = electra_pair(config, a.generator_fraction)
        else:  # the family's pretraining head: RoBERTa's MLM, ALBERT's MLM + SOP
            model = _registry().family(model_type).model("pretraining")(config)
    if a.dropout is not None:
        set_dropout(model, a.dropout)
    if model.config.vocab_size != vocab_size:
        raise PretrainError(f"the model has a vocabulary of {model.config.vocab_size}, the tokenizer {vocab_size}")
    if a.mlm_bias_init not in ("unigram", "zero"):
        raise PretrainError(f"--mlm-bias-init must be unigram or zero, got {a.mlm_bias_init!r}")
    if tok is not None and model_type != "bert" and model.config.pad_token_id != tok.pad_token_id:
        raise PretrainError(f"the model's pad_token_id is {model.config.pad_token_id}, the tokenizer's pad token "
                            f"is {tok.pad_token_id}; give the tokenizer that belongs to the model")
    limit = model.config.max_sequence_length  # RoBERTa's positions start at pad_token_id + 1
    if a.max_seq_length > limit:
        where = ("" if limit == model.config.max_position_embeddings else
                 f" (max_position_embeddings {model.config.max_position_embeddings} − pad_token_id "
                 f"{model.config.pad_token_id} − 1)")
        raise PretrainError(f"--max-seq-length {a.max_seq_length} exceeds the model's max_position_embeddings "
                            f"{limit}{where}; use at most {limit}")
    return model


def electra_pair(config, fraction: float) -> nn.Module:
    """ELECTRA's generator (`fraction` of the discriminator's width) and discriminator, sharing embeddings."""
    from ..models import MODELS
    from .objectives.electra import ElectraPretrainer
    discriminator = MODELS["ElectraForPreTraining"](config)
    generator = MODELS["ElectraForMaskedLM"](config.generator_config(fraction))
    return ElectraPretrainer(generator, discriminator)


def replace_model_type(a: PretrainArgs, model_type: str) -> PretrainArgs:
    from dataclasses import replace
    return a if a.model_type == model_type else replace(a, model_type=model_type)


def mlm_decoder_bias(model: nn.Module) -> torch.Tensor:
    """(V,) the bias of the MLM decoder (the output layer over the vocabulary), of any family."""
    return model.get_output_embeddings().bias


def set_dropout(model: nn.Module, p: float) -> None:
    """--dropout: the hidden and attention dropout of this run only. The config keeps its own, and so
    does every folder the run exports: fine-tuning then has dropout again. (Pretraining a short run
    without dropout and fine-tuning with it is the usual recipe; a folder that kept 0 would overfit.)"""
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = p
        elif isinstance(m, SelfAttention):
            m.dropout_p = p


def unigram_log_probs(corpus: TokenCorpus, vocab_size: int, max_tokens: int = 100_000_000) -> torch.Tensor:
    """(V,) log frequencies of the tokens of the corpus (add-one smoothed; the first `max_tokens` suffice)."""
    counts = np.ones(vocab_size, dtype=np.float64)
    seen = 0
    for tokens, _, _ in corpus.shards:
        part = np.asarray(tokens[:max_tokens - seen], dtype=np.int64)
        counts += np.bincount(part, minlength=vocab_size)[:vocab_size]
        seen += len(part)
        if seen >= max_tokens:
            break
    return torch.from_numpy(np.log(counts / counts.sum())).float()


def make_stream(corpus: TokenCorpus, tok, a: PretrainArgs, static: bool | None = None, seed: int | None = None,
                mlm_probability: float | None = None):
    """The examples of a run: NSP pairs (bert), full sentences of a document (bert --no-nsp), or full
    sentences packed across documents (roberta), masked by the tokenizer's own special ids."""
    from ..tokenization import BertTokenizer
    special = {tok.cls_token_id, tok.sep_token_id, tok.mask_token_id, tok.pad_token_id, *tok.all_special_ids}
    if isinstance(tok, BertTokenizer):
        # WordPiece splits "[" off any word, so a bracketed upper-case entry ([PAD], [X]) is only ever a
        # special token; a byte-level BPE can produce "[ID]" from text, so there only the named ones count
        vocab = tok.convert_ids_to_tokens(list(range(len(tok))))
        special |= {i for i, t in enumerate(vocab) if t.startswith("[") and t.endswith("]") and t.isupper()}
    # whole words: WordPiece's "##" pieces, or byte-level BPE's pieces without "Ġ", continue a word
    continuation = continuation_table(tok) if a.whole_word_mask else None
    p = a.mlm_probability if mlm_probability is None else mlm_probability
    # ELECTRA's generator input: 85% of the selected tokens become [MASK], the rest stay (no random ones;
    # google-research/electra pretrain_helpers.mask); the others: BERT's 80/10/10
    ratios = dict(mask_ratio=0.85, random_ratio=0.0) if a.model_type == "electra" else {}
    masker = Masker(MaskingConfig(mlm_probability=p, whole_word=a.whole_word_mask, **ratios),
                    len(tok), tok.mask_token_id, special, continuation)
    roberta, albert = a.model_type == "roberta", a.model_type == "albert"
    cfg = ExampleConfig(max_seq_length=a.max_seq_length, short_seq_prob=a.short_seq_prob,
                        nsp=False if albert else not (a.no_nsp or roberta), sop=albert, cross_documents=roberta,
                        dynamic_masking=not (a.static_masking if static is None else static),
                        seed=a.seed if seed is None else seed)
    return ExampleStream(corpus, cfg, masker, tok.cls_token_id, tok.sep_token_id)


# config fields that may change between a run and its --resume: they do not change the weights
_RESUMABLE = {"hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout", "architectures",
              "transformers_version", "torch_dtype", "dtype"}


def _check_resume_config(ckpt_path: Path, saved: dict, current: dict) -> None:
    """--resume must build the model the checkpoint was written by; say which fields differ."""
    if not saved:
        return  # a checkpoint from before configs were recorded: load_state_dict checks the shapes
    current = json.loads(json.dumps(current))  # as recorded: JSON turns the int keys of id2label into strings
    diff = [k for k in sorted(set(saved) | set(current)) if k not in _RESUMABLE and saved.get(k) != current.get(k)]
    if diff:
        diff.sort(key=lambda k: k != "model_type")  # the family first: it explains the other differences
        parts = ", ".join(f"{k} {saved.get(k)!r} (this run: {current.get(k)!r})" for k in diff[:5])
        raise PretrainError(f"{ckpt_path} was written by a different model: {parts}; resume with the run's own "
                            "--model-type/--config/--vocab/--init-from, or start a new --out")


def plot_metrics(metrics_path: Path, png: Path) -> None:
    """Redraw the loss curve from metrics.jsonl: the training losses (MLM, and NSP, SOP or ELECTRA's
    replaced-token detection) and the held-out scores (MLM loss and accuracy, the pair task's or the
    discriminator's accuracy)."""
    from ..plots import pyplot, save
    plt = pyplot()
    rows = [json.loads(line) for line in metrics_path.read_text(encoding="utf-8").split("\n") if line.strip()]
    train = [r for r in rows if "loss" in r]
    ev = [r for r in rows if "eval_mlm_loss" in r]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    if train:
        ax1.plot([r["step"] for r in train], [r["mlm_loss"] for r in train], label="train MLM loss", lw=1)
        for key, name in (("nsp_loss", "NSP"), ("sop_loss", "SOP"), ("rtd_loss", "replaced-token detection")):
            if train[0].get(key) is not None:
                ax1.plot([r["step"] for r in train], [r[key] for r in train], label=f"train {name} loss", lw=1)
    if ev:
        ax1.plot([r["step"] for r in ev], [r["eval_mlm_loss"] for r in ev], "o-", label="held-out MLM loss")
        ax2.plot([r["step"] for r in ev], [r["eval_mlm_acc"] for r in ev], "o-", label="held-out MLM accuracy")
        for key, name in (("eval_nsp_acc", "NSP accuracy"), ("eval_sop_acc", "SOP accuracy"),
                          ("eval_rtd_acc", "replaced-token detection accuracy"),
                          ("eval_rtd_recall", "replaced tokens found")):
            if key in ev[0]:
                ax2.plot([r["step"] for r in ev], [r[key] for r in ev], "o-", label=f"held-out {name}")
    ax1.set_xlabel("step"), ax1.set_ylabel("loss"), ax2.set_xlabel("step"), ax2.set_ylabel("accuracy")
    ax2.set_ylim(0, 1)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # nothing logged yet (e.g. --steps 0): no legend
            ax.legend()
    fig.tight_layout()
    save(fig, png, dpi=90)


# -- the loop -----------------------------------------------------------------------------------------

# options of this process only: a resumed run takes every other option from the run's args.json
_PER_PROCESS = ("out", "resume", "no_progress", "workers", "files", "skip_bad_files")  # threads: the run's, as
# another thread count sums in another order and a resumed run would no longer be bitwise the same


def with_run_options(a: PretrainArgs) -> PretrainArgs:
    """With --resume, every option of the run (its tokenizer, shards, config, steps, schedule, ...) is taken
    from the run's args.json wherever the command line leaves it at its default, so
    `bertkit pretrain --out run --resume` is enough; an option given again with another value wins (the
    checks that follow refuse a change that does not fit the checkpoint)."""
    if not a.resume:
        return a
    try:
        saved = json.loads((Path(a.out) / "args.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return a  # no record: the checks below say what is missing
    if not isinstance(saved, dict):
        return a
    from dataclasses import fields, replace
    defaults = {f.name: f.default for f in fields(PretrainArgs)}
    fill = {k: saved[k] for k in defaults
            if k not in _PER_PROCESS and k in saved and getattr(a, k) == defaults[k] and saved[k] != defaults[k]}
    return replace(a, **fill) if fill else a


def pretrain(a: PretrainArgs) -> Path:
    a = with_run_options(a)
    a = resolve_model_type(a, _resumed_model_type(a))  # before any work: a bad combination costs nothing
    rank, world, device = init_distributed()
    out = Path(a.out)
    threads = a.threads or max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world)))
    torch.set_num_threads(threads)
    if a.batch_size % world:
        raise PretrainError(f"--batch-size {a.batch_size} is not divisible by the {world} processes")
    per_rank = a.batch_size // world
    micro = a.micro_batch_size or per_rank
    if per_rank % micro:
        raise PretrainError(f"--micro-batch-size {micro} does not divide the {per_rank} examples per process")
    accum = per_rank // micro
    dtype = resolve_dtype(a.dtype, device)
    ckpt_path = out / (SHARDED_CHECKPOINT if a.fsdp else CHECKPOINT)
    if a.fsdp and world == 1:
        raise PretrainError("--fsdp: shards the model over the processes of a torchrun launch; run it as "
                            "`torchrun --nproc_per_node N -m bertkit pretrain ... --fsdp` (one process needs no "
                            "sharding: drop --fsdp)")
    if out.exists() and not out.is_dir():
        raise PretrainError(f"--out {out}: a file, not a folder; choose another --out")
    if a.resume and not ckpt_path.exists():
        raise PretrainError(f"{ckpt_path}: no checkpoint to resume from; give the --out of the interrupted run, "
                            "or start without --resume")
    if not a.resume and ckpt_path.exists():
        raise PretrainError(f"{out} holds a run already (checkpoint.pt); pass --resume to continue it, "
                            "or choose another --out")
    if a.resume:  # a damaged file is said before any work
        if a.fsdp:
            from .distributed import ShardedCheckpointIO
            resumed = ShardedCheckpointIO(ckpt_path).read()
        else:
            resumed = CheckpointIO(ckpt_path).read()
    else:
        resumed = None

    # tokenizer, shards
    tok_dir = a.init_from or a.vocab
    if not tok_dir:
        raise PretrainError("--vocab: missing; give --vocab (a tokenizer folder from `bertkit vocab`) or "
                            "--init-from (a model folder)")
    if not a.init_from:
        _check_config(a.config)  # before any work: a typo in --config costs nothing
    if a.data and not a.files and not Path(a.data).is_dir():
        raise PretrainError(f"--data {a.data}: no such folder; prepare the corpus first (bertkit prepare), "
                            "or give the corpus files")
    tok = _load_tokenizer(tok_dir)
    # the model before the corpus: a bad --config or --init-from is said before anything is written
    model = build_model(a, len(tok), tok)
    data = Path(a.data) if a.data else out / "shards"
    if a.files:
        if rank == 0:
            cfg = PrepareConfig(eval_fraction=a.eval_fraction, workers=a.workers, skip_bad_files=a.skip_bad_files,
                                segment=a.segment)
            prepare_corpus(a.files, tok_dir, data, cfg, progress=not a.no_progress)
        if world > 1:
            dist.barrier()
    train_corpus, eval_corpus = TokenCorpus(data, "train"), TokenCorpus(data, "eval")
    if train_corpus.vocab_size != len(tok):
        raise PretrainError(f"{data} was tokenized with a vocabulary of {train_corpus.vocab_size}, "
                            f"the tokenizer has {len(tok)}; prepare the corpus again")
    if a.whole_word_mask and train_corpus.word_starts is None and rank == 0:
        print(f"bertkit pretrain: note: {data} has no stored word boundaries (prepared without --segment), so "
              "--whole-word-mask selects a token with its ## pieces; Chinese characters are then masked one "
              "by one. For Chinese words, prepare with --segment jieba or --segment spaces", file=sys.stderr)
    stream = make_stream(train_corpus, tok, a)
    pairs = {"nsp": stream.cfg.nsp, "sop": stream.cfg.sop}  # the pair task of the batches, if any

    # optimizer, schedule
    if not a.init_from and not a.resume and a.mlm_bias_init == "unigram":
        # the decoder bias would need thousands of Adam steps of size ~lr to reach the log-frequencies
        # (spanning ~10 nats); starting there puts the first steps into learning context instead
        with torch.no_grad():
            mlm_decoder_bias(model).copy_(unigram_log_probs(train_corpus, len(tok)))
    model = model.to(device)
    model.train()
    if resumed is not None:
        _check_resume_config(ckpt_path, json.loads(resumed.get("config", "{}")), model.config.to_dict())
        if resumed.get("batch_size") != a.batch_size and rank == 0:
            print(f"warning: --batch-size {a.batch_size} differs from the run's {resumed.get('batch_size')}",
                  file=sys.stderr)
    wrapped, loop_dtype = model, dtype
    if a.fsdp:
        import warnings
        from .distributed import shard_model
        # ELECTRA's root returns views (its per-token logits, squeezed); FSDP2 warns at every forward that
        # an in-place op on one would skip its backward hook. Nothing here changes an output in place.
        warnings.filterwarnings("ignore", message=r"FSDP2-wrapped module .* returned a view tensor")
        # FSDP2 casts the gathered weights itself (MixedPrecisionPolicy): no autocast on top of it
        wrapped = model = shard_model(model, mp_policy=dtype if dtype != "fp32" else None)
        loop_dtype = "fp32"
    elif world > 1:
        from torch.nn.parallel import DistributedDataParallel
        wrapped = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                          find_unused_parameters=a.model_type == "bert" and a.no_nsp)
    ocfg = OptimConfig(lr=a.lr, weight_decay=a.weight_decay, betas=(0.9, a.beta2), warmup=a.warmup,
                       schedule=a.schedule, min_lr_ratio=a.min_lr_ratio)
    optimizer = make_optimizer(model, ocfg)  # after sharding: FSDP's optimizer holds the shards
    scheduler = make_scheduler(optimizer, ocfg, a.steps)
    torch.manual_seed(a.seed * 1000 + rank + 1)  # dropout

    # held-out batches: fixed (static masks, fixed seed), built once; with FSDP every rank evaluates (each
    # forward is a collective), otherwise rank 0 alone
    eval_batches = []
    if rank == 0 or a.fsdp:
        eval_stream = make_stream(eval_corpus, tok, a, static=True, seed=12345, mlm_probability=a.eval_mlm_probability)
        it, examples = eval_stream.instances(), []
        for _ in range(a.eval_examples):
            e, _, inst = next(it)
            if e > 0 and len(examples) >= micro:
                break  # a small held-out split is seen once
            examples.append(eval_stream.mask(inst, e))
        eval_batches = [collate(examples[i:i + micro], tok.pad_token_id, **pairs)
                        for i in range(0, len(examples), micro)]

    metrics_path, png = out / "metrics.jsonl", out / "loss.png"
    if rank == 0:
        with writing(out):
            out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "args.json", json.dumps(vars(a), indent=2) + "\n")
    peak = matmul_peak(torch.bfloat16 if dtype == "bf16" else torch.float32, device) if rank == 0 else 0.0
    electra = a.model_type == "electra"
    if electra:
        from .objectives.electra import ReplacedTokenDetection, evaluate_electra
        objective, evaluate = ReplacedTokenDetection(a.seed * 1000 + 7, device), evaluate_electra
    else:
        objective, evaluate = PreTrainingObjective(), evaluate_mlm
    source = StreamSource(stream, a.batch_size, per_rank, micro, rank, tok.pad_token_id, pairs,
                          sample_keys=electra)
    meter = Throughput(model, peak, world)
    log = MetricsLog(metrics_path, a.log_every, rank, world, device, event=False, extra=meter.row)
    held_out = HeldOut(eval_batches, a.eval_every, dtype, device, log, metrics_path, png, meter, evaluate,
                       all_ranks=a.fsdp)
    if a.fsdp:
        from .distributed import ShardedCheckpointIO
        checkpoint_io = ShardedCheckpointIO(ckpt_path)
    else:
        checkpoint_io = CheckpointIO(ckpt_path, rank)
    loop = Loop(model, objective, source, optimizer, scheduler,
                LoopConfig(steps=a.steps, accum=accum, max_grad_norm=a.clip, dtype=loop_dtype,
                           save_every=a.save_every, desc="pretrain", progress=not a.no_progress),
                device=device, wrapped=wrapped, callbacks=[meter, log, held_out],
                checkpoint_io=checkpoint_io, rank=rank, world=world,
                extra_state={"batch_size": a.batch_size, "args": json.dumps(vars(a)),
                             "config": json.dumps(model.config.to_dict())})
    if resumed is not None:
        checkpoint_io.load(loop, resumed)
    log.open(loop.step if resumed is not None else None)
    try:
        loop.run()
        stopped = loop.stop_reason == "signal"
        export(model, out, tok, a, rank)
        if rank == 0:
            if stopped:
                print(f"stopped by signal {loop.signal} at step {loop.step}; checkpoint written (model/ holds the "
                      "weights of this step, not the finished run), continue with --resume", file=sys.stderr)
            else:
                plot_metrics(metrics_path, png)
    finally:
        log.close()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    if loop.stop_reason == "signal":
        raise SystemExit(128 + int(loop.signal))
    return out / "model"


def export(model: nn.Module, out: Path, tok, a: PretrainArgs, rank: int) -> None:
    """model/ (and, for ELECTRA, generator/ beside it): Hugging Face folders with the tokenizer, written
    atomically by rank 0. ELECTRA's model/ is the discriminator, the model to fine-tune; `transformers`
    loads it with ElectraForPreTraining. A sharded (FSDP) model is gathered first (every rank calls)."""
    from .distributed import full_model_state, is_sharded, unwrap_class
    if is_sharded(model):
        state = full_model_state(model)  # a collective; the full weights on rank 0
        if rank != 0:
            return
        plain = electra_pair(model.config, a.generator_fraction) if a.model_type == "electra" else \
            unwrap_class(model)(model.config)
        plain.load_state_dict(state)
        model = plain
    if rank != 0:
        return
    parts = {"model": model.discriminator, "generator": model.generator} if a.model_type == "electra" \
        else {"model": model}
    for name, part in parts.items():
        with atomic_dir(out / name) as tmp:  # an old folder stays whole until the new one is complete
            part.save_pretrained(tmp)
            tok.save_pretrained(tmp)


class StreamSource:
    """Pretraining's batches: each step takes the next `batch_size` examples of the stream (the global
    batch), this rank's contiguous share of them, cut into micro-batches and masked. The position in the
    stream, (epoch, index), is the whole state: the examples and masks are functions of it and the seed."""

    def __init__(self, stream, batch_size: int, per_rank: int, micro: int, rank: int, pad_id: int, pairs: dict,
                 sample_keys: bool = False):
        self.stream, self.batch_size, self.per_rank, self.micro = stream, batch_size, per_rank, micro
        self.rank, self.pad_id, self.pairs = rank, pad_id, pairs  # pairs: collate's nsp= and sop=
        self.sample_keys = sample_keys  # ELECTRA: each micro-batch says where it starts (objectives/electra.py)
        self.position = (0, 0)
        self.it = stream.instances(*self.position)

    def next_step(self) -> StepBatches:
        chunk = [next(self.it) for _ in range(self.batch_size)]  # this step's global batch
        self.position = (chunk[-1][0], chunk[-1][1] + 1)
        mine = chunk[self.rank * self.per_rank:(self.rank + 1) * self.per_rank]
        micro = [collate([self.stream.mask(inst, e) for e, _, inst in mine[m:m + self.micro]], self.pad_id,
                         **self.pairs) for m in range(0, len(mine), self.micro)]
        if self.sample_keys:  # the same replacements however the global batch is split over processes
            from .objectives.electra import SAMPLE_KEY
            for m, batch in zip(range(0, len(mine), self.micro), micro):
                batch[SAMPLE_KEY] = mine[m][0] * 2 ** 40 + mine[m][1]  # (epoch, index) of its first example
        return StepBatches(micro, float(self.position[0]))

    def state_dict(self) -> dict:
        return {"position": list(self.position)}

    def load_state_dict(self, state: dict) -> None:
        self.position = tuple(state["position"])
        self.it = self.stream.instances(*self.position)


class Throughput(Callback):
    """Tokens per second and model FLOPs utilisation (MFU) over the steps since the last log line;
    evaluation time does not count."""

    name = "throughput"

    def __init__(self, model: nn.Module, peak: float, world: int):
        self.model, self.peak, self.world = model, peak, world
        self.tokens = self.flops = 0.0
        self.t0 = time.perf_counter()

    def on_step_end(self, loop, metrics) -> None:
        for batch in loop.last_batches:
            self.tokens += float(batch["attention_mask"].sum()) * self.world
            self.flops += model_train_flops(self.model, batch) * self.world

    def row(self, loop) -> dict:
        dt = max(time.perf_counter() - self.t0, 1e-9)
        tps, mfu = self.tokens / dt, self.flops / dt / (self.peak * self.world) if self.peak else 0.0
        self.tokens = self.flops = 0.0
        self.t0 = time.perf_counter()
        if loop.bar is not None:
            loop.bar.set_postfix_str(f"lr {loop.scheduler.get_last_lr()[0]:.2e} {tps:,.0f} tok/s MFU {mfu:.1%}",
                                     refresh=False)
        return {"tokens_per_s": round(tps, 1), "mfu": round(mfu, 4), "time": time.time()}

    def restart(self) -> None:
        self.t0 = time.perf_counter()


class HeldOut(Callback):
    """Rank 0 scores the held-out batches at step 0 (the starting point; for domain adaptation, the loss
    before adapting), every `every` steps and at the end, logs them and redraws loss.png."""

    name = "held_out"

    def __init__(self, batches, every, dtype, device, log, metrics_path, png, meter, evaluate=None,
                 all_ranks: bool = False):
        self.batches, self.every, self.dtype, self.device = batches, every, dtype, device
        self.log, self.metrics_path, self.png, self.meter = log, metrics_path, png, meter
        self.evaluate = evaluate or evaluate_mlm
        self.all_ranks = all_ranks  # FSDP: every forward is a collective, so every rank evaluates

    def _run(self, loop, step: int) -> None:
        if loop.rank != 0 and not self.all_ranks:
            return
        res = self.evaluate(loop.model, self.batches, self.dtype, self.device)
        if loop.rank != 0:
            return
        self.log.write({"step": step, **res})
        loop.bar.write(f"step {step}: " + ", ".join(f"{k[5:]} {v:.4f}" for k, v in res.items()))
        self.meter.restart()

    def on_start(self, loop) -> None:
        if loop.step == 0 and self.batches and self.every:
            self._run(loop, 0)

    def on_step_end(self, loop, metrics) -> None:
        if (self.every and loop.step % self.every == 0) or loop.step == loop.cfg.steps:
            self._run(loop, loop.step)
            if loop.rank == 0:
                plot_metrics(self.metrics_path, self.png)
