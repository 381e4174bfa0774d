"""The course slides' worked convolution / pooling examples (/work/shared/seeds/*.txt), as tests.

Expected numbers are computed by hand in each test (explicit loops over the slide's grids); where
a slide prints numbers they are compared too. Where slides disagree with each other, or with
their own input, the arithmetic decides and a comment says so.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cnnkit
import cnnkit.functional as F


def ck(a, grad=False):
    return cnnkit.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def by_hand(image, kernel, stride=1, pad=0):
    """Slide the (unflipped) kernel over the zero-padded image: Σ image·kernel per position."""
    image = [list(map(float, row)) for row in image]
    n, m = len(image), len(image[0])
    kh, kw = len(kernel), len(kernel[0])
    padded = [[0.0] * (m + 2 * pad) for _ in range(n + 2 * pad)]
    for i in range(n):
        for j in range(m):
            padded[i + pad][j + pad] = image[i][j]
    out = []
    for i in range(0, n + 2 * pad - kh + 1, stride):
        row = []
        for j in range(0, m + 2 * pad - kw + 1, stride):
            row.append(sum(padded[i + u][j + v] * kernel[u][v] for u in range(kh) for v in range(kw)))
        out.append(row)
    return out


def conv2d_plain(image, kernel, stride=1, padding=0):
    x = ck(image).reshape(1, 1, len(image), len(image[0]))
    k = ck(kernel).reshape(1, 1, len(kernel), len(kernel[0]))
    out = F.conv2d(x, k, stride=stride, padding=padding)
    return out.reshape(out.shape[2:]).numpy()


# ----------------------------------------------------------------------------- 5×5 binary image ⋆ 3×3 kernel
# Slides 003 ("What is the Output?"): the kernel slides without flipping (cross-correlation).

BINARY = [[1, 0, 1, 0, 1],
          [1, 0, 0, 1, 1],
          [0, 1, 1, 0, 0],
          [1, 0, 0, 1, 0],
          [0, 0, 1, 1, 0]]
KERNEL = [[0, 1, 0],
          [1, 0, -1],
          [0, 1, 0]]


def test_binary_image_first_entries_worked_on_the_slides():
    # (1×0) + (0×1) + (1×0) + (1×1) + (0×0) + (0×−1) + (0×0) + (1×1) + (1×0) = 2
    assert by_hand(BINARY, KERNEL)[0][0] == 2
    # (0×0) + (1×1) + (0×0) + (0×1) + (0×0) + (1×−1) + (1×0) + (1×1) + (0×0) = 1
    assert by_hand(BINARY, KERNEL)[0][1] == 1


def test_binary_image_stride1_pad0():
    want = by_hand(BINARY, KERNEL, 1, 0)
    # The step-by-step slides build up exactly this 3×3 map. The later "Stride = 1, Padding = 0"
    # summary slide prints [[2, −1, 1], [2, 1, 0], [1, −1, 1]] instead; the arithmetic above (and
    # the slides' own entry-by-entry sums, and the stride-2 slide, whose four entries are this
    # map's corners) decide for the step-by-step version.
    assert want == [[2, 1, -1], [-1, 1, 3], [2, 1, 1]]
    assert want != [[2, -1, 1], [2, 1, 0], [1, -1, 1]]
    out = conv2d_plain(BINARY, KERNEL)
    assert out.shape == (3, 3)  # (5 + 2·0 − 3)/1 + 1 = 3
    np.testing.assert_array_equal(out, want)
    assert cnnkit.conv_output_size(5, 3, P=0, S=1) == 3


def test_binary_image_stride2():
    want = by_hand(BINARY, KERNEL, 2, 0)
    assert want == [[2, -1], [2, 1]]  # printed on both stride-2 slides
    out = conv2d_plain(BINARY, KERNEL, stride=2)
    assert out.shape == (2, 2)  # (5 + 2·0 − 3)/2 + 1 = 2
    np.testing.assert_array_equal(out, want)
    assert cnnkit.conv_output_size(5, 3, P=0, S=2) == 2


def test_binary_image_pad1():
    want = by_hand(BINARY, KERNEL, 1, 1)
    # The slide's padded 7×7 input is right, but its printed 5×5 result
    # [[2,−1,1,1,0],[2,1,0,1,2],[1,−1,1,0,1],[0,1,2,1,1],[2,0,1,0,2]] is not what that input gives:
    # e.g. its corner is 2, but the top-left window sees only 0·0+0·1+0·0+0·1+1·0+0·(−1)+0·0+1·1+0·0 = 1.
    # The arithmetic decides; note the interior 3×3 equals the unpadded result, as it must.
    assert want == [[1, 0, 0, 1, 1],
                    [1, 2, 1, -1, 2],
                    [1, -1, 1, 3, 1],
                    [0, 2, 1, 1, 1],
                    [1, -1, -1, 2, 1]]
    assert [row[1:4] for row in want[1:4]] == by_hand(BINARY, KERNEL)
    out = conv2d_plain(BINARY, KERNEL, padding=1)
    assert out.shape == (5, 5)  # (5 + 2·1 − 3)/1 + 1 = 5
    np.testing.assert_array_equal(out, want)
    assert cnnkit.conv_output_size(5, 3, P=1, S=1) == 5


def test_binary_image_with_true_convolution_flips_the_kernel():
    flipped = [row[::-1] for row in KERNEL[::-1]]
    np.testing.assert_array_equal(F.convolve2d(ck(BINARY), ck(KERNEL)).numpy(), by_hand(BINARY, flipped))


# ----------------------------------------------------------------------------- more 2-D examples from slide set 003


def test_laplacian_example_stride_1_and_2():
    image = [[95, 242, 186, 152, 39],
             [39, 14, 220, 153, 180],
             [5, 247, 212, 54, 46],
             [46, 77, 133, 110, 74],
             [156, 35, 74, 93, 116]]
    laplace = [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
    want1 = by_hand(image, laplace, 1)
    want2 = by_hand(image, laplace, 2)
    # 242 + 39 + 220 + 247 − 4·14 = 692, as printed
    assert want1 == [[692, -315, -6], [-680, -194, 305], [153, -59, -86]]  # printed (stride 1)
    assert want2 == [[692, -6], [153, -86]]  # printed (stride 2)
    np.testing.assert_array_equal(conv2d_plain(image, laplace), want1)
    np.testing.assert_array_equal(conv2d_plain(image, laplace, stride=2), want2)


def test_vertical_edge_on_grey_image():
    image = [[1, 1, 0, 0, 0]] * 5
    kernel = [[1, 0, -1]] * 3
    want = by_hand(image, kernel)
    assert want == [[3, 3, 0]] * 3  # printed
    np.testing.assert_array_equal(conv2d_plain(image, kernel), want)


def test_colour_image_two_filters_shape():
    # 5×5×3 input ⋆ two 3×3×3 filters → 3×3×2: (n − f + 1) × (n − f + 1) × n_f
    rng = np.random.default_rng(0)
    out = F.conv2d(ck(rng.standard_normal((1, 3, 5, 5))), ck(rng.standard_normal((2, 3, 3, 3))))
    assert out.shape == (1, 2, 3, 3)


# ----------------------------------------------------------------------------- box filter (slide set 004)


def test_box_filter_correlation_example():
    # The grid as extracted from the slide is 11×11 with four full rows of 90 above the row with the
    # hole; the printed h[·,·] (8×8) is what S. Seitz's original 10×10 image (three full rows, no
    # trailing zero row/column) gives. Both are checked by hand; h is compared with the original.
    slide = np.zeros((11, 11))
    slide[2:8, 3:8] = 90
    slide[6, 4] = 0
    slide[9, 2] = 90
    original = np.delete(slide, 2, axis=0)[:10, :10]
    box = [[1 / 9] * 3] * 3
    printed_h = [[0, 10, 20, 30, 30, 30, 20, 10],
                 [0, 20, 40, 60, 60, 60, 40, 20],
                 [0, 30, 60, 90, 90, 90, 60, 30],
                 [0, 30, 50, 80, 80, 90, 60, 30],
                 [0, 30, 50, 80, 80, 90, 60, 30],
                 [0, 20, 30, 50, 50, 60, 40, 20],
                 [10, 20, 30, 30, 30, 30, 20, 10],
                 [10, 10, 10, 0, 0, 0, 0, 0]]
    np.testing.assert_allclose(by_hand(original, box), printed_h, atol=1e-9)
    np.testing.assert_allclose(conv2d_plain(original, box), printed_h, atol=1e-9)
    np.testing.assert_allclose(conv2d_plain(slide, box), by_hand(slide, box), atol=1e-9)
    assert conv2d_plain(slide, box).shape == (9, 9)


# ----------------------------------------------------------------------------- max pooling 2×2 / stride 2


def pool_by_hand(grid, k=2, s=2, how=max):
    n, m = len(grid), len(grid[0])
    return [[how(grid[i + u][j + v] for u in range(k) for v in range(k)) for j in range(0, m - k + 1, s)]
            for i in range(0, n - k + 1, s)]


def test_max_pool_single_depth_slice():
    grid = [[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]]
    want = pool_by_hand(grid)
    assert want == [[6, 8], [3, 4]]  # printed on slide sets 000, 001 and 002
    out = F.max_pool2d(ck(grid).reshape(1, 1, 4, 4), 2, 2)
    np.testing.assert_array_equal(out.numpy()[0, 0], want)


def test_max_pool_second_example():
    grid = [[4, 123, 1, 34], [56, 99, 222, 253], [45, 122, 165, 12], [21, 187, 133, 124]]
    want = pool_by_hand(grid)
    # The slide prints [[123, 167], [187, 165]]; 167 is not even in the top-right window
    # {1, 34, 222, 253} (nor anywhere in the input): its maximum is 253. The arithmetic decides.
    assert want == [[123, 253], [187, 165]]
    out = F.max_pool2d(ck(grid).reshape(1, 1, 4, 4), 2, 2)
    np.testing.assert_array_equal(out.numpy()[0, 0], want)
    # the same windows for average / min pooling (slides: "max pooling, min pooling, mean pooling")
    np.testing.assert_allclose(F.avg_pool2d(ck(grid).reshape(1, 1, 4, 4), 2).numpy()[0, 0],
                               pool_by_hand(grid, how=lambda v: sum(v) / 4))
    np.testing.assert_array_equal(F.min_pool2d(ck(grid).reshape(1, 1, 4, 4), 2).numpy()[0, 0],
                                  pool_by_hand(grid, how=min))


def test_max_pool_gradient_routes_to_the_maximum():
    # "max gate: gradient router": each window's upstream gradient goes to its maximum only
    grid = [[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]]
    x = ck(grid, True)
    F.max_pool2d(x.reshape(1, 1, 4, 4), 2).sum().backward()
    want = np.zeros((4, 4))
    for i, j in [(1, 1), (1, 3), (2, 0), (3, 3)]:
        want[i, j] = 1
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_l2_pooling_formula():
    # L2 pooling: h = √(Σ x²) over each window; L2 pooling over features: the same across channels
    grid = [[3, 4, 1, 2], [0, 0, 2, 4], [1, 1, 6, 0], [1, 1, 0, 0]]
    want = pool_by_hand(grid, how=lambda v: math.sqrt(sum(t * t for t in v)))
    assert want == [[5.0, 5.0], [2.0, 6.0]]
    np.testing.assert_allclose(F.lp_pool2d(ck(grid).reshape(1, 1, 4, 4), 2, 2).numpy()[0, 0], want, rtol=1e-12)
    features = ck([[3.0, 4.0, 6.0, 8.0]]).reshape(1, 4, 1, 1)
    np.testing.assert_allclose(F.channel_pool(features, 2, "l2").numpy().reshape(-1), [5.0, 10.0], rtol=1e-12)


def test_pooling_between_filters_max_of_four_kernels():
    # "Pooling can also be used between filters": four kernels' outputs per position → their maximum
    maps = np.array([[[1.0, 5.0]], [[3.0, 2.0]], [[0.0, 7.0]], [[2.0, 1.0]]]).reshape(1, 4, 1, 2)
    np.testing.assert_array_equal(F.maxout(ck(maps), 4).numpy().reshape(-1), [3.0, 7.0])


# ----------------------------------------------------------------------------- the 3×32×32 / ten 5×5 filters example


def test_ten_5x5_filters_stride1_pad2():
    assert (32 + 2 * 2 - 5) // 1 + 1 == 32
    x = ck(np.ones((1, 3, 32, 32)))
    w = ck(np.ones((10, 3, 5, 5)))
    b = ck(np.zeros(10))
    out = F.conv2d(x, w, b, stride=1, padding=2)
    assert out.shape == (1, 10, 32, 32)
    assert cnnkit.conv_output_size(32, 5, P=2, S=1) == 32
    # parameters: each filter 3·5·5 + 1 (bias) = 76, ten filters → 760
    assert w.numel() + b.numel() == 760 == 10 * (3 * 5 * 5 + 1)
    # multiply-adds: 10·32·32 = 10,240 outputs, each a 75-element dot product → 768,000
    assert out.numel() * (3 * 5 * 5) == 768_000
    # with all-ones inputs and filters an interior output counts its 75 taps; a corner only 3·3·3
    assert out.numpy()[0, 0, 16, 16] == 75 and out.numpy()[0, 0, 0, 0] == 27


def test_single_output_is_a_75_dim_dot_product_plus_bias():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((1, 3, 32, 32)), rng.standard_normal((1, 3, 5, 5)), rng.standard_normal(1)
    out = F.conv2d(ck(x), ck(w), ck(b)).numpy()
    assert out.shape == (1, 1, 28, 28)  # 32 − 5 + 1
    i, j = 7, 11
    assert out[0, 0, i, j] == pytest.approx(float(w.reshape(75) @ x[0, :, i:i + 5, j:j + 5].reshape(75) + b[0]))


def test_six_filters_and_batch_of_two():
    # 2×3×32×32 batch, 6×3×5×5 filters + 6-dim bias → 2×6×28×28
    out = F.conv2d(cnnkit.ones(2, 3, 32, 32), cnnkit.ones(6, 3, 5, 5), cnnkit.zeros(6))
    assert out.shape == (2, 6, 28, 28)
    # 32 → 28 → 24: repeated 5×5 convolutions shrink the volume
    assert F.conv2d(out, cnnkit.ones(4, 6, 5, 5)).shape == (2, 4, 24, 24)


# ----------------------------------------------------------------------------- 7×7 input, 3×3 filter


@pytest.mark.parametrize("stride,pad,expected", [(1, 0, 5), (2, 0, 3), (1, 1, 7)])
def test_seven_by_seven_input(stride, pad, expected):
    assert (7 - 3 + 2 * pad) // stride + 1 == expected
    assert cnnkit.conv_output_size(7, 3, P=pad, S=stride) == expected
    assert F.conv2d(cnnkit.ones(1, 1, 7, 7), cnnkit.ones(1, 1, 3, 3), stride=stride, padding=pad).shape == \
        (1, 1, expected, expected)


def test_seven_by_seven_stride3_does_not_fit():
    # (N − F)/stride + 1 = (7 − 3)/3 + 1 = 2.33: "doesn't fit". The formula's floor (what every
    # framework does) keeps 2 windows, at columns 0–2 and 3–5, and never reads the last column.
    assert (7 - 3) / 3 + 1 == pytest.approx(2.333, abs=1e-3)
    assert cnnkit.conv_output_size(7, 3, S=3) == 2
    x = np.arange(49.0).reshape(7, 7)
    out = conv2d_plain(x, [[1, 1, 1]] * 3, stride=3)
    assert out.shape == (2, 2)
    np.testing.assert_array_equal(out, by_hand(x, [[1, 1, 1]] * 3, stride=3))
    g = ck(x, True)
    F.conv2d(g.reshape(1, 1, 7, 7), ck(np.ones((1, 1, 3, 3))), stride=3).sum().backward()
    assert (g.grad.numpy()[6, :] == 0).all() and (g.grad.numpy()[:, 6] == 0).all()


def test_same_padding_rule_of_thumb():
    # stride 1, F×F filters, zero padding (F − 1)/2 preserves the size: F = 3 → 1, 5 → 2, 7 → 3
    for f in (3, 5, 7):
        p = (f - 1) // 2
        assert cnnkit.conv_output_size(7, f, P=p, S=1) == 7
        out = F.conv2d(cnnkit.ones(1, 1, 7, 7), cnnkit.ones(1, 1, f, f), padding=p)
        assert out.shape == (1, 1, 7, 7)
        same = F.conv2d(cnnkit.ones(1, 1, 7, 7), cnnkit.ones(1, 1, f, f), padding="same")
        np.testing.assert_array_equal(out.numpy(), same.numpy())
    # common settings: K=3, P=1, S=2 downsamples by 2
    assert cnnkit.conv_output_size(32, 3, P=1, S=2) == 16


# ----------------------------------------------------------------------------- other output-size examples


def test_alexnet_first_layer():
    # ((227 − 11 + 2·0)/4) + 1 = 55; AlexNet: 64 filters, each 3×11×11
    assert (227 - 11 + 2 * 0) // 4 + 1 == 55
    assert cnnkit.conv_output_size(227, 11, P=0, S=4) == 55
    w = cnnkit.zeros(64, 3, 11, 11)
    assert F.conv2d(cnnkit.zeros(1, 3, 227, 227), w, stride=4).shape == (1, 64, 55, 55)
    assert w.numel() + 64 == 23_296


def test_21x21_filter_on_251x151_stride10():
    # [(251 − 21)/10 + 1] × [(151 − 21)/10 + 1] = 24 × 14
    assert (cnnkit.conv_output_size(251, 21, S=10), cnnkit.conv_output_size(151, 21, S=10)) == (24, 14)
    out = F.conv2d(cnnkit.zeros(1, 1, 251, 151), cnnkit.zeros(1, 1, 21, 21), stride=10)
    assert out.shape == (1, 1, 24, 14)


def test_mnist_cnn_sizes_and_parameter_counts():
    # Conv_1: 32 filters 3×3 on 28×28×1 → 26; Conv_2: 64 filters 3×3 → 24; max pool 2 → 12; flatten 9216
    x = cnnkit.zeros(1, 1, 28, 28)
    c1 = F.conv2d(x, cnnkit.zeros(32, 1, 3, 3), cnnkit.zeros(32))
    c2 = F.conv2d(c1, cnnkit.zeros(64, 32, 3, 3), cnnkit.zeros(64))
    p = F.max_pool2d(c2, 2)
    assert (c1.shape, c2.shape, p.shape) == ((1, 32, 26, 26), (1, 64, 24, 24), (1, 64, 12, 12))
    assert p.reshape(1, -1).shape == (1, 9216) and 12 * 12 * 64 == 9216
    # parameters, ((H·W·depth) + bias) × filters. The slide writes "(3×3×1 + 1)×16 = 320", but
    # ×16 gives 160; the layer table has 32 filters, and (3·3·1 + 1)·32 = 320 — the arithmetic decides.
    assert (3 * 3 * 1 + 1) * 32 == 320 != (3 * 3 * 1 + 1) * 16
    # Conv_2: (3·3·32 + 1)·64 = 18,496 (the summary table's "18494" is a typo: its own total,
    # 1,199,882, needs 18,496)
    conv2_params = 64 * 32 * 3 * 3 + 64
    assert conv2_params == 18_496
    fc1 = (9216 + 1) * 128
    fc2 = (128 + 1) * 10
    assert (fc1, fc2) == (1_179_776, 1_290)
    assert 320 + conv2_params + fc1 + fc2 == 1_199_882
    h = F.linear(p.reshape(1, -1), cnnkit.zeros(128, 9216), cnnkit.zeros(128))
    assert F.linear(h, cnnkit.zeros(10, 128), cnnkit.zeros(10)).shape == (1, 10)
    # 16 filters 3×3 on a depth-3 input: ((3·3·3) + 1)·16 = 448
    assert cnnkit.zeros(16, 3, 3, 3).numel() + 16 == 448


def test_keras_mnist_model_sizes():
    # Conv2D(64, 3×3) on 28×28×1 → 26; MaxPool 2 → 13; Conv2D(64, 3×3) → 11; MaxPool 2 → 5
    x = F.conv2d(cnnkit.zeros(1, 1, 28, 28), cnnkit.zeros(64, 1, 3, 3))
    x = F.max_pool2d(x, 2)
    assert x.shape == (1, 64, 13, 13)
    x = F.max_pool2d(F.conv2d(x, cnnkit.zeros(64, 64, 3, 3)), 2)
    assert x.shape == (1, 64, 5, 5)
    assert cnnkit.pool_output_size(11, 2) == 5


def test_lenet5_table():
    # Conv(20, K=5, P=2, S=1) → 20×28×28 with 20·(1·5·5 + 1) weights; MaxPool(2, 2) → 20×14×14;
    # Conv(50, K=5, P=2) → 50×14×14 with 50·(20·5·5 + 1); MaxPool → 50×7×7; flatten 2450;
    # Linear 2450 → 500 with 2450·500 + 500; Linear 500 → 10 with 500·10 + 10.
    x = cnnkit.zeros(1, 1, 28, 28)
    w1, w2 = cnnkit.zeros(20, 1, 5, 5), cnnkit.zeros(50, 20, 5, 5)
    x = F.relu(F.conv2d(x, w1, cnnkit.zeros(20), padding=2))
    assert x.shape == (1, 20, 28, 28)
    x = F.max_pool2d(x, 2, 2)
    assert x.shape == (1, 20, 14, 14)
    x = F.relu(F.conv2d(x, w2, cnnkit.zeros(50), padding=2))
    assert x.shape == (1, 50, 14, 14)
    x = F.max_pool2d(x, 2, 2)
    assert x.shape == (1, 50, 7, 7)
    x = x.reshape(1, -1)
    assert x.shape == (1, 2450)
    x = F.relu(F.linear(x, cnnkit.zeros(500, 2450), cnnkit.zeros(500)))
    assert F.linear(x, cnnkit.zeros(10, 500), cnnkit.zeros(10)).shape == (1, 10)
    assert w1.numel() + 20 == 20 * (1 * 5 * 5 + 1) == 520
    assert w2.numel() + 50 == 50 * (20 * 5 * 5 + 1) == 25_050
    assert 2450 * 500 + 500 == 1_225_500 and 500 * 10 + 10 == 5_010


def test_convnetjs_mnist_layer():
    # input 24×24×1; conv 5×5, 8 filters, stride 1 → 24×24×8 (so padding 2); parameters 8·5·5·1 + 8 = 208;
    # pool 2×2 stride 2 → 12×12×8
    w, b = cnnkit.zeros(8, 1, 5, 5), cnnkit.zeros(8)
    out = F.conv2d(cnnkit.zeros(1, 1, 24, 24), w, b, stride=1, padding=2)
    assert out.shape == (1, 8, 24, 24)
    assert w.numel() + b.numel() == 208
    assert F.max_pool2d(out, 2, 2).shape == (1, 8, 12, 12)


def test_pooling_layer_sizes():
    # 224×224×64 → max pool 2×2 stride 2 → 112×112×64; (H − K)/S + 1
    assert F.max_pool2d(cnnkit.zeros(1, 64, 224, 224), 2, 2).shape == (1, 64, 112, 112)
    assert cnnkit.pool_output_size(224, 2, 2) == (224 - 2) // 2 + 1 == 112
    # common settings max K=3, S=2 (AlexNet): e.g. 55 → 27
    assert cnnkit.pool_output_size(55, 3, 2) == (55 - 3) // 2 + 1 == 27


def test_parameter_sharing_counts():
    # 200×200 image, 100 filters of 10×10 → 10K parameters (shared over all positions)
    assert cnnkit.zeros(100, 1, 10, 10).numel() == 10_000
    assert F.conv2d(cnnkit.zeros(1, 1, 200, 200), cnnkit.zeros(100, 1, 10, 10)).shape == (1, 100, 191, 191)
    # a 5×5 convolutional unit on a grey image: 5·5 + 1 = 26 parameters, whatever the image size
    assert cnnkit.zeros(1, 1, 5, 5).numel() + 1 == 26


def test_one_by_one_convolution_is_a_per_position_mlp():
    # 1×1 CONV with 32 filters, each 1×1×64: a 64-dimensional dot product at every position
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 64, 5, 6)), rng.standard_normal((32, 64, 1, 1)), rng.standard_normal(32)
    out = F.conv2d(ck(x), ck(w), ck(b)).numpy()
    assert out.shape == (2, 32, 5, 6)
    want = np.einsum("nchw,oc->nohw", x, w[:, :, 0, 0]) + b[None, :, None, None]
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------------------- receptive fields


def receptive_field(layers, size=31):
    """Width of the input region that the centre output depends on (nonzero input gradient)."""
    x = ck(np.random.default_rng(3).uniform(1, 2, (1, 1, size, size)), True)
    h = x
    for kind, k, s in layers:
        if kind == "conv":
            h = F.conv2d(h, ck(np.ones((1, 1, k, k))), stride=s)
        else:
            h = F.avg_pool2d(h, k, s)
    c = h.shape[-1] // 2
    h[0, 0, c, c].backward()
    cols = np.nonzero(x.grad.numpy()[0, 0].any(axis=0))[0]
    return int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize("layers", [1, 2, 3, 4])
@pytest.mark.parametrize("k", [3, 5])
def test_receptive_field_of_stacked_convolutions(layers, k):
    # each successive K×K convolution adds K − 1: with L layers the receptive field is 1 + L·(K − 1)
    assert receptive_field([("conv", k, 1)] * layers) == 1 + layers * (k - 1)


def test_receptive_field_recursion_with_strides():
    # RF_L = RF_{L−1} + (K_L − 1)·Π_{i<L} S_i
    layers = [("conv", 3, 2), ("conv", 3, 1), ("conv", 5, 2), ("conv", 3, 1)]
    rf, jump = 1, 1
    for _, k, s in layers:
        rf += (k - 1) * jump
        jump *= s
    assert rf == 1 + 2 + 2 * 2 + 4 * 2 + 4 * 2 == 23
    assert receptive_field(layers, size=63) == rf


@pytest.mark.parametrize("k,p", [(3, 2), (5, 2), (3, 3)])
def test_receptive_field_of_conv_then_pool(k, p):
    # K×K conv (stride 1) then P×P pooling: each pooled unit sees a (P + K − 1)×(P + K − 1) patch.
    # (A later slide states (K·P + 1)×(K·P + 1); for K = 3, P = 2 that is 7, but the arithmetic — and
    # the gradient below — give P + K − 1 = 4.)
    assert receptive_field([("conv", k, 1), ("pool", p, p)]) == p + k - 1
