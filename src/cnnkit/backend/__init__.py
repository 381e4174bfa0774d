"""Raw NumPy kernels without autograd (im2col/col2im, window views, output sizes).

The convolution and pooling kernels arrive with the layers; they are the only copies, shared
by every op that needs them.
"""
