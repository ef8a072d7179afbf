"""The real all-MiniLM-L6-v2 against transformers, on real sentences of mixed length."""
import json
import re

import pytest
import torch

transformers = pytest.importorskip("transformers")

from bertkit import BertModel, BertTokenizer  # noqa: E402
from bertkit.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def sentences(wiki_txt):
    text = wiki_txt.read_text(encoding="utf-8")
    sents = [s.replace("\n", " ") for s in re.split(r"(?<=[.!?])\s+", text) if len(s) > 10]
    picked = sents[::max(1, len(sents) // 240)][:240]
    assert len(picked) >= 200
    lengths = sorted(len(s) for s in picked)
    assert lengths[0] < 60 and lengths[-1] > 300, "want a real mix of short and long sentences"
    return picked


@pytest.fixture(scope="module")
def oracle(minilm_dir):
    return (transformers.AutoTokenizer.from_pretrained(minilm_dir),
            transformers.BertModel.from_pretrained(minilm_dir).eval())


@pytest.mark.slow  # 14 s: 240 real sentences; the tiny-model parity suites stay in the default tier
@torch.no_grad()
def test_last_hidden_state_matches_transformers(minilm_dir, sentences, oracle):
    hf_tok, hf = oracle
    tok = BertTokenizer.from_pretrained(minilm_dir)
    model = BertModel.from_pretrained(minilm_dir)
    worst = 0.0
    for i in range(0, len(sentences), 32):
        chunk = sentences[i:i + 32]
        ours_in = tok(chunk, padding=True, truncation=True, max_length=256, return_tensors="pt")
        hf_in = hf_tok(chunk, padding=True, truncation=True, max_length=256, return_tensors="pt")
        assert torch.equal(ours_in["input_ids"], hf_in["input_ids"])
        real = hf_in["attention_mask"].bool()
        ours = model(**ours_in).last_hidden_state
        theirs = hf(**hf_in).last_hidden_state
        worst = max(worst, (ours - theirs)[real].abs().max().item())
    assert worst <= 2e-5, f"max abs difference {worst}"


@pytest.mark.slow  # 30 s: the real model through the CLI
@torch.no_grad()
def test_embed_command_matches_mean_pooled_transformers(minilm_dir, sentences, oracle, tmp_path):
    hf_tok, hf = oracle
    src = tmp_path / "lines.txt"
    src.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    out = tmp_path / "vecs.jsonl"
    main(["embed", str(src), "--model", str(minilm_dir), "--output", str(out), "--batch-size", "16"])
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in rows] == sentences  # input order survives the length sorting
    ours = torch.tensor([r["embedding"] for r in rows])
    enc = hf_tok(sentences, padding=True, truncation=True, return_tensors="pt")
    hidden, mask = hf(**enc).last_hidden_state, enc["attention_mask"].unsqueeze(-1).float()
    theirs = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)  # sentence-transformers' recipe
    cos = torch.nn.functional.cosine_similarity(ours, theirs, dim=-1)
    assert cos.min().item() >= 0.99999, f"lowest cosine {cos.min().item()}"
