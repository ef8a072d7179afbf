"""Parity with `transformers` on random tiny models: every head, outputs, losses and gradients.

Each test builds a seeded random model in `transformers` (eager attention, so attention weights are
returned), perturbs every weight so that biases and LayerNorm parameters are not at their trivial init,
copies the weights into bertkit with `checkpoint.load_state`, and compares in float32, eval mode:

- hidden states at real positions on the unpadded path (padding there is zeros), and everywhere on the
  padded path (`model.unpad = False`);
- pooler output, attention weights, logits, losses;
- the gradient of every parameter after `loss.backward()`, compared in the Hugging Face layout
  (our fused QKV gradient split into query/key/value through `ours_to_hf`; the tied decoder's
  contribution is part of the word-embedding gradient on both sides).

Deliberate differences, tested as such: bertkit's MLM heads decode only the scored positions when labels
are given; BertForPreTraining gives a loss with either kind of label; QA gives padding the lowest logit.
"""
from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

from bertkit import BertConfig  # noqa: E402
from bertkit.checkpoint import load_state, ours_to_hf  # noqa: E402
from bertkit.models import HEADS  # noqa: E402

TOL = 1e-5

# (name, config): different depths, widths, head counts, odd FFN sizes, vocabularies, position tables,
# segment vocabularies, activations, LayerNorm eps and pad ids.
SHAPES = {
    "L1-H32-A2": dict(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=37,
                      vocab_size=99, max_position_embeddings=24, type_vocab_size=2, hidden_act="gelu"),
    "L2-H64-A4": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128,
                      vocab_size=211, max_position_embeddings=40, type_vocab_size=3, hidden_act="gelu_new"),
    "L3-H48-A6": dict(num_hidden_layers=3, hidden_size=48, num_attention_heads=6, intermediate_size=96,
                      vocab_size=150, max_position_embeddings=16, type_vocab_size=2, hidden_act="gelu",
                      layer_norm_eps=1e-5, pad_token_id=1),
}
SEQLEN = 12  # within every shape's max_position_embeddings
LENGTHS = (12, 7, 2, 10)  # one row without padding, one with only 2 real tokens


def hf_config(shape: str, **extra) -> "transformers.BertConfig":
    return transformers.BertConfig(**SHAPES[shape], attn_implementation="eager", **extra)


def build(head: str, shape: str, seed: int = 0, **extra):
    """A random HF model and the bertkit model holding the same weights, both in eval mode."""
    hc = hf_config(shape, **extra)
    torch.manual_seed(seed)
    hf = getattr(transformers, head)(hc)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in hf.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.2 * noise)
            else:
                p.copy_(0.1 * noise)
    hf.eval()
    ours = HEADS[head](BertConfig.from_dict(hc.to_dict())).eval()
    load_state(ours, hf.state_dict())
    return hf, ours


def batch(shape: str, seed: int = 0):
    """A right-padded batch of mixed lengths with both segments in every row of 4+ tokens."""
    cfg = SHAPES[shape]
    g = torch.Generator().manual_seed(100 + seed)
    pad = cfg.get("pad_token_id", 0)
    B, T = len(LENGTHS), SEQLEN
    lengths = torch.tensor(LENGTHS)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()  # (B, T)
    ids = torch.randint(0, cfg["vocab_size"], (B, T), generator=g)
    ids[ids == pad] = pad + 1  # real tokens are not the pad id
    ids = ids.masked_fill(mask == 0, pad)
    types = torch.zeros(B, T, dtype=torch.long)
    for b, n in enumerate(LENGTHS):
        types[b, n // 2:n] = 1  # second segment: the second half of the real tokens
    return dict(input_ids=ids, attention_mask=mask, token_type_ids=types)


def assert_close(ours: torch.Tensor, theirs: torch.Tensor, what: str, tol: float = TOL) -> None:
    assert ours.shape == theirs.shape, f"{what}: shape {tuple(ours.shape)} vs {tuple(theirs.shape)}"
    diff = (ours.detach().float() - theirs.detach().float()).abs().max().item() if ours.numel() else 0.0
    assert diff <= tol, f"{what}: max abs diff {diff:.3g} > {tol}"


def assert_real_close(ours: torch.Tensor, theirs: torch.Tensor, mask: torch.Tensor, what: str,
                      unpad: bool) -> None:
    """(B, T, ...) tensors: equal at real positions; on the padded path also at padding; on the unpadded
    path padding is zeros."""
    real = mask.bool()
    if unpad:
        assert_close(ours[real], theirs[real], what + " (real positions)")
        assert ours[~real].abs().max().item() == 0.0, f"{what}: padding positions are not zeros"
    else:
        assert_close(ours, theirs, what)


def grads_hf_layout(model) -> dict[str, torch.Tensor]:
    grads = {}
    for name, p in model.named_parameters():
        assert p.grad is not None, f"bertkit parameter {name} has no gradient"
        grads[name] = p.grad
    return ours_to_hf(grads, model)


def assert_grads_close(ours, hf, base: bool = False, tol: float = TOL) -> None:
    """Every parameter's gradient, in HF names: our fused QKV grad splits into query/key/value rows."""
    mine = grads_hf_layout(ours)
    theirs = {}
    for name, p in hf.named_parameters():
        assert p.grad is not None, f"transformers parameter {name} has no gradient"
        theirs[name] = p.grad
    assert sorted(mine) == sorted(theirs)
    for name in theirs:
        assert_close(mine[name], theirs[name], f"grad {name}", tol)


def mlm_labels(inputs, vocab: int, seed: int = 0) -> torch.Tensor:
    """Labels at ~40% of the real positions (at least one per row), -100 elsewhere and at padding."""
    g = torch.Generator().manual_seed(200 + seed)
    mask = inputs["attention_mask"].bool()
    picked = (torch.rand(mask.shape, generator=g) < 0.4) & mask
    picked[:, 1] = True  # every row has >= 2 real tokens
    labels = torch.randint(0, vocab, mask.shape, generator=g)
    return labels.masked_fill(~picked, -100)


@pytest.fixture(params=list(SHAPES))
def shape(request) -> str:
    return request.param


@pytest.fixture(params=[True, False], ids=["unpad", "padded"])
def unpad(request) -> bool:
    return request.param


# -- BertModel --------------------------------------------------------------------------------------

def test_base_model_hidden_states_and_pooler(shape, unpad):
    hf, ours = build("BertModel", shape)
    ours.unpad = unpad
    inputs = batch(shape)
    with torch.no_grad():
        theirs = hf(**inputs, output_hidden_states=True)
        mine = ours(**inputs, output_hidden_states=True)
    mask = inputs["attention_mask"]
    assert_real_close(mine.last_hidden_state, theirs.last_hidden_state, mask, "last_hidden_state", unpad)
    assert len(mine.hidden_states) == len(theirs.hidden_states) == SHAPES[shape]["num_hidden_layers"] + 1
    for i, (a, b) in enumerate(zip(mine.hidden_states, theirs.hidden_states)):
        assert_real_close(a, b, mask, f"hidden_states[{i}]", unpad)
    assert_close(mine.pooler_output, theirs.pooler_output, "pooler_output")
    assert mine.attentions is None


def test_base_model_attentions(shape, unpad):
    hf, ours = build("BertModel", shape)
    ours.unpad = unpad
    inputs = batch(shape)
    with torch.no_grad():
        theirs = hf(**inputs, output_attentions=True, output_hidden_states=True)
        mine = ours(**inputs, output_attentions=True, output_hidden_states=True)
    assert len(theirs.attentions) == SHAPES[shape]["num_hidden_layers"], "oracle returned no attentions"
    assert len(mine.attentions) == len(theirs.attentions)
    B, T = inputs["input_ids"].shape
    H = SHAPES[shape]["num_attention_heads"]
    for i, (a, b) in enumerate(zip(mine.attentions, theirs.attentions)):
        assert a.shape == (B, H, T, T)
        assert_close(a, b, f"attentions[{i}]")
        # no weight on padding keys, and every row sums to one
        assert a[..., inputs["attention_mask"][:, None, None, :].expand_as(a) == 0].abs().max() == 0
        assert_close(a.sum(-1), torch.ones(B, H, T), f"attentions[{i}] row sums")
    # attention maps are computed on the padded grid: hidden states then match everywhere
    assert_close(mine.last_hidden_state, theirs.last_hidden_state, "last_hidden_state")
    assert_close(mine.pooler_output, theirs.pooler_output, "pooler_output")


@pytest.mark.parametrize("mask_kind", ["none", "all-ones"])
def test_base_model_without_padding(mask_kind):
    shape = "L2-H64-A4"
    hf, ours = build("BertModel", shape)
    inputs = batch(shape)
    inputs["attention_mask"] = None if mask_kind == "none" else torch.ones_like(inputs["input_ids"])
    inputs["input_ids"] = inputs["input_ids"].clamp(min=2)
    with torch.no_grad():
        theirs, mine = hf(**inputs), ours(**inputs)
    assert_close(mine.last_hidden_state, theirs.last_hidden_state, "last_hidden_state")
    assert_close(mine.pooler_output, theirs.pooler_output, "pooler_output")


def test_base_model_gradients(shape, unpad):
    hf, ours = build("BertModel", shape)
    ours.unpad = unpad
    inputs = batch(shape)
    mask = inputs["attention_mask"]
    g = torch.Generator().manual_seed(7)
    C = SHAPES[shape]["hidden_size"]
    w_tok = torch.randn(*mask.shape, C, generator=g) * mask[..., None]  # zero weight at padding
    w_pool = torch.randn(mask.shape[0], C, generator=g)

    def loss_of(out):
        # a mean-sized scalar, like a real loss, so gradients are O(1) and an absolute tolerance means something
        return (out.last_hidden_state * w_tok).sum() / w_tok.numel() + (out.pooler_output * w_pool).mean()

    loss_of(hf(**inputs)).backward()
    loss_of(ours(**inputs)).backward()
    assert_grads_close(ours, hf, base=True)


# -- BertForPreTraining -----------------------------------------------------------------------------

def test_pretraining_logits_without_labels(shape, unpad):
    hf, ours = build("BertForPreTraining", shape)
    ours.bert.unpad = unpad
    inputs = batch(shape)
    with torch.no_grad():
        theirs, mine = hf(**inputs), ours(**inputs)
    assert mine.loss is None
    B, T = inputs["input_ids"].shape
    assert mine.prediction_logits.shape == (B, T, SHAPES[shape]["vocab_size"])
    real = inputs["attention_mask"].bool()
    assert_close(mine.prediction_logits[real], theirs.prediction_logits[real], "prediction_logits")
    if not unpad:
        assert_close(mine.prediction_logits, theirs.prediction_logits, "prediction_logits (all)")
    assert_close(mine.seq_relationship_logits, theirs.seq_relationship_logits, "seq_relationship_logits")


def test_pretraining_loss_logits_and_gradients(shape, unpad):
    hf, ours = build("BertForPreTraining", shape)
    ours.bert.unpad = unpad
    inputs = batch(shape)
    labels = mlm_labels(inputs, SHAPES[shape]["vocab_size"])
    nsp = torch.tensor([0, 1, 1, 0])
    theirs = hf(**inputs, labels=labels, next_sentence_label=nsp)
    mine = ours(**inputs, labels=labels, next_sentence_label=nsp)
    picked = labels != -100
    assert mine.prediction_logits.shape == (int(picked.sum()), SHAPES[shape]["vocab_size"])
    assert_close(mine.prediction_logits, theirs.prediction_logits[picked], "prediction_logits (scored)")
    assert_close(mine.seq_relationship_logits, theirs.seq_relationship_logits, "seq_relationship_logits")
    assert_close(mine.loss, theirs.loss, "loss")
    V = SHAPES[shape]["vocab_size"]
    hf_mlm = torch.nn.functional.cross_entropy(theirs.prediction_logits.view(-1, V), labels.view(-1))
    hf_nsp = torch.nn.functional.cross_entropy(theirs.seq_relationship_logits, nsp)
    assert_close(mine.mlm_loss, hf_mlm, "mlm_loss")
    assert_close(mine.nsp_loss, hf_nsp, "nsp_loss")
    theirs.loss.backward()
    mine.loss.backward()
    assert_grads_close(ours, hf)


def test_pretraining_partial_labels():
    """bertkit returns a loss with only one of the two label kinds (transformers needs both)."""
    shape = "L1-H32-A2"
    hf, ours = build("BertForPreTraining", shape)
    inputs = batch(shape)
    V = SHAPES[shape]["vocab_size"]
    labels = mlm_labels(inputs, V)
    nsp = torch.tensor([1, 0, 1, 0])
    with torch.no_grad():
        theirs = hf(**inputs)
        only_mlm = ours(**inputs, labels=labels)
        only_nsp = ours(**inputs, next_sentence_label=nsp)
    hf_mlm = torch.nn.functional.cross_entropy(theirs.prediction_logits.view(-1, V), labels.view(-1))
    hf_nsp = torch.nn.functional.cross_entropy(theirs.seq_relationship_logits, nsp)
    assert_close(only_mlm.loss, hf_mlm, "loss with labels only")
    assert only_mlm.nsp_loss is None
    assert_close(only_nsp.loss, hf_nsp, "loss with next_sentence_label only")
    assert only_nsp.mlm_loss is None


# -- BertForMaskedLM --------------------------------------------------------------------------------

def test_masked_lm_logits_without_labels(shape, unpad):
    hf, ours = build("BertForMaskedLM", shape)
    ours.bert.unpad = unpad
    inputs = batch(shape)
    with torch.no_grad():
        theirs, mine = hf(**inputs), ours(**inputs)
    assert mine.loss is None
    real = inputs["attention_mask"].bool()
    assert mine.logits.shape == theirs.logits.shape
    assert_close(mine.logits[real], theirs.logits[real], "logits")
    if not unpad:
        assert_close(mine.logits, theirs.logits, "logits (all)")


def test_masked_lm_loss_logits_and_gradients(shape, unpad):
    hf, ours = build("BertForMaskedLM", shape)
    ours.bert.unpad = unpad
    inputs = batch(shape, seed=1)
    labels = mlm_labels(inputs, SHAPES[shape]["vocab_size"], seed=1)
    theirs = hf(**inputs, labels=labels)
    mine = ours(**inputs, labels=labels)
    picked = labels != -100
    assert_close(mine.logits, theirs.logits[picked], "logits (scored)")
    assert_close(mine.loss, theirs.loss, "loss")
    theirs.loss.backward()
    mine.loss.backward()
    assert_grads_close(ours, hf)


# -- BertForSequenceClassification ------------------------------------------------------------------

def _seqcls_labels(kind: str):
    g = torch.Generator().manual_seed(300)
    B = len(LENGTHS)
    if kind == "single":
        return dict(num_labels=3), torch.tensor([2, 0, 1, 2])
    if kind == "multi":
        return dict(num_labels=4), (torch.rand(B, 4, generator=g) < 0.5).float()
    if kind == "regression":
        return dict(num_labels=1), torch.randn(B, generator=g)
    if kind == "regression-multi":  # explicit problem_type, several outputs
        return dict(num_labels=2, problem_type="regression"), torch.randn(B, 2, generator=g)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["single", "multi", "regression", "regression-multi"])
def test_sequence_classification(shape, unpad, kind):
    extra, labels = _seqcls_labels(kind)
    hf, ours = build("BertForSequenceClassification", shape, **extra)
    ours.bert.unpad = unpad
    assert ours.num_labels == hf.num_labels == extra["num_labels"]
    inputs = batch(shape)
    theirs = hf(**inputs, labels=labels)
    mine = ours(**inputs, labels=labels)
    assert ours.config.problem_type == hf.config.problem_type
    assert_close(mine.logits, theirs.logits, "logits")
    assert_close(mine.loss, theirs.loss, "loss")
    theirs.loss.backward()
    mine.loss.backward()
    assert_grads_close(ours, hf)


# -- BertForTokenClassification ---------------------------------------------------------------------

def test_token_classification(shape, unpad):
    num_labels = 5
    hf, ours = build("BertForTokenClassification", shape, num_labels=num_labels)
    ours.bert.unpad = unpad
    inputs = batch(shape)
    g = torch.Generator().manual_seed(400)
    mask = inputs["attention_mask"].bool()
    labels = torch.randint(0, num_labels, mask.shape, generator=g).masked_fill(~mask, -100)
    labels[0, 3] = -100  # an ignored real position (a sub-word continuation)
    if not unpad:
        with torch.no_grad():
            assert_close(ours(**inputs).logits, hf(**inputs).logits, "logits (all positions, no labels)")
    theirs = hf(**inputs, labels=labels)
    mine = ours(**inputs, labels=labels)
    assert mine.logits.shape == theirs.logits.shape == (*mask.shape, num_labels)
    assert_close(mine.logits[mask], theirs.logits[mask], "logits (real positions)")
    assert_close(mine.loss, theirs.loss, "loss")
    theirs.loss.backward()
    mine.loss.backward()
    assert_grads_close(ours, hf)


# -- BertForQuestionAnswering -----------------------------------------------------------------------
# A deliberate difference: bertkit gives padding positions the lowest logit, so they take no part in the
# span softmax (the loss is then the same with or without unpadding); transformers does not mask them.
# The oracle loss is therefore transformers' own logits with padding masked the same way, through the
# same clamp-and-ignore rule; without padding it is transformers' loss itself.

def masked_qa_loss(start_logits, end_logits, start, end, mask):
    """transformers' QA loss on logits whose padding positions are set to the dtype minimum."""
    lowest = torch.finfo(start_logits.dtype).min
    start_logits = start_logits.masked_fill(mask == 0, lowest)
    end_logits = end_logits.masked_fill(mask == 0, lowest)
    T = start_logits.size(1)
    ce = torch.nn.functional.cross_entropy
    return (ce(start_logits, start.clamp(0, T), ignore_index=T) + ce(end_logits, end.clamp(0, T), ignore_index=T)) / 2


def qa_positions(T: int):
    # row 1: an answer beyond the sequence (cut off by truncation) must be ignored; row 3: far beyond
    return torch.tensor([3, T + 3, 1, 1000]), torch.tensor([5, T + 5, 1, 1001])


def test_question_answering(shape, unpad):
    hf, ours = build("BertForQuestionAnswering", shape)
    ours.bert.unpad = unpad
    inputs = batch(shape)
    T = inputs["input_ids"].shape[1]
    start, end = qa_positions(T)
    theirs = hf(**inputs)
    mine = ours(**inputs, start_positions=start, end_positions=end)
    mask = inputs["attention_mask"].bool()
    assert mine.start_logits.shape == mine.end_logits.shape == mask.shape
    assert_close(mine.start_logits[mask], theirs.start_logits[mask], "start_logits (real positions)")
    assert_close(mine.end_logits[mask], theirs.end_logits[mask], "end_logits (real positions)")
    lowest = torch.finfo(torch.float32).min
    assert (mine.start_logits[~mask] == lowest).all() and (mine.end_logits[~mask] == lowest).all()
    oracle = masked_qa_loss(theirs.start_logits, theirs.end_logits, start, end, inputs["attention_mask"])
    assert torch.isfinite(oracle)
    assert_close(mine.loss, oracle, "loss")
    oracle.backward()
    mine.loss.backward()
    assert_grads_close(ours, hf)


@pytest.mark.parametrize("mask_kind", ["none", "all-ones"])
def test_question_answering_without_padding_is_transformers_loss(shape, mask_kind):
    hf, ours = build("BertForQuestionAnswering", shape)
    inputs = batch(shape)
    inputs["input_ids"] = inputs["input_ids"].clamp(min=2)
    inputs["attention_mask"] = None if mask_kind == "none" else torch.ones_like(inputs["input_ids"])
    start, end = qa_positions(inputs["input_ids"].shape[1])
    theirs = hf(**inputs, start_positions=start, end_positions=end)
    mine = ours(**inputs, start_positions=start, end_positions=end)
    assert_close(mine.start_logits, theirs.start_logits, "start_logits")
    assert_close(mine.end_logits, theirs.end_logits, "end_logits")
    assert_close(mine.loss, theirs.loss, "loss")
    theirs.loss.backward()
    mine.loss.backward()
    assert_grads_close(ours, hf)


def test_question_answering_all_answers_outside():
    """Every answer cut off: nothing to score, on both sides (a nan mean over zero terms)."""
    shape = "L1-H32-A2"
    hf, ours = build("BertForQuestionAnswering", shape)
    inputs = batch(shape)
    T = inputs["input_ids"].shape[1]
    pos = torch.full((len(LENGTHS),), T + 1)
    with torch.no_grad():
        theirs = hf(**inputs, start_positions=pos, end_positions=pos)
        mine = ours(**inputs, start_positions=pos, end_positions=pos)
    assert torch.isnan(theirs.loss) and torch.isnan(mine.loss)


# -- every head: hidden states and attentions pass through -------------------------------------------

@pytest.mark.parametrize("head", [h for h in HEADS if h != "BertModel"])
def test_heads_pass_hidden_states_and_attentions(head):
    shape = "L2-H64-A4"
    hf, ours = build(head, shape)
    inputs = batch(shape)
    with torch.no_grad():
        theirs = hf(**inputs, output_hidden_states=True, output_attentions=True)
        mine = ours(**inputs, output_hidden_states=True, output_attentions=True)
    assert len(mine.hidden_states) == len(theirs.hidden_states) == 3
    for i, (a, b) in enumerate(zip(mine.hidden_states, theirs.hidden_states)):
        assert_close(a, b, f"{head} hidden_states[{i}]")
    assert len(mine.attentions) == len(theirs.attentions) == 2
    for i, (a, b) in enumerate(zip(mine.attentions, theirs.attentions)):
        assert_close(a, b, f"{head} attentions[{i}]")
