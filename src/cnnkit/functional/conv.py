"""Convolution functions: ``conv1d/2d/3d`` (cross-correlation) and ``convolve2d`` (true convolution)."""

from __future__ import annotations

from typing import Any, Optional, Union

from cnnkit.backend.conv_kernels import same_padding
from cnnkit.ops.conv import ConvNd, PadMode
from cnnkit.tensor import Tensor

IntOrTuple = Union[int, tuple]


def ntuple(value: Any, n: int, name: str, what: str, minimum: int = 1) -> tuple:
    """Expand an int to an n-tuple and validate each entry is an int ``>= minimum``."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) != n or any(isinstance(v, bool) or not hasattr(v, "__index__") or int(v) < minimum for v in items):
        raise ValueError(
            f"{what}: {name} must be an integer >= {minimum} or a tuple of {n} of them, got {value!r}"
        )
    return tuple(int(v) for v in items)


def batched(input: Any, nd: int, what: str) -> tuple:
    """Return ``(x, unbatched)``: ``x`` with a batch dim added to an unbatched ``(C, *spatial)`` input.

    Raises a clear error unless the input has ``nd + 2`` (or ``nd + 1``) dimensions.
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    if x.ndim < 1:
        raise ValueError(f"{what}: expected a {nd + 2}-D input, got a scalar")
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = x.unsqueeze(0)
    if x.ndim != nd + 2:
        layout = "(N, C, L)" if nd == 1 else "(N, C, H, W)" if nd == 2 else "(N, C, D, H, W)"
        raise ValueError(f"{what}: expected a {nd + 2}-D input {layout} (or {nd + 1}-D unbatched), "
                         f"got shape {x.shape}")
    return x, unbatched


def check_same_float_dtype(x: Tensor, w: Tensor, what: str) -> None:
    """Refuse a float input whose dtype differs from the weights' (PyTorch raises too), with the fix."""
    if x.dtype.kind == "f" and w.dtype.kind == "f" and x.dtype != w.dtype:
        raise TypeError(
            f"{what}: the input is {x.dtype} but the weights are {w.dtype}. Convert one of them: "
            f"x.to({str(w.dtype)!r}) (e.g. .float()), or the layer with .to({str(x.dtype)!r}) (e.g. .double())."
        )


def resolve_padding(padding: Any, spatial: tuple, kernel: tuple, stride: tuple, dilation: tuple,
                    what: str) -> tuple:
    """Turn ``padding`` (int, tuple, 'valid' or 'same') into ``(before, after)`` pairs per axis.

    'same' gives ``ceil(size / stride)`` outputs for any stride, with TensorFlow's split (the
    extra row/column at the bottom/right), where PyTorch refuses strided 'same'.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, 0) for _ in spatial)
        if padding == "same":
            return tuple(same_padding(n, k, s, d) for n, k, s, d in zip(spatial, kernel, stride, dilation))
        raise ValueError(f"{what}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    return tuple((p, p) for p in ntuple(padding, len(spatial), "padding", what, minimum=0))


def conv_nd(nd: int, input: Tensor, weight: Tensor, bias: Optional[Tensor], stride: IntOrTuple,
            padding: Any, dilation: IntOrTuple, groups: int, padding_mode: str = "zeros",
            what: Optional[str] = None) -> Tensor:
    """Validate arguments and apply :class:`~cnnkit.ops.conv.ConvNd` (shared by 1d/2d/3d)."""
    what = what or f"conv{nd}d"
    w = weight if isinstance(weight, Tensor) else Tensor(weight)
    if w.ndim != nd + 2:
        raise ValueError(f"{what}: weight must have {nd + 2} dims (out_channels, in_channels/groups, "
                         f"*kernel), got shape {w.shape}")
    x, unbatched = batched(input, nd, what)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{what}: groups must be a positive integer, got {groups!r}")
    c_in, c_out = x.shape[1], w.shape[0]
    if c_in % groups or c_out % groups:
        raise ValueError(f"{what}: in_channels ({c_in}) and out_channels ({c_out}) must both be "
                         f"divisible by groups ({groups})")
    if w.shape[1] * groups != c_in:
        raise ValueError(
            f"{what}: the input has {c_in} channels (shape {x.shape}) but the weight {w.shape} expects "
            f"{w.shape[1] * groups} (in_channels/groups = {w.shape[1]}, groups = {groups}). Check "
            f"in_channels, or the layer before this one."
        )
    check_same_float_dtype(x, w, what)
    kernel = w.shape[2:]
    stride_t = ntuple(stride, nd, "stride", what)
    dilation_t = ntuple(dilation, nd, "dilation", what)
    pads = resolve_padding(padding, x.shape[2:], kernel, stride_t, dilation_t, what)
    for axis, (n, k, d, (lo, hi)) in enumerate(zip(x.shape[2:], kernel, dilation_t, pads)):
        if n + lo + hi < d * (k - 1) + 1:
            raise ValueError(
                f"{what}: the kernel (size {k}, dilation {d}, extent {d * (k - 1) + 1}) is larger than "
                f"the padded input along spatial dim {axis} ({n} + padding {lo + hi} = {n + lo + hi}). "
                "Use a smaller kernel, more padding, or a larger input."
            )
    if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
        raise ValueError(f"{what}: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', "
                         f"got {padding_mode!r}")
    if padding_mode != "zeros" and any(lo or hi for lo, hi in pads):
        from cnnkit.functional.basic import check_pad_widths

        widths = ((0, 0), (0, 0)) + pads
        check_pad_widths(x.shape, widths, padding_mode, f"{what} (padding_mode={padding_mode!r})")
        x = PadMode.apply(x, widths=widths, mode=padding_mode)
        pads = tuple((0, 0) for _ in pads)
    args = (x, w) if bias is None else (x, w, bias if isinstance(bias, Tensor) else Tensor(bias))
    if bias is not None and args[2].shape != (c_out,):
        raise ValueError(f"{what}: bias must have shape ({c_out},), got {args[2].shape}")
    out = ConvNd.apply(*args, stride=stride_t, padding=pads, dilation=dilation_t, groups=groups)
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: IntOrTuple = 1,
           padding: Any = 0, dilation: IntOrTuple = 1, groups: int = 1, padding_mode: str = "zeros") -> Tensor:
    """1-D cross-correlation ``out[n, o, i] = bias[o] + Σ_{c,u} weight[o, c, u] · x_pad[n, c, i·s + u·d]``.

    Args:
        input, weight, bias: as :func:`conv2d`, one spatial dim: ``(N, C_in, L)`` or ``(C_in, L)``,
            ``(C_out, C_in/groups, K)`` and ``(C_out,)`` or None (default None).
        stride, padding, dilation, groups, padding_mode: as :func:`conv2d` (ints or 1-tuples).

    Shape:
        Input ``(N, C_in, L)``, weight ``(C_out, C_in/groups, K)``; output ``(N, C_out, L_out)``,
        ``L_out = floor((L + 2P − D(K − 1) − 1) / S) + 1``.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.conv1d(cnnkit.ones(1, 1, 5), cnnkit.ones(1, 1, 3)).tolist()
        [[[3.0, 3.0, 3.0]]]
    """
    return conv_nd(1, input, weight, bias, stride, padding, dilation, groups, padding_mode)


def conv2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: IntOrTuple = 1,
           padding: Any = 0, dilation: IntOrTuple = 1, groups: int = 1, padding_mode: str = "zeros") -> Tensor:
    """2-D cross-correlation of a batch of images with a bank of filters (what CNNs call convolution).

    ``out[n, o, i, j] = bias[o] + Σ_{c,u,v} weight[o, c, u, v] · x_pad[n, g·C/G + c, i·s + u·d, j·s + v·d]``;
    the kernel is not flipped (see :func:`convolve2d` for the flipped, mathematical convolution).

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in/groups, kH, kW)``, same float dtype as ``input``.
        bias: ``(C_out,)`` or None (default None).
        stride: step between windows, int or pair (default 1).
        padding: int or pair of rows/columns on each side (default 0), ``'valid'`` (none) or
            ``'same'``: output ``ceil(size/stride)`` for any stride (PyTorch refuses strided 'same'),
            the odd extra cell at the bottom/right.
        dilation: spacing between kernel taps (default 1).
        groups: split channels into independent groups; ``groups = C_in`` is depthwise (default 1).
        padding_mode: ``'zeros'`` (default), ``'reflect'``, ``'replicate'`` or ``'circular'``.

    Shape:
        Input ``(N, C_in, H, W)``; output ``(N, C_out, H_out, W_out)`` with
        ``H_out = floor((H + 2P − D(K−1) − 1)/S) + 1`` (likewise ``W_out``).

    Example:
        >>> import cnnkit
        >>> F = cnnkit.functional
        >>> F.conv2d(cnnkit.ones(1, 3, 32, 32), cnnkit.ones(10, 3, 5, 5), padding=2).shape
        (1, 10, 32, 32)
    """
    return conv_nd(2, input, weight, bias, stride, padding, dilation, groups, padding_mode)


def conv3d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: IntOrTuple = 1,
           padding: Any = 0, dilation: IntOrTuple = 1, groups: int = 1, padding_mode: str = "zeros") -> Tensor:
    """3-D cross-correlation over ``(D, H, W)`` (volumes or video); see :func:`conv2d`.

    Args:
        input, weight, bias: ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``,
            ``(C_out, C_in/groups, kD, kH, kW)`` and ``(C_out,)`` or None (default None).
        stride, padding, dilation, groups, padding_mode: as :func:`conv2d` (ints or triples).

    Shape:
        Input ``(N, C_in, D, H, W)``, weight ``(C_out, C_in/groups, kD, kH, kW)``; output
        ``(N, C_out, D_out, H_out, W_out)``, each size as in :func:`conv2d`.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.conv3d(cnnkit.ones(1, 2, 4, 4, 4), cnnkit.ones(3, 2, 3, 3, 3)).shape
        (1, 3, 2, 2, 2)
    """
    return conv_nd(3, input, weight, bias, stride, padding, dilation, groups, padding_mode)


def convolve2d(input: Tensor, kernel: Tensor, stride: IntOrTuple = 1, padding: Any = 0) -> Tensor:
    """True (mathematical) 2-D convolution ``Σ_{u,v} k[u, v] · x[i − u, j − v]``: the kernel is flipped.

    For the teaching examples: a 2-D image and a 2-D kernel (or batched NCHW input with a
    ``(C_out, C_in, kH, kW)`` kernel): :func:`conv2d` with the kernel flipped in both spatial
    directions, so for symmetric kernels the two agree. A cnnkit extra.

    Args:
        input: an image ``(H, W)``, or ``(N, C_in, H, W)``.
        kernel: ``(kH, kW)`` for a 2-D image, else ``(C_out, C_in, kH, kW)``.
        stride: step between windows (default 1).
        padding: zero padding as :func:`conv2d` (default 0).

    Shape:
        ``(H, W)`` → ``(H_out, W_out)``, or ``(N, C_in, H, W)`` → ``(N, C_out, H_out, W_out)``,
        sizes as in :func:`conv2d`.

    Example:
        >>> import cnnkit
        >>> img = cnnkit.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
        >>> k = cnnkit.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> cnnkit.functional.convolve2d(img, k).tolist()
        [[1.0, 2.0], [3.0, 4.0]]
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    k = kernel if isinstance(kernel, Tensor) else Tensor(kernel)
    plain = x.ndim == 2 and k.ndim == 2
    if plain:
        x, k = x.reshape(1, 1, *x.shape), k.reshape(1, 1, *k.shape)
    flipped = k[..., ::-1, ::-1]
    out = conv2d(x, flipped, stride=stride, padding=padding, )
    return out.reshape(out.shape[2:]) if plain else out
