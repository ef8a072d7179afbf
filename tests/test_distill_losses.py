"""The distillation losses against values computed by hand (plain `math`, no torch) on tiny batches."""
from __future__ import annotations

import math

import pytest
import torch

from bertkit.train.objectives.distill import (attention_kl, embedding_loss, hidden_mse, layer_map, relation_kl,
                                              soft_target_loss)


def kl(p, q):
    return sum(a * math.log(a / b) for a, b in zip(p, q) if a > 0)


def softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    return [v / sum(e) for v in e]


def test_soft_target_kl_at_temperature_1_and_2():
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[math.log(3.0), 0.0]])
    # T = 1: teacher (3/4, 1/4), student (1/2, 1/2)
    want1 = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert soft_target_loss(student, teacher, 1.0).item() == pytest.approx(want1, abs=1e-6)
    assert want1 == pytest.approx(0.130812, abs=1e-6)
    # T = 2: teacher softmax(ln3 / 2, 0) = (√3, 1) / (√3 + 1); scaled by T² = 4
    p = [math.sqrt(3) / (math.sqrt(3) + 1), 1 / (math.sqrt(3) + 1)]
    want2 = 4 * kl(p, [0.5, 0.5])
    assert soft_target_loss(student, teacher, 2.0).item() == pytest.approx(want2, abs=1e-6)
    assert want2 == pytest.approx(0.145363, abs=1e-6)


def test_soft_target_averages_rows_and_respects_the_mask():
    s = torch.tensor([[[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]], [[2.0, 1.0, 0.0], [5.0, 5.0, 5.0]]])  # (B=2, T=2, K=3)
    t = torch.tensor([[[0.0, 1.0, 0.0], [1.0, 2.0, 3.0]], [[0.0, 0.0, 3.0], [9.0, -9.0, 0.0]]])
    mask = torch.tensor([[True, True], [True, False]])
    rows = [kl(softmax(t[b, i].tolist()), softmax(s[b, i].tolist())) for b, i in ((0, 0), (0, 1), (1, 0))]
    got = soft_target_loss(s, t, 1.0, mask=mask).item()
    assert got == pytest.approx(sum(rows) / 3, abs=1e-6)
    # identical distributions cost nothing, whatever the temperature
    assert soft_target_loss(t, t, 4.0).item() == pytest.approx(0.0, abs=1e-6)


def test_soft_target_sigmoid_and_regression():
    s, t = torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, -1.0]])
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    T = 2.0
    want = T * T * sum(kl([sig(b / T), 1 - sig(b / T)], [sig(a / T), 1 - sig(a / T)]) for a, b in ((0, 1), (2, -1)))
    assert soft_target_loss(s, t, T, kind="sigmoid").item() == pytest.approx(want, abs=1e-6)
    assert soft_target_loss(s, t, 3.0, kind="regression").item() == pytest.approx((1 + 9) / 2, abs=1e-6)


def test_hidden_mse_counts_real_tokens_only():
    s = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    t = torch.tensor([[[0.0, 0.0], [100.0, 100.0]]])
    mask = torch.tensor([[True, False]])
    assert hidden_mse(s, t, mask).item() == pytest.approx((1 + 4) / 2)


def test_attention_kl_per_head_and_real_query():
    # one sequence of 3 tokens, the last is padding; 1 head
    t = torch.tensor([[[[0.5, 0.5, 0.0], [0.9, 0.1, 0.0], [0.3, 0.7, 0.0]]]])
    s = torch.tensor([[[[0.25, 0.75, 0.0], [0.5, 0.5, 0.0], [0.9, 0.1, 0.0]]]])
    mask = torch.tensor([[True, True, False]])
    want = (kl([0.5, 0.5], [0.25, 0.75]) + kl([0.9, 0.1], [0.5, 0.5])) / 2
    assert attention_kl(s, t, mask).item() == pytest.approx(want, abs=1e-6)


def test_relation_kl_by_hand():
    # one head, T = 2 real tokens + 1 padding, C = 1 on the student side, 2 on the teacher's (different widths)
    s_a = torch.tensor([[[1.0], [2.0], [7.0]]])
    t_a = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]])
    mask = torch.tensor([[True, True, False]])
    got = relation_kl((s_a, s_a), (t_a, t_a), heads=1, mask=mask).item()
    # student relation: softmax(a_i a_j / √1) over j ∈ {0, 1}; teacher: softmax(a_i · a_j / √2)
    sa, ta = [1.0, 2.0], [(1.0, 0.0), (0.0, 1.0)]
    rows = []
    for i in range(2):
        ps = softmax([sa[i] * sa[j] for j in range(2)])
        pt = softmax([sum(x * y for x, y in zip(ta[i], ta[j])) / math.sqrt(2) for j in range(2)])
        rows.append(kl(pt, ps))
    assert got == pytest.approx(sum(rows) / 2, abs=1e-6)


def test_relation_kl_with_two_heads_is_the_mean_over_heads():
    torch.manual_seed(0)
    s, t = torch.randn(2, 4, 6), torch.randn(2, 4, 8)
    mask = torch.ones(2, 4, dtype=torch.bool)
    both = relation_kl((s, s), (t, t), heads=2, mask=mask).item()
    h0 = relation_kl((s[..., :3], s[..., :3]), (t[..., :4], t[..., :4]), heads=1, mask=mask).item()
    h1 = relation_kl((s[..., 3:], s[..., 3:]), (t[..., 4:], t[..., 4:]), heads=1, mask=mask).item()
    assert both == pytest.approx((h0 + h1) / 2, abs=1e-6)


def test_embedding_loss_by_hand():
    s, t = torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([[0.0, 1.0], [2.0, 2.0]])
    loss, parts = embedding_loss(s, t, mse=2.0, cosine=3.0)
    mse = ((1 + 1) + (1 + 1)) / 4
    cos = ((1 - 0.0) + (1 - 1.0)) / 2
    assert parts["mse"].item() == pytest.approx(mse)
    assert parts["cosine"].item() == pytest.approx(cos, abs=1e-6)
    assert loss.item() == pytest.approx(2 * mse + 3 * cos, abs=1e-6)


def test_layer_map_is_uniform_and_ends_at_the_last_layer():
    assert layer_map(3, 6) == [0, 2, 4, 6]
    assert layer_map(2, 6) == [0, 3, 6]
    assert layer_map(6, 6) == list(range(7))
    assert layer_map(4, 12) == [0, 3, 6, 9, 12]


def test_gradients_flow_to_the_student_only():
    s = torch.randn(3, 5, requires_grad=True)
    t = torch.randn(3, 5, requires_grad=True)
    soft_target_loss(s, t, 2.0).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
