"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def torch():
    """PyTorch as the parity reference (the test skips cleanly when torch is not installed).

    Single-threaded, because on 2 cores its intra-op threads make tiny ops ~100x slower, and with
    float32 as its default dtype; both are restored afterwards.
    """
    torch = pytest.importorskip("torch")
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    try:
        yield torch
    finally:
        torch.set_num_threads(threads)
        torch.set_default_dtype(dtype)
