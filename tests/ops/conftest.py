"""Fixtures shared by the op tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def torch():
    """PyTorch with float32 as its default dtype (skips when torch is not installed)."""
    torch = pytest.importorskip("torch")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        yield torch
    finally:
        torch.set_default_dtype(previous)
