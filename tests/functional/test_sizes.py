"""cnnkit.conv_output_size / cnnkit.pool_output_size: brute-force window counting and real output shapes."""

from __future__ import annotations

import itertools

import pytest

import cnnkit
import cnnkit.functional as F

from . import references as R


def brute_conv_positions(W, K, P=0, S=1, D=1):
    """Slide a dilated K-tap window over the zero-padded input one stride at a time; count the placements
    whose every tap lies inside the padded input."""
    lo, hi = P if isinstance(P, tuple) else (P, P)
    padded = lo + W + hi
    count, start = 0, 0
    while True:
        taps = [start + j * D for j in range(K)]
        if max(taps) >= padded:
            return count
        count += 1
        start += S


def brute_pool_positions(W, K, S=None, P=0, ceil_mode=False, D=1):
    """Windows over [−P, W + P): floor mode counts windows that fit; ceil mode adds the partial window
    the ceil division creates, unless it starts in the right padding (PyTorch's rule)."""
    S = K if S is None else S
    extent = D * (K - 1) + 1
    count, start = 0, -P
    while True:
        end = start + extent - 1
        if end <= W + P - 1:
            count += 1
        else:
            overhang = end - (W + P - 1)
            if ceil_mode and overhang < S and start <= W - 1:
                count += 1
            return count
        start += S


# ----------------------------------------------------------------------------- conv_output_size

CONV_GRID = list(itertools.product(range(1, 17), range(1, 7), range(0, 4), range(1, 5), range(1, 4)))


def test_conv_output_size_matches_brute_force_everywhere():
    bad = [(W, K, P, S, D) for W, K, P, S, D in CONV_GRID
           if cnnkit.conv_output_size(W, K, P, S, D) != brute_conv_positions(W, K, P, S, D)]
    assert not bad, bad[:10]


def test_conv_output_size_keyword_defaults():
    assert cnnkit.conv_output_size(7, 3) == 5  # P=0, S=1, D=1
    assert cnnkit.conv_output_size(W=7, K=3, P=1) == 7
    assert cnnkit.conv_output_size(7, 3, S=2) == 3
    assert cnnkit.conv_output_size(7, 3, D=2) == 3
    assert cnnkit.conv_output_size(7, 3, S=3) == 2  # (7 − 3)/3 + 1 = 2.33 → 2 (floor)


def test_conv_output_size_asymmetric_padding():
    for W, K, lo, hi, S in itertools.product(range(1, 12), range(1, 5), range(0, 3), range(0, 3), range(1, 4)):
        assert cnnkit.conv_output_size(W, K, (lo, hi), S) == brute_conv_positions(W, K, (lo, hi), S)


def test_conv_output_size_is_zero_when_the_kernel_does_not_fit():
    assert cnnkit.conv_output_size(3, 5) == 0
    assert cnnkit.conv_output_size(4, 3, D=2) == 0
    assert cnnkit.conv_output_size(4, 3, P=1, D=2) == 2


@pytest.mark.parametrize("W", [5, 8, 11])
@pytest.mark.parametrize("K", [1, 2, 3, 5])
@pytest.mark.parametrize("S", [1, 2, 3])
def test_conv_output_size_agrees_with_conv_shapes(W, K, S):
    for P, D in itertools.product([0, 1, 2], [1, 2]):
        expected = cnnkit.conv_output_size(W, K, P, S, D)
        if expected == 0:
            with pytest.raises(ValueError):
                F.conv2d(cnnkit.ones(1, 1, W, W), cnnkit.ones(1, 1, K, K), stride=S, padding=P, dilation=D)
            continue
        assert F.conv1d(cnnkit.ones(1, 1, W), cnnkit.ones(2, 1, K), stride=S, padding=P, dilation=D).shape == \
            (1, 2, expected)
        out = F.conv2d(cnnkit.ones(1, 1, W, W + 1), cnnkit.ones(1, 1, K, K), stride=S, padding=P, dilation=D)
        assert out.shape == (1, 1, expected, cnnkit.conv_output_size(W + 1, K, P, S, D))


@pytest.mark.parametrize("W", [5, 6, 7, 10])
@pytest.mark.parametrize("K", [1, 2, 3, 4])
@pytest.mark.parametrize("S", [1, 2, 3])
def test_same_padding_sizes(W, K, S):
    """'same' gives ceil(W/S) for any stride; its TF padding through conv_output_size gives the same count."""
    out = F.conv1d(cnnkit.ones(1, 1, W), cnnkit.ones(1, 1, K), stride=S, padding="same")
    assert out.shape[-1] == -(-W // S)
    assert cnnkit.conv_output_size(W, K, R.tf_same_pads(W, K, S), S) == -(-W // S)


# ----------------------------------------------------------------------------- pool_output_size

POOL_GRID = [(W, K, S, P, ceil, D) for W, K, S, P, ceil, D in
             itertools.product(range(1, 17), range(1, 6), [None, 1, 2, 3, 4], range(0, 3), [False, True], [1, 2])
             if P <= (D * (K - 1) + 1) // 2 and W + 2 * P >= D * (K - 1) + 1]


def test_pool_output_size_matches_brute_force_everywhere():
    bad = [c for c in POOL_GRID if cnnkit.pool_output_size(*c) != brute_pool_positions(*c)]
    assert not bad, bad[:10]


def test_pool_output_size_matches_the_reference_windows():
    for W, K, S, P, ceil, D in POOL_GRID:
        assert len(R.pool_windows(W, K, K if S is None else S, P, D, ceil)) == brute_pool_positions(W, K, S, P, ceil, D)


def test_pool_output_size_defaults_and_ceil_rule():
    assert cnnkit.pool_output_size(5, 2) == 2  # S defaults to K
    assert cnnkit.pool_output_size(5, 2, ceil_mode=True) == 3
    assert cnnkit.pool_output_size(224, 2, 2) == 112
    assert cnnkit.pool_output_size(24, 2, 2) == 12
    # ceil mode: a window that would start in the right padding is dropped: W=5, K=2, S=2, P=1 → 3 not 4
    assert cnnkit.pool_output_size(5, 2, 2, 1, ceil_mode=True) == 3
    assert brute_pool_positions(5, 2, 2, 1, True) == 3
    # …while one starting in the last input cell is kept: W=6, K=3, S=2, P=1 → ceil((6+2−3)/2)+1 = 4
    assert cnnkit.pool_output_size(6, 3, 2, 1, ceil_mode=True) == 4


@pytest.mark.parity
def test_pool_output_size_matches_torch_shapes(torch):
    mismatches = []
    for W, K, S, P, ceil, D in POOL_GRID:
        if P > K // 2:
            continue  # PyTorch's own (stricter) padding limit
        t = torch.nn.functional.max_pool1d(torch.zeros(1, 1, W), K, S, P, D, ceil)
        if t.shape[-1] != cnnkit.pool_output_size(W, K, S, P, ceil, D):
            mismatches.append((W, K, S, P, ceil, D, t.shape[-1]))
    assert not mismatches, mismatches[:10]


@pytest.mark.parametrize("W", [4, 5, 7, 9])
@pytest.mark.parametrize("K", [1, 2, 3])
def test_pool_output_size_agrees_with_pool_shapes(W, K):
    for S, P, ceil in itertools.product([None, 1, 2, 3], [0, 1], [False, True]):
        if P > K // 2:
            continue
        expected = cnnkit.pool_output_size(W, K, S, P, ceil)
        x = cnnkit.ones(1, 1, W, W + 2)
        wide = cnnkit.pool_output_size(W + 2, K, S, P, ceil)
        assert F.max_pool2d(x, K, S, P, ceil_mode=ceil).shape == (1, 1, expected, wide)
        assert F.avg_pool2d(x, K, S, P, ceil_mode=ceil).shape == (1, 1, expected, wide)
        assert F.min_pool2d(x, K, S, P, ceil_mode=ceil).shape == (1, 1, expected, wide)
        assert F.max_pool1d(cnnkit.ones(1, 1, W), K, S, P, ceil_mode=ceil).shape == (1, 1, expected)
        if P == 0:
            assert F.lp_pool2d(x, 2, K, S, ceil).shape == (1, 1, expected, wide)


def test_pool_output_size_with_dilation_agrees_with_max_pool():
    for W, K, S, P, ceil in itertools.product([6, 7, 9], [2, 3], [1, 2, 3], [0, 1, 2], [False, True]):
        if P > (2 * (K - 1) + 1) // 2:
            continue
        expected = cnnkit.pool_output_size(W, K, S, P, ceil, D=2)
        assert F.max_pool1d(cnnkit.ones(1, 1, W), K, S, P, 2, ceil).shape == (1, 1, expected)
