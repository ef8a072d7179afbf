"""`bertkit pretrain --model-type roberta`: FULL-SENTENCES blocks packed across documents (Liu et al. 2019,
§4.2), dynamic masks, MLM only; the run resumes exactly, its loss falls, its folder loads in `transformers`,
and bad combinations of options are one-line errors."""
import json

import numpy as np
import pytest
import torch
from _loop_util import StopAfter

from bertkit.data.corpus import TokenCorpus, write_token_corpus
from bertkit.data.masking import IGNORE, Masker, MaskingConfig
from bertkit.data.pretraining import ExampleConfig, ExampleStream, collate
from bertkit.errors import BertkitError, TrainError

pytestmark = pytest.mark.usefixtures("keep_threads")  # pretrain() sets the thread count

V, PAD, UNK, CLS, SEP, MASK = 1000, 0, 1, 2, 3, 4
SPECIAL = [PAD, UNK, CLS, SEP, MASK]


def _corpus(tmp_path, n_docs=60, seed=0, long_every=7):
    """Documents of 1–8 sentences of 1–20 tokens; every `long_every`-th sentence is 40–90 tokens (longer
    than a block of max_seq_length 32), so pieces of cut sentences occur too."""
    rng = np.random.default_rng(seed)
    docs, k = [], 0
    for _ in range(n_docs):
        doc = []
        for _ in range(rng.integers(1, 9)):
            k += 1
            n = rng.integers(40, 91) if k % long_every == 0 else rng.integers(1, 21)
            doc.append(rng.integers(5, V, size=n))
        docs.append(doc)
    write_token_corpus(tmp_path, {"train": docs, "eval": docs[:4]}, V)
    return TokenCorpus(tmp_path, "train")


def _stream(corpus, max_seq_length=32, **kw):
    cfg = ExampleConfig(max_seq_length=max_seq_length, nsp=False, cross_documents=True, **kw)
    return ExampleStream(corpus, cfg, Masker(MaskingConfig(), V, MASK, SPECIAL), CLS, SEP)


def test_blocks_are_full_sentences_across_documents(tmp_path):
    corpus = _corpus(tmp_path)
    L = 32
    cap = L - 2
    stream = _stream(corpus, L)
    docs = [np.concatenate(corpus.doc(d)).astype(np.int64) for d in range(len(corpus))]
    text = np.concatenate(docs)  # the corpus, in order
    doc_starts = set(np.cumsum([0] + [len(d) for d in docs[:-1]]).tolist())
    # where a block may start or end: a sentence boundary, or a cut every `cap` tokens of a longer sentence
    piece_at, pos = {}, 0  # piece start -> piece length
    for d in range(len(corpus)):
        for s in corpus.doc(d):
            for j in range(0, len(s), cap):
                piece_at[pos + j] = min(cap, len(s) - j)
            pos += len(s)
    assert max(len(s) for d in range(len(corpus)) for s in corpus.doc(d)) > cap  # cut sentences are tested

    n = len(stream.blocks)
    bodies, starts, pos = [], [], 0
    for b in range(n):
        inst = stream.block_instance(b)
        ids = inst.ids
        assert ids[0] == CLS and ids[-1] == SEP and len(ids) <= L
        assert inst.next_label == IGNORE and inst.len_a == len(ids) and inst.k == b
        body = ids[1:-1]
        assert len(body) and body[0] != SEP and body[-1] != SEP
        seps = np.flatnonzero(body == SEP)
        tokens = np.delete(body, seps)
        # a separator exactly where a document starts inside the block, and nowhere else
        at = {pos + int(i) - k for k, i in enumerate(seps)}
        assert at == {p for p in doc_starts if pos < p < pos + len(tokens)}, b
        assert inst.doc == max(d for d, p in enumerate(sorted(doc_starts)) if p <= pos)
        assert pos in piece_at, "a block starts inside a sentence (not at a piece boundary)"
        starts.append(pos)
        bodies.append(tokens)
        pos += len(tokens)
    assert np.array_equal(np.concatenate(bodies), text)  # every token once, in the corpus's order
    for b in range(n - 1):  # full: the next sentence (piece) would not have fitted
        nxt = starts[b + 1]
        used = len(stream.block_instance(b).ids) - 2
        assert used + (nxt in doc_starts) + piece_at[nxt] > cap, b
    within = ExampleStream(corpus, ExampleConfig(max_seq_length=L, nsp=False), stream.masker, CLS, SEP)
    assert n < sum(len(within.doc_instances(d, 0)) for d in range(len(corpus)))  # denser than per document

    # an epoch visits every block once, in its own order; the next epoch starts after the last
    it = stream.instances()
    epoch0 = [next(it) for _ in range(n)]
    assert [(e, i) for e, i, _ in epoch0] == [(0, i) for i in range(n)]
    assert sorted(inst.k for *_, inst in epoch0) == list(range(n))
    e, i, inst = next(it)
    assert (e, i) == (1, 0)
    assert [x.k for *_, x in epoch0] != list(stream.block_order(1))  # the order changes per epoch


def test_dynamic_masks_differ_across_epochs_and_replay(tmp_path):
    corpus = _corpus(tmp_path, n_docs=30)
    stream = _stream(corpus)
    n = len(stream.blocks)
    block = stream.block_instance(5)
    masks = [stream.mask(block, e)["labels"] for e in range(4)]
    for x in range(4):
        for y in range(x + 1, 4):
            assert not np.array_equal(masks[x], masks[y]), "the same mask in two epochs"
    static = _stream(corpus, dynamic_masking=False)
    assert all(np.array_equal(static.mask(block, 0)["labels"], static.mask(block, e)["labels"]) for e in range(4))
    # the stream is a pure function of the position: replay from the middle of epoch 1, masks included
    straight = stream.instances()
    first = [next(straight) for _ in range(2 * n + 5)]
    mid = n + n // 2
    again = _stream(corpus).instances(*first[mid][:2])  # a fresh stream object, as a resumed run builds
    fresh = _stream(corpus)
    for (e1, i1, a), (e2, i2, b) in zip(first[mid:], again):
        assert (e1, i1) == (e2, i2) and np.array_equal(a.ids, b.ids)
        m1, m2 = stream.mask(a, e1), fresh.mask(b, e2)
        assert np.array_equal(m1["input_ids"], m2["input_ids"]) and np.array_equal(m1["labels"], m2["labels"])
    # masks of one example in two epochs differ, and never touch <s>, </s> or the document separators
    for e, _, inst in first[:n]:
        m = stream.mask(inst, e)
        assert (m["labels"][np.isin(inst.ids, SPECIAL)] == IGNORE).all()


def test_collate_has_no_token_types_and_no_nsp_label(tmp_path):
    stream = _stream(_corpus(tmp_path, n_docs=20))
    batch = collate([stream.mask(stream.block_instance(b), 0) for b in range(6)], PAD, nsp=False)
    assert "next_sentence_label" not in batch
    assert batch["token_type_ids"].abs().sum() == 0  # type_vocab_size 1: all zeros
    assert batch["input_ids"].shape[1] <= 32


def test_cross_documents_needs_no_nsp():
    with pytest.raises(TrainError, match="cross_documents: packing across documents needs nsp=False"):
        ExampleConfig(nsp=True, cross_documents=True)


# -- the run ---------------------------------------------------------------------------------------------

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 40}


@pytest.fixture(scope="module")
def shards(pretrain_text, pretrain_vocab, tmp_path_factory):
    from bertkit.data.corpus import PrepareConfig, prepare_corpus
    return prepare_corpus([pretrain_text], pretrain_vocab, tmp_path_factory.mktemp("rob") / "shards",
                          PrepareConfig(eval_fraction=0.05, workers=1), progress=False)


def _config(folder, **fields):
    path = folder / f"config-{len(list(folder.glob('config-*')))}.json"
    path.write_text(json.dumps({**TINY, **fields}))
    return str(path)


def _args(shards, vocab, out, config, **kw):
    from bertkit.train.pretrain_args import PretrainArgs
    values = dict(data=str(shards), vocab=str(vocab), config=config, out=str(out), max_seq_length=32,
                  batch_size=8, steps=4, dtype="fp32", lr=1e-3, eval_examples=16, eval_every=0, save_every=0,
                  log_every=1, threads=1, no_progress=True, model_type="roberta")
    values.update(kw)
    return PretrainArgs(**values)


def _rows(out):
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().split("\n") if x.strip()]


@pytest.mark.parametrize("kw, message", [
    ({"model_type": "xlnet"}, (r"^--model-type 'xlnet': not a model type bertkit pretrain has a recipe for; "
                               r"use one of bert, roberta, albert, electra$")),
    ({"short_seq_prob": 0.3}, (r"^--short-seq-prob 0\.3: shortens next-sentence pairs only; --model-type roberta "
                               r"packs full sentences \(no NSP\): drop --short-seq-prob$")),
])
def test_bad_combinations_are_one_line_errors(shards, pretrain_vocab, tmp_path, kw, message):
    from bertkit.train.pretrain import pretrain
    with pytest.raises(BertkitError, match=message):
        pretrain(_args(shards, pretrain_vocab, tmp_path / "run", _config(tmp_path), **kw))
    assert not (tmp_path / "run").exists()


def test_config_file_of_another_type(shards, pretrain_vocab, tmp_path):
    from bertkit.train.pretrain import PretrainError, pretrain
    config = _config(tmp_path, model_type="bert")
    with pytest.raises(PretrainError, match=r"model_type is 'bert' but this run pretrains roberta; pass "
                                            r"--model-type bert \(or drop model_type from the file\)$"):
        pretrain(_args(shards, pretrain_vocab, tmp_path / "run", config))


def test_unknown_model_type_on_the_command_line(tmp_path, capsys):
    from bertkit.cli import main
    with pytest.raises(SystemExit) as e:
        main(["pretrain", "--model-type", "xlnet", "--out", str(tmp_path / "run")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--model-type" in err and "'xlnet'" in err and "'roberta'" in err
    assert not (tmp_path / "run").exists()


def _train_rows(out):
    return [(r["step"], r["loss"], r["mlm_loss"], r["grad_norm"]) for r in _rows(out) if "loss" in r]


def test_roberta_run_learns_and_its_folder_loads_in_transformers(shards, pretrain_vocab, tmp_path, monkeypatch):
    """A tiny run on a fixed seed: MLM only (no NSP anywhere in the metrics), the held-out loss falls, and
    model/ is a RoBERTa folder that transformers' AutoModelForMaskedLM loads to the same logits."""
    transformers = pytest.importorskip("transformers")
    from bertkit.registry import AutoModelForMaskedLM
    from bertkit.train import pretrain as pretrain_mod
    monkeypatch.setattr(pretrain_mod, "matmul_peak", lambda *a: 1e12)  # speed: MFU is not what is tested
    out = tmp_path / "run"
    # from a zero decoder bias (loss ln V at the start): on this tiny corpus the context adds little
    # beyond word frequencies in a few dozen steps, so the fall from ln V is what shows learning here
    pretrain_mod.pretrain(_args(shards, pretrain_vocab, out, _config(tmp_path), steps=30, lr=5e-3, warmup=0.1,
                                dropout=0.0, eval_every=30, mlm_bias_init="zero"))
    rows = _rows(out)
    assert not [k for r in rows for k in r if "nsp" in k]
    ev = [r for r in rows if "eval_mlm_loss" in r]
    assert [r["step"] for r in ev] == [0, 30]
    assert ev[0]["eval_mlm_loss"] > 5 and ev[-1]["eval_mlm_loss"] < ev[0]["eval_mlm_loss"] - 0.7, ev
    assert ev[-1]["eval_mlm_acc"] > ev[0]["eval_mlm_acc"]
    assert ev[-1]["eval_ppl"] == pytest.approx(np.exp(ev[-1]["eval_mlm_loss"]))
    train = [r["mlm_loss"] for r in rows if "loss" in r]
    assert len(train) == 30 and np.mean(train[-5:]) < np.mean(train[:5]) - 0.5
    assert (out / "loss.png").stat().st_size > 1000

    folder = out / "model"
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "roberta" and config["type_vocab_size"] == 1
    from bertkit.train.pretrain import _load_tokenizer
    tok = _load_tokenizer(str(folder))
    assert config["pad_token_id"] == tok.pad_token_id
    assert config["max_position_embeddings"] - config["pad_token_id"] - 1 >= 32
    theirs = transformers.AutoModelForMaskedLM.from_pretrained(folder).eval()
    assert type(theirs).__name__ == "RobertaForMaskedLM"
    ours = AutoModelForMaskedLM.from_pretrained(folder).eval()
    enc = tok(["the river city was built.", "a game"], padding=True, return_tensors="pt")
    batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    with torch.no_grad():
        a, b = ours(**batch).logits, theirs(**batch).logits
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(a[real], b[real], atol=1e-4, rtol=1e-4)
    from bertkit.fill_mask import fill_mask
    preds = fill_mask(folder, f"the river {tok.mask_token} city.", top_k=3)  # the folder's own mask token
    scores = [p["score"] for p in preds[0]]
    assert len(preds) == 1 and len(scores) == 3 and scores == sorted(scores, reverse=True)


def test_roberta_resume_is_exact(shards, pretrain_vocab, tmp_path, monkeypatch):
    """Stopped after N steps (checkpoint written), resumed to 2N: the losses, gradient norms, held-out
    scores and final weights are bitwise those of an uninterrupted run (dropout on)."""
    from safetensors.torch import load_file

    from bertkit.train import pretrain as pretrain_mod
    N = 3
    config = _config(tmp_path)
    monkeypatch.setattr(pretrain_mod, "plot_metrics", lambda *a: None)  # speed: the curve is not compared
    monkeypatch.setattr(pretrain_mod, "matmul_peak", lambda *a: 1e12)
    # --no-nsp with roberta: redundant, and fine
    common = {"steps": 2 * N, "eval_every": N, "save_every": N, "eval_examples": 8, "no_nsp": True}
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    pretrain_mod.pretrain(_args(shards, pretrain_vocab, straight, config, **common))
    with monkeypatch.context() as m:
        from bertkit.train import loop as loop_mod
        m.setattr(loop_mod, "_Signals", StopAfter(loop_mod._Signals, N))
        with pytest.raises(SystemExit):
            pretrain_mod.pretrain(_args(shards, pretrain_vocab, stopped, config, **common))
    assert torch.load(stopped / "checkpoint.pt", weights_only=True)["step"] == N
    with pytest.raises(pretrain_mod.PretrainError, match=r"checkpoint\.pt was written by a different model: "
                                                         r"model_type 'roberta' \(this run: 'bert'\)"):
        pretrain_mod.pretrain(_args(shards, pretrain_vocab, stopped, config, resume=True, **common,
                                    model_type="bert"))
    # --resume without --model-type continues the run's own type
    pretrain_mod.pretrain(_args(shards, pretrain_vocab, stopped, config, resume=True, **common, model_type=""))
    assert _train_rows(straight) == _train_rows(stopped) and len(_train_rows(straight)) == 2 * N
    evals = [[(r["step"], r["eval_mlm_loss"], r["eval_mlm_acc"]) for r in _rows(o) if "eval_mlm_loss" in r]
             for o in (straight, stopped)]
    assert evals[0] == evals[1] and [s for s, *_ in evals[0]] == [0, N, 2 * N]
    wa, wb = load_file(straight / "model" / "model.safetensors"), load_file(stopped / "model" / "model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.fixture(scope="module")
def folders(pretrain_vocab, tmp_path_factory):
    """A tiny RoBERTa folder and a tiny BERT folder, both with the test tokenizer."""
    from bertkit.config import BertConfig
    from bertkit.models import BertForPreTraining
    from bertkit.registry import AutoConfig, AutoModelForMaskedLM
    from bertkit.train.pretrain import _load_tokenizer
    tok = _load_tokenizer(str(pretrain_vocab))
    root = tmp_path_factory.mktemp("folders")
    torch.manual_seed(0)
    roberta = AutoModelForMaskedLM.from_config(AutoConfig.for_model(
        "roberta", vocab_size=len(tok), pad_token_id=tok.pad_token_id, **TINY))
    roberta.save_pretrained(root / "roberta")
    tok.save_pretrained(root / "roberta")
    BertForPreTraining(BertConfig(vocab_size=len(tok), **TINY)).save_pretrained(root / "bert")
    tok.save_pretrained(root / "bert")
    return root


def test_init_from_a_roberta_folder_continues_with_mlm_only(shards, folders, tmp_path, monkeypatch):
    from bertkit.train import pretrain as pretrain_mod
    monkeypatch.setattr(pretrain_mod, "matmul_peak", lambda *a: 1e12)
    out = tmp_path / "run"
    pretrain_mod.pretrain(_args(shards, "", out, "small", init_from=str(folders / "roberta"), model_type="",
                                steps=2, eval_every=0))
    assert json.loads((out / "args.json").read_text())["model_type"] == "roberta"  # the folder's type
    assert json.loads((out / "model" / "config.json").read_text())["model_type"] == "roberta"
    assert not [k for r in _rows(out) for k in r if "nsp" in k]


@pytest.mark.parametrize("folder, model_type", [("roberta", "bert"), ("bert", "roberta")])
def test_init_from_a_folder_of_another_type(shards, folders, tmp_path, folder, model_type):
    from bertkit.train.pretrain import PretrainError, pretrain
    with pytest.raises(PretrainError, match=rf"^--model-type {model_type}: the --init-from folder \S+{folder} holds "
                                            rf"a {folder} model; drop --model-type \(or give a {model_type} folder\)$"):
        pretrain(_args(shards, "", tmp_path / "run", "small", init_from=str(folders / folder), model_type=model_type))
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def bpe_folder(pretrain_text, tmp_path_factory):
    """A byte-level BPE tokenizer trained on the test corpus by the `tokenizers` library (RoBERTa's
    special tokens, <s> 0, <pad> 1, </s> 2), saved as a bertkit RobertaTokenizer folder."""
    import tokenizers  # the oracle trains the merges

    from bertkit.tokenization import RobertaTokenizer
    root = tmp_path_factory.mktemp("bpe")
    bpe = tokenizers.ByteLevelBPETokenizer()
    bpe.train([str(pretrain_text)], vocab_size=400, min_frequency=2,
              special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False)
    bpe.save_model(str(root))
    RobertaTokenizer(str(root / "vocab.json"), str(root / "merges.txt")).save_pretrained(root / "tok")
    return root / "tok"


def test_prepared_bpe_sentences_hold_the_paragraphs_ids(bpe_folder):
    """Sentences are tokenized one by one, but with the space before them: their ids put together are
    those of the whole paragraph (a byte-level BPE would otherwise see "The", not "ĠThe")."""
    from bertkit.data import corpus as corpus_mod
    from bertkit.tokenization import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(bpe_folder)
    corpus_mod._init_worker(str(bpe_folder))
    doc = ["The river was built. A city of the king. Music played on.", "Second paragraph here. And more."]
    sents = corpus_mod._tokenize_docs([doc])[0]
    assert len(sents) == 5
    firsts = tok.convert_ids_to_tokens([int(s[0]) for s in sents])
    assert [t.startswith("Ġ") for t in firsts] == [False, True, True, False, True], firsts  # paragraph starts: no
    expected = [i for p in doc for i in tok(p, add_special_tokens=False)["input_ids"]]
    assert np.concatenate(sents).tolist() == expected


def test_roberta_run_with_a_bpe_tokenizer(pretrain_text, bpe_folder, tmp_path, monkeypatch):
    """From text files with a byte-level BPE folder and --whole-word-mask: the blocks are <s> … </s> with
    RoBERTa's ids, the config takes the tokenizer's pad/bos/eos, and a word (a piece with "Ġ" and the
    pieces after it without) is masked whole."""
    from bertkit.data.masking import continuation_table
    from bertkit.train import pretrain as pretrain_mod
    from bertkit.train.pretrain_args import PretrainArgs
    monkeypatch.setattr(pretrain_mod, "matmul_peak", lambda *a: 1e12)
    monkeypatch.setattr(pretrain_mod, "plot_metrics", lambda *a: None)
    args = PretrainArgs(files=[str(pretrain_text)], vocab=str(bpe_folder), config=_config(tmp_path),
                        out=str(tmp_path / "run"), max_seq_length=32, batch_size=4, steps=2, dtype="fp32",
                        eval_examples=8, eval_every=0, save_every=0, threads=1, workers=1, eval_fraction=0.05,
                        no_progress=True, model_type="roberta", whole_word_mask=True, mlm_probability=0.3)
    out = pretrain_mod.pretrain(args)
    config = json.loads((out / "config.json").read_text())
    assert (config["pad_token_id"], config["bos_token_id"], config["eos_token_id"]) == (1, 0, 2)
    assert config["max_position_embeddings"] == 40  # the file's own, which holds 32 + 1 + 1
    tok = pretrain_mod._load_tokenizer(str(out))
    stream = pretrain_mod.make_stream(TokenCorpus(out.parent / "shards", "train"), tok,
                                      pretrain_mod.resolve_model_type(args))
    cont = continuation_table(tok)
    joined = 0
    for b in range(len(stream.blocks)):
        ids = stream.block_instance(b).ids
        assert ids[0] == 0 and ids[-1] == 2 and len(ids) <= 32 and not set(ids[1:-1].tolist()) & {0, 1}
        picked = stream.mask(stream.block_instance(b), 0)["labels"] != IGNORE
        for j in range(2, len(ids) - 1):
            if cont[ids[j]] and ids[j - 1] != 2:  # a piece inside a word: masked with the piece before it
                assert picked[j] == picked[j - 1], (b, j)
                joined += bool(picked[j])
    assert joined > 0  # multi-piece words were masked


def test_pretrain_model_types_are_registered_families():
    """--model-type's choices (listed without importing torch, for a quick --help) are model types of the
    registry, each with a masked-LM model."""
    from bertkit import registry
    from bertkit.train.pretrain_args import PRETRAIN_MODEL_TYPES
    assert set(PRETRAIN_MODEL_TYPES) <= set(registry.MODEL_TYPES)
    assert all(registry.family(t).model("masked-lm") for t in PRETRAIN_MODEL_TYPES)


def test_config_file_that_says_roberta_is_taken(shards, pretrain_vocab, tmp_path):
    """A config.json with "model_type": "roberta" (the config of a folder pretrain wrote, say) is read as
    RoBERTa's, not refused as a BERT config."""
    from bertkit.train.pretrain import pretrain
    out = tmp_path / "run"
    pretrain(_args(shards, pretrain_vocab, out, _config(tmp_path, model_type="roberta"), steps=1))
    assert json.loads((out / "model" / "config.json").read_text())["model_type"] == "roberta"


def test_config_file_of_a_family_pretrain_has_no_recipe_for(shards, pretrain_vocab, tmp_path):
    from bertkit.train.pretrain import PretrainError, pretrain
    config = _config(tmp_path, model_type="distilbert")
    with pytest.raises(PretrainError, match=r"model_type is 'distilbert'; bertkit pretrain trains bert, roberta, albert, electra "
                                            r"models: give a config of one of them \(or a preset\)$"):
        pretrain(_args(shards, pretrain_vocab, tmp_path / "run", config))
