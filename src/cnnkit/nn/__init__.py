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
from cnnkit.nn.pooling import MaxPool1d as MaxPool1d
from cnnkit.nn.pooling import MaxPool2d as MaxPool2d
from cnnkit.nn.pooling import MaxPool3d as MaxPool3d
from cnnkit.nn.pooling import MinPool1d as MinPool1d
from cnnkit.nn.pooling import MinPool2d as MinPool2d
from cnnkit.nn.pooling import MinPool3d as MinPool3d
from cnnkit.nn.pooling import AvgPool1d as AvgPool1d
from cnnkit.nn.pooling import AvgPool2d as AvgPool2d
from cnnkit.nn.pooling import AvgPool3d as AvgPool3d
from cnnkit.nn.pooling import LPPool1d as LPPool1d
from cnnkit.nn.pooling import LPPool2d as LPPool2d
from cnnkit.nn.pooling import LPPool3d as LPPool3d
from cnnkit.nn.pooling import AdaptiveAvgPool1d as AdaptiveAvgPool1d
from cnnkit.nn.pooling import AdaptiveAvgPool2d as AdaptiveAvgPool2d
from cnnkit.nn.pooling import AdaptiveAvgPool3d as AdaptiveAvgPool3d
from cnnkit.nn.pooling import AdaptiveMaxPool1d as AdaptiveMaxPool1d
from cnnkit.nn.pooling import AdaptiveMaxPool2d as AdaptiveMaxPool2d
from cnnkit.nn.pooling import AdaptiveMaxPool3d as AdaptiveMaxPool3d
from cnnkit.nn.pooling import GlobalAvgPool2d as GlobalAvgPool2d
from cnnkit.nn.pooling import GlobalMaxPool2d as GlobalMaxPool2d
from cnnkit.nn.pooling import ChannelPool as ChannelPool
from cnnkit.nn.pooling import Maxout as Maxout
