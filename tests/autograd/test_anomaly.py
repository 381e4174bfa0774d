"""detect_anomaly: the first op producing NaN/Inf, forward or backward, is named with its line."""

import os
import re

import numpy as np
import pytest

import cnnkit
from cnnkit.autograd import Function
from cnnkit.autograd.grad_mode import is_anomaly_enabled

THIS_FILE = os.path.basename(__file__)


@pytest.fixture(autouse=True)
def _anomaly_off_around_each_test():
    assert not is_anomaly_enabled()
    yield
    assert not is_anomaly_enabled()


class NaNGrad(Function):
    """Identity whose backward returns NaN."""

    def forward(self, a):
        return a.copy()

    def backward(self, grad_out):
        return (np.full_like(grad_out, np.nan),)


@pytest.mark.parametrize("values, counts", [([0.0, 1.0], r"0 NaN, 1 Inf of 2 elements"),
                                            ([-1.0, 1.0], r"1 NaN, 0 Inf of 2 elements")])
def test_log_forward_anomaly_names_op_and_line(values, counts):
    x = cnnkit.tensor(values, requires_grad=True)
    with pytest.raises(cnnkit.AnomalyError, match=r"Function 'Log' produced non-finite values in its forward output") as info:
        with cnnkit.detect_anomaly():
            y = x.log()  # the offending line
    message = str(info.value)
    assert THIS_FILE in message
    assert "y = x.log()  # the offending line" in message
    assert "in test_log_forward_anomaly_names_op_and_line" in message
    assert re.search(counts, message)
    assert not is_anomaly_enabled()


def test_anomaly_error_is_runtime_error():
    assert issubclass(cnnkit.AnomalyError, RuntimeError)
    assert cnnkit.AnomalyError is cnnkit.autograd.AnomalyError


def test_forward_anomaly_without_grad():
    x = cnnkit.tensor([0.0])
    with pytest.raises(cnnkit.AnomalyError, match=r"'Log'"):
        with cnnkit.detect_anomaly():
            x.log()


def test_sqrt_backward_anomaly_names_op_and_line():
    x = cnnkit.tensor([0.0, 4.0], requires_grad=True)
    with cnnkit.detect_anomaly():
        y = x.sqrt()  # forward is finite: sqrt(0) = 0
        assert y.tolist() == [0.0, 2.0]
        loss = y.sum()
        with pytest.raises(cnnkit.AnomalyError,
                           match=r"Function 'Sqrt' produced non-finite values in the gradient it returned "
                                 r"for input 0 during backward \(0 NaN, 1 Inf of 2 elements\)") as info:
            loss.backward()
    message = str(info.value)
    assert THIS_FILE in message
    assert "y = x.sqrt()  # forward is finite: sqrt(0) = 0" in message


def test_custom_function_nan_gradient_named():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    with cnnkit.detect_anomaly():
        y = NaNGrad.apply(x) * 3
        with pytest.raises(cnnkit.AnomalyError, match=r"Function 'NaNGrad' produced non-finite values in the "
                                                      r"gradient.*\(2 NaN, 0 Inf of 2 elements\)") as info:
            y.sum().backward()
    assert "y = NaNGrad.apply(x) * 3" in str(info.value)


def test_graph_built_outside_backward_inside_has_no_location():
    x = cnnkit.tensor([0.0], requires_grad=True)
    y = x.sqrt().sum()
    with pytest.raises(cnnkit.AnomalyError, match=r"'Sqrt'.*<location recorded only inside detect_anomaly>"):
        with cnnkit.detect_anomaly():
            y.backward()


def test_no_error_outside_context():
    x = cnnkit.tensor([0.0, -1.0], requires_grad=True)
    with np.errstate(all="ignore"):
        y = x.log()
        assert np.isinf(y.numpy()[0]) and np.isnan(y.numpy()[1])
        z = x.sqrt()
        z.sum().backward()
    assert np.isinf(x.grad.numpy()[0])
    w = cnnkit.tensor([1.0], requires_grad=True)
    NaNGrad.apply(w).sum().backward()
    assert np.isnan(w.grad.item())


def test_finite_computation_passes_inside_context():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    with cnnkit.detect_anomaly():
        y = (x.log() + x.sqrt() + x.exp()).sum()
        y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 / np.array([1, 2]) + 0.5 / np.sqrt([1, 2]) + np.exp([1, 2]),
                               rtol=1e-6)


def test_integer_outputs_ignored():
    with cnnkit.detect_anomaly():
        cnnkit.tensor(np.array([1, 2])) * 2


def test_flag_restored_after_error_and_nesting():
    assert not is_anomaly_enabled()
    with pytest.raises(cnnkit.AnomalyError):
        with cnnkit.detect_anomaly():
            assert is_anomaly_enabled()
            cnnkit.tensor([-1.0]).sqrt()
    assert not is_anomaly_enabled()
    with cnnkit.detect_anomaly():
        with cnnkit.detect_anomaly(False):
            assert not is_anomaly_enabled()
            cnnkit.tensor([0.0]).log()  # disabled: no error
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()


def test_detect_anomaly_as_decorator():
    @cnnkit.detect_anomaly()
    def step(t):
        assert is_anomaly_enabled()
        return t.log()

    with pytest.raises(cnnkit.AnomalyError, match=r"'Log'.*return t\.log\(\)"):
        step(cnnkit.tensor([0.0]))
    assert not is_anomaly_enabled()
    assert step(cnnkit.tensor([1.0])).tolist() == [0.0]


def test_functional_op_location_is_user_line():
    x = cnnkit.tensor([-1.0])
    with pytest.raises(cnnkit.AnomalyError, match=r"'Log'.*cnnkit\.log\(x\) \+ 1  # via functional") as info:
        with cnnkit.detect_anomaly():
            cnnkit.log(x) + 1  # via functional
    assert THIS_FILE in str(info.value)
