"""bertkit's tokenizers, with the `transformers` call signature, in a package by algorithm:

    encoding.py   what every algorithm shares: PreTrainedTokenizer (the call, truncation, padding, overflow
                  windows, pairs, added tokens, decode, tokenizer_config.json / special_tokens_map.json),
                  BatchEncoding, AddedToken, TokenSpan / CharSpan
    wordpiece.py  BERT's WordPiece: BasicTokenizer + WordpieceTokenizer (the readable pure-Python reference),
                  BertTokenizer, DistilBertTokenizer, load_vocab
    bpe.py        byte-level BPE (vocab.json + merges.txt): RobertaTokenizer
    sentencepiece.py  SentencePiece unigram (spiece.model): AlbertTokenizer
    vocab.py      training a vocabulary: train_vocab / vocab_main (WordPiece), train_bpe (byte-level BPE),
                  train_unigram (SentencePiece)
    auto.py       AutoTokenizer.from_pretrained(folder): the class named by the folder

`from bertkit.tokenization import BertTokenizer` (and every name below) works as before the split. The
package imports no torch; the `tokenizers` library is imported when a tokenizer is built.
"""
from ..errors import TokenizerError
from .encoding import (AddedToken, BatchEncoding, CharSpan, PreTrainedTokenizer, TokenizerIndexError,
                       TokenizerTypeError, TokenSpan, _is_word_char)
from .wordpiece import (DEFAULT_SPECIALS, BasicTokenizer, BertTokenizer, DistilBertTokenizer, Tokenizer, Word,
                        WordpieceTokenizer, load_vocab)
from .bpe import RobertaTokenizer
from .sentencepiece import AlbertTokenizer
from .auto import TOKENIZER_FOR_MODEL_TYPE, AutoTokenizer

__all__ = ["BasicTokenizer", "WordpieceTokenizer", "BertTokenizer", "DistilBertTokenizer", "RobertaTokenizer",
           "AlbertTokenizer", "AutoTokenizer", "PreTrainedTokenizer", "Tokenizer", "BatchEncoding", "Word",
           "AddedToken", "load_vocab", "train_vocab", "vocab_main", "train_bpe", "train_unigram", "TokenSpan",
           "CharSpan", "TokenizerError", "TokenizerTypeError", "TokenizerIndexError", "TOKENIZER_FOR_MODEL_TYPE", "DEFAULT_SPECIALS"]


def __getattr__(name: str):
    # vocabulary training (vocab.py imports the tokenizers); re-exported lazily
    if name in ("train_vocab", "vocab_main", "train_bpe", "bpe_main", "train_unigram", "unigram_main"):
        from . import vocab
        return getattr(vocab, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
