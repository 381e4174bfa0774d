"""Differentiable operations: the only place in cnnkit where gradients are defined.

One module per family; each op is a :class:`cnnkit.autograd.Function` subclass with a
forward on NumPy arrays and a backward returning one gradient per input.
"""
