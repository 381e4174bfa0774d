"""Shared fixtures of the functional tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def torch():
    """PyTorch (skips without it), single-threaded: on 2 cores its intra-op threads make these tiny
    ops ~100x slower."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)
