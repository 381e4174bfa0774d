"""The activation-function figure: values and autograd derivatives against analytic formulas."""

import numpy as np
import pytest

from cnnkit.viz import activation_curves, plot_activation_functions
from cnnkit.viz import activations as A

SELU_L, SELU_A = 1.0507009873554805, 1.6732632423543772


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _analytic():
    """(f, f') written out by hand for each of the slides' fourteen."""
    slope = sum(A.RRELU_BOUNDS) / 2
    t_l, a_l, t_r, a_r = A.SRELU_PARAMS
    (a1, a2), (b1, b2) = A.APL_PARAMS
    pos = lambda x: np.where(x > 0, 1.0, 0.0)  # noqa: E731
    return {
        "Identity": (lambda x: x, lambda x: np.ones_like(x)),
        "Sigmoid": (_sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
        "Tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
        "ReLU": (lambda x: np.maximum(x, 0), pos),
        "Leaky ReLU": (lambda x: np.where(x > 0, x, 0.01 * x), lambda x: np.where(x > 0, 1, 0.01)),
        "PReLU": (lambda x: np.where(x > 0, x, 0.25 * x), lambda x: np.where(x > 0, 1, 0.25)),
        "RReLU (eval)": (lambda x: np.where(x > 0, x, slope * x), lambda x: np.where(x > 0, 1, slope)),
        "ELU": (lambda x: np.where(x > 0, x, np.exp(x) - 1), lambda x: np.where(x > 0, 1, np.exp(x))),
        "SELU": (lambda x: SELU_L * np.where(x > 0, x, SELU_A * (np.exp(x) - 1)),
                 lambda x: SELU_L * np.where(x > 0, 1, SELU_A * np.exp(x))),
        "SReLU": (lambda x: np.where(x >= t_r, t_r + a_r * (x - t_r), np.where(x <= t_l, t_l + a_l * (x - t_l), x)),
                  lambda x: np.where(x >= t_r, a_r, np.where(x <= t_l, a_l, 1.0))),
        "ISRLU": (lambda x: np.where(x >= 0, x, x / np.sqrt(1 + x * x)),
                  lambda x: np.where(x >= 0, 1, (1 + x * x) ** -1.5)),
        "APL": (lambda x: np.maximum(x, 0) + a1 * np.maximum(b1 - x, 0) + a2 * np.maximum(b2 - x, 0),
                lambda x: pos(x) - a1 * (x < b1) - a2 * (x < b2)),
        "SoftPlus": (lambda x: np.log1p(np.exp(x)), _sigmoid),
        "Bent identity": (lambda x: (np.sqrt(x * x + 1) - 1) / 2 + x, lambda x: x / (2 * np.sqrt(x * x + 1)) + 1),
    }


def test_all_fourteen_are_present_and_match_formulas():
    # avoid the kinks (0, ±1, −2), where one-sided derivatives differ
    x = np.linspace(-4, 4, 400) + 0.0037
    curves = activation_curves(x)
    analytic = _analytic()
    assert list(curves) == list(analytic) and len(curves) == 14
    for name, (f, df) in analytic.items():
        assert curves[name] is not None, f"{name} is missing from cnnkit"
        y, dy = curves[name]
        np.testing.assert_allclose(y, f(x), rtol=1e-6, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(dy, df(x), rtol=1e-6, atol=1e-9, err_msg=f"{name}'")


def test_figure_plots_the_curves(tmp_path, check_png):
    path = tmp_path / "activations.png"
    fig = plot_activation_functions(path=path, num=101, figsize=(8, 6), dpi=50)
    check_png(path, (400, 300))
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 14
    relu = next(ax for ax in panels if ax.get_title().startswith("ReLU"))
    f_line, df_line = [line for line in relu.get_lines() if len(line.get_xdata()) == 101]
    x = f_line.get_xdata()
    np.testing.assert_allclose(f_line.get_ydata(), np.maximum(x, 0))
    off_kink = np.abs(x) > 1e-12
    np.testing.assert_allclose(df_line.get_ydata()[off_kink], (x[off_kink] > 0).astype(float))
    assert "all 14" in fig.axes[-1].texts[0].get_text()


def test_missing_activation_is_reported_not_fatal(monkeypatch):
    from cnnkit import functional

    monkeypatch.delattr(functional, "isrlu")
    fig = plot_activation_functions(num=11)
    assert activation_curves([0.5])["ISRLU"] is None
    assert "ISRLU" in fig.axes[-1].texts[0].get_text()
    isrlu = next(ax for ax in fig.axes if ax.get_title().startswith("ISRLU"))
    assert isrlu.texts[0].get_text() == "not in cnnkit"


@pytest.mark.parametrize("kwargs", [{"x_range": (1, 1)}, {"num": 1}, {"x_range": (0, float("inf"))}])
def test_bad_ranges(kwargs):
    with pytest.raises(ValueError, match="x_range"):
        plot_activation_functions(**kwargs)
