"""Arguments of `bertkit prepare`, `bertkit pretrain` and `bertkit fill-mask` (no torch import here,
so `bertkit --help` stays fast). Fields are declared with cliargs.arg: help text and positional flag."""
from __future__ import annotations

from dataclasses import dataclass

from ..cliargs import OptionError
from ..cliargs import arg as _arg


@dataclass
class PrepareArgs:
    """Split text into sentences, tokenize in parallel, write memory-mapped token shards (+ an eval split)."""
    files: list[str] = _arg([], "plain-text (blank line between documents) or JSONL files with a 'text' field",
                            positional=True, nargs="+")
    tokenizer: str = _arg("", "tokenizer folder (from `bertkit vocab`, or a model folder)")
    out: str = _arg("shards", "folder for the shards; reused when inputs and tokenizer are unchanged")
    eval_fraction: float = _arg(0.01, "fraction of documents held out for evaluation (at least two)")
    workers: int = _arg(0, "tokenizer processes (0 = all cores)")
    seed: int = _arg(0, "seed of the held-out choice")
    skip_bad_files: bool = _arg(False, "skip a file that is not UTF-8, with a warning (default: stop and say where)")
    segment: str = _arg("none", "word boundaries for `pretrain --whole-word-mask` (Chinese): jieba (the jieba "
                        "segmenter), spaces (the text's own words, separated by spaces) or none (only ## pieces "
                        "make words); stored beside the shards as <split>-NNNNN.words.npy",
                        choices=("none", "jieba", "spaces"))


# the model types `bertkit pretrain` has a recipe for (bertkit.registry has the families; a family is
# pretrainable once it has a recipe here): bert = MLM + NSP, roberta = dynamic MLM on full sentences,
# albert = MLM + sentence-order prediction, electra = replaced-token detection with a small generator
PRETRAIN_MODEL_TYPES = ("bert", "roberta", "albert", "electra")


@dataclass
class PretrainArgs:
    """Pretrain BERT (MLM + NSP), RoBERTa (MLM on full sentences), ALBERT (MLM + sentence order) or ELECTRA
    (replaced-token detection) from scratch, or continue from a checkpoint folder (domain adaptation)."""
    files: list[str] = _arg([], "text/JSONL corpus files (prepared into shards first; skip when --data is ready)",
                            positional=True, nargs="*")
    out: str = _arg("pretrain-out", "run folder: metrics.jsonl, loss.png, checkpoint.pt, model/ (final)")
    data: str = _arg("", "prepared shards folder (default: <out>/shards)")
    vocab: str = _arg("", "tokenizer folder for a model from scratch (from `bertkit vocab`)")
    config: str = _arg("small", "preset (tiny, mini, small, medium, base, large) or a config.json path")
    model_type: str = _arg("", "bert (MLM + NSP, or MLM only with --no-nsp), roberta (MLM only, dynamic "
                           "masks, full sentences packed across documents), albert (MLM + sentence-order "
                           "prediction) or electra (replaced-token detection: a generator of --generator-fraction "
                           "of the width fills masks, the discriminator finds them); default: the run's own with "
                           "--resume, else the --init-from folder's type, else bert", choices=PRETRAIN_MODEL_TYPES)
    generator_fraction: float = _arg(0.25, "electra: the generator's width as a fraction of the discriminator's "
                                     "(hidden size, heads and FFN; the paper's 1/4)")
    init_from: str = _arg("", "continue from this model folder; missing MLM/NSP heads are initialised fresh")
    resume: bool = _arg(False, "continue the interrupted run in --out exactly where it stopped; options left out "
                        "are the run's own (from <out>/args.json)")
    max_seq_length: int = _arg(128, "tokens per example, [CLS]/[SEP] included")
    batch_size: int = _arg(32, "examples per optimizer step, over all processes")
    micro_batch_size: int = _arg(0, "examples per forward pass and process (0 = batch_size / processes); "
                                    "gradients are accumulated to batch_size")
    steps: int = _arg(1000, "optimizer steps")
    lr: float = _arg(5e-4, "peak learning rate")
    warmup: float = _arg(0.06, "warmup: a fraction of the steps if < 1, else a number of steps")
    schedule: str = _arg("linear", "decay after warmup: linear, cosine, constant, or wsd (hold the peak, "
                         "decay linearly over the last 20%%)")
    min_lr_ratio: float = _arg(0.0, "floor of the decay, as a fraction of --lr")
    weight_decay: float = _arg(0.01, "AdamW weight decay (not on biases and LayerNorm)")
    beta2: float = _arg(0.999, "AdamW beta2 (0.98 is common for large batches)")
    clip: float = _arg(1.0, "clip the global gradient norm to this (0 = off)")
    dtype: str = _arg("auto", "auto (bf16 where it is faster than fp32 on this hardware), bf16, fp16 (CUDA only, "
                      "with a gradient scaler) or fp32")
    dropout: float | None = _arg(None, "hidden and attention dropout of this run only (saved configs keep their own)")
    mlm_probability: float = _arg(0.15, "fraction of tokens selected for MLM")
    eval_mlm_probability: float = _arg(0.15, "masking rate of the held-out evaluation (fixed, so that runs with "
                                       "different --mlm-probability compare)")
    mlm_bias_init: str = _arg("unigram", "start of the MLM decoder bias for a model from scratch: unigram "
                              "(log token frequencies of the corpus, so training starts at the unigram loss) "
                              "or zero")
    whole_word_mask: bool = _arg(False, "select whole words: the words stored in the shards (`bertkit prepare "
                                 "--segment`, e.g. Chinese words), else a token and its ## pieces (for "
                                 "Chinese that is one character: prepare with --segment)")
    static_masking: bool = _arg(False, "the same mask every epoch (default: a new mask each time)")
    no_nsp: bool = _arg(False, "no next-sentence prediction: pack full sentences of a document "
                        "(--model-type roberta packs across documents)")
    short_seq_prob: float = _arg(0.1, "with NSP: probability of a shorter target length for a document")
    eval_every: int = _arg(200, "evaluate on the held-out split every N steps (0 = only at the end)")
    eval_examples: int = _arg(512, "held-out examples per evaluation")
    save_every: int = _arg(200, "write checkpoint.pt every N steps (0 = only at the end / on a signal)")
    log_every: int = _arg(10, "write a metrics line every N steps")
    seed: int = _arg(0, "seed of initialisation, examples, masking and dropout")
    threads: int = _arg(0, "torch threads per process (0 = cores / processes)")
    fsdp: bool = _arg(False, "under torchrun: shard weights, gradients and optimizer state over the processes "
                      "(FSDP2, per layer), checkpoints as torch.distributed.checkpoint folders (default: DDP)")
    workers: int = _arg(0, "tokenizer processes when preparing (0 = all cores)")
    eval_fraction: float = _arg(0.01, "fraction of documents held out when preparing")
    skip_bad_files: bool = _arg(False, "when preparing, skip a file that is not UTF-8, with a warning")
    segment: str = _arg("none", "when preparing: word boundaries for --whole-word-mask, as `bertkit prepare "
                        "--segment` (jieba, spaces or none)", choices=("none", "jieba", "spaces"))
    no_progress: bool = _arg(False, "no progress bar")


@dataclass
class FillMaskArgs:
    """Predict the masked tokens of a text ([MASK], or <mask> for RoBERTa) with a masked LM of any family (for
    ELECTRA, the generator/ folder of `bertkit pretrain`): the top-k
    tokens with their probabilities."""
    text: str = _arg("", "text with one or more mask tokens ([MASK], or <mask> for RoBERTa)", positional=True)
    model: str = _arg("", "model folder with an MLM head, of any family (e.g. the model/ folder of "
                          "`bertkit pretrain`)")
    top_k: int = _arg(5, "how many tokens per mask")
    json: bool = _arg(False, "print JSON instead of a table")


# -- the commands (thin; the work is in data/corpus.py, train/pretrain.py and fill_mask.py) --------------

def prepare_command(a: PrepareArgs) -> None:
    from ..data.corpus import PrepareConfig, TokenCorpus, prepare_corpus
    if not a.tokenizer:
        raise OptionError("--tokenizer: missing; give a tokenizer folder (from `bertkit vocab`, or a model folder)")
    out = prepare_corpus(a.files, a.tokenizer, a.out,
                         PrepareConfig(eval_fraction=a.eval_fraction, seed=a.seed, workers=a.workers,
                                       skip_bad_files=a.skip_bad_files, segment=a.segment))
    for split in ("train", "eval"):
        c = TokenCorpus(out, split)
        print(f"{out} {split}: {len(c):,} documents, {c.n_tokens:,} tokens")


def pretrain_command(a: PretrainArgs) -> None:
    from .pretrain import pretrain
    folder = pretrain(a)  # a PretrainError (a BertkitError) is printed in one line by cli.main
    if int(__import__("os").environ.get("RANK", "0")) == 0:
        print(f"wrote {folder}")


def fill_mask_command(a: FillMaskArgs) -> None:
    import json as _json
    from ..fill_mask import fill_mask
    if not a.model:
        raise OptionError("--model: missing; give a model folder with an MLM head (e.g. the model/ folder of "
                          "`bertkit pretrain`)")
    results = fill_mask(a.model, a.text, top_k=a.top_k)
    if a.json:
        print(_json.dumps(results, ensure_ascii=False, indent=1))
        return
    for i, preds in enumerate(results):
        if len(results) > 1:
            print(f"mask #{i + 1}")
        for p in preds:
            print(f"  {p['score']:.4f}  {p['token_str']:<15} {p['sequence']}")
