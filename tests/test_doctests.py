"""Run the ``Example:`` blocks of every cnnkit module as doctests."""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import cnnkit


def _modules():
    names = ["cnnkit"]
    names += [info.name for info in pkgutil.walk_packages(cnnkit.__path__, prefix="cnnkit.")
              if not info.name.endswith("__main__")]
    return sorted(names)


MODULES = _modules()


def test_discovers_modules():
    for name in ("cnnkit", "cnnkit.tensor", "cnnkit.creation", "cnnkit.random", "cnnkit.autograd.engine",
                 "cnnkit.autograd.grad_mode", "cnnkit.autograd.gradcheck", "cnnkit.cli"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name):
    module = importlib.import_module(name)
    state = cnnkit.get_rng_state()
    try:
        with np.printoptions(legacy=False):
            result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                                     verbose=False, report=True)
    finally:
        cnnkit.set_rng_state(state)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples failed in {name}"


def test_some_examples_ran():
    attempted = 0
    state = cnnkit.get_rng_state()
    for name in ("cnnkit", "cnnkit.tensor", "cnnkit.autograd.gradcheck", "cnnkit.autograd.grad_mode"):
        attempted += doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS
                                     | doctest.NORMALIZE_WHITESPACE, report=False).attempted
    cnnkit.set_rng_state(state)
    assert attempted >= 10
