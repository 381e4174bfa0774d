"""Identity ops that let module backward hooks see a module call's gradients all at once.

A graph node here has one output, but a module call may take or return several tensors, and a
full backward hook wants all their gradients together (PyTorch's ``BackwardHookFunction`` is one
node with many outputs). So the tensors go through a :class:`HookGather` node, whose output is a
one-element token, and each is handed back by its own :class:`HookRelease` node, an identity on
the tensor's data that depends on the token. In backward every release that receives a gradient
runs before the gather (the gather is their common input), stores that gradient on the gather
and sends a zero to the token; the gather's backward then has every gradient (None where none
arrived), gives them to its callback, and returns what the callback returns as the gradients of
the original tensors.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from cnnkit.autograd.function import Function


def read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view, so a hook cannot change a gradient the engine still uses."""
    view = array.view()
    view.flags.writeable = False
    return view


class HookGather(Function):
    """Collects the gradients of its inputs' released copies; backward calls ``callback`` with them.

    ``callback(grads)`` gets one read-only array or None per input and returns one array or None
    per input: the gradients passed on to the inputs.
    """

    def forward(self, *arrays: np.ndarray, callback: Callable[[tuple], Sequence[Optional[np.ndarray]]]) -> np.ndarray:
        self.callback = callback
        self.received: list = [None] * len(arrays)
        return np.zeros(1, dtype=np.float32)  # the token: its value is never used

    def backward(self, grad_out: np.ndarray) -> tuple:
        received, self.received = tuple(self.received), [None] * len(self.received)
        return tuple(self.callback(received))


class HookRelease(Function):
    """Identity on ``source`` (the data of input ``index`` of ``gather``), recorded after the gather."""

    def forward(self, token: np.ndarray, source: np.ndarray, gather: HookGather, index: int) -> np.ndarray:
        self.gather, self.index = gather, index
        return source  # shared, not copied: a tensor that requires grad cannot change in place

    def backward(self, grad_out: np.ndarray) -> tuple:
        self.gather.received[self.index] = read_only(grad_out)
        return (np.zeros(1, dtype=np.float32),)
