"""MLM masking and NSP example statistics, over more than a million tokens, on a synthetic corpus."""
import numpy as np
import pytest

from bertkit.data.corpus import TokenCorpus, write_token_corpus
from bertkit.data.masking import IGNORE, Masker, MaskingConfig, continuation_table
from bertkit.data.pretraining import ExampleConfig, ExampleStream, collate

V, PAD, UNK, CLS, SEP, MASK = 1000, 0, 1, 2, 3, 4
SPECIAL = [PAD, UNK, CLS, SEP, MASK]


def _batch(rng, B=4096, T=128):
    # realistic rows: [CLS] a [SEP] b [SEP] then padding to T
    ids = rng.integers(5, V, size=(B, T))
    lens = rng.integers(20, T + 1, size=B)
    for i, n in enumerate(lens):
        cut = rng.integers(2, n - 2)
        ids[i, 0], ids[i, cut], ids[i, n - 1] = CLS, SEP, SEP
        ids[i, n:] = PAD
    return ids


@pytest.mark.parametrize("p", [0.15, pytest.param(0.3, marks=pytest.mark.slow)])
def test_masking_statistics(p):
    rng = np.random.default_rng(0)
    masker = Masker(MaskingConfig(mlm_probability=p), V, MASK, SPECIAL)
    ids = _batch(rng, B=12000)
    assert ids.size >= 1_000_000
    selected = changed_mask = changed_random = kept = cand = 0
    for row in ids:
        inputs, labels = masker(row, rng)
        picked = labels != IGNORE
        assert not np.isin(row[picked], SPECIAL).any(), "a special or padding token was selected"
        assert (inputs[~picked] == row[~picked]).all()
        assert (labels[picked] == row[picked]).all()
        assert not np.isin(inputs[picked & (inputs != MASK)], SPECIAL).any(), "a random replacement was special"
        cand += int((~np.isin(row, SPECIAL)).sum())
        selected += int(picked.sum())
        changed_mask += int((inputs[picked] == MASK).sum())
        same = inputs[picked] == row[picked]
        kept += int(same.sum())
        changed_random += int(((inputs[picked] != MASK) & ~same).sum())
    assert abs(selected / cand - p) < 0.003
    assert abs(changed_mask / selected - 0.8) < 0.01
    # a random draw can hit the original token (1/995): count those as "random"
    assert abs(changed_random / selected - 0.1) < 0.01 + 0.002
    assert abs(kept / selected - 0.1) < 0.01 + 0.002


def test_whole_word_masking_selects_whole_words():
    tokens = [f"[S{i}]" for i in range(5)] + [("##" if i % 3 else "") + f"w{i}" for i in range(5, V)]
    cont = continuation_table(tokens)
    masker = Masker(MaskingConfig(whole_word=True), V, MASK, SPECIAL, cont)
    rng = np.random.default_rng(1)
    ids = _batch(rng, B=1500)
    selected = cand = 0
    for row in ids:
        _, labels = masker(row, rng)
        picked = labels != IGNORE
        assert not np.isin(row[picked], SPECIAL).any()
        real = np.flatnonzero(~np.isin(row, SPECIAL))
        for j in real[1:]:
            if cont[row[j]] and not np.isin(row[j - 1], SPECIAL):
                assert picked[j] == picked[j - 1], "a word was split by the mask"
        selected += picked.sum()
        cand += len(real)
    assert abs(selected / cand - 0.15) < 0.005


def _synthetic_corpus(tmp_path, n_docs=400, seed=0):
    rng = np.random.default_rng(seed)
    docs = [[rng.integers(5, V, size=rng.integers(3, 40)) for _ in range(rng.integers(1, 30))] for _ in range(n_docs)]
    write_token_corpus(tmp_path, {"train": docs, "eval": docs[:5]}, V)
    return TokenCorpus(tmp_path, "train")


def test_nsp_examples(tmp_path):
    corpus = _synthetic_corpus(tmp_path)
    masker = Masker(MaskingConfig(), V, MASK, SPECIAL)
    stream = ExampleStream(corpus, ExampleConfig(max_seq_length=64, seed=3), masker, CLS, SEP)
    labels, lengths = [], []
    it = stream.instances()
    for _ in range(20000):
        epoch, i, inst = next(it)
        ids = inst.ids
        assert len(ids) <= 64 and ids[0] == CLS and ids[-1] == SEP and ids[inst.len_a - 1] == SEP
        assert inst.len_a >= 3 and len(ids) - inst.len_a >= 2  # both segments non-empty
        labels.append(inst.next_label)
        lengths.append(len(ids))
    rate = np.mean(labels)
    assert abs(rate - 0.5) < 0.02, rate
    assert np.mean(np.array(lengths) < 40) > 0.05  # short sequences exist


def test_stream_is_a_function_of_position(tmp_path):
    corpus = _synthetic_corpus(tmp_path, n_docs=50)
    stream = ExampleStream(corpus, ExampleConfig(max_seq_length=32), Masker(MaskingConfig(), V, MASK, SPECIAL), CLS, SEP)
    it = stream.instances()
    first = [next(it) for _ in range(700)]  # crosses into epoch 1
    assert first[-1][0] == 1
    e, i, _ = first[450]
    again = stream.instances(e, i)
    for (e1, i1, a), (e2, i2, b) in zip(first[450:], again):
        assert (e1, i1) == (e2, i2) and np.array_equal(a.ids, b.ids)
        assert np.array_equal(stream.mask(a, e1)["input_ids"], stream.mask(b, e2)["input_ids"])
    # dynamic masking: an epoch-1 mask differs from the epoch-0 mask of the same instance
    static = ExampleStream(corpus, ExampleConfig(max_seq_length=32, dynamic_masking=False),
                           stream.masker, CLS, SEP)
    a0 = static.doc_instances(3, 0)[0]
    a1 = static.doc_instances(3, 1)[0]
    assert np.array_equal(static.mask(a0, 0)["labels"], static.mask(a1, 1)["labels"])
    d0 = stream.doc_instances(3, 0)[0]
    masks = {stream.mask(d0, e)["labels"].tobytes() for e in range(5)}
    assert len(masks) > 1


def test_packed_without_nsp(tmp_path):
    corpus = _synthetic_corpus(tmp_path, n_docs=30)
    stream = ExampleStream(corpus, ExampleConfig(max_seq_length=48, nsp=False), Masker(MaskingConfig(), V, MASK, SPECIAL), CLS, SEP)
    n_tok = 0
    for d in range(len(corpus)):
        for inst in stream.doc_instances(d, 0):
            assert inst.ids[0] == CLS and inst.ids[-1] == SEP and len(inst.ids) <= 48 and inst.next_label == IGNORE
            n_tok += len(inst.ids) - 2
    assert n_tok == sum(len(s) for d in range(len(corpus)) for s in corpus.doc(d))  # nothing lost
    batch = collate([stream.mask(i, 0) for i in stream.doc_instances(0, 0)], PAD, nsp=False)
    assert batch["input_ids"].shape == batch["labels"].shape and "next_sentence_label" not in batch
    assert (batch["labels"][batch["attention_mask"] == 0] == IGNORE).all()
