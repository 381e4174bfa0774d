"""Raw NumPy kernels without autograd (im2col/col2im, window views, output sizes).

Every op that needs a sliding window or an output-size formula calls :mod:`conv_kernels`;
there are no other copies.
"""

from cnnkit.backend.conv_kernels import conv_output_size as conv_output_size
from cnnkit.backend.conv_kernels import pool_output_size as pool_output_size
