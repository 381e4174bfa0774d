"""``cnnkit gradcheck MODEL``: a zoo model's parameter gradients against finite differences, in float64.

The model (in training mode, dropout off so every evaluation is the same function) computes the
mean cross-entropy of a small random batch with random labels. Backpropagation gives every
parameter's gradient at once; for a random subset of ``--samples`` entries per parameter the
centred difference ``(L(w + eps) - L(w - eps)) / 2 eps`` is compared with it. An entry passes when
``|analytic - numerical| <= atol + rtol * |numerical|`` (the rule of :func:`cnnkit.gradcheck`);
the table shows per parameter the largest relative error ``|a - n| / max(|a|, |n|, atol / rtol)``,
which is at most about ``rtol`` exactly when the entries pass (the floor keeps round-off on a
near-zero gradient from reading as a large relative error).
"""

from __future__ import annotations

import argparse
from typing import Any, Optional, Sequence

import numpy as np

from cnnkit.autograd.gradcheck import InputCheck
from cnnkit.cli.common import positive_int, resolve_model
from cnnkit.cli.errors import CLIError


def add_parser(sub: Any) -> None:
    """Register the ``gradcheck`` subcommand on an argparse subparsers object."""
    p = sub.add_parser("gradcheck", help="check a zoo model's gradients against finite differences",
                       description="Compare each parameter's backpropagated gradient with centred finite "
                                   "differences (float64) on a random subset of its entries; exit 1 when any "
                                   "entry fails. Large models (alexnet, vgg16) take minutes.")
    p.add_argument("model", metavar="MODEL", help="a name from `cnnkit models`")
    p.add_argument("--samples", type=positive_int, default=4, metavar="N", help="entries checked per parameter (default 4)")
    p.add_argument("--batch-size", type=positive_int, default=2, metavar="N", help="random inputs in the batch (default 2)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the weights, inputs, labels and entries")
    p.add_argument("--eps", type=float, default=1e-6, help="finite-difference step (default 1e-6)")
    p.add_argument("--rtol", type=float, default=1e-5, help="relative tolerance (default 1e-5)")
    p.add_argument("--atol", type=float, default=1e-8, help="absolute tolerance (default 1e-8); an entry passes "
                                                            "when |analytic - numerical| <= atol + rtol·|numerical|")
    p.set_defaults(run=run)


def _loss(module: Any, x: Any, y: Any) -> Any:
    from cnnkit import functional as F

    return F.cross_entropy(module(x), y)


def check_parameters(module: Any, x: np.ndarray, y: np.ndarray, samples: int, seed: int = 0, eps: float = 1e-6,
                     rtol: float = 1e-5, atol: float = 1e-8, names: Optional[Sequence[str]] = None) -> list:
    """Check ``module``'s parameter gradients of the mean cross-entropy on ``(x, y)``.

    Args:
        module: a Module whose parameters are float64 (``module.double()``).
        x: inputs, float64; y: integer class labels.
        samples: entries checked per parameter (all of them when the parameter is smaller).
        seed: seed of the entries chosen.
        eps, rtol, atol: step and tolerances (see the module docstring).
        names: check only these parameters (default: all that require grad).

    Returns:
        One :class:`cnnkit.autograd.gradcheck.InputCheck` per parameter; ``max_rel_error`` is
        ``|a - n| / max(|a|, |n|, atol / rtol)`` and ``worst_index`` the flat index of the worst entry.

    Example:
        >>> import cnnkit
        >>> layer = cnnkit.nn.Linear(3, 2).double()
        >>> x, y = np.random.default_rng(0).standard_normal((4, 3)), np.array([0, 1, 1, 0])
        >>> [(c.name, c.passed) for c in check_parameters(layer, x, y, samples=2)]
        [('weight', True), ('bias', True)]
    """
    from cnnkit import no_grad
    from cnnkit.tensor import Tensor

    rng = np.random.default_rng(seed)
    floor = atol / rtol if rtol > 0 else max(atol, np.finfo(np.float64).tiny)
    xt, yt = Tensor(np.asarray(x, np.float64)), Tensor(np.asarray(y, np.int64))
    params = [(n, p) for n, p in module.named_parameters() if p.requires_grad and (names is None or n in names)]
    for _, p in params:
        if p.dtype != np.float64:
            raise ValueError(f"check_parameters: parameter dtype is {p.dtype}; call module.double() first")
        p.data = np.ascontiguousarray(p.data)  # the flat view below must edit the parameter itself
        p.grad = None
    _loss(module, xt, yt).backward()
    checks = []
    for name, p in params:
        analytic_all = np.zeros(p.shape) if p.grad is None else p.grad.data.reshape(-1)
        chosen = np.sort(rng.choice(p.size, size=min(samples, p.size), replace=False))
        flat = p.data.reshape(-1)
        numerical = np.empty(len(chosen))
        with no_grad():
            for i, k in enumerate(chosen):
                original = flat[k]
                flat[k] = original + eps
                plus = float(_loss(module, xt, yt).item())
                flat[k] = original - eps
                minus = float(_loss(module, xt, yt).item())
                flat[k] = original
                numerical[i] = (plus - minus) / (2 * eps)
        analytic = np.asarray(analytic_all, np.float64).reshape(-1)[chosen]
        error = np.abs(analytic - numerical)
        failing = ~(error <= atol + rtol * np.abs(numerical))  # NaN fails too
        relative = error / np.maximum(np.maximum(np.abs(analytic), np.abs(numerical)), floor)
        worst = int(np.argmax(np.where(failing, np.inf, relative))) if len(chosen) else 0
        checks.append(InputCheck(name=name, shape=tuple(p.shape), passed=not bool(failing.any()),
                                 max_abs_error=float(np.max(error, initial=0.0)),
                                 max_rel_error=float(np.max(relative, initial=0.0)),
                                 worst_index=(int(chosen[worst]),) if len(chosen) else (),
                                 analytic=float(analytic[worst]) if len(chosen) else 0.0,
                                 numerical=float(numerical[worst]) if len(chosen) else 0.0))
    return checks


def run(args: argparse.Namespace) -> int:
    """Print the per-parameter table; 0 when every checked entry passes, 1 otherwise."""
    import cnnkit
    from cnnkit import models, nn

    if not (args.eps > 0 and args.rtol >= 0 and args.atol >= 0):
        raise CLIError(f"--eps must be positive and --rtol/--atol non-negative (got {args.eps}, {args.rtol}, "
                       f"{args.atol})")
    name = resolve_model(args.model)
    cnnkit.manual_seed(args.seed)
    module = models.get(name).double()
    if args.batch_size < 2 and any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in module.modules()):
        raise CLIError(f"{name} has BatchNorm, which needs at least 2 samples in training mode; use --batch-size 2 "
                       "or more")
    rng = np.random.default_rng(args.seed)
    shape = models.input_shape(name)
    x = rng.standard_normal((args.batch_size, *shape))
    module.eval()  # one sample, to count the classes (BatchNorm needs eval mode for that)
    with cnnkit.no_grad():
        classes = int(module(cnnkit.Tensor(x[:1])).shape[1])
    module.train()
    for m in module.modules():  # a fresh dropout mask per evaluation would make L a different function
        if isinstance(m, (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)):
            m.eval()
    y = rng.integers(0, classes, args.batch_size)
    checks = check_parameters(module, x, y, args.samples, args.seed, args.eps, args.rtol, args.atol)
    width = max(len("parameter"), *(len(c.name) for c in checks))
    print(f"gradcheck {name}: float64, batch {args.batch_size} × {'×'.join(map(str, shape))}, {args.samples} "
          f"random entries per parameter, eps {args.eps:g}, pass when |a - n| <= {args.atol:g} + {args.rtol:g}·|n|")
    print(f"{'parameter':<{width}}  {'shape':<16} {'checked':>7}  {'max rel error':>13}  {'max abs error':>13}  result")
    for c in checks:
        size = int(np.prod(c.shape))
        print(f"{c.name:<{width}}  {'×'.join(map(str, c.shape)):<16} {min(args.samples, size):>7}  "
              f"{c.max_rel_error:>13.2e}  {c.max_abs_error:>13.2e}  {'pass' if c.passed else 'FAIL'}")
    failed = [c for c in checks if not c.passed]
    for c in failed:
        print(f"  {c.name}: worst entry {c.worst_index[0]} (flat): analytic {c.analytic:.10g} vs numerical "
              f"{c.numerical:.10g}")
    print(f"{len(checks) - len(failed)}/{len(checks)} parameters pass" + (" — gradients are WRONG" if failed else ""))
    return 1 if failed else 0
