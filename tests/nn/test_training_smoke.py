"""End to end: a small CNN overfits one fixed batch with hand-written SGD, reproducibly.

Proves that layers, loss, backward and parameter registration connect: every parameter gets a
gradient, the loss falls to near zero, and the same seed gives bit-identical losses.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
from cnnkit import nn

STEPS, LR = 100, 0.1


def make_batch():
    rng = np.random.default_rng(7)
    images = cnnkit.tensor(rng.standard_normal((16, 1, 8, 8)).astype(np.float32))
    targets = cnnkit.tensor(np.arange(16, dtype=np.int64) % 4)
    return images, targets


def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 4),
    )


def train(seed, steps=STEPS, lr=LR):
    cnnkit.manual_seed(seed)
    model = make_model()
    images, targets = make_batch()
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(steps):
        model.zero_grad()
        loss = loss_fn(model(images), targets)
        loss.backward()
        for name, p in model.named_parameters():
            assert p.grad is not None and p.grad.shape == p.shape, name
        with cnnkit.no_grad():
            for p in model.parameters():
                p.data -= lr * p.grad.data
        losses.append(loss.item())
    return model, losses


@pytest.fixture(scope="module")
def run_a():
    return train(seed=0)


def test_overfits_one_batch(run_a):
    model, losses = run_a
    assert 1.0 < losses[0] < 2.5  # starts near chance (ln 4 = 1.39)
    assert losses[-1] < 0.05
    assert losses[-1] < losses[0] / 20
    # mostly downhill: the 10-step running mean decreases
    smooth = np.convolve(losses, np.ones(10) / 10, mode="valid")
    assert np.all(np.diff(smooth[::10]) < 0)
    images, targets = make_batch()
    model.eval()
    with cnnkit.no_grad():
        predictions = model(images).numpy().argmax(axis=1)
    np.testing.assert_array_equal(predictions, targets.numpy())


def test_every_parameter_moved_and_running_stats_tracked(run_a):
    model, _ = run_a
    cnnkit.manual_seed(0)
    initial = make_model()
    for (name, p), (_, p0) in zip(model.named_parameters(), initial.named_parameters()):
        assert not np.array_equal(p.data, p0.data), f"{name} never changed"
    bn = model[1]
    assert bn.num_batches_tracked.item() == STEPS
    assert not np.allclose(bn.running_mean.data, 0)
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_same_seed_gives_bit_identical_losses(run_a):
    _, losses_a = run_a
    model_b, losses_b = train(seed=0)
    assert losses_b == losses_a  # exact float equality, step by step
    for (name, p), (_, q) in zip(run_a[0].state_dict().items(), model_b.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)


def test_different_seed_gives_different_run(run_a):
    _, losses_a = run_a
    _, losses_c = train(seed=1, steps=3)
    assert losses_c != losses_a[:3]


def test_zero_grad_matters():
    """Without zero_grad gradients accumulate: the first two steps' grads sum."""
    cnnkit.manual_seed(0)
    model = make_model()
    images, targets = make_batch()
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(model(images), targets).backward()
    first = model[5].weight.grad.numpy().copy()
    loss_fn(model(images), targets).backward()
    np.testing.assert_allclose(model[5].weight.grad.numpy(), 2 * first, rtol=1e-5, atol=1e-7)
