"""Parity with `transformers` on random tiny models: every head of every family, outputs, losses and gradients.

The tests run over the families of families.py (BERT, RoBERTa, DistilBERT, ALBERT), three shapes each. Each
test builds a seeded random model in `transformers` (eager attention, so attention weights are
returned), perturbs every weight so that biases and LayerNorm parameters are not at their trivial init,
copies the weights into bertkit with `checkpoint.load_state`, and compares in float32, eval mode:

- hidden states at real positions on the unpadded path (padding there is zeros), and everywhere on the
  padded path (`model.base_model.unpad = False`);
- pooler output (None for DistilBERT, as in transformers), attention weights, logits, losses;
- the gradient of every parameter after `loss.backward()`, compared in the Hugging Face layout
  (our fused QKV gradient split into query/key/value through `ours_to_hf`; the tied decoder's
  contribution is part of the word-embedding gradient on both sides). DistilBERT's sinusoidal position
  table is fixed in bertkit (no gradient) and left out there.

The fast paths run where the inputs allow them: the unpadded encoder, the sparse last layer under MLM
labels, the [CLS]-only sequence classifier.

Deliberate differences, tested as such: bertkit's MLM heads decode only the scored positions when labels
are given; BertForPreTraining and AlbertForPreTraining give a loss with either kind of label; QA gives
padding the lowest logit.

Family specifics at the end: RoBERTa's position ids (left padding, the position limit, inputs_embeds),
its one segment and its lm_head's gelu; DistilBERT's ignored token_type_ids, sinusoidal table and dropouts;
ALBERT's shared layers (which group each layer runs, the parameter count) and its dropouts.
"""
from __future__ import annotations

import copy

import pytest
import torch

transformers = pytest.importorskip("transformers")

from bertkit import BertkitError  # noqa: E402
from bertkit.checkpoint import load_state, ours_to_hf  # noqa: E402
from families import (FAMILIES, HEAD_CASES, LENGTHS, SEQLEN, SHAPES, head_id, shape_params,  # noqa: E402,F401
                      shapes_of)

pytestmark = pytest.mark.usefixtures("one_thread")

TOL = 1e-5

_BUILT: dict = {}


def perturb(model: torch.nn.Module, seed: int, fixed: tuple[str, ...] = ()) -> None:
    """Move every weight off its trivial init: LayerNorm weights 1 + 0.2·N(0, 1), the rest 0.1·N(0, 1).
    Parameters whose name contains one of `fixed` keep their values (DistilBERT's sinusoidal table)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if any(f in name for f in fixed):
                continue
            if "LayerNorm.weight" in name or "layer_norm.weight" in name:
                p.copy_(1.0 + 0.2 * noise)
            else:
                p.copy_(0.1 * noise)


def fixed_tables(shape) -> tuple[str, ...]:
    return ("position_embeddings",) if getattr(shape.config, "sinusoidal_pos_embds", False) else ()


def build(head: str, shape, seed: int = 0, **extra):
    """A random HF model and the bertkit model holding the same weights, both in eval mode. `head` is the
    class-name suffix ("Model", "ForMaskedLM", ...) in the shape's family. Built once per arguments and
    copied for each test (a test may change the models)."""
    key = (head, str(shape), seed, tuple(sorted(extra.items())))
    if key not in _BUILT:
        fam = shape.family
        hc = shape.hf_config(**extra)
        torch.manual_seed(seed)
        hf = fam.hf_class(head)(hc)
        perturb(hf, seed + 1, fixed_tables(shape))
        hf.eval()
        ours = fam.our_class(head)(fam.config_class.from_dict(hc.to_dict())).eval()
        load_state(ours, hf.state_dict())
        _BUILT[key] = (hf, ours)
    return copy.deepcopy(_BUILT[key])


def batch(shape, seed: int = 0, left: bool = False):
    """A right-padded batch of mixed lengths (or, `left`, the same rows with their padding moved to the
    front). With two or more segments, the second half of every row's real tokens is segment 1; with one
    segment (RoBERTa's) or none (DistilBERT's) there are no token_type_ids, as the family's tokenizers
    give none."""
    g = torch.Generator().manual_seed(100 + seed)
    pad = shape["pad_token_id"]
    B, T = len(LENGTHS), SEQLEN
    lengths = torch.tensor(LENGTHS)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()  # (B, T)
    ids = torch.randint(0, shape["vocab_size"], (B, T), generator=g)
    ids[ids == pad] = pad + 1  # real tokens are not the pad id
    ids = ids.masked_fill(mask == 0, pad)
    out = dict(input_ids=ids, attention_mask=mask)
    if shape.segments > 1:
        types = torch.zeros(B, T, dtype=torch.long)
        for b, n in enumerate(LENGTHS):
            types[b, n // 2:n] = 1  # second segment: the second half of the real tokens
        out["token_type_ids"] = types
    if left:
        out = {k: torch.stack([row.roll(T - n) for row, n in zip(v, LENGTHS)]) for k, v in out.items()}
    return out


def without_padding(shape, inputs):
    """The batch's ids with no pad id among them (the mask is set by the caller)."""
    ids = inputs["input_ids"].clamp(min=2)
    ids[ids == shape["pad_token_id"]] = shape["pad_token_id"] + 1
    return ids


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


def assert_pooler(mine, theirs, shape) -> None:
    if shape.family.pooler:
        assert_close(mine.pooler_output, theirs.pooler_output, "pooler_output")
    else:
        assert mine.pooler_output is None and getattr(theirs, "pooler_output", None) is None


def grads_hf_layout(model) -> dict[str, torch.Tensor]:
    grads = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            assert p.grad is None, f"bertkit parameter {name} is fixed but has a gradient"
            continue
        assert p.grad is not None, f"bertkit parameter {name} has no gradient"
        grads[name] = p.grad
    return ours_to_hf(grads, model)


def frozen_hf_names(model) -> list[str]:
    """The HF names of bertkit's fixed parameters: DistilBERT's sinusoidal table, nothing else."""
    frozen = {n: p for n, p in model.named_parameters() if not p.requires_grad}
    expected = []
    if getattr(model.config, "sinusoidal_pos_embds", False):
        prefix = "" if model.base_model is model else model.base_model_prefix + "."
        expected = [prefix + "embeddings.position_embeddings.weight"]
    names = sorted(ours_to_hf(frozen, model)) if frozen else []
    assert names == expected, f"fixed parameters {names}, expected {expected}"
    return names


def assert_grads_close(ours, hf, base: bool = False, tol: float = TOL) -> None:
    """Every parameter's gradient, in HF names: our fused QKV grad splits into query/key/value rows."""
    mine = grads_hf_layout(ours)
    frozen = frozen_hf_names(ours)
    theirs = {}
    for name, p in hf.named_parameters():
        if name in frozen:  # transformers lets the sinusoidal table train; bertkit keeps it fixed
            continue
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
    first_real = mask.long().argmax(1)  # 0 when right-padded
    picked[torch.arange(mask.shape[0]), first_real + 1] = True  # every row has >= 2 real tokens
    labels = torch.randint(0, vocab, mask.shape, generator=g)
    return labels.masked_fill(~picked, -100)


@pytest.fixture(params=shape_params(SHAPES))
def shape(request):
    return request.param


# the families whose pretraining head has a sentence-level task: BERT's NSP, ALBERT's sentence order
SENTENCE_FAMILIES = [name for name, fam in FAMILIES.items() if fam.sentence_task]


@pytest.fixture(params=shape_params(shapes_of(*SENTENCE_FAMILIES)))
def pretraining_shape(request):
    return request.param


@pytest.fixture(params=shape_params(shapes_of("electra")))
def electra_shape(request):
    return request.param


@pytest.fixture(params=[True, False], ids=["unpad", "padded"])
def unpad(request) -> bool:
    return request.param


# -- the bare encoder -------------------------------------------------------------------------------

def test_base_model_hidden_states_and_pooler(shape, unpad):
    hf, ours = build("Model", shape)
    ours.unpad = unpad
    inputs = batch(shape)
    with torch.no_grad():
        theirs = hf(**inputs, output_hidden_states=True)
        mine = ours(**inputs, output_hidden_states=True)
    mask = inputs["attention_mask"]
    assert_real_close(mine.last_hidden_state, theirs.last_hidden_state, mask, "last_hidden_state", unpad)
    assert len(mine.hidden_states) == len(theirs.hidden_states) == shape.layer_passes + 1
    for i, (a, b) in enumerate(zip(mine.hidden_states, theirs.hidden_states)):
        assert_real_close(a, b, mask, f"hidden_states[{i}]", unpad)
    assert_pooler(mine, theirs, shape)
    assert mine.attentions is None


def test_base_model_attentions(shape, unpad):
    hf, ours = build("Model", shape)
    ours.unpad = unpad
    inputs = batch(shape)
    with torch.no_grad():
        theirs = hf(**inputs, output_attentions=True, output_hidden_states=True)
        mine = ours(**inputs, output_attentions=True, output_hidden_states=True)
    assert len(theirs.attentions) == shape.layer_passes, "oracle returned no attentions"
    assert len(mine.attentions) == len(theirs.attentions)
    B, T = inputs["input_ids"].shape
    H = shape["num_attention_heads"]
    for i, (a, b) in enumerate(zip(mine.attentions, theirs.attentions)):
        assert a.shape == (B, H, T, T)
        assert_close(a, b, f"attentions[{i}]")
        # no weight on padding keys, and every row sums to one
        assert a[..., inputs["attention_mask"][:, None, None, :].expand_as(a) == 0].abs().max() == 0
        assert_close(a.sum(-1), torch.ones(B, H, T), f"attentions[{i}] row sums")
    # attention maps are computed on the padded grid: hidden states then match everywhere
    assert_close(mine.last_hidden_state, theirs.last_hidden_state, "last_hidden_state")
    assert_pooler(mine, theirs, shape)


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("mask_kind", ["none", "all-ones"])
def test_base_model_without_padding(mask_kind, family):
    shape = FAMILIES[family].shape("L2-H64-A4")
    hf, ours = build("Model", shape)
    inputs = batch(shape)
    inputs["attention_mask"] = None if mask_kind == "none" else torch.ones_like(inputs["input_ids"])
    inputs["input_ids"] = without_padding(shape, inputs)
    with torch.no_grad():
        theirs, mine = hf(**inputs), ours(**inputs)
    assert_close(mine.last_hidden_state, theirs.last_hidden_state, "last_hidden_state")
    assert_pooler(mine, theirs, shape)


def test_base_model_gradients(shape, unpad):
    hf, ours = build("Model", shape)
    ours.unpad = unpad
    inputs = batch(shape)
    mask = inputs["attention_mask"]
    g = torch.Generator().manual_seed(7)
    C = shape["hidden_size"]
    w_tok = torch.randn(*mask.shape, C, generator=g) * mask[..., None]  # zero weight at padding
    w_pool = torch.randn(mask.shape[0], C, generator=g)

    def loss_of(out):
        # a mean-sized scalar, like a real loss, so gradients are O(1) and an absolute tolerance means something
        loss = (out.last_hidden_state * w_tok).sum() / w_tok.numel()
        return loss + (out.pooler_output * w_pool).mean() if shape.family.pooler else loss

    loss_of(hf(**inputs)).backward()
    loss_of(ours(**inputs)).backward()
    assert_grads_close(ours, hf, base=True)


# -- ForPreTraining: MLM + NSP (BERT), MLM + SOP (ALBERT) ------------------------------------------
# The sentence-level task is the family's (families.py: sentence_task): BERT's next_sentence_label,
# seq_relationship_logits and nsp_loss; ALBERT's sentence_order_label, sop_logits and sop_loss. The loss
# with both kinds of label is transformers' own (MLM + NSP, MLM + SOP) on the same batch.

def test_pretraining_logits_without_labels(pretraining_shape, unpad):
    shape = pretraining_shape
    _, logits_name, _ = shape.family.sentence_task
    hf, ours = build("ForPreTraining", shape)
    ours.base_model.unpad = unpad
    inputs = batch(shape)
    with torch.no_grad():
        theirs, mine = hf(**inputs), ours(**inputs)
    assert mine.loss is None
    B, T = inputs["input_ids"].shape
    assert mine.prediction_logits.shape == (B, T, shape["vocab_size"])
    real = inputs["attention_mask"].bool()
    assert_close(mine.prediction_logits[real], theirs.prediction_logits[real], "prediction_logits")
    if not unpad:
        assert_close(mine.prediction_logits, theirs.prediction_logits, "prediction_logits (all)")
    assert_close(getattr(mine, logits_name), getattr(theirs, logits_name), logits_name)


def test_pretraining_loss_logits_and_gradients(pretraining_shape, unpad):
    """The pretraining loss (BERT: MLM + NSP; ALBERT: MLM + SOP) equals transformers' on the same batch,
    and so do its parts and every gradient; the last layer runs at the scored positions and [CLS] only."""
    shape = pretraining_shape
    label_name, logits_name, loss_name = shape.family.sentence_task
    hf, ours = build("ForPreTraining", shape)
    ours.base_model.unpad = unpad
    inputs = batch(shape)
    labels = mlm_labels(inputs, shape["vocab_size"])
    nsp = torch.tensor([0, 1, 1, 0])
    theirs = hf(**inputs, labels=labels, **{label_name: nsp})
    mine = ours(**inputs, labels=labels, **{label_name: nsp})
    picked = labels != -100
    assert mine.prediction_logits.shape == (int(picked.sum()), shape["vocab_size"])
    assert_close(mine.prediction_logits, theirs.prediction_logits[picked], "prediction_logits (scored)")
    assert_close(getattr(mine, logits_name), getattr(theirs, logits_name), logits_name)
    assert_close(mine.loss, theirs.loss, "loss")
    V = shape["vocab_size"]
    hf_mlm = torch.nn.functional.cross_entropy(theirs.prediction_logits.view(-1, V), labels.view(-1))
    hf_nsp = torch.nn.functional.cross_entropy(getattr(theirs, logits_name), nsp)
    assert_close(mine.mlm_loss, hf_mlm, "mlm_loss")
    assert_close(getattr(mine, loss_name), hf_nsp, loss_name)
    theirs.loss.backward()
    mine.loss.backward()
    assert_grads_close(ours, hf)


@pytest.mark.parametrize("family", SENTENCE_FAMILIES)
def test_pretraining_partial_labels(family):
    """bertkit returns a loss with only one of the two label kinds (transformers needs both)."""
    shape = FAMILIES[family].shape("L1-H32-A2")
    label_name, logits_name, loss_name = shape.family.sentence_task
    hf, ours = build("ForPreTraining", shape)
    inputs = batch(shape)
    V = shape["vocab_size"]
    labels = mlm_labels(inputs, V)
    nsp = torch.tensor([1, 0, 1, 0])
    with torch.no_grad():
        theirs = hf(**inputs)
        only_mlm = ours(**inputs, labels=labels)
        only_nsp = ours(**inputs, **{label_name: nsp})
    hf_mlm = torch.nn.functional.cross_entropy(theirs.prediction_logits.view(-1, V), labels.view(-1))
    hf_nsp = torch.nn.functional.cross_entropy(getattr(theirs, logits_name), nsp)
    assert_close(only_mlm.loss, hf_mlm, "loss with labels only")
    assert getattr(only_mlm, loss_name) is None
    assert_close(only_nsp.loss, hf_nsp, f"loss with {label_name} only")
    assert only_nsp.mlm_loss is None


# -- ElectraForPreTraining: the discriminator, replaced-token detection ------------------------------

def replaced_labels(inputs, seed: int = 0) -> torch.Tensor:
    """(B, T) 0/1 "replaced" labels: ~30% ones at real positions, and arbitrary values at padding (2 and
    -100, which transformers' loss never reads: the loss is over attention_mask 1 only)."""
    g = torch.Generator().manual_seed(250 + seed)
    mask = inputs["attention_mask"].bool()
    labels = (torch.rand(mask.shape, generator=g) < 0.3).long()
    labels[0, 1] = 1  # at least one replaced token
    labels[~mask] = 2
    labels[-1, -1] = -100
    return labels


def test_discriminator_logits_without_labels(electra_shape, unpad):
    shape = electra_shape
    hf, ours = build("ForPreTraining", shape)
    ours.base_model.unpad = unpad
    inputs = batch(shape)
    with torch.no_grad():
        theirs, mine = hf(**inputs), ours(**inputs)
    assert mine.loss is None
    assert mine.logits.shape == theirs.logits.shape == inputs["input_ids"].shape
    real = inputs["attention_mask"].bool()
    assert_close(mine.logits[real], theirs.logits[real], "logits (real positions)")
    if not unpad:
        assert_close(mine.logits, theirs.logits, "logits (all)")


def test_discriminator_loss_logits_and_gradients(electra_shape, unpad):
    """BCE over the real tokens, as transformers: the labels at padding are never read."""
    shape = electra_shape
    hf, ours = build("ForPreTraining", shape)
    ours.base_model.unpad = unpad
    inputs = batch(shape, seed=1)
    labels = replaced_labels(inputs, seed=1)
    theirs = hf(**inputs, labels=labels)
    mine = ours(**inputs, labels=labels)
    real = inputs["attention_mask"].bool()
    assert_close(mine.logits[real], theirs.logits[real], "logits (real positions)")
    assert_close(mine.loss, theirs.loss, "loss")
    by_hand = torch.nn.functional.binary_cross_entropy_with_logits(theirs.logits[real], labels[real].float())
    assert_close(mine.loss, by_hand, "loss vs BCE over the real tokens")
    theirs.loss.backward()
    mine.loss.backward()
    assert_grads_close(ours, hf)


@pytest.mark.parametrize("mask_kind", ["none", "all-ones"])
def test_discriminator_without_padding_is_transformers_loss(mask_kind):
    shape = FAMILIES["electra"].shape("L1-H32-A2")
    hf, ours = build("ForPreTraining", shape)
    inputs = batch(shape)
    inputs["input_ids"] = without_padding(shape, inputs)
    labels = replaced_labels(inputs).clamp(0, 1)
    inputs["attention_mask"] = None if mask_kind == "none" else torch.ones_like(inputs["input_ids"])
    theirs, mine = hf(**inputs, labels=labels), ours(**inputs, labels=labels)
    assert_close(mine.logits, theirs.logits, "logits")
    assert_close(mine.loss, theirs.loss, "loss")


def test_discriminator_labels_of_another_shape_are_a_clear_error():
    shape = FAMILIES["electra"].shape("L1-H32-A2")
    _, ours = build("ForPreTraining", shape)
    inputs = batch(shape)
    with pytest.raises(BertkitError) as err:
        ours(**inputs, labels=torch.zeros(len(LENGTHS), dtype=torch.long))  # one label per sequence
    msg = str(err.value)
    assert "\n" not in msg and "labels has shape (4,)" in msg and "(4, 12)" in msg and "one label per token" in msg


# -- ForMaskedLM ------------------------------------------------------------------------------------

def test_masked_lm_logits_without_labels(shape, unpad):
    hf, ours = build("ForMaskedLM", shape)
    ours.base_model.unpad = unpad
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
    """With labels the last layer runs at the scored positions only (the sparse path)."""
    hf, ours = build("ForMaskedLM", shape)
    ours.base_model.unpad = unpad
    inputs = batch(shape, seed=1)
    labels = mlm_labels(inputs, shape["vocab_size"], seed=1)
    theirs = hf(**inputs, labels=labels)
    mine = ours(**inputs, labels=labels)
    picked = labels != -100
    assert_close(mine.logits, theirs.logits[picked], "logits (scored)")
    assert_close(mine.loss, theirs.loss, "loss")
    theirs.loss.backward()
    mine.loss.backward()
    assert_grads_close(ours, hf)


# -- ForSequenceClassification ----------------------------------------------------------------------

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
    """The classifier reads [CLS] (<s>) only: the last layer runs there alone (the fast path)."""
    extra, labels = _seqcls_labels(kind)
    hf, ours = build("ForSequenceClassification", shape, **extra)
    ours.base_model.unpad = unpad
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


# -- ForTokenClassification -------------------------------------------------------------------------

def test_token_classification(shape, unpad):
    num_labels = 5
    hf, ours = build("ForTokenClassification", shape, num_labels=num_labels)
    ours.base_model.unpad = unpad
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


# -- ForQuestionAnswering ---------------------------------------------------------------------------
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
    hf, ours = build("ForQuestionAnswering", shape)
    ours.base_model.unpad = unpad
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
    hf, ours = build("ForQuestionAnswering", shape)
    inputs = batch(shape)
    inputs["input_ids"] = without_padding(shape, inputs)
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


@pytest.mark.parametrize("family", list(FAMILIES))
def test_question_answering_all_answers_outside(family):
    """Every answer cut off: nothing to score, on both sides (a nan mean over zero terms)."""
    shape = FAMILIES[family].shape("L1-H32-A2")
    hf, ours = build("ForQuestionAnswering", shape)
    inputs = batch(shape)
    T = inputs["input_ids"].shape[1]
    pos = torch.full((len(LENGTHS),), T + 1)
    with torch.no_grad():
        theirs = hf(**inputs, start_positions=pos, end_positions=pos)
        mine = ours(**inputs, start_positions=pos, end_positions=pos)
    assert torch.isnan(theirs.loss) and torch.isnan(mine.loss)


# -- every head: hidden states and attentions pass through -------------------------------------------

@pytest.mark.parametrize("case", [c for c in HEAD_CASES if c[1] != "Model"], ids=head_id)
def test_heads_pass_hidden_states_and_attentions(case):
    fam, head = case
    shape = fam.shape("L2-H64-A4")
    hf, ours = build(head, shape)
    inputs = batch(shape)
    with torch.no_grad():
        theirs = hf(**inputs, output_hidden_states=True, output_attentions=True)
        mine = ours(**inputs, output_hidden_states=True, output_attentions=True)
    name = fam.name(head)
    assert len(mine.hidden_states) == len(theirs.hidden_states) == 3
    for i, (a, b) in enumerate(zip(mine.hidden_states, theirs.hidden_states)):
        assert_close(a, b, f"{name} hidden_states[{i}]")
    assert len(mine.attentions) == len(theirs.attentions) == 2
    for i, (a, b) in enumerate(zip(mine.attentions, theirs.attentions)):
        assert_close(a, b, f"{name} attentions[{i}]")


# -- RoBERTa: position ids skip padding, one segment, the lm_head's gelu -----------------------------

@pytest.mark.parametrize("rows", ["right", "left", "inside"])
def test_roberta_position_ids_as_transformers(rows):
    """Real tokens count from pad_token_id + 1 wherever padding sits; padding gets pad_token_id."""
    from transformers.models.roberta.modeling_roberta import RobertaEmbeddings
    for shape in shapes_of("roberta"):
        _, ours = build("Model", shape)
        pad = shape["pad_token_id"]
        ids = batch(shape, left=rows == "left")["input_ids"]
        if rows == "inside":
            ids[:, 3] = pad
        theirs = RobertaEmbeddings.create_position_ids_from_input_ids(ids, pad)
        mine = ours.position_ids(ids, *ids.shape, ids.device)
        assert torch.equal(mine, theirs), (str(shape), mine, theirs)
        assert int(mine.max()) <= shape["max_position_embeddings"] - 1


@pytest.mark.parametrize("head", ["Model", "ForMaskedLM", "ForTokenClassification", "ForQuestionAnswering"])
@pytest.mark.parametrize("shape", shapes_of("roberta"), ids=str)
def test_roberta_left_padded_batch_as_transformers(shape, head, unpad):
    """A left-padded batch gives transformers' outputs at real tokens, and the same as the right-padded
    batch of the same sequences (positions skip padding). MLM runs with labels: the sparse last layer.
    (Sequence classification reads position 0, which is padding in a left-padded row, on both sides.)"""
    extra = dict(num_labels=5) if head == "ForTokenClassification" else {}
    hf, ours = build(head, shape, **extra)
    ours.base_model.unpad = unpad
    left, right = batch(shape, left=True), batch(shape)
    real_l, real_r = left["attention_mask"].bool(), right["attention_mask"].bool()
    assert torch.equal(left["input_ids"][real_l], right["input_ids"][real_r])  # the same tokens
    kw_l, kw_r = {}, {}
    if head == "ForMaskedLM":
        kw_r = dict(labels=mlm_labels(right, shape["vocab_size"]))
        labels_l = torch.full_like(left["input_ids"], -100)
        labels_l[real_l] = kw_r["labels"][real_r]
        kw_l = dict(labels=labels_l)
    with torch.no_grad():
        theirs, mine, mine_r = hf(**left, **kw_l), ours(**left, **kw_l), ours(**right, **kw_r)
    if head == "ForMaskedLM":
        pairs = {"logits (scored)": (mine.logits, theirs.logits[kw_l["labels"] != -100], mine_r.logits),
                 "loss": (mine.loss, theirs.loss, mine_r.loss)}
    else:
        names = {"Model": ("last_hidden_state",), "ForTokenClassification": ("logits",),
                 "ForQuestionAnswering": ("start_logits", "end_logits")}[head]
        pairs = {n: (getattr(mine, n)[real_l], getattr(theirs, n)[real_l], getattr(mine_r, n)[real_r]) for n in names}
    for what, (a, b, c) in pairs.items():
        assert_close(a, b, f"{what} (left-padded) vs transformers")
        assert_close(a, c, f"{what}: left- vs right-padded")


def test_roberta_longest_input_and_one_more():
    """max_position_embeddings - pad_token_id - 1 tokens fit; one more is a one-line BertkitError naming
    the limit (transformers would fail with an index error)."""
    shape = FAMILIES["roberta"].shape("L1-H32-A2")  # 14 positions, pad 1: 12 tokens
    assert shape.config.max_sequence_length == 12 == SEQLEN
    hf, ours = build("ForMaskedLM", shape)
    inputs = batch(shape)
    with torch.no_grad():
        assert_close(ours(**inputs).logits[inputs["attention_mask"].bool()],
                     hf(**inputs).logits[inputs["attention_mask"].bool()], "logits at the longest input")
    ids = torch.full((2, 13), 5)
    for kw in (dict(input_ids=ids), dict(inputs_embeds=torch.zeros(2, 13, 32))):
        with pytest.raises(BertkitError) as err:
            ours(**kw)
        msg = str(err.value)
        assert "\n" not in msg and "13" in msg and "12" in msg and "max_position_embeddings 14" in msg, msg
        assert "truncat" in msg, msg
    with pytest.raises((IndexError, RuntimeError)):  # the oracle's index error: ours is the clear one above
        hf(input_ids=ids)


def test_roberta_token_type_one_is_a_clear_error():
    """One segment: token_type_ids of zeros are what leaving them out gives; a 1 is a BertkitError."""
    shape = FAMILIES["roberta"].shape("L1-H32-A2")
    assert shape.segments == 1
    hf, ours = build("ForSequenceClassification", shape)
    inputs = batch(shape)
    zeros = torch.zeros_like(inputs["input_ids"])
    with torch.no_grad():
        plain, with_zeros, theirs = ours(**inputs), ours(**inputs, token_type_ids=zeros), hf(**inputs)
    assert torch.equal(plain.logits, with_zeros.logits)
    assert_close(plain.logits, theirs.logits, "logits")
    ones = zeros.clone()
    ones[:, 5:] = 1
    for model in (ours, ours.base_model):
        with pytest.raises(BertkitError) as err:
            model(**inputs, token_type_ids=ones)
        assert not isinstance(err.value, IndexError)
        msg = str(err.value)
        assert "\n" not in msg and "token_type_ids" in msg and "type_vocab_size is 1" in msg, msg


def test_roberta_lm_head_uses_gelu_whatever_hidden_act():
    """RoBERTa's lm_head applies exact gelu even when hidden_act is gelu_new (transformers does too:
    the MLM parity tests run on the gelu_new shape); BERT's transform follows hidden_act."""
    shape = FAMILIES["roberta"].shape("L2-H64-A4")
    assert shape["hidden_act"] == "gelu_new"
    _, ours = build("ForMaskedLM", shape)
    assert isinstance(ours.mlm.act, torch.nn.GELU) and ours.mlm.act.approximate == "none"
    assert ours.base_model.encoder.layers[0].ffn.act.approximate == "tanh"
    _, bert = build("ForMaskedLM", FAMILIES["bert"].shape("L2-H64-A4"))
    assert bert.mlm.act.approximate == "tanh"


# -- DistilBERT: token types ignored, sinusoidal table, its dropouts ---------------------------------

@pytest.mark.parametrize("head", FAMILIES["distilbert"].heads)
def test_distilbert_ignores_token_type_ids(head):
    """A BERT tokenizer's token_type_ids are accepted and change nothing."""
    shape = FAMILIES["distilbert"].shape("L3-H48-A3")
    _, ours = build(head, shape)
    inputs = batch(shape)
    types = torch.zeros_like(inputs["input_ids"])
    types[:, 4:] = 1
    types[0, -1] = 7  # not even a segment id: there is no segment table to index
    with torch.no_grad():
        plain, typed = ours(**inputs), ours(**inputs, token_type_ids=types)
    for a, b in zip(plain.to_tuple(), typed.to_tuple()):
        assert torch.equal(a, b)


def test_distilbert_sinusoidal_table_is_transformers_and_fixed():
    shape = FAMILIES["distilbert"].shape("L2-H64-A4")
    assert shape.config.sinusoidal_pos_embds
    torch.manual_seed(0)
    fresh_hf = transformers.DistilBertModel(shape.hf_config())
    fresh_ours = FAMILIES["distilbert"].our_class("Model")(shape.config)
    table = fresh_ours.embeddings.position.weight
    assert torch.equal(table, fresh_hf.embeddings.position_embeddings.weight.detach())
    assert not table.requires_grad
    hf, ours = build("ForMaskedLM", shape)
    assert torch.equal(ours.base_model.embeddings.position.weight, table)  # loaded: the same table
    inputs = batch(shape)
    ours(**inputs, labels=mlm_labels(inputs, shape["vocab_size"])).loss.backward()
    assert ours.base_model.embeddings.position.weight.grad is None
    assert ours.base_model.embeddings.word.weight.grad is not None
    assert all(p.requires_grad for n, p in ours.named_parameters() if "position" not in n)


def test_distilbert_head_dropouts_from_config():
    """seq_classif_dropout before the classifier, qa_dropout before qa_outputs, as in transformers."""
    fam = FAMILIES["distilbert"]
    shape = fam.shape("L1-H32-A2")
    fields = dict(shape.fields, seq_classif_dropout=0.3, qa_dropout=0.15, dropout=0.05)
    config = fam.config_class(**fields)
    hf_config = fam.hf_config_class(**fields)
    seq, hf_seq = (fam.our_class("ForSequenceClassification")(config),
                   transformers.DistilBertForSequenceClassification(hf_config))
    assert seq.dropout.p == hf_seq.dropout.p == 0.3
    qa, hf_qa = fam.our_class("ForQuestionAnswering")(config), transformers.DistilBertForQuestionAnswering(hf_config)
    assert qa.qa_dropout.p == hf_qa.dropout.p == 0.15
    tok, hf_tok = (fam.our_class("ForTokenClassification")(config),
                   transformers.DistilBertForTokenClassification(hf_config))
    assert tok.dropout.p == hf_tok.dropout.p == 0.05
    # in training mode they drop: two passes differ
    seq.train()
    inputs = batch(shape)
    torch.manual_seed(1)
    a = seq(**inputs).logits
    b = seq(**inputs).logits
    assert not torch.equal(a, b)


# -- ALBERT: shared layer groups, parameter count, dropouts ------------------------------------------

def _albert_pair(head: str, seed: int = 0, **fields):
    """A tiny random ALBERT in transformers and the bertkit model holding its weights."""
    fam = FAMILIES["albert"]
    base = dict(vocab_size=40, hidden_size=16, embedding_size=8, num_attention_heads=2, intermediate_size=24,
                max_position_embeddings=SEQLEN, hidden_act="gelu_new")
    hc = fam.hf_config_class(**{**base, **fields}, attn_implementation="eager")
    torch.manual_seed(seed)
    hf = fam.hf_class(head)(hc)
    perturb(hf, seed + 1)
    ours = fam.our_class(head)(fam.config_class.from_dict(hc.to_dict())).eval()
    load_state(ours, hf.state_dict())
    return hf.eval(), ours


# (num_hidden_layers, num_hidden_groups, inner_group_num): groups that do not divide the layers, more
# groups than layers (one group never runs), one group per layer, and inner layers
GROUPINGS = [(5, 2, 1), (2, 3, 1), (4, 4, 1), (3, 2, 2), (7, 3, 2)]


@pytest.mark.parametrize("L, G, inner", GROUPINGS, ids=[f"L{a}-G{b}-I{c}" for a, b, c in GROUPINGS])
def test_albert_layer_groups_as_transformers(L, G, inner):
    """Layer i runs group int(i / (L / G)) (transformers' rule, float division): every layer pass's
    output equals transformers', padded and unpadded, and the sparse last pass gives its MLM loss."""
    hf, ours = _albert_pair("ForMaskedLM", num_hidden_layers=L, num_hidden_groups=G, inner_group_num=inner)
    runs = [int(i / (L / G)) for i in range(L)]
    encoder = ours.base_model.encoder
    assert encoder.layers == [layer for g in runs for layer in encoder.groups[g].layers]
    assert len(encoder.groups) == G and all(len(g.layers) == inner for g in encoder.groups)
    assert ours.num_parameters() == hf.num_parameters()
    shape = FAMILIES["albert"].shape("L1-H32-A2")  # for the batch only: lengths, 2 segments, pad 0
    inputs = batch(shape)
    inputs["input_ids"] = inputs["input_ids"] % 40
    labels = mlm_labels(inputs, 40)
    mask = inputs["attention_mask"]
    for unpad in (True, False):
        ours.base_model.unpad = unpad
        with torch.no_grad():
            theirs = hf(**inputs, output_hidden_states=True)
            mine = ours(**inputs, output_hidden_states=True)
            assert len(mine.hidden_states) == len(theirs.hidden_states) == L * inner + 1
            for i, (a, b) in enumerate(zip(mine.hidden_states, theirs.hidden_states)):
                assert_real_close(a, b, mask, f"hidden_states[{i}]", unpad)
            assert_close(ours(**inputs, labels=labels).loss, hf(**inputs, labels=labels).loss, "MLM loss (sparse)")


@pytest.mark.parametrize("shape", shape_params(shapes_of("albert")))
def test_albert_parameter_count_as_transformers(shape):
    """Shared layers count once: the same number of parameters as transformers, every head."""
    for head in FAMILIES["albert"].heads:
        hf, ours = build(head, shape)
        assert ours.num_parameters() == hf.num_parameters(), head
        assert len(ours.state_dict()) == len(set(ours.state_dict()))
    cfg = shape.config
    _, ours = build("Model", shape)
    E, H, passes = cfg.embedding_size, cfg.hidden_size, shape.layer_passes
    assert ours.embeddings.word.weight.shape == (cfg.vocab_size, E)
    assert ours.embeddings.project.weight.shape == (H, E)
    assert len(ours.encoder.layers) == passes
    assert len({id(m) for m in ours.encoder.layers}) == cfg.num_hidden_groups * cfg.inner_group_num \
        or cfg.num_hidden_groups > cfg.num_hidden_layers


def test_albert_dropouts_from_config():
    """classifier_dropout_prob before the classifier, the SOP classifier and the token classifier; no
    dropout after the FFN; as in transformers."""
    fam = FAMILIES["albert"]
    fields = dict(fam.small, classifier_dropout_prob=0.3, hidden_dropout_prob=0.05, attention_probs_dropout_prob=0.02)
    config, hf_config = fam.config_class(**fields), fam.hf_config_class(**fields)
    seq = fam.our_class("ForSequenceClassification")(config)
    assert seq.dropout.p == transformers.AlbertForSequenceClassification(hf_config).dropout.p == 0.3
    pre = fam.our_class("ForPreTraining")(config)
    assert pre.sop_dropout.p == transformers.AlbertForPreTraining(hf_config).sop_classifier.dropout.p == 0.3
    tok = fam.our_class("ForTokenClassification")(config)
    assert tok.dropout.p == transformers.AlbertForTokenClassification(hf_config).dropout.p == 0.3
    layer = pre.base_model.encoder.layers[0]
    assert isinstance(layer.ffn_dropout, torch.nn.Identity) and layer.attn_dropout.p == 0.05
    assert layer.attn.dropout_p == 0.02 and pre.base_model.embeddings.dropout.p == 0.05
# -- ELECTRA: factorised embeddings, no pooler, the heads' fixed activations, the defaults ------------

@pytest.mark.parametrize("head", FAMILIES["electra"].heads)
def test_electra_parameters_as_transformers(head):
    """The same parameter count and shapes as transformers for every shape: embeddings_project only
    where embedding_size differs from hidden_size (not in L2), no pooler."""
    for shape in shapes_of("electra"):
        hf, ours = build(head, shape, **({"num_labels": 5} if head == "ForTokenClassification" else {}))
        assert ours.num_parameters() == hf.num_parameters(), str(shape)
        project = shape["embedding_size"] != shape["hidden_size"]
        assert (ours.base_model.embeddings.project is not None) == project == hasattr(hf.base_model, "embeddings_project")
        assert ours.base_model.pooler is None
        assert ours.get_input_embeddings().weight.shape == (shape["vocab_size"], shape["embedding_size"])


def test_electra_head_activations_as_transformers():
    """The generator head and the sequence classifier apply exact gelu whatever hidden_act says; the
    discriminator head follows hidden_act (L2: gelu_new, L3: relu): the parity tests above run on these
    shapes, this says why they pass."""
    fam = FAMILIES["electra"]
    for name, act in (("L2-H64-A4", "gelu_new"), ("L3-H48-A3", "relu")):
        shape = fam.shape(name)
        assert shape["hidden_act"] == act
        _, gen = build("ForMaskedLM", shape)
        _, cls = build("ForSequenceClassification", shape)
        _, disc = build("ForPreTraining", shape)
        for module in (gen.mlm.act, cls.classifier.act):
            assert isinstance(module, torch.nn.GELU) and module.approximate == "none"
        assert type(disc.discriminator.act) is {"gelu_new": torch.nn.GELU, "relu": torch.nn.ReLU}[act]


def test_electra_config_defaults_are_transformers():
    from bertkit.config import ElectraConfig
    ours, theirs = ElectraConfig(), transformers.ElectraConfig()
    for f in ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
              "intermediate_size", "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob",
              "max_position_embeddings", "type_vocab_size", "initializer_range", "layer_norm_eps", "summary_type",
              "summary_use_proj", "summary_activation", "summary_last_dropout", "pad_token_id", "classifier_dropout",
              "num_labels"):
        assert getattr(ours, f) == getattr(theirs, f), f


@pytest.mark.parametrize("fraction", [0.25, 1 / 3])
def test_electra_generator_config_builds_transformers_generator(fraction):
    """A generator built from generator_config has transformers' parameter count for that config, and its
    embedding tables have the discriminator's shapes (the two share them in pretraining)."""
    from bertkit.config import ElectraConfig
    disc = ElectraConfig(vocab_size=120, embedding_size=48, hidden_size=96, num_hidden_layers=2,
                         num_attention_heads=3, intermediate_size=384, max_position_embeddings=32)
    gen = disc.generator_config(fraction)
    ours = FAMILIES["electra"].our_class("ForMaskedLM")(gen)
    theirs = transformers.ElectraForMaskedLM(transformers.ElectraConfig(**gen.to_dict()))
    assert ours.num_parameters() == theirs.num_parameters()
    d = FAMILIES["electra"].our_class("ForPreTraining")(disc).base_model.embeddings
    g = ours.base_model.embeddings
    for table in ("word", "position", "token_type", "norm"):
        assert getattr(g, table).weight.shape == getattr(d, table).weight.shape, table


def test_electra_shared_embeddings_as_transformers():
    """share_embeddings: the generator reads the discriminator's tables (word, position, segment, their
    LayerNorm; each keeps its embeddings_project), as in google-research/electra. Oracle: the two
    transformers models with one ElectraEmbeddings module; the loss MLM + 50 × RTD on the same batch,
    and the summed gradient of the shared tables."""
    from bertkit.models.electra import share_embeddings
    fam = FAMILIES["electra"]
    shape = fam.shape("L1-H32-A2")  # embedding_size 16 < hidden 32
    gen_fields = dict(shape.config.generator_config(0.5).to_dict())
    gen_fields.pop("model_type"), gen_fields.pop("architectures", None)
    gen_shape = type(shape)(fam, "generator", gen_fields)
    hf_gen, gen = build("ForMaskedLM", gen_shape, seed=3)
    hf_disc, disc = build("ForPreTraining", shape)
    hf_gen.electra.embeddings = hf_disc.electra.embeddings
    hf_gen.generator_lm_head.weight = hf_disc.electra.embeddings.word_embeddings.weight  # the decoder follows
    share_embeddings(gen, disc)
    assert gen.base_model.embeddings.word is disc.base_model.embeddings.word
    assert gen.get_output_embeddings().weight is disc.get_input_embeddings().weight
    assert gen.base_model.embeddings.project is not disc.base_model.embeddings.project
    inputs = batch(shape)
    labels = mlm_labels(inputs, shape["vocab_size"])
    replaced = replaced_labels(inputs)
    theirs = hf_gen(**inputs, labels=labels).loss + 50 * hf_disc(**inputs, labels=replaced).loss
    mine = gen(**inputs, labels=labels).loss + 50 * disc(**inputs, labels=replaced).loss
    assert_close(mine, theirs, "MLM + 50 × RTD")
    theirs.backward()
    mine.backward()
    for ours_t, hf_t in (("word", "word_embeddings"), ("position", "position_embeddings"),
                         ("token_type", "token_type_embeddings"), ("norm", "LayerNorm")):
        a = getattr(disc.base_model.embeddings, ours_t).weight.grad
        b = getattr(hf_disc.electra.embeddings, hf_t).weight.grad
        assert_close(a, b, f"grad of the shared {ours_t}")


def test_electra_share_embeddings_of_another_shape_is_a_config_error():
    from bertkit.models.electra import share_embeddings
    from bertkit import ConfigError
    from bertkit.config import ElectraConfig
    disc = FAMILIES["electra"].our_class("ForPreTraining")(ElectraConfig(vocab_size=50, embedding_size=16,
                                                                          hidden_size=32, num_hidden_layers=1,
                                                                          num_attention_heads=2, intermediate_size=40))
    gen = FAMILIES["electra"].our_class("ForMaskedLM")(ElectraConfig(vocab_size=50, embedding_size=8, hidden_size=8,
                                                                     num_hidden_layers=1, num_attention_heads=1,
                                                                     intermediate_size=16))
    with pytest.raises(ConfigError) as err:
        share_embeddings(gen, disc)
    msg = str(err.value)
    assert "\n" not in msg and "word embeddings are (50, 8)" in msg and "(50, 16)" in msg and "generator_config" in msg
