"""Review of the fast paths: max-pool windows that lie wholly in the padding (compiled kernel,
NumPy fallback and reference path against a loop written here), the buffer pool's cap, buffer
reuse while graphs are alive, bit-identical results run to run, errors raised in worker threads,
and in-place edits of a normalisation output that its backward reads."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
import cnnkit.functional as F
from cnnkit.backend import fastpath
from cnnkit.backend import jit_kernels as J
from cnnkit.backend import parallel

from .test_fastpaths_jit import _pool_grads


def _naive_max_pool2d(x, kernel, stride, padding, dilation, out_shape, g):
    """Max over the taps of each window that fall inside the image (-inf for none), the first
    maximum winning; the window's gradient goes to its winner and is dropped when it has none."""
    n, c, h, w = x.shape
    out = np.full((n, c, *out_shape), -np.inf, dtype=x.dtype)
    grad = np.zeros_like(x)
    for i in range(out_shape[0]):
        for j in range(out_shape[1]):
            taps = [(i * stride[0] - padding[0] + a * dilation[0], j * stride[1] - padding[1] + b * dilation[1])
                    for a in range(kernel[0]) for b in range(kernel[1])]
            taps = [(r, s) for r, s in taps if 0 <= r < h and 0 <= s < w]
            for p in range(n):
                for q in range(c):
                    best = None
                    for r, s in taps:
                        if best is None or x[p, q, r, s] > x[p, q, best[0], best[1]]:
                            best = (r, s)
                    if best is not None:
                        out[p, q, i, j] = x[p, q, best[0], best[1]]
                        grad[p, q, best[0], best[1]] += g[p, q, i, j]
    return out, grad


def _pool(x, g, path, monkeypatch, **kw):
    """Output and input gradient of max_pool2d on the 'jit', 'numpy' (CNNKIT_JIT=0) or
    'reference' path."""
    with monkeypatch.context() as m:
        if path == "numpy":
            m.setattr(J, "_compiled", {})  # as _load leaves it without numba or with CNNKIT_JIT=0
        return _pool_grads(x, g, path == "reference", **kw)


# Windows wholly in the padding: dilation 2 puts both row taps of the first window at -1 and 1
# on a 1-row image; ceil_mode adds an overhanging last window; the last case has no such window.
@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 1, 5), dict(kernel_size=2, stride=1, padding=1, dilation=2)),
    ((1, 2, 1, 3), dict(kernel_size=2, stride=2, padding=1, dilation=2, ceil_mode=True)),
    ((2, 2, 3, 6), dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 1), dilation=(2, 1), ceil_mode=True)),
    ((2, 2, 7, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_windows_in_the_padding_get_no_gradient_on_every_path(shape, kw, dtype, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    out_shape = F.max_pool2d(cnnkit.tensor(x), **kw).shape[2:]
    g = (np.arange(np.prod((shape[0], shape[1]) + out_shape)) + 1).reshape((shape[0], shape[1]) + out_shape).astype(dtype)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    expected = _naive_max_pool2d(x, pair(kw["kernel_size"]), pair(kw["stride"]), pair(kw["padding"]),
                                 pair(kw.get("dilation", 1)), out_shape, g)
    paths = ["numpy", "reference"] + (["jit"] if J.available(x) else [])
    for path in paths:
        out, grad = _pool(x, g, path, monkeypatch, **kw)
        assert out.dtype == dtype and grad.dtype == dtype, path
        np.testing.assert_array_equal(out, expected[0], err_msg=path)
        np.testing.assert_array_equal(grad, expected[1], err_msg=path)


def test_max_pool_of_an_empty_plane_with_padding_is_all_minus_inf(monkeypatch):
    # every window lies in the padding; the compiled kernel must neither read nor write the plane
    x = np.zeros((1, 2, 0, 2), np.float32)
    g = np.ones((1, 2, 1, 3), np.float32)
    for path in ["numpy", "reference"] + (["jit"] if J.available(x) else []):
        out, grad = _pool(x, g, path, monkeypatch, kernel_size=2, stride=1, padding=1)
        assert out.shape == (1, 2, 1, 3) and np.all(out == -np.inf), path
        assert grad.shape == x.shape, path


def test_buffer_pool_never_keeps_an_array_larger_than_its_cap(monkeypatch):
    monkeypatch.setattr(fastpath, "_MAX_BYTES", 4 << 20)
    fastpath.clear()
    try:
        fastpath.give(fastpath.take((5 << 18,), np.float32))  # 5 MiB > the 4 MiB cap
        assert fastpath._pooled_bytes == 0 and not any(fastpath._free.values())
        fastpath.give(fastpath.take((3 << 18,), np.float32))  # 3 MiB: kept
        assert fastpath._pooled_bytes == 3 << 20
    finally:
        fastpath.clear()


def _conv_step(x, w, b, **kw):
    xt, wt, bt = (cnnkit.tensor(a, requires_grad=True) for a in (x, w, b))
    F.conv2d(xt, wt, bt, **kw).square().sum().backward()
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def test_pool_stays_capped_over_steps_with_varying_batch_sizes(monkeypatch):
    monkeypatch.setenv("CNNKIT_THREADS", "2")
    monkeypatch.setattr(fastpath, "_MAX_BYTES", 8 << 20)
    fastpath.clear()
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 4, 3, 3)).astype(np.float32)
    b = np.zeros(4, np.float32)
    try:
        for n in [12, 7, 12, 9, 3, 12, 10, 5, 12, 11]:  # each chunk's column matrix is 1-2 MiB
            _conv_step(rng.standard_normal((n, 4, 40, 40)).astype(np.float32), w, b, padding=1)
            assert fastpath._pooled_bytes <= 8 << 20
            assert fastpath._pooled_bytes == sum(a.nbytes for s in fastpath._free.values() for a in s)
    finally:
        fastpath.clear()


def test_split_conv_backward_twice_with_retained_graph_and_other_graphs_alive(monkeypatch):
    monkeypatch.setenv("CNNKIT_THREADS", "3")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((7, 4, 40, 40)).astype(np.float32)  # 3 chunks, pooled 1.3 MiB columns
    w = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    expected = _conv_step(x, w, np.zeros(5, np.float32), padding=1)
    with fastpath.reference_only():
        ref = _conv_step(x, w, np.zeros(5, np.float32), padding=1)
    xt, wt = cnnkit.tensor(x, requires_grad=True), cnnkit.tensor(w, requires_grad=True)
    kept = F.conv2d(xt, wt, padding=1).square().sum()
    kept.backward(retain_graph=True)
    first = (xt.grad.numpy().copy(), wt.grad.numpy().copy())
    for _ in range(3):  # other steps of the same shape take and give back pooled columns meanwhile
        _conv_step(rng.standard_normal(x.shape).astype(np.float32), w, np.zeros(5, np.float32), padding=1)
    xt.grad = wt.grad = None
    kept.backward()
    for a, b, r in zip((xt.grad.numpy(), wt.grad.numpy()), first, expected):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, r)
    for a, r in zip(expected, ref):
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4 * np.abs(r).max())
    with pytest.raises(RuntimeError, match="second time"):
        kept.backward()


def test_same_thread_count_gives_bit_identical_training_steps(monkeypatch):
    monkeypatch.setenv("CNNKIT_THREADS", "3")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((10, 3, 24, 24)).astype(np.float32)

    def step() -> list:
        cnnkit.manual_seed(0)
        model = cnnkit.nn.Sequential(cnnkit.nn.Conv2d(3, 16, 3, padding=1), cnnkit.nn.BatchNorm2d(16),
                                     cnnkit.nn.ReLU(), cnnkit.nn.MaxPool2d(2), cnnkit.nn.Flatten(),
                                     cnnkit.nn.Linear(16 * 12 * 12, 64))
        model(cnnkit.tensor(x)).square().mean().backward()
        return [p.grad.numpy().tobytes() for p in model.parameters()]

    assert step() == step()


def test_an_error_in_a_worker_thread_is_raised_and_the_pool_still_works(monkeypatch):
    monkeypatch.setenv("CNNKIT_THREADS", "3")

    def fail_in_chunk_two(k: int, lo: int, hi: int) -> None:
        if k == 2:
            raise ValueError(f"chunk {k} failed")

    with pytest.raises(ValueError, match="chunk 2 failed"):
        parallel.split(fail_in_chunk_two, parallel.chunks(9))
    seen: list = []
    parallel.split(lambda k, lo, hi: seen.append((lo, hi)), parallel.chunks(9))
    assert sorted(seen) == [(0, 3), (3, 6), (6, 9)]


@pytest.mark.parametrize("reference", [False, True])
def test_editing_a_plain_batch_norm_output_in_place_is_refused_at_backward(reference):
    # without weight and bias the output is the x̂ that backward reads: an edit must not pass silently
    x = cnnkit.tensor(np.random.default_rng(4).standard_normal((4, 3, 5, 5)).astype(np.float32), requires_grad=True)
    if reference:
        with fastpath.reference_only():
            y = F.batch_norm(x, None, None, training=True)
    else:
        y = F.batch_norm(x, None, None, training=True)
    with cnnkit.no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_by_memory_splits_a_batch_of_one_along_its_channels(monkeypatch):
    monkeypatch.setenv("CNNKIT_THREADS", "2")
    seen: list = []
    parallel.by_memory(lambda idx: seen.append(idx), np.zeros((1, 64, 64, 64), np.float32))
    assert sorted(idx[1].start for idx in seen) == [0, 32] and all(idx[0] == slice(None) for idx in seen)
    x = np.random.default_rng(5).standard_normal((1, 64, 64, 64)).astype(np.float32)
    np.testing.assert_array_equal(F.relu(cnnkit.tensor(x)).numpy(), np.maximum(x, 0))


def test_max_pool_node_frees_its_winners_after_backward():
    x = cnnkit.tensor(np.random.default_rng(6).standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    y = F.max_pool2d(x, 2)
    node = y.creator
    y.sum().backward()
    assert node.freed and node.saved == () and getattr(node, "winner", None) is None


def test_import_leaves_openblas_alone_and_the_first_conv_pins_it():
    # README "Performance": the first fast-path op (not the import) sets OpenBLAS to one thread
    import os
    import subprocess
    import sys

    code = """if True:
        import ctypes, os, sys
        import numpy as np
        lib = next(ctypes.CDLL(line.split()[-1]) for line in open('/proc/self/maps')
                   if 'openblas' in line.split()[-1].lower() and '.so' in line.split()[-1])
        get = next(getattr(lib, n) for n in ('scipy_openblas_get_num_threads64_', 'scipy_openblas_get_num_threads',
                   'openblas_get_num_threads64_', 'openblas_get_num_threads') if hasattr(lib, n))
        before = get()
        import cnnkit, cnnkit.functional as F
        from cnnkit.backend import parallel
        model = cnnkit.nn.Sequential(cnnkit.nn.Conv2d(1, 2, 3), cnnkit.nn.ReLU())
        np.ones((64, 64)) @ np.ones((64, 64))
        after_import = get()
        untouched = not parallel._blas_checked and 'numba' not in sys.modules and parallel._executor is None
        F.conv2d(cnnkit.ones(2, 1, 5, 5), cnnkit.ones(1, 1, 3, 3))
        print(before, after_import, untouched, get(), parallel.active())
    """
    env = {k: v for k, v in os.environ.items() if k not in ("CNNKIT_PIN_BLAS", "CNNKIT_THREADS")}
    env["OPENBLAS_NUM_THREADS"] = "2"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["2", "2", "True", "1", "True"]


def test_split_waits_for_every_chunk_before_raising_a_worker_error(monkeypatch):
    # otherwise the caller goes on (or retries) while other chunks still write into its arrays
    import time

    monkeypatch.setenv("CNNKIT_THREADS", "3")
    done: list = []

    def fn(k: int, lo: int, hi: int) -> None:
        if k == 1:
            raise ValueError("chunk 1 failed")
        if k == 2:
            time.sleep(0.2)
        done.append(k)

    with pytest.raises(ValueError, match="chunk 1 failed"):
        parallel.split(fn, parallel.chunks(9))
    assert sorted(done) == [0, 2]
