"""Neural-network building blocks: Module, Parameter, containers and layers.

``cnnkit.nn.functional`` is :mod:`cnnkit.functional` (imported as ``F``).
"""

from cnnkit import functional as functional
from cnnkit.nn import init as init
from cnnkit.nn.container import Flatten as Flatten
from cnnkit.nn.container import Identity as Identity
from cnnkit.nn.container import ModuleDict as ModuleDict
from cnnkit.nn.container import ModuleList as ModuleList
from cnnkit.nn.container import Sequential as Sequential
from cnnkit.nn.container import Unflatten as Unflatten
from cnnkit.nn._fit import set_strict_shapes as set_strict_shapes
from cnnkit.nn.conv import Conv1d as Conv1d
from cnnkit.nn.conv import Conv2d as Conv2d
from cnnkit.nn.conv import Conv3d as Conv3d
from cnnkit.nn.linear import Linear as Linear
from cnnkit.nn.module import Module as Module
from cnnkit.nn.module import Parameter as Parameter
