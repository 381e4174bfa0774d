"""A Keras-compatible facade: ``from cnnkit import keras`` and ``from cnnkit.keras import layers``.

The slides' Keras program runs with only its imports changed. ``keras.Sequential`` is a
:class:`cnnkit.Model` whose layers are built from cnnkit's core modules; data is channels-last
at the boundary as in Keras, NCHW inside.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from cnnkit import nn
from cnnkit.keras import datasets as datasets
from cnnkit.keras import layers as layers
from cnnkit.keras import optimizers as optimizers
from cnnkit.keras import callbacks as callbacks
from cnnkit.training.model import Model


def Input(shape: Sequence[int]) -> layers.InputLayer:  # noqa: N802 - Keras's name
    """Declare one sample's shape (channels-last, without the batch dimension)."""
    return layers.InputLayer(tuple(shape))


class Sequential(Model):
    """``keras.Sequential([layers...])``: a stack of Keras layers, trained with compile/fit.

    Example:
        >>> from cnnkit import keras
        >>> from cnnkit.keras import layers
        >>> model = keras.Sequential([layers.Conv2D(8, 3, activation="relu", input_shape=(28, 28, 1)),
        ...                           layers.MaxPooling2D(), layers.Flatten(), layers.Dense(10, activation="softmax")])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> model.summary(show=False).total_params
        13610
    """

    def __init__(self, layers_: Optional[Sequence[layers.Layer]] = None, name: Optional[str] = None) -> None:
        super().__init__(nn.Sequential(layers.ToChannelsFirst()))
        self.name, self.layers = name, []
        for layer in layers_ or []:
            self.add(layer)

    def add(self, layer: layers.Layer) -> None:
        """Append a Keras layer (its ``input_shape``, or a ``keras.Input``, fixes the model's input)."""
        if not isinstance(layer, layers.Layer):
            raise TypeError(f"keras.Sequential takes cnnkit.keras.layers layers, got {type(layer).__name__}")
        if layer.input_shape is not None:
            if self.layers and not isinstance(self.layers[-1], layers.InputLayer):
                raise ValueError("input_shape can only be given to the first layer")
            self._input_shape = layer.input_shape
        self.layers.append(layer)
        for module in layer.modules():
            self.module.append(module)
        if self._input_shape is not None:
            self._build()

    def _build(self) -> None:
        """Run one sample through so lazy layers know their sizes (Keras builds at add time)."""
        from cnnkit.training.trace import trace

        try:
            trace(self.module, self._input_shape)
        except (ValueError, TypeError):
            pass  # the next layer may still be missing (e.g. Dense before Flatten); fit/summary will say

    def predict(self, x: Any, batch_size: int = 32, verbose: int = 0) -> Any:
        """The outputs for ``x``; image-shaped outputs come back channels-last, as Keras gives them."""
        out = super().predict(x, batch_size, verbose)
        return out.transpose(0, 2, 3, 1) if out.ndim == 4 else out
