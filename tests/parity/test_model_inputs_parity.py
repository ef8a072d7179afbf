"""Parity with `transformers` for what models take besides token ids: `inputs_embeds`, configs built
from `transformers` keywords, and `resize_token_embeddings`, for every family (families.py).

Random tiny models with the same weights on both sides (the helpers of test_model_parity.py). Every
head of every family is fed `inputs_embeds` on a padded batch, through the unpadded and the padded paths, with labels
(so the sparse last layer, the [CLS]-only classifier and MLM decoding at scored positions run): first
the word embeddings of the ids (then the outputs must also equal those of `input_ids`), then arbitrary
random vectors (also at padding, which must change nothing at real positions). Outputs, losses and the
gradient with respect to `inputs_embeds` are compared with `transformers` given the same embeddings.
"""
from __future__ import annotations

import json

import pytest
import torch

transformers = pytest.importorskip("transformers")

import bertkit  # noqa: E402
from families import FAMILIES, HEAD_CASES, SHAPES, head_id, slow_mark  # noqa: E402
from test_model_parity import (assert_close, batch, build, masked_qa_loss, mlm_labels,  # noqa: E402
                               qa_positions, replaced_labels)

pytestmark = pytest.mark.usefixtures("one_thread")


HEAD_EXTRA = {"ForSequenceClassification": dict(num_labels=3),
              "ForTokenClassification": dict(num_labels=5)}
# every head of every shape: (shape, head suffix), named as the BERT suite named them (BertModel-L1-H32-A2)
SHAPE_HEADS = [pytest.param(shape, head, id=f"{shape.family.name(head)}-{shape.name}", marks=slow_mark(shape))
               for shape in SHAPES for head in shape.family.heads]


def _rest(inputs) -> dict:
    """Everything of a batch but the ids: the attention mask, and token_type_ids where the family has them."""
    return {k: v for k, v in inputs.items() if k != "input_ids"}


def _labels(head: str, shape: str, inputs) -> dict:
    """Labels that make each head compute its loss (and take its fast path)."""
    mask = inputs["attention_mask"].bool()
    V = shape["vocab_size"]
    if head == "ForPreTraining" and shape.family.replaced_token_detection:
        return dict(labels=replaced_labels(inputs))
    if head == "ForPreTraining":  # MLM + the family's sentence task (NSP, SOP)
        label_name = shape.family.sentence_task[0]
        return dict(labels=mlm_labels(inputs, V), **{label_name: torch.tensor([0, 1, 1, 0])})
    if head == "ForMaskedLM":
        return dict(labels=mlm_labels(inputs, V))
    if head == "ForSequenceClassification":
        return dict(labels=torch.tensor([2, 0, 1, 2]))
    if head == "ForTokenClassification":
        g = torch.Generator().manual_seed(400)
        return dict(labels=torch.randint(0, 5, mask.shape, generator=g).masked_fill(~mask, -100))
    if head == "ForQuestionAnswering":
        start, end = qa_positions(mask.shape[1])
        return dict(start_positions=start, end_positions=end)
    return {}


def _compare(head: str, shape: str, mine, theirs, inputs, labels) -> dict[str, tuple]:
    """(ours, oracle) pairs of tensors that must agree, with the loss under "loss". Padding positions
    are left out where bertkit deliberately differs there (zeros when unpadded; QA's lowest logit)."""
    real = inputs["attention_mask"].bool()
    if head == "Model":
        g = torch.Generator().manual_seed(7)
        C = shape["hidden_size"]
        w_tok = torch.randn(*real.shape, C, generator=g) * real[..., None]  # zero weight at padding
        w_pool = torch.randn(real.shape[0], C, generator=g)
        pooler = shape.family.pooler

        def loss_of(out):
            loss = (out.last_hidden_state * w_tok).sum() / w_tok.numel()
            return loss + (out.pooler_output * w_pool).mean() if pooler else loss

        pairs = {"last_hidden_state": (mine.last_hidden_state[real], theirs.last_hidden_state[real]),
                 "loss": (loss_of(mine), loss_of(theirs))}
        if pooler:
            pairs["pooler_output"] = (mine.pooler_output, theirs.pooler_output)
        else:
            assert mine.pooler_output is None
        return pairs
    if head == "ForPreTraining" and shape.family.replaced_token_detection:
        return {"logits (real)": (mine.logits[real], theirs.logits[real]), "loss": (mine.loss, theirs.loss)}
    if head in ("ForPreTraining", "ForMaskedLM"):
        picked = labels["labels"] != -100
        name = "prediction_logits" if head == "ForPreTraining" else "logits"
        pairs = {"logits (scored)": (getattr(mine, name), getattr(theirs, name)[picked]),
                 "loss": (mine.loss, theirs.loss)}
        if head == "ForPreTraining":
            logits_name = shape.family.sentence_task[1]  # seq_relationship_logits, sop_logits
            pairs[logits_name] = (getattr(mine, logits_name), getattr(theirs, logits_name))
        return pairs
    if head == "ForSequenceClassification":
        return {"logits": (mine.logits, theirs.logits), "loss": (mine.loss, theirs.loss)}
    if head == "ForTokenClassification":
        return {"logits (real)": (mine.logits[real], theirs.logits[real]), "loss": (mine.loss, theirs.loss)}
    oracle = masked_qa_loss(theirs.start_logits, theirs.end_logits, labels["start_positions"],
                            labels["end_positions"], inputs["attention_mask"])
    return {"start_logits (real)": (mine.start_logits[real], theirs.start_logits[real]),
            "end_logits (real)": (mine.end_logits[real], theirs.end_logits[real]),
            "loss": (mine.loss, oracle)}


def _oracle_labels(head: str, labels: dict) -> dict:
    # transformers' QA loss does not mask padding: its logits are taken and the loss built as ours is
    return {} if head == "ForQuestionAnswering" else labels


def _embeddings(kind: str, hf, inputs, shape: str) -> torch.Tensor:
    if kind == "word":
        return hf.get_input_embeddings()(inputs["input_ids"]).detach()
    g = torch.Generator().manual_seed(500)
    B, T = inputs["input_ids"].shape
    return 0.5 * torch.randn(B, T, shape.embed_width, generator=g)  # padding rows too (ALBERT: E wide)


@pytest.mark.parametrize("kind", ["word", "random"])
@pytest.mark.parametrize("unpad", [True, False], ids=["unpad", "padded"])
@pytest.mark.parametrize("shape, head", SHAPE_HEADS)
def test_inputs_embeds_outputs_loss_and_gradient(head, shape, unpad, kind):
    hf, ours = build(head, shape, **HEAD_EXTRA.get(head, {}))
    ours.base_model.unpad = unpad
    inputs = batch(shape)
    labels = _labels(head, shape, inputs)
    rest = _rest(inputs)
    embeds = _embeddings(kind, hf, inputs, shape)
    e_hf, e_ours = embeds.clone().requires_grad_(), embeds.clone().requires_grad_()
    theirs = hf(inputs_embeds=e_hf, **rest, **_oracle_labels(head, labels))
    mine = ours(inputs_embeds=e_ours, **rest, **labels)
    pairs = _compare(head, shape, mine, theirs, inputs, labels)
    for what, (a, b) in pairs.items():
        assert_close(a, b, f"{head} {what}")
    pairs["loss"][0].backward()
    pairs["loss"][1].backward()
    assert e_ours.grad is not None and e_ours.grad.abs().sum() > 0
    assert_close(e_ours.grad, e_hf.grad, f"{head} d loss / d inputs_embeds")
    # no gradient reaches padding: it takes no part in the real positions' outputs
    assert e_ours.grad[~inputs["attention_mask"].bool()].abs().max() == 0
    if kind == "word":
        # the word embeddings of the ids give what the ids give, on both sides
        with torch.no_grad():
            by_ids = ours(input_ids=inputs["input_ids"], **rest, **labels)
            hf_by_ids = hf(input_ids=inputs["input_ids"], **rest, **_oracle_labels(head, labels))
        for what, (a, b) in _compare(head, shape, by_ids, hf_by_ids, inputs, labels).items():
            assert_close(a, pairs[what][0], f"{head} {what}: input_ids vs inputs_embeds", tol=1e-6)
            assert_close(a, b, f"{head} {what} (input_ids)")


@pytest.mark.parametrize("case", HEAD_CASES, ids=head_id)
def test_inputs_embeds_logits_without_labels(case):
    """Without labels every position is decoded and the last layer runs everywhere."""
    fam, head = case
    shape = fam.shape("L2-H64-A4")
    hf, ours = build(head, shape, **HEAD_EXTRA.get(head, {}))
    inputs = batch(shape)
    embeds = _embeddings("random", hf, inputs, shape)
    rest = _rest(inputs)
    with torch.no_grad():
        theirs, mine = hf(inputs_embeds=embeds, **rest), ours(inputs_embeds=embeds, **rest)
    real = inputs["attention_mask"].bool()
    names = ("last_hidden_state", "logits", "prediction_logits", "start_logits", "end_logits",
             "seq_relationship_logits", "sop_logits")
    compared = 0
    for name in names:
        a, b = getattr(mine, name, None), getattr(theirs, name, None)
        if a is None or b is None:
            continue
        compared += 1
        if a.dim() >= 2 and a.shape[:2] == real.shape:
            a, b = a[real], b[real]
        assert_close(a, b, f"{fam.name(head)} {name}")
    assert compared >= 1


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("mask_kind", ["none", "all-ones"])
def test_inputs_embeds_hidden_states_and_attentions(mask_kind, family):
    """Every layer's states and attention maps; hidden_states[0] is the embedding layer's output
    (word vectors given + segment + position, LayerNorm), as in transformers."""
    fam = FAMILIES[family]
    shape = fam.shape(list(fam.shapes)[2])  # L3-H48-*: three layers (ALBERT's: of two inner layers each)
    hf, ours = build("Model", shape)
    inputs = batch(shape)
    mask = {"none": None, "all-ones": torch.ones_like(inputs["input_ids"])}[mask_kind]
    embeds = _embeddings("random", hf, inputs, shape)
    kw = dict(inputs_embeds=embeds, attention_mask=mask, output_hidden_states=True, output_attentions=True,
              **{k: v for k, v in inputs.items() if k == "token_type_ids"})
    with torch.no_grad():
        theirs, mine = hf(**kw), ours(**kw)
    assert len(mine.hidden_states) == len(theirs.hidden_states) == shape.layer_passes + 1
    for i, (a, b) in enumerate(zip(mine.hidden_states, theirs.hidden_states)):
        assert_close(a, b, f"hidden_states[{i}]")
    for i, (a, b) in enumerate(zip(mine.attentions, theirs.attentions)):
        assert_close(a, b, f"attentions[{i}]")
    if fam.pooler:
        assert_close(mine.pooler_output, theirs.pooler_output, "pooler_output")
    else:
        assert mine.pooler_output is None


@pytest.mark.parametrize("family", list(FAMILIES))
def test_inputs_embeds_with_position_ids_under_padding(family):
    """Explicit position ids and segment ids go through the unpadded path with the embeddings."""
    shape = FAMILIES[family].shape("L2-H64-A4")
    hf, ours = build("ForTokenClassification", shape, num_labels=5)
    inputs = batch(shape)
    B, T = inputs["input_ids"].shape
    position_ids = (torch.arange(T) + 3).clamp(max=shape["max_position_embeddings"] - 1).expand(B, T)
    embeds = _embeddings("random", hf, inputs, shape)
    kw = dict(inputs_embeds=embeds, position_ids=position_ids, **_rest(inputs))
    with torch.no_grad():
        theirs, mine = hf(**kw), ours(**kw)
    real = inputs["attention_mask"].bool()
    assert_close(mine.logits[real], theirs.logits[real], "logits (real)")


@pytest.mark.parametrize("family", list(FAMILIES))
def test_both_or_neither_is_an_error_as_in_transformers(family):
    shape = FAMILIES[family].shape("L1-H32-A2")
    hf, ours = build("Model", shape)
    inputs = batch(shape)
    embeds = hf.get_input_embeddings()(inputs["input_ids"])
    for kw in (dict(input_ids=inputs["input_ids"], inputs_embeds=embeds), {}):
        with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
            hf(**kw)
        with pytest.raises(bertkit.BertkitError, match="exactly one of input_ids or inputs_embeds"):
            ours(**kw)


@pytest.mark.parametrize("head", ["Model", "ForMaskedLM"])
@pytest.mark.parametrize("unpad", [True, False], ids=["unpad", "padded"])
def test_roberta_inputs_embeds_positions_as_transformers_on_left_padding(head, unpad):
    """From inputs_embeds RoBERTa cannot see padding: positions are pad_token_id + 1, ... on every row,
    as in transformers, also when the rows are left-padded (then they differ from the ids' positions)."""
    shape = FAMILIES["roberta"].shape("L2-H64-A4")
    hf, ours = build(head, shape)
    ours.base_model.unpad = unpad
    inputs = batch(shape, left=True)
    real = inputs["attention_mask"].bool()
    embeds = _embeddings("word", hf, inputs, shape)
    labels = _labels(head, shape, inputs)
    with torch.no_grad():
        theirs = hf(inputs_embeds=embeds, attention_mask=inputs["attention_mask"], **labels)
        mine = ours(inputs_embeds=embeds, attention_mask=inputs["attention_mask"], **labels)
        by_ids = ours(**inputs, **labels)
    if head == "Model":
        a, b, c = (o.last_hidden_state[real] for o in (mine, theirs, by_ids))
        assert_close(a, b, "last_hidden_state (real) vs transformers")
        assert (a - c).abs().max() > 1e-3, "left-padded rows: embeds' positions should differ from the ids'"
    else:
        assert_close(mine.logits, theirs.logits[labels["labels"] != -100], "logits (scored)")
        assert_close(mine.loss, theirs.loss, "loss")


# -- configs built from transformers keywords, every family -----------------------------------------

LABEL_CASES = [
    {}, dict(num_labels=3), dict(num_labels=1), dict(num_labels=2),
    dict(id2label={0: "neg", 1: "neu", 2: "pos"}),
    dict(id2label={"0": "a", "1": "b"}, label2id={"a": 0, "b": 1}),
    dict(num_labels=3, id2label={0: "a", 1: "b"}),  # transformers: num_labels wins (with a warning)
    dict(num_labels=2, id2label={0: "n", 1: "p"}),
    dict(label2id={"x": 0, "y": 1, "z": 2}),  # transformers: replaced by the default map
    dict(num_labels=4, problem_type="multi_label_classification"),
]
# a tiny model of each family, in its own field names
_BERT_TINY = dict(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20)
TINY = {"bert": _BERT_TINY, "roberta": _BERT_TINY,
        "distilbert": dict(vocab_size=50, dim=16, n_layers=1, n_heads=2, hidden_dim=20),
        "albert": dict(_BERT_TINY, embedding_size=8),
        "electra": dict(_BERT_TINY, embedding_size=8)}


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("kw", LABEL_CASES, ids=[str(k) for k in LABEL_CASES])
def test_config_labels_as_transformers(kw, family):
    fam = FAMILIES[family]
    theirs, ours = fam.hf_config_class(**kw), fam.config_class(**kw)
    assert ours.num_labels == theirs.num_labels
    assert ours.id2label == theirs.id2label
    assert ours.label2id == theirs.label2id
    assert ours.problem_type == theirs.problem_type
    # and the model gets that many outputs, as in transformers
    small = TINY[family]
    mine = fam.our_class("ForSequenceClassification")(fam.config_class(**small, **kw))
    hf = fam.hf_class("ForSequenceClassification")(fam.hf_config_class(**small, **kw))
    out = {"roberta": lambda m: m.classifier.out_proj,
           "electra": lambda m: m.classifier.out_proj}.get(family, lambda m: m.classifier)
    assert out(mine).out_features == out(hf).out_features


TRANSFORMERS_KEYWORDS = dict(output_hidden_states=True, use_cache=False, torch_dtype="float16", is_decoder=True,
                             chunk_size_feed_forward=4, tie_word_embeddings=True, gradient_checkpointing=False,
                             my_project_key={"trained_on": "wiki", "steps": [1, 2]})


@pytest.mark.parametrize("family", list(FAMILIES))
def test_config_keywords_reach_config_json_that_transformers_reads(tmp_path, family):
    fam = FAMILIES[family]
    ours = fam.config_class(**TINY[family], num_labels=3, **TRANSFORMERS_KEYWORDS)
    assert ours.extra == TRANSFORMERS_KEYWORDS
    assert ours.use_cache is False and ours.chunk_size_feed_forward == 4  # attributes, as in transformers
    ours.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    for key, value in TRANSFORMERS_KEYWORDS.items():
        assert saved[key] == value, key
    assert saved["model_type"] == family
    for key, value in TINY[family].items():  # the family's own field names
        assert saved[key] == value, key
    theirs = fam.hf_config_class.from_pretrained(tmp_path)
    keys = ["output_hidden_states", "use_cache", "is_decoder", "chunk_size_feed_forward", "my_project_key",
            "num_labels", "id2label", "label2id", "vocab_size", "hidden_size"]
    if family in ("distilbert", "albert"):
        keys.remove("use_cache")  # transformers' DistilBertConfig and AlbertConfig drop it (no cache)
    for key in keys:
        assert getattr(theirs, key) == getattr(ours, key), key
    assert theirs.dtype == torch.float16  # transformers reads the old name torch_dtype as dtype
    again = fam.config_class.from_pretrained(tmp_path)
    assert again == ours and again.extra == TRANSFORMERS_KEYWORDS


@pytest.mark.parametrize("family", list(FAMILIES))
def test_config_torch_dtype_object_is_written_by_name(tmp_path, family):
    fam = FAMILIES[family]
    ours = fam.config_class(torch_dtype=torch.bfloat16)
    assert ours.extra["torch_dtype"] is torch.bfloat16
    assert ours.to_dict()["torch_dtype"] == "bfloat16"
    ours.save_pretrained(tmp_path)
    assert fam.hf_config_class.from_pretrained(tmp_path).dtype == torch.bfloat16


@pytest.mark.parametrize("family", list(FAMILIES))
def test_default_label_map_is_left_out_of_config_json_as_transformers_does(tmp_path, family):
    fam = FAMILIES[family]
    fam.hf_config_class().save_pretrained(tmp_path / "hf")
    fam.config_class().save_pretrained(tmp_path / "ours")
    hf_saved = json.loads((tmp_path / "hf" / "config.json").read_text())
    our_saved = json.loads((tmp_path / "ours" / "config.json").read_text())
    assert "id2label" not in hf_saved and "id2label" not in our_saved
    assert fam.config_class.from_pretrained(tmp_path / "hf").id2label == fam.hf_config_class().id2label
    fam.config_class(num_labels=3).save_pretrained(tmp_path / "three")
    assert fam.hf_config_class.from_pretrained(tmp_path / "three").num_labels == 3


# -- resize_token_embeddings ------------------------------------------------------------------------

def _resized_pair(head: str, shape, new: int, **kw):
    hf, ours = build(head, shape, **HEAD_EXTRA.get(head, {}))
    torch.manual_seed(0)
    hf_emb = hf.resize_token_embeddings(new, **kw)
    our_emb = ours.resize_token_embeddings(new, **kw)
    return hf, ours, hf_emb, our_emb


def _ids_with_new_tokens(shape, V_old: int, V_new: int):
    inputs = batch(shape)
    ids = inputs["input_ids"].clone()
    if V_new > V_old:
        ids[:, 1] = torch.arange(V_old, V_old + ids.shape[0]) % V_new  # an added token in every row
    inputs["input_ids"] = ids.clamp(max=V_new - 1).masked_fill(inputs["attention_mask"] == 0,
                                                               shape["pad_token_id"])
    return inputs


# the L3 shape of each family (BERT's: pad_token_id 1, RoBERTa's 3, DistilBERT's 1, ELECTRA's 1 with wider embeddings;
# its slow tier only, but for the tied generator head)
RESIZE_CASES = [pytest.param(fam.shape(list(fam.shapes)[2]), head, id=fam.name(head),
                             marks=slow_mark(fam.shape(list(fam.shapes)[2])) if head != "ForMaskedLM" else ())
                for fam, head in HEAD_CASES]


@pytest.mark.parametrize("shape, head", RESIZE_CASES)
@pytest.mark.parametrize("delta", [+5, -7], ids=["grow", "shrink"])
def test_resize_as_transformers(shape, head, delta, tmp_path):
    fam = shape.family
    V = shape["vocab_size"]
    old_rows = build(head, shape, **HEAD_EXTRA.get(head, {}))[1].get_input_embeddings().weight.detach().clone()
    hf, ours, hf_emb, our_emb = _resized_pair(head, shape, V + delta)
    new = V + delta
    assert our_emb is ours.get_input_embeddings() and isinstance(our_emb, torch.nn.Embedding)
    assert our_emb.weight.shape == hf_emb.weight.shape == (new, shape.embed_width)
    assert our_emb.num_embeddings == hf_emb.num_embeddings == new
    assert our_emb.padding_idx == hf_emb.padding_idx == shape["pad_token_id"]
    assert ours.config.vocab_size == hf.config.vocab_size == new
    assert ours.num_parameters() == hf.num_parameters()
    keep = min(V, new)
    assert torch.equal(our_emb.weight[:keep], old_rows[:keep])
    assert torch.equal(our_emb.weight[:keep], hf_emb.weight[:keep])
    if delta > 0:
        # added rows: the mean of the old ones (transformers samples within ~1e-5 σ of that mean)
        mean = old_rows.mean(0)
        assert torch.equal(our_emb.weight[V:], mean.expand(delta, -1))
        assert_close(hf_emb.weight[V:], our_emb.weight[V:], "added rows vs transformers'", tol=1e-4)
    hf_out, our_out = hf.get_output_embeddings(), ours.get_output_embeddings()
    if hf_out is None:
        assert our_out is None
    else:
        assert our_out.weight is our_emb.weight  # still tied
        assert our_out.bias.shape == hf_out.bias.shape == (new,)
        assert torch.equal(our_out.bias, hf_out.bias)  # kept, and zeros for added tokens, as transformers
    # saved, it loads in transformers and gives bertkit's outputs; and back into bertkit unchanged
    ours.save_pretrained(tmp_path)
    loaded = fam.hf_class(head).from_pretrained(tmp_path, attn_implementation="eager").eval()
    assert loaded.config.vocab_size == new
    inputs = _ids_with_new_tokens(shape, V, new)
    with torch.no_grad():
        mine, theirs = ours(**inputs), loaded(**inputs)
    real = inputs["attention_mask"].bool()
    compared = 0
    for name in ("last_hidden_state", "pooler_output", "logits", "prediction_logits", "seq_relationship_logits",
                 "sop_logits", "start_logits", "end_logits"):
        a, b = getattr(mine, name, None), getattr(theirs, name, None)
        if a is None or b is None:
            continue
        compared += 1
        if a.dim() >= 2 and a.shape[:2] == real.shape:
            a, b = a[real], b[real]
        assert_close(a, b, f"{fam.name(head)} {name} after resize, loaded in transformers")
    assert compared >= 1
    again = fam.our_class(head).from_pretrained(tmp_path)
    for key, value in ours.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key


@pytest.mark.parametrize("family", list(FAMILIES))
def test_resize_pad_to_multiple_of_and_no_op_as_transformers(family):
    shape = FAMILIES[family].shape("L2-H64-A4")
    V = shape["vocab_size"]  # 211
    hf, ours, hf_emb, our_emb = _resized_pair("ForMaskedLM", shape, V + 2, pad_to_multiple_of=16)
    assert our_emb.num_embeddings == hf_emb.num_embeddings == 224
    assert ours.config.vocab_size == hf.config.vocab_size == 224
    assert ours.num_parameters() == hf.num_parameters()
    hf, ours, hf_emb, our_emb = _resized_pair("ForMaskedLM", shape, None, pad_to_multiple_of=64)
    assert our_emb.num_embeddings == hf_emb.num_embeddings == 256
    hf, ours = build("ForMaskedLM", shape)
    before = ours.get_input_embeddings().weight.detach().clone()
    assert ours.resize_token_embeddings() is ours.get_input_embeddings()
    assert hf.resize_token_embeddings() is hf.get_input_embeddings()
    assert torch.equal(ours.get_input_embeddings().weight, before) and ours.config.vocab_size == V


@pytest.mark.parametrize("family", list(FAMILIES))
def test_resize_without_mean_draws_from_the_initialiser(family):
    """mean_resizing=False: N(0, initializer_range) rows, bias zeros, as in transformers."""
    shape = FAMILIES[family].shape("L1-H32-A2")
    V = shape["vocab_size"]
    hf, ours, hf_emb, our_emb = _resized_pair("ForMaskedLM", shape, V + 400, mean_resizing=False)
    std = ours.config.initializer_range
    added = our_emb.weight[V:]
    assert abs(added.std().item() - std) < 0.1 * std and abs(added.mean().item()) < 0.1 * std
    assert abs(hf_emb.weight[V:].std().item() - std) < 0.1 * std
    assert torch.equal(ours.get_output_embeddings().bias[V:], hf.get_output_embeddings().bias[V:])
    assert (ours.get_output_embeddings().bias[V:] == 0).all()
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a = build("ForMaskedLM", shape)[1]
    b = build("ForMaskedLM", shape)[1]
    a.resize_token_embeddings(V + 4, mean_resizing=False, generator=g1)
    b.resize_token_embeddings(V + 4, mean_resizing=False, generator=g2)
    assert torch.equal(a.get_input_embeddings().weight, b.get_input_embeddings().weight)  # replayable


@pytest.mark.parametrize("family", list(FAMILIES))
def test_output_embeddings_as_transformers(family):
    fam = FAMILIES[family]
    shape = fam.shape("L2-H64-A4")
    mlm = "ForPreTraining" if "ForPreTraining" in fam.heads and not fam.replaced_token_detection else "ForMaskedLM"
    hf, ours = build(mlm, shape)
    hf_dec, our_dec = hf.get_output_embeddings(), ours.get_output_embeddings()
    assert (our_dec.in_features, our_dec.out_features) == (hf_dec.in_features, hf_dec.out_features)
    assert_close(our_dec.weight, hf_dec.weight, "decoder weight")
    assert_close(our_dec.bias, hf_dec.bias, "decoder bias")
    h = torch.randn(3, shape.embed_width)
    assert_close(our_dec(h), hf_dec(h), "decoder output")
    assert our_dec.weight is ours.get_input_embeddings().weight
    for head in fam.heads:
        if head not in ("ForPreTraining", "ForMaskedLM"):
            hf, ours = build(head, shape, **HEAD_EXTRA.get(head, {}))
            assert ours.get_output_embeddings() is None and hf.get_output_embeddings() is None
