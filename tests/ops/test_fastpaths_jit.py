"""Fast paths against the reference paths: convolution split over cnnkit's threads (any number
of spatial dims), the compiled (numba) max-pooling kernels of ``backend.jit_kernels``, Linear's
split products, and the NumPy fallback when numba is missing or turned off."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import cnnkit
import cnnkit.functional as F
from cnnkit.backend import fastpath
from cnnkit.backend import jit_kernels as J
from cnnkit.backend import parallel

needs_numba = pytest.mark.skipif(not J.available(np.zeros(1, np.float32)), reason="numba not installed")


def _cnhw(a: np.ndarray) -> np.ndarray:
    """The same values laid out channel-major, as a conv output is."""
    return np.ascontiguousarray(a.swapaxes(0, 1)).swapaxes(0, 1)


def _conv_grads(x, w, b, reference, conv=F.conv2d, **kw):
    xt, wt, bt = (cnnkit.tensor(a, requires_grad=True) for a in (x, w, b))
    if reference:
        with fastpath.reference_only():
            y = conv(xt, wt, bt, **kw)
            (y * y).sum().backward()
    else:
        y = conv(xt, wt, bt, **kw)
        (y * y).sum().backward()
    return y.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize("kw", [dict(padding=2), dict(padding="same", dilation=2), dict(stride=2, padding=1, groups=2),
                                dict(stride=(1, 2), padding=(0, 1))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_jit_matches_reference(kw, dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 9, 8)).astype(dtype)
    w = rng.standard_normal((6, 4 // kw.get("groups", 1), 3, 3)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    fast, ref = _conv_grads(x, w, b, False, **kw), _conv_grads(x, w, b, True, **kw)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for a, r in zip(fast, ref):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, r, rtol=tol, atol=tol)


@pytest.mark.parametrize("threads", ["2", "3"])
def test_conv1d_and_conv3d_split_match_reference(monkeypatch, threads):
    monkeypatch.setenv("CNNKIT_THREADS", threads)
    rng = np.random.default_rng(8)
    x1, w1 = rng.standard_normal((7, 4, 300)), rng.standard_normal((5, 4, 4))
    x3, w3 = rng.standard_normal((5, 2, 9, 8, 7)), rng.standard_normal((3, 2, 3, 2, 3))
    for conv, x, w, kw in ((F.conv1d, x1, w1, dict(padding=2, stride=2)),
                           (F.conv3d, x3, w3, dict(padding=1, dilation=(1, 2, 1)))):
        b = rng.standard_normal(w.shape[0])
        fast = _conv_grads(x, w, b, False, conv=conv, **kw)
        ref = _conv_grads(x, w, b, True, conv=conv, **kw)
        for a, r in zip(fast, ref):
            np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-10 * np.abs(r).max())


def test_conv2d_empty_batch_and_no_graph():
    w = cnnkit.tensor(np.ones((2, 1, 3, 3), np.float32))
    assert F.conv2d(cnnkit.zeros(0, 1, 5, 5), w, padding=1).shape == (0, 2, 5, 5)
    x = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    with cnnkit.no_grad():
        y = F.conv2d(cnnkit.tensor(x), w, padding=1).numpy()
    # centre: sum of the 3×3 neighbourhood of x[2, 2] = 9 · 12
    assert y[0, 0, 2, 2] == 108.0 and y[0, 0, 0, 0] == 0 + 1 + 5 + 6


def _pool_grads(x, g, reference, **kw):
    """Output and input gradient of max_pool2d, on the fast path or (``reference``) the reference path."""
    xt = cnnkit.tensor(x, requires_grad=True)
    with fastpath.reference_only() if reference else contextlib.nullcontext():
        y = F.max_pool2d(xt, **kw)
        y.backward(cnnkit.tensor(g))
    return y.numpy(), xt.grad.numpy()


@needs_numba
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=1, dilation=2, ceil_mode=True),
                                dict(kernel_size=(3, 2), stride=(1, 3), padding=(1, 0), ceil_mode=True)])
def test_max_pool_jit_matches_reference_with_ties_nan_and_inf(kw):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    x[0, 0, :4, :4] = 1.0  # ties: the first maximum wins
    x[0, 1, 2, 3] = np.nan  # NaN wins its windows
    x[0, 1, 2, 5] = np.nan
    x[1, 2, :3, :3] = -np.inf  # real -inf maxima next to -inf padding
    x[1, 0, 4, 4] = np.inf
    for arr in (x, _cnhw(x)):
        y = F.max_pool2d(cnnkit.tensor(arr), **kw)
        g = rng.standard_normal(y.shape).astype(np.float32)
        fast, ref = _pool_grads(arr, g, False, **kw), _pool_grads(arr, g, True, **kw)
        np.testing.assert_array_equal(fast[0], ref[0])  # maxima exactly, NaN where NaN
        # overlapping windows add their gradients in another order
        np.testing.assert_allclose(fast[1], ref[1], rtol=1e-6, atol=1e-7)
        _, idx_fast = F.max_pool2d(cnnkit.tensor(arr), return_indices=True, **kw)
        with fastpath.reference_only():
            _, idx_ref = F.max_pool2d(cnnkit.tensor(arr), return_indices=True, **kw)
        np.testing.assert_array_equal(idx_fast.numpy(), idx_ref.numpy())


@needs_numba
@pytest.mark.parametrize("shape", [(2, 3, 9, 8), (2, 3, 8, 9), (1, 2, 2, 2), (3, 1, 7, 7)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_2x2_kernel_matches_reference(shape, dtype):
    """The specialised 2×2/stride-2 kernel (odd sizes drop the last row/column): maxima, winner
    indices and gradients equal the reference path, with ties, ±inf and a NaN at each tap."""
    assert J._is_2x2(shape, (2, 2), (2, 2), (0, 0), (1, 1), (shape[2] // 2, shape[3] // 2))
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(dtype)
    x[0, 0, :2, :2] = 0.5  # a tie: the first tap wins
    if shape[2] >= 4 and shape[3] >= 6:
        x[0, -1, 0, 2] = np.nan  # a NaN at each of the four taps of different windows
        x[0, -1, 1, 5] = np.nan
        x[0, -1, 3, 0] = np.nan
        x[0, -1, 3, 3] = np.nan
        x[0, -1, 2, 4] = np.inf
        x[-1, 0, :2, 2:4] = -np.inf
    for arr in (x, _cnhw(x)):
        y = F.max_pool2d(cnnkit.tensor(arr), 2)
        g = rng.standard_normal(y.shape).astype(dtype)
        fast, ref = _pool_grads(arr, g, False, kernel_size=2), _pool_grads(arr, g, True, kernel_size=2)
        np.testing.assert_array_equal(fast[0], ref[0])
        np.testing.assert_array_equal(fast[1], ref[1])  # windows do not overlap: exact
        _, idx_fast = F.max_pool2d(cnnkit.tensor(arr), 2, return_indices=True)
        with fastpath.reference_only():
            _, idx_ref = F.max_pool2d(cnnkit.tensor(arr), 2, return_indices=True)
        np.testing.assert_array_equal(idx_fast.numpy(), idx_ref.numpy())


@needs_numba
def test_max_pool_jit_keeps_the_input_layout():
    x = _cnhw(np.random.default_rng(4).standard_normal((4, 3, 6, 6)).astype(np.float32))
    xt = cnnkit.tensor(x, requires_grad=True)
    y = F.max_pool2d(xt, 2)
    assert y.numpy().swapaxes(0, 1).flags.c_contiguous
    y.sum().backward()
    assert xt.grad.numpy().swapaxes(0, 1).flags.c_contiguous


def test_batch_split_over_threads_gives_the_same_result(monkeypatch):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((16, 8, 20, 20)).astype(np.float32)  # large enough to split
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    b = np.zeros(8, np.float32)
    g = rng.standard_normal((16, 8, 10, 10)).astype(np.float32)
    monkeypatch.setenv("CNNKIT_THREADS", "1")
    one = _conv_grads(x, w, b, False, padding=1) + _pool_grads(x, g, False, kernel_size=2)
    monkeypatch.setenv("CNNKIT_THREADS", "3")
    assert parallel.num_threads() == 3 and parallel.chunks(16) == [(0, 5), (5, 10), (10, 16)]
    three = _conv_grads(x, w, b, False, padding=1) + _pool_grads(x, g, False, kernel_size=2)
    for a, r in zip(one, three):  # the weight gradient sums the chunks' products in another order
        np.testing.assert_allclose(a, r, rtol=1e-5, atol=1e-5 * np.abs(r).max())
    ref = _conv_grads(x, w, b, True, padding=1) + _pool_grads(x, g, True, kernel_size=2)
    for a, r in zip(three, ref):
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-5 * np.abs(r).max())


@needs_numba
def test_without_numba_the_numpy_kernels_run(monkeypatch):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 2, 7, 6)).astype(np.float32)
    g = rng.standard_normal((2, 2, 4, 3)).astype(np.float32)
    kw = dict(kernel_size=3, stride=2, padding=1)
    with_jit = _pool_grads(x, g, False, **kw)
    monkeypatch.setattr(J, "_compiled", {})  # as _load leaves it when numba cannot be imported
    assert not J.available(x)
    without = _pool_grads(x, g, False, **kw)
    for a, r in zip(with_jit, without):
        np.testing.assert_allclose(a, r, rtol=1e-6, atol=1e-6)


def test_integer_and_float16_inputs_take_the_numpy_path():
    assert not J.available(np.zeros(3, np.int32)) and not J.available(np.zeros(3, np.float16))
    y = F.max_pool2d(cnnkit.tensor(np.arange(16, dtype=np.int64).reshape(1, 1, 4, 4)), 2)
    assert y.numpy().tolist() == [[[[5, 7], [13, 15]]]]


@pytest.mark.parametrize("threads", ["2", "3"])
def test_linear_split_matches_reference(monkeypatch, threads):
    monkeypatch.setenv("CNNKIT_THREADS", threads)
    monkeypatch.setattr(parallel, "active", lambda: True)  # as after the first split pinned BLAS
    rng = np.random.default_rng(7)
    x = rng.standard_normal((65, 200)).astype(np.float32)  # 65·100·200 multiply-adds: split
    w = rng.standard_normal((101, 200)).astype(np.float32)
    b = rng.standard_normal(101).astype(np.float32)
    g = rng.standard_normal((65, 101)).astype(np.float32)
    outs = []
    for reference in (False, True):
        leaves = [cnnkit.tensor(a, requires_grad=True) for a in (x, w, b)]
        if reference:
            with fastpath.reference_only():
                y = F.linear(*leaves)
                y.backward(cnnkit.tensor(g))
        else:
            y = F.linear(*leaves)
            y.backward(cnnkit.tensor(g))
        outs.append([y.numpy()] + [t.grad.numpy() for t in leaves])
    want = [x @ w.T + b, g @ w, g.T @ x, g.sum(0)]  # independent NumPy values
    for fast, ref, exact in zip(*outs, want):
        np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(fast, exact, rtol=1e-5, atol=1e-4)


def test_import_does_not_load_numba():
    import subprocess
    import sys

    code = "import sys, cnnkit; cnnkit.nn.Conv2d(1, 1, 3); print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_openblas_is_found_and_pinned():
    # NumPy wheels ship OpenBLAS; the first split sets it to one thread (the module docstring says why).
    assert parallel.pin_blas() and parallel.active()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_split_matches_numpy_in_both_layouts(monkeypatch, dtype):
    monkeypatch.setenv("CNNKIT_THREADS", "3")
    rng = np.random.default_rng(9)
    x = rng.standard_normal((6, 5, 120, 100)).astype(dtype)  # 360,000 elements: split
    x[0, 0, 0, :3] = 0.0  # relu'(0) = 0
    g = rng.standard_normal(x.shape).astype(dtype)
    g[1, 1, 1, 1], g[2, 2, 2, 2] = np.inf, np.nan  # blocked where x < 0, passed where x > 0
    x[1, 1, 1, 1], x[2, 2, 2, 2] = -1.0, 1.0
    x[3, 3, 3, 3] = np.nan  # a NaN output blocks its gradient (PyTorch: grad where out > 0)
    for arr in (x, _cnhw(x)):
        xt = cnnkit.tensor(arr, requires_grad=True)
        y = F.relu(xt)
        y.backward(cnnkit.tensor(g))
        np.testing.assert_array_equal(y.numpy(), np.maximum(x, 0))
        want = np.where(x > 0, g, 0).astype(dtype)
        np.testing.assert_array_equal(xt.grad.numpy(), want)
        assert y.numpy().strides == arr.strides  # the layout is kept


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_split_by_channels_matches_reference(monkeypatch, affine, dtype):
    """The per-channel fast path (compiled kernels with numba, NumPy blocks without) against the
    reference path, forward, gradients and running statistics."""
    monkeypatch.setenv("CNNKIT_THREADS", "3")
    rng = np.random.default_rng(10)
    x = _cnhw((rng.standard_normal((8, 7, 70, 70)) * 3 + 1).astype(dtype))  # 274,400: split
    g = rng.standard_normal(x.shape).astype(dtype)
    results = []
    for reference in (False, True):
        bn = cnnkit.nn.BatchNorm2d(7, affine=affine)
        if affine:
            bn.weight.data[:] = rng.standard_normal(7).astype(np.float32) if not results else results[0][-1]
        bn.to(dtype)
        xt = cnnkit.tensor(x, requires_grad=True)
        if reference:
            with fastpath.reference_only():
                y = bn(xt)
                y.backward(cnnkit.tensor(g))
        else:
            y = bn(xt)
            y.backward(cnnkit.tensor(g))
        extra = [bn.weight.grad.numpy(), bn.bias.grad.numpy(), bn.weight.data.copy()] if affine else []
        results.append([y.numpy(), xt.grad.numpy(), bn.running_mean.numpy(), bn.running_var.numpy()] + extra)
    for a, r in zip(*results):
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(r).max()))
    mean = x.mean(axis=(0, 2, 3), dtype=np.float64)  # independent: the running mean after one step
    np.testing.assert_allclose(results[0][2], 0.1 * mean, rtol=1e-4)


def test_pin_blas_can_be_turned_off():
    import os
    import subprocess
    import sys

    code = ("import numpy as np, cnnkit, cnnkit.functional as F; from cnnkit.backend import parallel; "
            "F.conv2d(cnnkit.ones(2, 1, 5, 5), cnnkit.ones(1, 1, 3, 3)); print(parallel.active())")
    env = dict(os.environ, CNNKIT_PIN_BLAS="0")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False"


def test_split_runs_every_chunk_once_and_a_late_worker_takes_fewer(monkeypatch):
    import threading
    import time

    monkeypatch.setenv("CNNKIT_THREADS", "2")
    seen = []
    parallel.split(lambda k, lo, hi: seen.append((k, lo, hi, threading.current_thread() is threading.main_thread())),
                   parallel.chunks(10, 5))
    assert sorted(s[:3] for s in seen) == [(0, 0, 2), (1, 2, 4), (2, 4, 6), (3, 6, 8), (4, 8, 10)]
    # chunks are claimed by whichever thread is free: a worker that is slow (here: its first
    # chunk sleeps) leaves the rest to this thread instead of keeping it waiting
    seen.clear()

    def slow_off_main(k, lo, hi):
        main = threading.current_thread() is threading.main_thread()
        seen.append((k, main))
        if not main:
            time.sleep(0.2)

    parallel.split(slow_off_main, parallel.chunks(10, 5))
    assert sorted(k for k, _ in seen) == [0, 1, 2, 3, 4]
    assert sum(1 for _, main in seen if not main) <= 1

    def fail(k, lo, hi):
        if k == 3:
            raise ValueError("chunk 3")

    with pytest.raises(ValueError, match="chunk 3"):
        parallel.split(fail, parallel.chunks(10, 5))



def test_nested_split_runs_on_the_calling_thread(monkeypatch):
    import threading

    monkeypatch.setenv("CNNKIT_THREADS", "2")
    inner = []

    def outer(k, lo, hi):
        me = threading.current_thread()
        parallel.split(lambda j, a, b: inner.append((k, j, threading.current_thread() is me)), parallel.chunks(4))

    parallel.split(outer, parallel.chunks(2))
    assert sorted(inner) == [(0, 0, True), (0, 1, True), (1, 0, True), (1, 1, True)]
    seen = []
    worker_ran = threading.Event()

    def chunk(k, lo, hi):
        main = threading.current_thread() is threading.main_thread()
        seen.append(main)
        if main:  # hold this chunk until a worker has taken the other (chunks are claimed freely)
            worker_ran.wait(timeout=5)
        else:
            worker_ran.set()

    parallel.split(chunk, parallel.chunks(2))
    assert sorted(seen) == [False, True]  # the flag was reset: top-level splits use the pool again


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_split_works_in_a_forked_child(monkeypatch):
    import os
    import signal

    monkeypatch.setenv("CNNKIT_THREADS", "2")
    parallel.split(lambda k, lo, hi: None, parallel.chunks(2))  # the parent's pool exists
    pid = os.fork()
    if pid == 0:  # child: its inherited pool has no threads; a split must still finish
        signal.alarm(20)
        try:
            out = []
            parallel.split(lambda k, lo, hi: out.append(k), parallel.chunks(2))
            os._exit(0 if sorted(out) == [0, 1] else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
