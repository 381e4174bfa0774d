"""Invalid inputs raise the documented exception with a message that explains the problem."""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np
import pytest

import cnnkit
import cnnkit.functional as F


def x23() -> cnnkit.Tensor:
    return cnnkit.zeros(2, 3, requires_grad=True)


E = re.escape
CASES: list = [
    # ---------------------------------------------------------------------- broadcasting
    ("add_broadcast", lambda: x23() + cnnkit.zeros(4), ValueError,
     E("+: shapes (2, 3) and (4,) cannot be broadcast together") + ".*each pair of sizes must be equal or one of them 1"),
    ("radd_broadcast", lambda: cnnkit.zeros(4) + x23(), ValueError, E("+: shapes (4,) and (2, 3) cannot be broadcast")),
    ("sub_broadcast", lambda: x23() - cnnkit.zeros(3, 3), ValueError, E("-: shapes (2, 3) and (3, 3) cannot be broadcast")),
    ("mul_broadcast", lambda: x23() * cnnkit.zeros(2), ValueError, E("*: shapes (2, 3) and (2,) cannot be broadcast")),
    ("div_broadcast", lambda: x23() / cnnkit.zeros(2, 1, 4), ValueError, E("/: shapes (2, 3) and (2, 1, 4)")),
    ("pow_broadcast", lambda: x23() ** cnnkit.zeros(4), ValueError, E("**: shapes (2, 3) and (4,)")),
    ("maximum_broadcast", lambda: x23().maximum(cnnkit.zeros(4)), ValueError, E("maximum: shapes (2, 3) and (4,)")),
    ("minimum_broadcast", lambda: cnnkit.minimum(x23(), cnnkit.zeros(4)), ValueError, E("minimum: shapes (2, 3) and (4,)")),
    ("where_broadcast", lambda: cnnkit.where(np.ones(4, bool), x23(), 0.0), ValueError,
     E("where: condition (4,), input (2, 3) and other () cannot be broadcast together")),
    # ---------------------------------------------------------------------------- matmul
    ("matmul_inner", lambda: x23() @ cnnkit.zeros(4, 5), ValueError,
     E("matmul: shapes (2, 3) and (4, 5) are not aligned: the last dimension of the first (3) must equal the "
       "second-to-last dimension of the second (4)")),
    ("matmul_1d", lambda: x23() @ cnnkit.zeros(4), ValueError,
     E("matmul: shapes (2, 3) and (4,) are not aligned") + ".*" + E("the only dimension of the second (4)")),
    ("matmul_0d", lambda: x23() @ cnnkit.tensor(2.0), ValueError, E("matmul: both operands need at least 1 dimension, got (2, 3) and ()")),
    ("matmul_batch", lambda: cnnkit.zeros(2, 2, 3) @ cnnkit.zeros(3, 3, 1), ValueError,
     E("matmul: batch dimensions (2,) and (3,) cannot be broadcast")),
    # --------------------------------------------------------------------------- reshape
    ("reshape_size", lambda: x23().reshape(4), ValueError,
     E("reshape: cannot reshape a tensor of shape (2, 3) (6 elements) into shape (4,)")),
    ("reshape_infer", lambda: x23().reshape(-1, 4), ValueError, E("into shape (-1, 4)")),
    ("reshape_two_minus1", lambda: x23().reshape(-1, -1), ValueError, E("reshape: only one dimension can be -1, got (-1, -1)")),
    ("view_size", lambda: x23().view(7), ValueError, E("cannot reshape a tensor of shape (2, 3) (6 elements) into shape (7,)")),
    ("reshape_type", lambda: x23().reshape("a"), TypeError, E("reshape: sizes must be integers")),
    # --------------------------------------------------------------------------- permute
    ("permute_count", lambda: x23().permute(0, 1, 2), ValueError,
     E("permute: got 3 dims (0, 1, 2) for a tensor with 2 dimensions")),
    ("permute_repeat", lambda: x23().permute(0, 0), ValueError, E("permute: dims (0, 0) must name every dimension exactly once")),
    ("permute_range", lambda: x23().permute(0, 2), IndexError, E("Dimension out of range (expected to be in range of [-2, 1], but got 2)")),
    # ------------------------------------------------------------------- dim out of range
    ("sum_dim", lambda: x23().sum(dim=2), IndexError,
     E("Dimension out of range (expected to be in range of [-2, 1], but got 2) for a tensor with 2 dimension(s)")),
    ("mean_neg_dim", lambda: x23().mean(dim=-3), IndexError, E("Dimension out of range (expected to be in range of [-2, 1], but got -3)")),
    ("var_tuple_dim", lambda: x23().var(dim=(0, 5)), IndexError, E("Dimension out of range") + ".*got 5"),
    ("max_axis", lambda: x23().max(axis=4), IndexError, E("Dimension out of range") + ".*got 4"),
    ("min_dim", lambda: x23().min(dim=-4), IndexError, E("Dimension out of range") + ".*got -4"),
    ("argmax_dim", lambda: x23().argmax(dim=2), IndexError, E("Dimension out of range") + ".*got 2"),
    ("transpose_dim", lambda: x23().transpose(0, 2), IndexError, E("Dimension out of range") + ".*got 2"),
    ("unsqueeze_dim", lambda: x23().unsqueeze(3), IndexError,
     E("Dimension out of range (expected to be in range of [-3, 2], but got 3) for a tensor with 3 dimension(s)")),
    ("squeeze_dim", lambda: x23().squeeze(2), IndexError, E("Dimension out of range") + ".*got 2"),
    ("flatten_dim", lambda: x23().flatten(0, 2), IndexError, E("Dimension out of range") + ".*got 2"),
    ("cat_dim", lambda: cnnkit.cat([x23(), x23()], dim=2), IndexError, E("Dimension out of range") + ".*got 2"),
    ("stack_dim", lambda: cnnkit.stack([x23(), x23()], dim=3), IndexError,
     E("Dimension out of range (expected to be in range of [-3, 2], but got 3)")),
    ("split_dim", lambda: x23().split(1, dim=-3), IndexError, E("Dimension out of range") + ".*got -3"),
    ("size_dim", lambda: x23().size(2), IndexError, E("Dimension out of range") + ".*got 2"),
    ("dim_repeated", lambda: x23().sum(dim=(0, -2)), ValueError, E("dim (0, -2) names the same dimension more than once")),
    ("dim_float", lambda: x23().sum(dim=1.0), TypeError, E("dim must be an integer, got float (1.0)")),
    ("dim_and_axis", lambda: x23().sum(dim=0, axis=0), TypeError, E("pass either dim= or axis= (they are the same argument), not both")),
    ("keepdim_and_keepdims", lambda: x23().mean(keepdim=True, keepdims=True), TypeError, E("pass either keepdim= or keepdims=")),
    ("var_two_corrections", lambda: x23().var(correction=1, unbiased=False), TypeError,
     E("var: pass only one of correction=, ddof= and unbiased=")),
    ("std_two_corrections", lambda: x23().std(ddof=0, correction=0), TypeError, E("var: pass only one of")),
    # ---------------------------------------------------------------------------- joins
    ("cat_shapes", lambda: cnnkit.cat([x23(), cnnkit.zeros(2, 4)]), ValueError,
     E("cat: tensor 1 has shape (2, 4) but tensor 0 has shape (2, 3); all sizes must match except in dim 0")),
    ("cat_shapes_dim1", lambda: cnnkit.cat([x23(), cnnkit.zeros(3, 3)], dim=1), ValueError,
     E("cat: tensor 1 has shape (3, 3) but tensor 0 has shape (2, 3); all sizes must match except in dim 1")),
    ("cat_rank", lambda: cnnkit.cat([x23(), cnnkit.zeros(3)]), ValueError, E("cat: tensor 1 has shape (3,) but tensor 0 has shape (2, 3)")),
    ("cat_empty", lambda: cnnkit.cat([]), ValueError, E("cat: expected a non-empty sequence of tensors")),
    ("stack_shapes", lambda: cnnkit.stack([x23(), cnnkit.zeros(3, 2)]), ValueError,
     E("stack: tensor 1 has shape (3, 2) but tensor 0 has shape (2, 3); all must match")),
    ("stack_empty", lambda: cnnkit.stack([]), ValueError, E("stack: expected a non-empty sequence of tensors")),
    ("split_sections", lambda: x23().split([1, 2]), ValueError, E("split: sections [1, 2] sum to 3, but dim 0 has size 2")),
    ("split_size", lambda: x23().split(0), ValueError, E("split: split_size must be positive, got 0")),
    ("chunk_count", lambda: x23().chunk(0), ValueError, E("chunk: chunks must be positive, got 0")),
    # ------------------------------------------------------------------------------- pad
    ("pad_odd", lambda: F.pad(x23(), (1, 2, 3)), ValueError,
     E("pad: expected an even number of widths covering at most 2 dims, got (1, 2, 3)")),
    ("pad_too_many", lambda: F.pad(x23(), (1, 1, 1, 1, 1, 1)), ValueError, E("covering at most 2 dims, got (1, 1, 1, 1, 1, 1)")),
    ("pad_crop_too_much", lambda: F.pad(x23(), (-2, -2)), ValueError, E("pad: widths (-2, -2) would leave dim 1 of size 3 negative")),
    ("pad_mode", lambda: F.pad(x23(), (1, 1), mode="mirror"), ValueError,
     E("pad: mode must be one of ('constant', 'reflect', 'replicate', 'circular'), got 'mirror'")),
    ("pad_reflect_negative", lambda: F.pad(x23(), (-1, 1), mode="reflect"), ValueError,
     E("pad: negative widths only crop in constant mode, got (-1, 1) with mode 'reflect'")),
    ("pad_reflect_too_wide", lambda: F.pad(x23(), (3, 0), mode="reflect"), ValueError,
     E("pad: reflect padding of 3 needs dim 1 to have more than 3 elements, but it has 3")),
    # ----------------------------------------------------------------------------- clamp
    ("clamp_min_gt_max", lambda: x23().clamp(2.0, 1.0), ValueError, E("clamp: min (2.0) must not exceed max (1.0)")),
    ("clip_min_gt_max", lambda: x23().clip(min=1, max=0), ValueError, E("clamp: min (1) must not exceed max (0)")),
    ("functional_clamp_min_gt_max", lambda: F.clamp(x23(), 0.5, -0.5), ValueError, E("clamp: min (0.5) must not exceed max (-0.5)")),
    ("clamp_neither", lambda: x23().clamp(), ValueError, E("clamp: at least one of min and max must be given")),
    ("clip_neither", lambda: cnnkit.clip(x23()), ValueError, E("clamp: at least one of min and max must be given")),
    # ----------------------------------------------------------------------------- where
    ("where_float_condition", lambda: cnnkit.where(x23(), x23(), 0.0), TypeError,
     E("where: condition must be boolean, got dtype float32 (compare first, e.g. x > 0)")),
    ("where_int_condition", lambda: cnnkit.where(np.array([1, 0, 1]), x23(), 1.0), TypeError,
     E("where: condition must be boolean, got dtype int64")),
    ("where_method_condition", lambda: x23().where(cnnkit.tensor([1.0, 0.0, 1.0]), 0.0), TypeError,
     E("where: condition must be boolean, got dtype float32")),
    # -------------------------------------------------------------------------- indexing
    ("index_int", lambda: x23()[5], IndexError,
     E("index (5,) is invalid for a tensor of shape (2, 3): index 5 is out of bounds for axis 0 with size 2")),
    ("index_negative", lambda: x23()[-3], IndexError, E("index (-3,) is invalid for a tensor of shape (2, 3)") + ".*out of bounds"),
    ("index_second_axis", lambda: x23()[0, 3], IndexError,
     E("index (0, 3) is invalid for a tensor of shape (2, 3): index 3 is out of bounds for axis 1 with size 3")),
    ("index_array", lambda: x23()[np.array([0, 2])], IndexError,
     E("is invalid for a tensor of shape (2, 3): index 2 is out of bounds for axis 0 with size 2")),
    ("index_tensor", lambda: x23()[cnnkit.tensor(np.array([1, -4]))], IndexError, r"is invalid for a tensor of shape \(2, 3\).*-4"),
    ("index_too_many", lambda: x23()[0, 0, 0], IndexError, E("index (0, 0, 0) is invalid for a tensor of shape (2, 3)") + ".*too many indices"),
    ("index_float_array", lambda: x23()[np.array([0.5])], IndexError,
     E("tensors used as indices must be integer or boolean, got dtype float64")),
    ("index_float_tensor", lambda: x23()[cnnkit.tensor([0.0, 1.0])], IndexError,
     E("tensors used as indices must be integer or boolean, got dtype float32")),
    ("index_mask_shape", lambda: x23()[np.array([True, False, True])], IndexError, E("is invalid for a tensor of shape (2, 3)")),
    # ------------------------------------------------------------------- requires_grad
    ("requires_grad_int", lambda: cnnkit.tensor(np.array([1, 2]), requires_grad=True), TypeError,
     E("only floating-point tensors can require grad, but this tensor has dtype int64") + ".*call .float\\(\\) first"),
    ("requires_grad_int_setter", lambda: setattr(cnnkit.tensor(np.array([1, 2], np.int32)), "requires_grad", True), TypeError,
     E("only floating-point tensors can require grad, but this tensor has dtype int32")),
    ("requires_grad_bool", lambda: cnnkit.Tensor(np.array([True]), requires_grad=True), TypeError,
     E("only floating-point tensors can require grad, but this tensor has dtype bool")),
    ("requires_grad_arange", lambda: cnnkit.arange(3, requires_grad=True), TypeError, E("has dtype int64")),
    # ---------------------------------------------------------------------- empty tensors
    ("max_empty", lambda: cnnkit.zeros(0, 3).max(), ValueError,
     E("max: the tensor is empty (shape (0, 3)); there is no extreme value to return")),
    ("min_empty", lambda: cnnkit.zeros(0, 3).min(dim=0), ValueError, E("min: the tensor is empty (shape (0, 3))")),
    ("amax_empty", lambda: cnnkit.zeros(2, 0).amax(dim=1), ValueError, E("max: the tensor is empty (shape (2, 0))")),
    ("argmax_empty", lambda: cnnkit.zeros(0).argmax(), ValueError, E("argmax: the tensor is empty (shape (0,))")),
    ("argmin_empty", lambda: cnnkit.zeros(0, 2).argmin(dim=1), ValueError, E("argmin: the tensor is empty (shape (0, 2))")),
    # ------------------------------------------------------------------- expand, misc
    ("expand_size", lambda: x23().expand(3, 3), ValueError,
     E("broadcast_to/expand: cannot broadcast shape (2, 3) to (3, 3): each dimension must match or be 1 in the tensor")),
    ("expand_too_few", lambda: x23().expand(3), ValueError, E("expand: the number of sizes (3,) must be at least the tensor's 2 dims")),
    ("expand_minus1_new_dim", lambda: cnnkit.zeros(3).expand(-1, 3), ValueError, E("cannot broadcast shape (3,) to (-1, 3)")),
    ("broadcast_to_rank", lambda: x23().broadcast_to((3,)), ValueError, E("cannot broadcast shape (2, 3) to (3,)")),
    ("flatten_order", lambda: cnnkit.zeros(2, 3, 4).flatten(2, 1), ValueError, E("flatten: start_dim (2) must not come after end_dim (1)")),
    ("t_3d", lambda: cnnkit.zeros(2, 3, 4).t(), ValueError, E("t() expects a tensor with at most 2 dimensions, got 3")),
]


@pytest.mark.parametrize("call,exc,pattern", [pytest.param(c, e, p, id=i) for i, c, e, p in CASES])
def test_error_message(call: Callable[[], Any], exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        call()


def test_broadcast_error_leaves_no_graph_and_operands_intact() -> None:
    a, b = x23(), cnnkit.ones(4, requires_grad=True)
    with pytest.raises(ValueError):
        a + b
    assert a.grad is None and b.grad is None
    np.testing.assert_array_equal(b.data, np.ones(4))


def test_cat_of_zero_dim_tensors_explains() -> None:
    with pytest.raises((ValueError, RuntimeError), match=r"cat: tensor 0 is zero-dimensional and cannot be concatenated"):
        cnnkit.cat([cnnkit.tensor(1.0), cnnkit.tensor(2.0)])
