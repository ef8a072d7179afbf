"""`bertkit <command>`: a thin table of functions, each taking one dataclass of arguments.

`--help` text comes from the `help` of each field, so the dataclass is the single description of a
command's options. Add a command by writing its dataclass and function and adding one line to COMMANDS.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import paths
from .cliargs import OptionError, add_arguments, arg, at_least, check_options
from .convert import ConvertArgs, convert_command
from .export.onnx import ExportArgs, export_cli
from .tasks.finetune import FinetuneArgs, PredictArgs, finetune_cli, predict_cli
from .tasks.distill import DistillArgs, distill_cli
from .serve.cli import CHOICES as SERVE_CHOICES, LIMITS as SERVE_LIMITS, ServeArgs, serve_cli
from .train import pretrain_args as _pt  # prepare, pretrain, fill-mask (no torch import)
# the viz commands' arguments and thin functions (no torch import: the work imports it)
from .viz.attention_cli import AttentionArgs, attention_command
from .viz.explain_cli import ExplainArgs, explain_cli
from .viz.inspect_cli import InspectArgs, inspect_cli


# -- commands -------------------------------------------------------------------------------------------

@dataclass
class TokenizeArgs:
    """Tokenize lines of text (a file or stdin) and print one JSON object per line: the text, its tokens,
    their ids and their character offsets ([start, end] into the text; [0, 0] for special tokens)."""
    input: str = arg("-", "text file with one text per line, or - for stdin", positional=True)
    model: str = arg(str(paths.MINILM), "folder with vocab.txt / tokenizer files")
    max_length: int | None = arg(None, "truncate to this many tokens (with [CLS]/[SEP])")
    engine: str = arg("fast", "fast (the tokenizers engine) or python (the readable reference)")


def tokenize(a: TokenizeArgs) -> None:
    from .tokenization import AutoTokenizer
    _check_file(a.input)
    tok = AutoTokenizer.from_pretrained(a.model, engine=a.engine)
    _check_max_length(a.max_length, tok)
    for line in _read_lines(a.input):
        enc = tok(line, truncation=a.max_length is not None, max_length=a.max_length, return_offsets_mapping=True)
        ids = enc["input_ids"]
        print(json.dumps({"text": line, "tokens": tok.convert_ids_to_tokens(ids), "input_ids": ids,
                          "offsets": [list(o) for o in enc["offset_mapping"]]}, ensure_ascii=False))


@dataclass
class EmbedArgs:
    """Sentence embeddings: mean-pooled, L2-normalised vectors, one JSON line per non-blank input line
    (each with its text)."""
    input: str = arg("-", "text file with one sentence per line, or - for stdin", positional=True)
    model: str = arg(str(paths.MINILM), "model folder (Hugging Face layout)")
    output: str = arg("-", "JSONL file to write, or - for stdout")
    batch_size: int = arg(32, "sentences per forward pass (inputs are length-sorted first)")
    max_length: int | None = arg(None, "truncate longer inputs to this many tokens (default: the model's limit)")
    dtype: str = arg("fp32", "fp32 or bf16 (autocast)")
    no_normalize: bool = arg(False, "do not L2-normalise the vectors")
    engine: str = arg("torch", "torch (the PyTorch model) or onnx (an exported file through onnxruntime, see "
                               "bertkit export)")
    onnx: str | None = arg(None, "--engine onnx: the exported file (default: <model>/model.onnx)")


def embed(a: EmbedArgs) -> None:
    from .data.readers import ReaderError
    from .inference import sentence_embeddings
    from .io import atomic_path, check_writable
    from .export.runtime import load_model
    from .tokenization import AutoTokenizer

    if a.engine == "onnx" and a.dtype != "fp32":
        raise OptionError(f"--dtype {a.dtype}: the onnx engine runs the exported file as it is; drop --dtype or use "
                          "--engine torch")
    if a.output != "-":
        check_writable(a.output)  # before the work, not after it
    lines = list(_read_lines(a.input))
    if not lines:
        raise ReaderError(f"{a.input}: no lines to embed")
    tok = AutoTokenizer.from_pretrained(a.model)
    # the bare encoder (a pooler or head the folder holds is not used), or its exported file
    model = load_model(a.model, "embed", a.engine, a.onnx)
    check_vocab_fits(tok, model.config, a.model)
    _check_max_length(a.max_length, tok, model.config.max_sequence_length)
    vecs = sentence_embeddings(model, tok, lines, batch_size=a.batch_size, max_length=a.max_length,
                               normalize=not a.no_normalize, dtype=a.dtype, progress=True)

    def write(f):
        for line, v in zip(lines, vecs.tolist()):
            f.write(json.dumps({"text": line, "embedding": [round(x, 7) for x in v]}, ensure_ascii=False) + "\n")

    if a.output == "-":
        write(sys.stdout)
    else:
        with atomic_path(a.output) as tmp, open(tmp, "w", encoding="utf-8") as f:
            write(f)
        print(f"wrote {len(lines)} vectors of size {vecs.shape[1]} to {a.output}", file=sys.stderr)


@dataclass
class InfoArgs:
    """Describe a model folder: config, parameter count, which heads its weights hold."""
    model: str = arg(str(paths.MINILM), "model folder", positional=True)


def info(a: InfoArgs) -> None:
    from .checkpoint import describe
    print(describe(a.model))


@dataclass
class VocabArgs:
    """Train a vocabulary on text files and write a tokenizer folder `transformers` loads: WordPiece
    (BertTokenizer: vocab.txt, ...), byte-level BPE (RobertaTokenizer: vocab.json, merges.txt, ...) or
    SentencePiece unigram (AlbertTokenizer: spiece.model, ...)."""
    files: list[str] = arg([], "plain-text files to learn from", positional=True, nargs="+")
    out: str = arg("vocab-out", "folder to write (vocab.txt, vocab.json + merges.txt or spiece.model; "
                                "tokenizer.json, tokenizer_config.json, ...)")
    algorithm: str = arg("wordpiece", "wordpiece (BERT: [PAD] [UNK] [CLS] [SEP] [MASK]), bpe (byte-level BPE, "
                                      "RoBERTa: <s> <pad> </s> <unk> first, <mask> last) or unigram "
                                      "(SentencePiece, ALBERT: <pad> <unk> [CLS] [SEP] [MASK])")
    vocab_size: int | None = arg(None, "target vocabulary size, special tokens included (default: 30522 for "
                                       "wordpiece, 21128 for wordpiece --lang zh, 50265 for bpe, 30000 for "
                                       "unigram)")
    min_frequency: int | None = arg(None, "ignore pieces seen fewer times (default 2; wordpiece and bpe only)")
    cased: bool = arg(False, "wordpiece and unigram: keep case and accents (default: lowercase and strip "
                             "accents); bpe always keeps them")
    lang: str | None = arg(None, "wordpiece: en (WordPiece over all the text, as before), zh (every CJK character "
                                 "seen --min-frequency times is a token of its own, most frequent first after the "
                                 "special tokens, no ##-forms of them; WordPiece for Latin text, digits and "
                                 "punctuation in the rest; default --vocab-size 21128 as bert-base-chinese, the "
                                 "text may fill fewer) or multi (English and Chinese: --zh-share of the "
                                 "non-special rows for the most frequent CJK characters, the rest WordPiece; "
                                 "default --vocab-size 30522). Default: detected per file (zh when >= 30%% of its "
                                 "letters are CJK): all en -> en, all zh -> zh, both -> multi; said on stderr. "
                                 "zh and multi write vocab_stats.json")
    zh_share: float | None = arg(None, "--lang multi: the share of the non-special vocabulary for CJK characters "
                                       "(default 0.4); rows the Chinese text cannot fill go to WordPiece. The "
                                       "split is by script, not by file: Chinese punctuation, digits and Latin "
                                       "words are WordPiece pieces, wherever they appear")
    heldout: list[str] = arg([], "held-out text files (never trained on; e.g. one per language with --lang "
                                 "multi): print the [UNK] rate on each, of tokens and of characters, and write "
                                 "them to vocab_stats.json", nargs="+")


def vocab(a: VocabArgs) -> None:
    from .tokenization import train_bpe, train_unigram, train_vocab
    from .tokenization.vocab import BPE_SPECIALS, UNIGRAM_SPECIALS
    from .io import atomic_dir
    from .vocab import DEFAULT_SPECIALS
    bpe, unigram = a.algorithm == "bpe", a.algorithm == "unigram"
    if bpe and a.cased:
        raise OptionError("--cased: byte-level BPE always keeps case and accents; drop --cased with --algorithm bpe")
    if unigram and a.min_frequency is not None:
        raise OptionError("--min-frequency: the unigram trainer keeps the pieces that best explain the text, "
                          "whatever their count; drop --min-frequency with --algorithm unigram")
    min_frequency = 2 if a.min_frequency is None else a.min_frequency
    vocab_size = a.vocab_size if a.vocab_size is not None else 50265 if bpe else 30000 if unigram else 30522
    from .errors import DataError
    for option, f in [("", f) for f in a.files] + [("--heldout ", f) for f in a.heldout]:
        if f.lower().endswith(".jsonl"):  # read as text, its keys and labels would count as words
            raise DataError(f"{option}{f}: vocab reads plain text, and a JSONL file's keys and labels would be "
                            "read as words; write its text fields to a .txt file (one per line) and give that")
    for f in a.files:
        _check_file(f)
    if not any([_has_text(f) for f in a.files]):  # every file checked, then: is there any text at all?
        raise DataError(f"{', '.join(a.files)}: no text to learn a vocabulary from; give non-empty text files")
    if bpe and vocab_size < len(BPE_SPECIALS) + 256:
        raise OptionError(f"--vocab-size {vocab_size}: byte-level BPE needs at least {len(BPE_SPECIALS) + 256} "
                          f"(the {len(BPE_SPECIALS)} special tokens and the 256 byte characters)")
    lang, stats = a.lang, None
    if lang is not None and lang not in ("en", "zh", "multi"):
        raise OptionError(f"--lang {lang}: use en, zh or multi (or leave it out to detect it from the files)")
    if (bpe or unigram) and lang in ("zh", "multi"):
        raise OptionError(f"--lang {lang}: only with --algorithm wordpiece (bpe and unigram learn every script "
                          f"alike); drop --lang or use --algorithm wordpiece")
    if a.zh_share is not None and not 0 < a.zh_share < 1:
        raise OptionError(f"--zh-share {a.zh_share}: must be between 0 and 1 (both excluded)")
    held_lines = {}  # read once, before training: a bad held-out file costs no training time
    for f in a.heldout:
        _check_file(f)
        held_lines[f] = list(_read_lines(f))
        if not held_lines[f]:
            raise DataError(f"--heldout {f}: no text to measure the [UNK] rate on; give a non-empty text file")
    if lang is None and not (bpe or unigram):
        from .tokenization.vocab_zh import ZH_THRESHOLD, detect_language
        found = {f: detect_language(f) for f in a.files}
        langs = {lg for lg, _ in found.values()}
        lang = "multi" if len(langs) > 1 else langs.pop()
        shares = ", ".join(f"{f}: {lg} ({share:.0%} CJK)" for f, (lg, share) in found.items())
        if lang != "en":  # English is what vocab always did: only a change of behaviour is worth a line
            print(f"bertkit vocab: note: detected --lang {lang} ({shares}; zh when >= {ZH_THRESHOLD:.0%} of the "
                  f"letters are CJK); give --lang to choose", file=sys.stderr)
    if a.zh_share is not None and lang != "multi":
        raise OptionError(f"--zh-share {a.zh_share}: only with --lang multi (the language is {lang or 'not set'}); "
                          f"add --lang multi or drop --zh-share")
    if lang in ("zh", "multi") and a.vocab_size is None:
        from .tokenization.vocab_zh import ZH_VOCAB_SIZE
        vocab_size = ZH_VOCAB_SIZE if lang == "zh" else 30522
    specials = UNIGRAM_SPECIALS if unigram else tuple(DEFAULT_SPECIALS.values())
    if not bpe and vocab_size <= len(specials):
        raise OptionError(f"--vocab-size {vocab_size}: must be larger than the {len(specials)} special "
                          f"tokens ({', '.join(specials)})")
    # the `tokenizers` trainers' progress bars (WordPiece, BPE) end with blank lines on stdout: only for a
    # terminal (sentencepiece's one line goes to stderr)
    progress = sys.stdout.isatty() and sys.stderr.isatty()
    if bpe:
        tok = train_bpe(a.files, vocab_size=vocab_size, min_frequency=min_frequency, show_progress=progress)
    elif unigram:
        with _vocab_size_errors(vocab_size):
            tok = train_unigram(a.files, vocab_size=vocab_size, do_lower_case=not a.cased, keep_accents=a.cased)
    elif lang in ("zh", "multi"):
        from .tokenization.vocab_zh import train_cjk_vocab
        with _vocab_size_errors(vocab_size):
            tok, stats = train_cjk_vocab(a.files, vocab_size=vocab_size, do_lower_case=not a.cased,
                                         min_frequency=min_frequency, show_progress=progress,
                                         zh_share=(0.4 if a.zh_share is None else a.zh_share) if lang == "multi"
                                         else None)
    else:
        tok = train_vocab(a.files, vocab_size=vocab_size, do_lower_case=not a.cased,
                          min_frequency=min_frequency, show_progress=progress)
    if a.heldout:
        from .tokenization.vocab_zh import unk_rate
        rates = []
        for f, held in held_lines.items():
            tok_rate, char_rate = unk_rate(tok, held)
            rates.append({"file": f, "lines": len(held), "unk_token_rate": round(tok_rate, 6),
                          "unk_char_rate": round(char_rate, 6)})
        stats = {**(stats or {"algorithm": a.algorithm, "lang": lang, "vocab_size": len(tok)}), "heldout": rates}
    with atomic_dir(a.out) as tmp:  # the folder appears complete or not at all
        tok.save_pretrained(tmp)
        if stats is not None:
            Path(tmp, "vocab_stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n",
                                                     encoding="utf-8")
    print(f"wrote a vocabulary of {len(tok)} tokens to {a.out}")
    if stats is not None and "cjk_tokens" in stats:
        print(f"  {stats['cjk_tokens']} CJK characters ({stats['cjk_chars_seen']} seen, "
              f"{stats['cjk_chars_at_min_frequency']} at least {min_frequency} times) and {stats['wordpiece_tokens']} "
              f"WordPiece tokens; the CJK characters fill {stats['zh_share']:.1%} of the "
              f"{vocab_size - len(specials):,} non-special rows asked for"
              + (f" (--zh-share {stats['zh_share_asked']})" if stats["zh_share_asked"] is not None else "")
              + (f" and {stats['zh_share_of_vocab']:.1%} of the {len(tok) - len(specials):,} rows the text filled"
                 if len(tok) < vocab_size else ""))
    if stats is not None and stats.get("cjk_tokens") == 0:
        print(f"bertkit vocab: note: --lang {stats['lang']}, but no CJK character occurs {min_frequency} times in "
              f"the files, so the vocabulary is WordPiece only; for English text leave out --lang or give en",
              file=sys.stderr)
    for h in (stats or {}).get("heldout", []):
        print(f"  held-out [UNK] rate on {h['file']} ({h['lines']} lines): {h['unk_token_rate']:.4%} of tokens, "
              f"{h['unk_char_rate']:.4%} of characters")


@contextmanager
def _vocab_size_errors(vocab_size: int):
    """A trainer's TokenizerError "vocab_size=N: ..." becomes an OptionError in the options' own names
    (--vocab-size, --min-frequency, --zh-share), as the user typed them; other errors pass through."""
    from .errors import TokenizerError
    try:
        yield
    except TokenizerError as err:
        if not str(err).startswith(f"vocab_size={vocab_size}:"):
            raise
        message = str(err).split(":", 1)[1].replace("min_frequency", "--min-frequency").replace("zh_share", "--zh-share")
        raise OptionError(f"--vocab-size {vocab_size}:{message}") from None


@dataclass
class DemoArgs:
    """The embedded default: sentence embeddings and similarity with all-MiniLM-L6-v2."""
    model: str = arg(str(paths.MINILM), "model folder (fetched by `make data`)")


DEMO_SENTENCES = [
    "A man is playing a guitar on stage.",
    "Someone performs music with a stringed instrument.",
    "The stock market fell sharply on Monday.",
    "Shares dropped at the start of the week.",
    "A cat sleeps on the warm windowsill.",
    "The kitten is napping in the sun by the window.",
]


def demo(a: DemoArgs) -> None:
    from .inference import sentence_embeddings
    from .registry import AutoModel
    from .tokenization import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModel.from_pretrained(a.model)
    check_vocab_fits(tok, model.config, a.model)
    print(f"{a.model}: {model.config.num_hidden_layers} layers, hidden {model.config.hidden_size}, "
          f"{model.num_parameters() / 1e6:.1f}M parameters")
    vecs = sentence_embeddings(model, tok, DEMO_SENTENCES)
    sim = vecs @ vecs.T
    print("\ncosine similarity (mean-pooled, normalised embeddings):")
    print("      " + " ".join(f"{j:>5}" for j in range(len(DEMO_SENTENCES))))
    for i, row in enumerate(sim.tolist()):
        print(f"{i:>5} " + " ".join(f"{x:5.2f}" for x in row) + f"   {DEMO_SENTENCES[i]}")
    print("\nnearest neighbour of each sentence:")
    for i, row in enumerate(sim):
        row = row.clone()
        row[i] = -2
        j = int(row.argmax())
        print(f"  {DEMO_SENTENCES[i]!r:55} → {DEMO_SENTENCES[j]!r} ({float(sim[i, j]):.2f})")


COMMANDS: dict[str, tuple[Callable, type]] = {
    "tokenize": (tokenize, TokenizeArgs),
    "embed": (embed, EmbedArgs),
    "info": (info, InfoArgs),
    "vocab": (vocab, VocabArgs),
    "demo": (demo, DemoArgs),
    "prepare": (_pt.prepare_command, _pt.PrepareArgs),
    "pretrain": (_pt.pretrain_command, _pt.PretrainArgs),
    "fill-mask": (_pt.fill_mask_command, _pt.FillMaskArgs),
    "finetune": (finetune_cli, FinetuneArgs),
    "predict": (predict_cli, PredictArgs),
    "convert": (convert_command, ConvertArgs),
    "distill": (distill_cli, DistillArgs),
    "attention": (attention_command, AttentionArgs),
    "inspect": (inspect_cli, InspectArgs),
    "explain": (explain_cli, ExplainArgs),
    "export": (export_cli, ExportArgs),
    "serve": (serve_cli, ServeArgs),
}


# -- plumbing -------------------------------------------------------------------------------------------

# per command: choices of a field whose choices differ between commands (see cliargs.check_options)
COMMAND_CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "embed": {"dtype": ("fp32", "bf16"), "engine": ("torch", "onnx")},
    "pretrain": {"dtype": ("auto", "bf16", "fp16", "fp32")},
    "convert": {"to": ("distilbert", "bert")},
    "distill": {"task": ("classify", "ner", "qa", "embed")},
    "vocab": {"algorithm": ("wordpiece", "bpe", "unigram")},
    "explain": {"method": ("ig", "rollout", "both")},
    "predict": {"explain": ("ig", "rollout"), "engine": ("torch", "onnx")},
    "serve": SERVE_CHOICES,
    "inspect": {"pooling": ("mean", "cls"), "map": ("pca", "tsne", "umap")},
    "export": {"format": ("onnx",), "task": ("embed", "classify", "ner", "qa"), "quantize": ("int8",)},
}


# per command: limits of a field whose limits differ between commands (explain's --steps are
# integration points, at least 1; pretrain's --steps may be 0)
COMMAND_LIMITS: dict[str, dict[str, tuple]] = {
    "explain": {"steps": at_least(1), "max_steps": at_least(1), "top": at_least(1)},
    "serve": SERVE_LIMITS,
}


def _check_file(source: str) -> None:
    """An input path (or - for stdin) must be a readable file: DataError naming it otherwise."""
    from .errors import DataError
    if source == "-":
        return
    path = Path(source)
    if path.is_dir():
        raise DataError(f"{source}: a folder, not a file; give a text file")
    if not path.is_file():
        raise DataError(f"{source}: no such file; check the path")
    if not os.access(path, os.R_OK):
        raise DataError(f"{source}: not readable (permission denied); check its permissions")


def _has_text(source: str) -> bool:
    """Whether a file holds a non-blank line; it is read whole, so a non-UTF-8 byte anywhere is a DataError."""
    return sum(1 for _ in _read_lines(source)) > 0


def check_vocab_fits(tok, config, folder) -> None:
    """The tokenizer's ids must index the model's embeddings: CheckpointError naming the folder otherwise."""
    from .errors import CheckpointError
    if len(tok) > config.vocab_size:
        raise CheckpointError(f"{folder}: the tokenizer has {len(tok)} tokens but the model's vocab_size is "
                              f"{config.vocab_size}; the tokenizer files belong to another model: copy the right "
                              "ones (or resize_token_embeddings and save)")


def _check_max_length(max_length: int | None, tok, max_positions: int | None = None) -> None:
    """--max-length must hold [CLS] and [SEP], and not exceed the model's position embeddings."""
    if max_length is None:
        return
    if max_length < 2:
        raise OptionError(f"--max-length {max_length}: must be at least 2 (room for [CLS] and [SEP])")
    if max_positions is not None and max_length > max_positions:
        raise OptionError(f"--max-length {max_length}: the model has {max_positions} positions "
                          f"(max_position_embeddings); use at most {max_positions}")


def _read_lines(source: str):
    """The non-blank lines of a UTF-8 file (or stdin for "-"), split on "\n" only, without the line end
    and a leading BOM. A file that is missing, a folder or not UTF-8 is a DataError naming the file and
    line (the task readers' own decoding: one copy of the rule)."""
    from .data.readers import STDIN, decode_utf8, physical_lines
    _check_file(source)
    data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    for _, line in physical_lines(decode_utf8(data, STDIN if source == "-" else source)):
        if line.strip():
            yield line


def summary(doc: str) -> str:
    """A docstring's first sentence on one line: the command's entry in `bertkit --help`."""
    text = " ".join(doc.split("\n\n")[0].split())
    end = text.find(". ")
    return text if end < 0 else text[:end + 1]


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad or missing option reported in one line naming it (no usage block)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bertkit", description="BERT and its family (RoBERTa, DistilBERT, ALBERT, ELECTRA) from scratch: tokenize, train "
        "vocabularies, pretrain, convert, fine-tune, predict, embed, inspect. Model folders are Hugging Face "
        "folders, readable by `transformers` too.")
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name, (fn, cls) in COMMANDS.items():
        doc = (cls.__doc__ or "").strip()
        p = sub.add_parser(name, help=summary(doc), description=doc)
        add_arguments(p, cls)
    return parser


class CommandFailed(SystemExit):
    """Exit code 2 after a one-line message on stderr; str() is the message (printed once, here)."""

    def __init__(self, message: str):
        super().__init__(2)
        self.message = " ".join(message.split("\n"))  # one line, whatever the message held
        print(self.message, file=sys.stderr)

    def __str__(self) -> str:
        return self.message


def main(argv: list[str] | None = None) -> None:
    """Run one command; bad input or options end in `bertkit <command>: <message>` on stderr, exit 2."""
    parser = build_parser()
    ns, extra = parser.parse_known_args(argv)
    if extra:  # said by the command's own name, as any other bad option is
        prog = f"bertkit {ns.command}" if ns.command else "bertkit"
        parser.exit(2, f"{prog}: unrecognized arguments: {' '.join(extra)}; see {prog} --help\n")
    if ns.command is None:
        parser.print_help()
        raise SystemExit(2)
    fn, cls = COMMANDS[ns.command]
    args = cls(**{k: v for k, v in vars(ns).items() if k != "command"})
    from .errors import BertkitError
    try:
        check_options(args, COMMAND_CHOICES.get(ns.command), COMMAND_LIMITS.get(ns.command))
        fn(args)
    except BertkitError as e:
        if os.environ.get("BERTKIT_DEBUG"):
            raise
        raise CommandFailed(f"bertkit {ns.command}: {e}") from None
    except FileNotFoundError as e:  # a safety net: every input is checked by its reader first
        if os.environ.get("BERTKIT_DEBUG"):
            raise
        raise CommandFailed(f"bertkit {ns.command}: {e.filename or e}: no such file; check the path") from None
    except BrokenPipeError:
        pass
    except KeyboardInterrupt:  # before or after a loop that saves on SIGINT (the loop itself exits 130)
        if os.environ.get("BERTKIT_DEBUG"):
            raise
        raise CommandFailed(f"bertkit {ns.command}: interrupted; nothing was written (a training run continues "
                            "with --resume when it said it wrote a checkpoint)") from None


if __name__ == "__main__":
    main()
