"""Fixtures shared by the nn tests."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit


@pytest.fixture(autouse=True)
def _seeded_and_lenient():
    """Every test starts seeded, with strict shape checks off (a failing test cannot leak it)."""
    cnnkit.manual_seed(0)
    cnnkit.set_strict_shapes(False)
    try:
        yield
    finally:
        cnnkit.set_strict_shapes(False)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
