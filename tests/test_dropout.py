"""The CPU dropout with the cheaper mask: its rate, expectation, gradient and modes."""
import pytest
import torch

from bertkit.models.dropout import Dropout, keep_mask


@pytest.mark.parametrize("p", [0.1, 0.5, 0.02])
def test_rate_and_expectation(p):
    torch.manual_seed(0)
    y = Dropout(p).train()(torch.ones(1000, 1000))
    dropped = (y == 0).float().mean().item()
    assert abs(dropped - p) < 0.002  # the binomial std over 1M elements is at most 0.0005
    assert abs(y.mean().item() - 1.0) < 0.003  # kept values are scaled: the expectation is the input
    kept = y[y != 0]
    assert torch.allclose(kept, torch.full_like(kept, kept[0].item())) and abs(kept[0].item() - 1 / (1 - p)) < 1e-4


def test_masks_are_independent_of_position():
    """Low and high halves of each draw land in different halves of the mask: neither half may differ."""
    torch.manual_seed(1)
    keep, _ = keep_mask(torch.Size([2, 500_000]), 0.3)
    rates = (~keep).float().mean(1)
    assert ((rates - 0.3).abs() < 0.003).all()
    # neighbouring elements are uncorrelated
    a, b = (~keep).float().view(-1)[:-1], (~keep).float().view(-1)[1:]
    assert abs(((a - a.mean()) * (b - b.mean())).mean().item()) < 0.002


def test_gradient_is_the_mask_times_the_scale():
    x = torch.randn(64, 32, requires_grad=True)
    torch.manual_seed(2)
    y = Dropout(0.25).train()(x)
    y.sum().backward()
    keep = y.detach() != 0
    assert torch.allclose(x.grad[keep], torch.full_like(x.grad[keep], 1 / 0.75), atol=1e-4)
    assert (x.grad[~keep] == 0).all()


def test_eval_zero_rate_seed_and_dtype():
    x = torch.randn(8, 16)
    assert Dropout(0.1).eval()(x) is x
    assert torch.equal(Dropout(0.0).train()(x), x)
    d = Dropout(0.1).train()
    torch.manual_seed(3)
    a = d(x)
    torch.manual_seed(3)
    assert torch.equal(a, d(x))  # the global generator drives it: seeds (and checkpointed RNG states) hold
    assert d(x.bfloat16()).dtype == torch.bfloat16
