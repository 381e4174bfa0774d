"""Fixtures shared by the optimizer, scheduler and gradient-clipping tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def torch():
    """PyTorch on one thread with float32 as its default dtype (skips cleanly when absent)."""
    torch = pytest.importorskip("torch")
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    try:
        yield torch
    finally:
        torch.set_num_threads(threads)
        torch.set_default_dtype(dtype)
