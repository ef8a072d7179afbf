"""`tokenizer.pad` against transformers' own, and under transformers' DataCollatorWithPadding (which calls
it): the same padded ids, masks and types, on both sides, with and without pad_to_multiple_of."""
from __future__ import annotations

import pytest

transformers = pytest.importorskip("transformers")

from bertkit.tokenization import BertTokenizer  # noqa: E402

TEXTS = ["A short one.", "A somewhat longer second sentence, with a comma.", "Three", ""]
PAIRS = ["its pair", "", "another pair here", "x"]


@pytest.fixture(scope="module")
def both(minilm_dir):
    return transformers.AutoTokenizer.from_pretrained(minilm_dir), minilm_dir


@pytest.mark.parametrize("engine", ["fast", "python"])
@pytest.mark.parametrize("options", [{}, {"pad_to_multiple_of": 8}, {"padding": "max_length", "max_length": 24},
                                     {"padding_side": "left"}, {"return_attention_mask": False},
                                     {"padding": False}])
def test_pad_matches_transformers(both, engine, options):
    ref, folder = both
    tok = BertTokenizer.from_pretrained(folder, engine=engine)
    features = [dict(tok(t, p, return_special_tokens_mask=True)) for t, p in zip(TEXTS, PAIRS)]
    for f in features:
        f.pop("attention_mask")  # pad() makes it
    want = ref.pad([dict(f) for f in features], **options)
    got = tok.pad([dict(f) for f in features], **options)
    assert dict(got) == dict(want)
    one = dict(tok(TEXTS[1]))  # a single example (a dict of flat lists)
    assert dict(tok.pad(one, padding="max_length", max_length=20)) == dict(ref.pad(one, padding="max_length",
                                                                                   max_length=20))


def test_data_collator_with_padding_takes_the_tokenizer(both):
    ref, folder = both
    tok = BertTokenizer.from_pretrained(folder)
    features = [{**tok(t), "label": i % 2} for i, t in enumerate(TEXTS)]
    want = transformers.DataCollatorWithPadding(ref, pad_to_multiple_of=4)([dict(f) for f in features])
    got = transformers.DataCollatorWithPadding(tok, pad_to_multiple_of=4)([dict(f) for f in features])
    assert set(got) == set(want)
    for key in want:
        assert got[key].tolist() == want[key].tolist(), key
