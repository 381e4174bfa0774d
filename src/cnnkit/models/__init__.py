"""The model zoo: ``cnnkit.models.get(name)`` and :func:`available` list what is here.

Each entry is a builder returning an ``nn.Sequential`` and the input shape it expects.
"""

from __future__ import annotations

from typing import Any

from cnnkit.models.zoo import alexnet as alexnet
from cnnkit.models.zoo import cifar_vgg as cifar_vgg
from cnnkit.models.zoo import lenet5 as lenet5
from cnnkit.models.zoo import lenet5_classic as lenet5_classic
from cnnkit.models.zoo import mnist_cnn as mnist_cnn
from cnnkit.models.zoo import vgg16 as vgg16

MODELS = {
    "lenet5": (lenet5, (1, 28, 28)),
    "mnist_cnn": (mnist_cnn, (1, 28, 28)),
    "lenet5_classic": (lenet5_classic, (1, 32, 32)),
    "cifar_vgg": (cifar_vgg, (3, 32, 32)),
    "alexnet": (alexnet, (3, 224, 224)),
    "vgg16": (vgg16, (3, 224, 224)),
}


def available() -> dict:
    """``{name: (builder's first docstring line, input shape)}`` for every model in the zoo."""
    return {name: ((fn.__doc__ or "").strip().splitlines()[0], shape) for name, (fn, shape) in MODELS.items()}


def get(name: str, **kwargs: Any) -> Any:
    """Build the model called ``name`` (``num_classes=`` etc. are passed on).

    Example:
        >>> import cnnkit
        >>> type(cnnkit.models.get("lenet5")[0]).__name__
        'Conv2d'
    """
    key = name.lower().replace("-", "_")
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    return MODELS[key][0](**kwargs)


def input_shape(name: str) -> tuple:
    """The input shape (C, H, W) the model ``name`` is built for."""
    key = name.lower().replace("-", "_")
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    return MODELS[key][1]
