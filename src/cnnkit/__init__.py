"""cnnkit: a convolutional-neural-network framework built from first principles on NumPy.

Example:
    >>> import cnnkit
    >>> x = cnnkit.tensor(-2.0, requires_grad=True)
    >>> y = cnnkit.tensor(5.0, requires_grad=True)
    >>> z = cnnkit.tensor(-4.0, requires_grad=True)
    >>> f = (x + y) * z
    >>> f.backward()
    >>> f.item(), x.grad.item(), y.grad.item(), z.grad.item()
    (-12.0, -4.0, -4.0, 3.0)
"""

from cnnkit import autograd as autograd
from cnnkit import callbacks as callbacks
from cnnkit import data as data
from cnnkit import datasets as datasets
from cnnkit import functional as functional
from cnnkit import io as io
from cnnkit import keras as keras
from cnnkit import models as models
from cnnkit import nn as nn
from cnnkit import optim as optim
from cnnkit import viz as viz  # matplotlib and Pillow are imported only when a plot or image is made
from cnnkit.autograd import AnomalyError as AnomalyError
from cnnkit.autograd import GradcheckError as GradcheckError
from cnnkit.autograd import detect_anomaly as detect_anomaly
from cnnkit.autograd import enable_grad as enable_grad
from cnnkit.autograd import gradcheck as gradcheck
from cnnkit.autograd import is_grad_enabled as is_grad_enabled
from cnnkit.autograd import no_grad as no_grad
from cnnkit.autograd import set_grad_enabled as set_grad_enabled
from cnnkit.creation import arange as arange
from cnnkit.creation import empty as empty
from cnnkit.creation import eye as eye
from cnnkit.creation import from_numpy as from_numpy
from cnnkit.creation import full as full
from cnnkit.creation import full_like as full_like
from cnnkit.creation import linspace as linspace
from cnnkit.creation import ones as ones
from cnnkit.creation import ones_like as ones_like
from cnnkit.creation import rand as rand
from cnnkit.creation import rand_like as rand_like
from cnnkit.creation import randint as randint
from cnnkit.creation import randn as randn
from cnnkit.creation import randn_like as randn_like
from cnnkit.creation import tensor as tensor
from cnnkit.creation import zeros as zeros
from cnnkit.creation import zeros_like as zeros_like
from cnnkit.functional import abs as abs
from cnnkit.functional import cat as cat
from cnnkit.functional import clamp as clamp
from cnnkit.functional import clip as clip
from cnnkit.functional import concatenate as concatenate
from cnnkit.functional import exp as exp
from cnnkit.functional import log as log
from cnnkit.functional import matmul as matmul
from cnnkit.functional import maximum as maximum
from cnnkit.functional import mean as mean
from cnnkit.functional import minimum as minimum
from cnnkit.functional import relu as relu
from cnnkit.functional import sigmoid as sigmoid
from cnnkit.functional import sqrt as sqrt
from cnnkit.functional import stack as stack
from cnnkit.functional import sum as sum
from cnnkit.functional import tanh as tanh
from cnnkit.functional import where as where
from cnnkit.backend import conv_output_size as conv_output_size
from cnnkit.backend import pool_output_size as pool_output_size
from cnnkit.nn import set_strict_shapes as set_strict_shapes
from cnnkit.random import get_rng_state as get_rng_state
from cnnkit.random import manual_seed as manual_seed
from cnnkit.random import set_rng_state as set_rng_state
from cnnkit.tensor import Tensor as Tensor
from cnnkit.training import Model as Model
from cnnkit.training import count_macs as count_macs
from cnnkit.training import count_parameters as count_parameters
from cnnkit.training import load_model as load_model
from cnnkit.training import receptive_field as receptive_field
from cnnkit.training import summary as summary

__version__ = "0.1.0"
