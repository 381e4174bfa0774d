"""Grad-mode switches: no_grad, enable_grad, set_grad_enabled."""

import threading

import pytest

import cnnkit
from cnnkit.autograd.grad_mode import is_anomaly_enabled


@pytest.fixture(autouse=True)
def _grad_enabled_around_each_test():
    assert cnnkit.is_grad_enabled()
    yield
    assert cnnkit.is_grad_enabled()


def leaf():
    return cnnkit.tensor([1.0, 2.0], requires_grad=True)


def test_default_enabled():
    assert cnnkit.is_grad_enabled() is True
    assert cnnkit.autograd.is_grad_enabled is cnnkit.is_grad_enabled


def test_no_grad_context():
    x = leaf()
    with cnnkit.no_grad():
        assert cnnkit.is_grad_enabled() is False
        y = x * 2
    assert y.requires_grad is False and y.creator is None and y.is_leaf
    assert (x * 2).requires_grad


def test_no_grad_context_returns_itself():
    with cnnkit.no_grad() as ctx:
        assert isinstance(ctx, cnnkit.no_grad)


def test_no_grad_decorator():
    x = leaf()

    @cnnkit.no_grad()
    def double(t):
        assert not cnnkit.is_grad_enabled()
        return t * 2

    y = double(x)
    assert cnnkit.is_grad_enabled()
    assert y.requires_grad is False and y.creator is None
    assert double.__name__ == "double"


def test_decorated_function_is_reentrant():
    @cnnkit.no_grad()
    def recurse(n):
        assert not cnnkit.is_grad_enabled()
        if n:
            recurse(n - 1)
            assert not cnnkit.is_grad_enabled()

    recurse(3)


def test_same_context_instance_reused_and_nested():
    ctx = cnnkit.no_grad()
    with ctx:
        with ctx:
            assert not cnnkit.is_grad_enabled()
        assert not cnnkit.is_grad_enabled()
    with ctx:
        assert not cnnkit.is_grad_enabled()


def test_nested_enable_grad_inside_no_grad():
    x = leaf()
    with cnnkit.no_grad():
        with cnnkit.enable_grad():
            assert cnnkit.is_grad_enabled()
            y = x * 2
        assert not cnnkit.is_grad_enabled()
        z = x * 2
    assert y.requires_grad and y.creator is not None
    assert not z.requires_grad
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_enable_grad_decorator_inside_no_grad():
    @cnnkit.enable_grad()
    def f(t):
        return t * 3

    x = leaf()
    with cnnkit.no_grad():
        y = f(x)
        assert not cnnkit.is_grad_enabled()
    assert y.requires_grad


@pytest.mark.parametrize("flag", [False, True, 0, 1])
def test_set_grad_enabled(flag):
    x = leaf()
    with cnnkit.set_grad_enabled(flag):
        assert cnnkit.is_grad_enabled() is bool(flag)
        y = x * 2
    assert y.requires_grad is bool(flag)


def test_set_grad_enabled_nested_and_decorator():
    with cnnkit.set_grad_enabled(False):
        with cnnkit.set_grad_enabled(True):
            assert cnnkit.is_grad_enabled()
        assert not cnnkit.is_grad_enabled()

    @cnnkit.set_grad_enabled(False)
    def f():
        return cnnkit.is_grad_enabled()

    assert f() is False


@pytest.mark.parametrize("make", [cnnkit.no_grad, cnnkit.enable_grad, lambda: cnnkit.set_grad_enabled(False)])
def test_state_restored_after_exception(make):
    with pytest.raises(ZeroDivisionError):
        with cnnkit.no_grad():
            with make():
                raise ZeroDivisionError
    assert cnnkit.is_grad_enabled()


def test_state_restored_after_exception_in_decorated_function():
    @cnnkit.no_grad()
    def boom():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        boom()
    assert cnnkit.is_grad_enabled()


def test_state_restored_from_disabled_outer():
    with cnnkit.no_grad():
        with pytest.raises(KeyError):
            with cnnkit.enable_grad():
                raise KeyError
        assert not cnnkit.is_grad_enabled()


def test_no_grad_does_not_touch_anomaly_flag():
    with cnnkit.no_grad():
        assert not is_anomaly_enabled()
    with cnnkit.detect_anomaly():
        with cnnkit.no_grad():
            assert is_anomaly_enabled()


def test_backward_works_inside_no_grad():
    x = leaf()
    y = (x * x).sum()
    with cnnkit.no_grad():
        y.backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_backward_does_not_record_graph():
    x = leaf()
    (x * x).sum().backward()
    assert x.grad.creator is None and not x.grad.requires_grad


def test_flag_is_process_wide():
    seen = []
    with cnnkit.no_grad():
        t = threading.Thread(target=lambda: seen.append(cnnkit.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [False]  # documented: process-wide, not thread-local


def test_set_grad_enabled_called_as_a_function_switches_the_mode():
    try:
        cnnkit.set_grad_enabled(False)
        assert not cnnkit.is_grad_enabled()
        cnnkit.set_grad_enabled(True)
        assert cnnkit.is_grad_enabled()
    finally:
        cnnkit.set_grad_enabled(True)


def test_set_grad_enabled_as_decorator_does_not_leak_at_decoration_time():
    @cnnkit.set_grad_enabled(False)
    def f():
        return cnnkit.is_grad_enabled()

    assert cnnkit.is_grad_enabled()
    assert f() is False
    assert cnnkit.is_grad_enabled()
