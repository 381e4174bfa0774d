"""The documented lowercase API, mirroring ``torch.nn.functional`` (and the ``torch.*`` functions).

Every function is a thin, documented, validating call into ops of :mod:`cnnkit.ops`; gradients
live only there. It is a package of families (``basic``, ``conv``, ...) so each file stays
readable; import from here (``import cnnkit.functional as F``), not from the sub-modules.
"""

from cnnkit.functional.basic import abs as abs
from cnnkit.functional.basic import cat as cat
from cnnkit.functional.basic import clamp as clamp
from cnnkit.functional.basic import clip as clip
from cnnkit.functional.basic import concatenate as concatenate
from cnnkit.functional.basic import exp as exp
from cnnkit.functional.basic import linear as linear
from cnnkit.functional.basic import log as log
from cnnkit.functional.basic import matmul as matmul
from cnnkit.functional.basic import maximum as maximum
from cnnkit.functional.basic import mean as mean
from cnnkit.functional.basic import minimum as minimum
from cnnkit.functional.basic import pad as pad
from cnnkit.functional.basic import relu as relu
from cnnkit.functional.basic import sigmoid as sigmoid
from cnnkit.functional.basic import sqrt as sqrt
from cnnkit.functional.basic import stack as stack
from cnnkit.functional.basic import sum as sum
from cnnkit.functional.basic import tanh as tanh
from cnnkit.functional.basic import where as where
from cnnkit.functional.conv import conv1d as conv1d
from cnnkit.functional.conv import conv2d as conv2d
from cnnkit.functional.conv import conv3d as conv3d
from cnnkit.functional.conv import convolve2d as convolve2d
from cnnkit.functional.pooling import avg_pool1d as avg_pool1d
from cnnkit.functional.pooling import avg_pool2d as avg_pool2d
from cnnkit.functional.pooling import avg_pool3d as avg_pool3d
from cnnkit.functional.pooling import lp_pool1d as lp_pool1d
from cnnkit.functional.pooling import lp_pool2d as lp_pool2d
from cnnkit.functional.pooling import max_pool1d as max_pool1d
from cnnkit.functional.pooling import max_pool2d as max_pool2d
from cnnkit.functional.pooling import max_pool3d as max_pool3d
from cnnkit.functional.pooling import min_pool2d as min_pool2d
from cnnkit.functional.pooling import adaptive_avg_pool1d as adaptive_avg_pool1d
from cnnkit.functional.pooling import adaptive_avg_pool2d as adaptive_avg_pool2d
from cnnkit.functional.pooling import adaptive_avg_pool3d as adaptive_avg_pool3d
from cnnkit.functional.pooling import adaptive_max_pool1d as adaptive_max_pool1d
from cnnkit.functional.pooling import adaptive_max_pool2d as adaptive_max_pool2d
from cnnkit.functional.pooling import adaptive_max_pool3d as adaptive_max_pool3d
from cnnkit.functional.pooling import channel_pool as channel_pool
from cnnkit.functional.pooling import lp_pool3d as lp_pool3d
from cnnkit.functional.pooling import maxout as maxout
from cnnkit.functional.pooling import min_pool1d as min_pool1d
from cnnkit.functional.pooling import min_pool3d as min_pool3d
from cnnkit.functional.activation import apl as apl
from cnnkit.functional.activation import bent_identity as bent_identity
from cnnkit.functional.activation import elu as elu
from cnnkit.functional.activation import gelu as gelu
from cnnkit.functional.activation import hardtanh as hardtanh
from cnnkit.functional.activation import isrlu as isrlu
from cnnkit.functional.activation import leaky_relu as leaky_relu
from cnnkit.functional.activation import log_softmax as log_softmax
from cnnkit.functional.activation import mish as mish
from cnnkit.functional.activation import prelu as prelu
from cnnkit.functional.activation import rrelu as rrelu
from cnnkit.functional.activation import selu as selu
from cnnkit.functional.activation import silu as silu
from cnnkit.functional.activation import softmax as softmax
from cnnkit.functional.activation import softplus as softplus
from cnnkit.functional.activation import srelu as srelu
from cnnkit.functional.loss import binary_cross_entropy as binary_cross_entropy
from cnnkit.functional.loss import binary_cross_entropy_with_logits as binary_cross_entropy_with_logits
from cnnkit.functional.loss import cross_entropy as cross_entropy
from cnnkit.functional.loss import huber_loss as huber_loss
from cnnkit.functional.loss import l1_loss as l1_loss
from cnnkit.functional.loss import mse_loss as mse_loss
from cnnkit.functional.loss import nll_loss as nll_loss
