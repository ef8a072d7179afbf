"""Sentence-order prediction examples (ALBERT; Lan et al. 2020): two consecutive segments of one document,
swapped half of the time (sentence_order_label 1, as transformers' AlbertForPreTraining reads it); the
stream stays a pure function of (seed, position), and collate hands the label to the model by its name."""
import numpy as np
import pytest
import torch

from bertkit.data.corpus import CorpusError, TokenCorpus, write_token_corpus
from bertkit.data.masking import IGNORE, Masker, MaskingConfig
from bertkit.data.pretraining import ExampleConfig, ExampleStream, collate
from bertkit.errors import TrainError

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
SPECIAL = [PAD, UNK, CLS, SEP, MASK]
V = 400_000  # room for a corpus in which every token id occurs once


def _unique_corpus(tmp_path, n_docs=150, seed=0, max_sents=12, max_len=25):
    """Documents of 1–max_sents sentences of 1–max_len tokens; every token id occurs once in the corpus, so
    a segment's tokens say exactly where in which document it was taken from."""
    rng = np.random.default_rng(seed)
    docs, nxt = [], 5
    for _ in range(n_docs):
        doc = []
        for _ in range(rng.integers(1, max_sents + 1)):
            n = int(rng.integers(1, max_len + 1))
            doc.append(np.arange(nxt, nxt + n))
            nxt += n
        docs.append(doc)
    assert nxt < V
    write_token_corpus(tmp_path, {"train": docs}, V)
    return TokenCorpus(tmp_path, "train")


def _stream(corpus, **kw):
    cfg = ExampleConfig(**{"max_seq_length": 32, "sop": True, **kw})
    return ExampleStream(corpus, cfg, Masker(MaskingConfig(), V, MASK, SPECIAL), CLS, SEP)


def _where(corpus):
    """token id -> (document, position in the document's token stream); sentence starts per document."""
    where, starts = {}, []
    for d in range(len(corpus)):
        pos, st = 0, set()
        for s in corpus.doc(d):
            st.add(pos)
            for t in s.tolist():
                where[t] = (d, pos)
                pos += 1
        starts.append(st)
    return where, starts


def _segments(inst):
    ids = inst.ids
    assert ids[0] == CLS and ids[inst.len_a - 1] == SEP and ids[-1] == SEP
    return ids[1:inst.len_a - 1], ids[inst.len_a:-1]


def _span(seg, where):
    """(document, start, end) of a segment that must be one contiguous run of one document."""
    docs = {where[t][0] for t in seg.tolist()}
    assert len(docs) == 1, "a segment spans documents"
    pos = [where[t][1] for t in seg.tolist()]
    assert pos == list(range(pos[0], pos[0] + len(pos))), "a segment is not contiguous text"
    return docs.pop(), pos[0], pos[-1] + 1


# -- the config --------------------------------------------------------------------------------------------

def test_config_picks_one_pair_objective():
    assert (ExampleConfig().nsp, ExampleConfig().sop, ExampleConfig().pair_label) == (True, False,
                                                                                      "next_sentence_label")
    sop = ExampleConfig(sop=True)
    assert (sop.nsp, sop.sop, sop.pair_label) == (False, True, "sentence_order_label")
    assert ExampleConfig(nsp=False, sop=True).pair_label == "sentence_order_label"
    assert ExampleConfig(nsp=False).pair_label is None and ExampleConfig(nsp=False).sop is False
    assert ExampleConfig(nsp=False, cross_documents=True).pair_label is None
    with pytest.raises(TrainError, match=r"^sop: sentence-order pairs replace next-sentence pairs, and nsp=True "
                                         r"asks for both; pass nsp=False \(or leave nsp unset\) with sop=True$"):
        ExampleConfig(nsp=True, sop=True)
    with pytest.raises(TrainError, match=r"^cross_documents: packing across documents makes no segment pairs, "
                                         r"and sop=True asks for sentence-order pairs; turn SOP off"):
        ExampleConfig(sop=True, cross_documents=True)
    with pytest.raises(TrainError, match="cross_documents: packing across documents needs nsp=False"):
        ExampleConfig(cross_documents=True)  # nsp unset is NSP, as before


# -- the pairs -------------------------------------------------------------------------------------------

def test_pairs_are_consecutive_text_of_one_document_in_the_labelled_order(tmp_path):
    """With trimming and short targets: both segments are contiguous runs of the instance's own document;
    label 0 puts the earlier run first, label 1 the later; untrimmed pairs are exactly adjacent chunks that
    start at a sentence boundary; the instances of a document follow its text in order."""
    corpus = _unique_corpus(tmp_path)
    where, starts = _where(corpus)
    L = 32
    stream = _stream(corpus, max_seq_length=L, short_seq_prob=0.3)
    n = untrimmed = 0
    for d in range(len(corpus)):
        last = -1
        for k, inst in enumerate(stream.doc_instances(d, 0)):
            assert (inst.doc, inst.k) == (d, k) and inst.next_label in (0, 1) and len(inst.ids) <= L
            a, b = _segments(inst)
            assert len(a) and len(b)
            (da, a0, a1), (db, b0, b1) = _span(a, where), _span(b, where)
            assert da == db == d
            first, second = ((a0, a1), (b0, b1)) if inst.next_label == 0 else ((b0, b1), (a0, a1))
            assert first[1] <= second[0], "the label does not say the segments' order"
            assert first[0] > last, "instances of a document out of the document's order"
            last = second[1] - 1
            types = stream.mask(inst, 0)["token_type_ids"]
            assert (types[:inst.len_a] == 0).all() and (types[inst.len_a:] == 1).all()
            if len(inst.ids) - 3 < L - 3:  # nothing was trimmed: the two chunks meet, at a sentence start
                untrimmed += 1
                assert first[1] == second[0] and first[0] in starts[d]
            n += 1
    assert n > 300 and untrimmed > 50


def test_a_swapped_pair_is_the_two_chunks_in_reverse_order(tmp_path):
    """Targets longer than any document, so a document is one chunk, never trimmed: the two segments put
    together in the document's order are the document; swapped, they come second-then-first."""
    corpus = _unique_corpus(tmp_path, n_docs=80, max_sents=6, max_len=10)
    stream = _stream(corpus, max_seq_length=128, short_seq_prob=0.0)
    seen = {0: 0, 1: 0}
    for d in range(len(corpus)):
        text = np.concatenate(corpus.doc(d)).astype(np.int64)
        insts = stream.doc_instances(d, 0)
        if len(text) < 2:  # one token: no pair
            assert insts == []
            continue
        (inst,) = insts
        a, b = _segments(inst)
        first, second = (a, b) if inst.next_label == 0 else (b, a)
        assert np.array_equal(np.concatenate([first, second]), text)
        assert inst.ids.tolist() == [CLS, *(a.tolist()), SEP, *(b.tolist()), SEP]
        if inst.next_label == 1:
            assert np.array_equal(a, text[len(first):]) and np.array_equal(b, text[:len(first)])
        sents = corpus.doc(d)
        bounds = set(np.cumsum([len(s) for s in sents])[:-1].tolist())
        if len(sents) >= 2:  # a split between sentences
            assert len(first) in bounds
        else:  # one sentence: cut inside it
            assert 1 <= len(first) < len(text)
        seen[inst.next_label] += 1
    assert seen[0] > 10 and seen[1] > 10


def test_label_balance(tmp_path):
    corpus = _unique_corpus(tmp_path, n_docs=1500, max_sents=20)
    stream = _stream(corpus, max_seq_length=48, seed=5)
    labels = [inst.next_label for d in range(len(corpus)) for inst in stream.doc_instances(d, 0)]
    n = len(labels)
    assert n > 4000
    assert abs(np.mean(labels) - 0.5) < 4 * 0.5 / np.sqrt(n), (np.mean(labels), n)


def test_single_sentence_and_single_token_documents(tmp_path):
    """A one-sentence document is cut into two consecutive segments; a one-token document gives nothing;
    SOP needs a single document only (NSP needs two); a corpus with no pair at all is an error."""
    write_token_corpus(tmp_path / "one", {"train": [[np.arange(10, 30)]]}, V)
    one = TokenCorpus(tmp_path / "one", "train")
    stream = _stream(one, max_seq_length=64)
    labels = set()
    for e in range(20):
        (inst,) = stream.doc_instances(0, e)
        a, b = _segments(inst)
        first, second = (a, b) if inst.next_label == 0 else (b, a)
        assert np.concatenate([first, second]).tolist() == list(range(10, 30))
        labels.add(inst.next_label)
    assert labels == {0, 1}  # a new cut and order each epoch (dynamic)
    assert next(stream.instances())[2].ids[0] == CLS
    with pytest.raises(CorpusError, match="next sentence prediction needs at least two documents"):
        ExampleStream(one, ExampleConfig(), stream.masker, CLS, SEP)

    write_token_corpus(tmp_path / "tiny", {"train": [[np.array([7])], [np.array([8])]]}, V)
    tiny = _stream(TokenCorpus(tmp_path / "tiny", "train"))
    assert tiny.doc_instances(0, 0) == [] and tiny.doc_instances(1, 0) == []
    with pytest.raises(CorpusError, match="the corpus yields no examples"):
        next(tiny.instances())


# -- the stream ------------------------------------------------------------------------------------------

def test_stream_is_a_function_of_position(tmp_path):
    corpus = _unique_corpus(tmp_path, n_docs=40)
    stream = _stream(corpus)
    it = stream.instances()
    first = [next(it) for _ in range(300)]
    assert first[-1][0] >= 1  # crosses into epoch 1
    mid = next(j for j, (e, _, _) in enumerate(first) if e == 1) - 20  # resume late in epoch 0
    fresh = _stream(corpus)  # a new object, as a resumed run (or another rank) builds
    for (e1, i1, a), (e2, i2, b) in zip(first[mid:], fresh.instances(*first[mid][:2])):
        assert (e1, i1) == (e2, i2) and np.array_equal(a.ids, b.ids)
        assert (a.len_a, a.next_label, a.doc, a.k) == (b.len_a, b.next_label, b.doc, b.k)
        m1, m2 = stream.mask(a, e1), fresh.mask(b, e2)
        assert set(m1) == {"input_ids", "token_type_ids", "labels", "sentence_order_label"}
        assert all(np.array_equal(m1[k], m2[k]) for k in m1)
    # dynamic: the pairs (cut points, orders) change with the epoch; static: the same every epoch
    per_epoch = [[i.next_label for d in range(len(corpus)) for i in stream.doc_instances(d, e)] for e in (0, 1)]
    assert per_epoch[0] != per_epoch[1]
    static = _stream(corpus, dynamic_masking=False)
    for d in range(5):
        x, y = static.doc_instances(d, 0), static.doc_instances(d, 3)
        assert [i.ids.tolist() for i in x] == [i.ids.tolist() for i in y]
        assert [i.next_label for i in x] == [i.next_label for i in y]
    # another seed: other pairs
    other = _stream(corpus, seed=1)
    assert [i.next_label for d in range(len(corpus)) for i in other.doc_instances(d, 0)] != per_epoch[0]


# -- the batch -------------------------------------------------------------------------------------------

def test_collate_emits_sentence_order_label(tmp_path):
    corpus = _unique_corpus(tmp_path, n_docs=20)
    stream = _stream(corpus)
    insts = [inst for d in range(6) for inst in stream.doc_instances(d, 0)][:8]
    examples = [stream.mask(inst, 0) for inst in insts]
    assert all("next_sentence_label" not in e for e in examples)
    batch = collate(examples, PAD, sop=True)
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask", "labels", "sentence_order_label"}
    B = len(insts)
    assert batch["sentence_order_label"].shape == (B,) and batch["sentence_order_label"].dtype == torch.long
    assert batch["input_ids"].shape == batch["labels"].shape == batch["token_type_ids"].shape
    # rows are sorted longest first: each row's label is its own example's
    for row in range(B):
        n = int(batch["attention_mask"][row].sum())
        ids = batch["input_ids"][row, :n].numpy()
        match = [e for e in examples if np.array_equal(e["input_ids"], ids)]
        assert match and int(batch["sentence_order_label"][row]) == match[0]["sentence_order_label"]
    assert set(batch["sentence_order_label"].tolist()) <= {0, 1}
    assert (batch["labels"][batch["attention_mask"] == 0] == IGNORE).all()
    with pytest.raises(TrainError, match="collate: nsp and sop both asked for"):
        collate(examples, PAD, nsp=True, sop=True)
    # NSP and no-pair batches as before
    nsp_stream = ExampleStream(corpus, ExampleConfig(max_seq_length=32), stream.masker, CLS, SEP)
    nsp_batch = collate([nsp_stream.mask(i, 0) for i in nsp_stream.doc_instances(0, 0)], PAD, True)
    assert "next_sentence_label" in nsp_batch and "sentence_order_label" not in nsp_batch
    plain = collate(examples, PAD, nsp=False)
    assert "next_sentence_label" not in plain and "sentence_order_label" not in plain


def test_batch_feeds_transformers_albert_for_pretraining(tmp_path):
    """The oracle's own forward takes the batch as it is (the key names are transformers'), and its loss is
    MLM + cross-entropy of the sentence-order logits against the labels."""
    transformers = pytest.importorskip("transformers")
    corpus = _unique_corpus(tmp_path, n_docs=20)
    small_v = 300  # the model's vocabulary: ids folded into it keep the batch's structure
    stream = _stream(corpus)

    def fold(x):
        return np.where(x >= 5, 5 + x % (small_v - 5), x)

    examples = []
    for d in range(4):
        for inst in stream.doc_instances(d, 0):
            e = stream.mask(inst, 0)
            examples.append({**e, "input_ids": fold(e["input_ids"]),
                             "labels": np.where(e["labels"] == IGNORE, IGNORE, fold(e["labels"]))})
    batch = collate(examples, PAD, sop=True)
    torch.manual_seed(0)
    config = transformers.AlbertConfig(vocab_size=small_v, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                                       num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    model = transformers.AlbertForPreTraining(config).eval()
    with torch.no_grad():
        out = model(**batch)
    mlm = torch.nn.functional.cross_entropy(out.prediction_logits.reshape(-1, small_v), batch["labels"].reshape(-1))
    sop = torch.nn.functional.cross_entropy(out.sop_logits, batch["sentence_order_label"])
    torch.testing.assert_close(out.loss, mlm + sop)
