"""Review of the element-wise Adam rewrite (optim/adam.py, commit 3a92da8).

The rewrite first decided whether to apply AMSGrad from ``state.get("max_exp_avg_sq")`` instead of
``group["amsgrad"]``: once a parameter had that state, turning ``amsgrad`` off in its group kept
applying the AMSGrad maximum (PyTorch uses the plain Adam denominator). Fixed; this guards it.
Expected values are computed here from Adam's formula in float64.
"""

from __future__ import annotations

import math

import numpy as np

import cnnkit
from cnnkit.optim import Adam


def test_turning_amsgrad_off_uses_the_plain_denominator():
    lr, b1, b2, eps = 0.1, 0.9, 0.5, 1e-8  # a short v memory: AMSGrad and Adam differ clearly
    p0 = np.array([0.5, -1.0, 2.0], np.float32)
    grads = [np.array([5.0, -4.0, 3.0], np.float32), np.array([0.01, 0.02, -0.01], np.float32)]
    p = cnnkit.Tensor(p0.copy(), requires_grad=True)
    opt = Adam([p], lr=lr, betas=(b1, b2), amsgrad=True)
    p.grad = cnnkit.Tensor(grads[0])
    opt.step()  # AMSGrad step: max_exp_avg_sq now holds the large first v
    opt.param_groups[0]["amsgrad"] = False
    p.grad = cnnkit.Tensor(grads[1])
    opt.step()  # must be a plain Adam step

    x, m, v = p0.astype(np.float64), np.zeros(3), np.zeros(3)
    for step, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        # step 1: max(v_max, v) == v, so AMSGrad and Adam agree; step 2 is plain Adam
        denom = np.sqrt(v) / math.sqrt(1 - b2 ** step) + eps
        x = x - lr / (1 - b1 ** step) * m / denom
    np.testing.assert_allclose(p.numpy(), x, rtol=1e-5)
