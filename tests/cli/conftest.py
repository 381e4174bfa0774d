"""Fixtures of the command-line tests: a tiny synthetic MNIST and one run trained on it."""

from __future__ import annotations

import contextlib
import io
import os

import numpy as np
import pytest

import cnnkit
from cnnkit.cli import main


def make_bars(n: int, seed: int) -> tuple:
    """MNIST-shaped uint8 images of a bright horizontal bar whose row encodes the class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = np.zeros((n, 28, 28), np.uint8)
    for i, d in enumerate(labels):
        images[i, 2 + 2 * d: 4 + 2 * d, 4:24] = 255
    return images, labels


TINY = (make_bars(480, 0), make_bars(120, 1))


@pytest.fixture()
def tiny_mnist(monkeypatch):
    """``cnnkit.datasets.mnist.load_data`` replaced by :data:`TINY` (every loader goes through it)."""
    monkeypatch.setattr(cnnkit.datasets.mnist, "load_data", lambda path=None: TINY)
    return TINY


@pytest.fixture(scope="session")
def trained_output(tmp_path_factory):
    """One finished ``cnnkit train`` run (lenet5_classic, 2 epochs on :data:`TINY`), shared read-only:
    ``(run directory, what it printed)``."""
    out = str(tmp_path_factory.mktemp("cli") / "run")
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(printed):
        mp.setattr(cnnkit.datasets.mnist, "load_data", lambda path=None: TINY)
        code = main(["train", "--model", "lenet5_classic", "--epochs", "2", "--batch-size", "32", "--out", out,
                     "--verbose", "2", "--lr", "0.003"])
    assert code == 0 and os.path.exists(os.path.join(out, "result.json"))
    return out, printed.getvalue()


@pytest.fixture(scope="session")
def trained_run(trained_output):
    """The shared run's directory."""
    return trained_output[0]
