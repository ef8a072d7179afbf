"""The pretraining objectives on the one loop: ALBERT (MLM + sentence-order prediction) and ELECTRA
(replaced-token detection). Each objective's loss equals one computed with `transformers`' models on the
same batch (for ELECTRA, with the same generator samples); each run resumes exactly after a stop; each
exported folder loads in `transformers` to the same numbers."""
import json

import pytest
import torch
from _loop_util import StopAfter

pytestmark = pytest.mark.usefixtures("keep_threads")  # pretrain() sets the thread count

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 64}


def _electra_pair(seed=0, vocab=120, embedding_size=16, fraction=0.5):
    from bertkit.config import ElectraConfig
    from bertkit.train.pretrain import electra_pair
    torch.manual_seed(seed)
    config = ElectraConfig(vocab_size=vocab, embedding_size=embedding_size, hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=4, intermediate_size=48, max_position_embeddings=24,
                           hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return electra_pair(config, fraction)


def _masked_batch(vocab=120, seed=1):
    g = torch.Generator().manual_seed(seed)
    lengths = [12, 7, 10]
    ids = torch.randint(5, vocab, (3, 12), generator=g)
    mask = torch.zeros(3, 12, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    ids[mask == 0] = 0
    labels = torch.full_like(ids, -100)
    pick = (torch.rand(3, 12, generator=g) < 0.3) & mask.bool()
    pick[:, 0] = False
    pick[0, 3] = True
    labels[pick] = ids[pick]
    masked = ids.clone()
    masked[pick] = 4  # [MASK]
    return {"input_ids": masked, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids), "labels": labels}


def test_electra_loss_equals_transformers_two_models_on_the_same_samples(tmp_path):
    """MLM(generator) + 50 × BCE(discriminator over real tokens), with our samples fed to transformers'
    ElectraForMaskedLM and ElectraForPreTraining loaded from our exported folders."""
    transformers = pytest.importorskip("transformers")
    pair = _electra_pair().eval()
    batch = _masked_batch()
    out = pair(**batch, sampler=torch.Generator().manual_seed(3))
    pair.generator.save_pretrained(tmp_path / "g")
    pair.discriminator.save_pretrained(tmp_path / "d")
    gen = transformers.ElectraForMaskedLM.from_pretrained(tmp_path / "g").eval()
    disc = transformers.ElectraForPreTraining.from_pretrained(tmp_path / "d").eval()
    with torch.no_grad():
        g = gen(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                token_type_ids=batch["token_type_ids"], labels=batch["labels"])
        scored = batch["labels"] != -100
        corrupted = batch["input_ids"].clone()
        corrupted[scored] = out.sampled
        replaced = (corrupted != torch.where(scored, batch["labels"], corrupted)).long()
        d = disc(input_ids=corrupted, attention_mask=batch["attention_mask"],
                 token_type_ids=batch["token_type_ids"], labels=replaced)
    assert torch.equal(out.replaced, replaced)
    torch.testing.assert_close(out.mlm_loss, g.loss, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.rtd_loss, d.loss, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.loss, g.loss + 50 * d.loss, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(out.mlm_logits, g.logits[scored], atol=1e-5, rtol=1e-5)


def test_electra_shares_embeddings_and_samples_from_its_own_generator():
    pair = _electra_pair()
    ge, de = pair.generator.base_model.embeddings, pair.discriminator.base_model.embeddings
    assert ge.word is de.word and ge.position is de.position and ge.norm is de.norm
    assert pair.generator.config.hidden_size == 16 and pair.discriminator.config.hidden_size == 32
    n_params = sum(p.numel() for p in pair.parameters())  # shared tables counted once
    assert n_params == sum(p.numel() for p in pair.discriminator.parameters()) + \
        sum(p.numel() for n, p in pair.generator.named_parameters() if ".embeddings." not in f".{n}" or "project" in n)
    batch = _masked_batch()
    a = pair(**batch, sampler=torch.Generator().manual_seed(5)).sampled
    b = pair(**batch, sampler=torch.Generator().manual_seed(5)).sampled
    assert torch.equal(a, b)


def _args(shards, vocab, out, config, **kw):
    from bertkit.train.pretrain_args import PretrainArgs
    values = dict(data=str(shards), vocab=str(vocab), config=config, out=str(out), max_seq_length=32,
                  batch_size=8, steps=6, dtype="fp32", lr=1e-3, eval_examples=16, eval_every=3, save_every=0,
                  log_every=1, threads=1, no_progress=True)
    values.update(kw)
    return PretrainArgs(**values)


def _rows(out):
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().split("\n") if x.strip()]


def _resume_is_exact(args, tmp_path, monkeypatch, N=3):
    from safetensors.torch import load_file

    from bertkit.train import loop as loop_mod
    from bertkit.train import pretrain as pretrain_mod
    monkeypatch.setattr(pretrain_mod, "matmul_peak", lambda *a: 1e12)
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    pretrain_mod.pretrain(args(straight))
    with monkeypatch.context() as m:
        m.setattr(loop_mod, "_Signals", StopAfter(loop_mod._Signals, N))
        with pytest.raises(SystemExit):
            pretrain_mod.pretrain(args(stopped))
    assert torch.load(stopped / "checkpoint.pt", weights_only=True)["step"] == N
    # --resume alone: every option of the run comes from its args.json
    from bertkit.train.pretrain_args import PretrainArgs
    pretrain_mod.pretrain(PretrainArgs(out=str(stopped), resume=True, threads=1, no_progress=True))
    keep = ("step", "loss", "mlm_loss", "sop_loss", "rtd_loss", "rtd_acc", "grad_norm", "eval_mlm_loss",
            "eval_mlm_acc", "eval_sop_acc", "eval_rtd_acc")
    rows = [[{k: r[k] for k in keep if k in r} for r in _rows(o)] for o in (straight, stopped)]
    assert rows[0] == rows[1] and len(rows[0]) > 2 * N
    for name in ("model", "generator"):
        if (straight / name).exists():
            wa, wb = load_file(straight / name / "model.safetensors"), load_file(stopped / name / "model.safetensors")
            assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    return straight


@pytest.fixture(scope="module")
def bert_shards(pretrain_text, pretrain_vocab, tmp_path_factory):
    from bertkit.data.corpus import PrepareConfig, prepare_corpus
    return prepare_corpus([pretrain_text], pretrain_vocab, tmp_path_factory.mktemp("run") / "shards",
                          PrepareConfig(eval_fraction=0.05, workers=1), progress=False)


def test_electra_run_resumes_exactly_and_exports_both_models(bert_shards, pretrain_vocab, tmp_path, monkeypatch):
    """Stopped after 3 steps and resumed: losses, RTD accuracies, held-out scores and both exported models
    are bitwise those of the uninterrupted run (the sampling generator is in the checkpoint). model/ is
    the discriminator, which transformers' ElectraForPreTraining loads to the same logits; generator/
    loads in ElectraForMaskedLM."""
    transformers = pytest.importorskip("transformers")
    config = tmp_path / "electra.json"
    config.write_text(json.dumps({**TINY, "model_type": "electra", "embedding_size": 16}))
    out = _resume_is_exact(lambda o: _args(bert_shards, pretrain_vocab, o, str(config), model_type="electra",
                                           generator_fraction=0.5), tmp_path, monkeypatch)
    rows = _rows(out)
    train = [r for r in rows if "rtd_loss" in r]
    assert train and all(0 <= r["rtd_acc"] <= 1 and r["loss"] == pytest.approx(r["mlm_loss"] + 50 * r["rtd_loss"],
                                                                                 rel=1e-5) for r in train)
    assert [r["step"] for r in rows if "eval_rtd_acc" in r] == [0, 3, 6]
    from bertkit.registry import AutoModelForMaskedLM, AutoModelForPreTraining
    ours = AutoModelForPreTraining.from_pretrained(out / "model").eval()
    theirs = transformers.ElectraForPreTraining.from_pretrained(out / "model").eval()
    ids = torch.tensor([[2, 40, 41, 42, 4, 43, 3]])
    with torch.no_grad():
        torch.testing.assert_close(ours(ids).logits, theirs(ids).logits, atol=1e-5, rtol=1e-5)
    gen = AutoModelForMaskedLM.from_pretrained(out / "generator").eval()
    hf_gen = transformers.ElectraForMaskedLM.from_pretrained(out / "generator").eval()
    assert gen.config.hidden_size == 16 and ours.config.hidden_size == 32
    with torch.no_grad():
        torch.testing.assert_close(gen(ids).logits, hf_gen(ids).logits, atol=1e-5, rtol=1e-5)
    # the two folders hold the same (shared) embedding tables
    from safetensors.torch import load_file
    a, b = load_file(out / "model" / "model.safetensors"), load_file(out / "generator" / "model.safetensors")
    assert torch.equal(a["electra.embeddings.word_embeddings.weight"], b["electra.embeddings.word_embeddings.weight"])


@pytest.fixture(scope="module")
def albert_shards(pretrain_text, albert_spm_dir, tmp_path_factory):
    from bertkit.data.corpus import PrepareConfig, prepare_corpus
    return prepare_corpus([pretrain_text], albert_spm_dir, tmp_path_factory.mktemp("run") / "shards",
                          PrepareConfig(eval_fraction=0.05, workers=1), progress=False)


def test_albert_run_resumes_exactly_and_loads_in_transformers(albert_shards, albert_spm_dir, tmp_path, monkeypatch):
    """MLM + SOP on a SentencePiece vocabulary: resume is bitwise, the held-out SOP accuracy is logged,
    and model/ loads in transformers' AlbertForPreTraining to the same MLM and SOP logits."""
    transformers = pytest.importorskip("transformers")
    config = tmp_path / "albert.json"
    config.write_text(json.dumps({**TINY, "model_type": "albert", "embedding_size": 16, "num_hidden_groups": 1}))
    out = _resume_is_exact(lambda o: _args(albert_shards, albert_spm_dir, o, str(config), model_type="albert"),
                           tmp_path, monkeypatch)
    rows = _rows(out)
    assert all("sop_loss" in r and "nsp_loss" not in r for r in rows if "loss" in r)
    assert all(0 <= r["eval_sop_acc"] <= 1 for r in rows if "eval_mlm_loss" in r)
    from bertkit.registry import AutoModelForPreTraining
    ours = AutoModelForPreTraining.from_pretrained(out / "model").eval()
    theirs = transformers.AlbertForPreTraining.from_pretrained(out / "model").eval()
    ids = torch.tensor([[2, 40, 41, 42, 4, 43, 3, 50, 51, 3]])
    types = torch.tensor([[0] * 7 + [1] * 3])
    with torch.no_grad():
        a, b = ours(ids, token_type_ids=types), theirs(ids, token_type_ids=types)
    torch.testing.assert_close(a.prediction_logits, b.prediction_logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(a.sop_logits, b.sop_logits, atol=1e-5, rtol=1e-5)
