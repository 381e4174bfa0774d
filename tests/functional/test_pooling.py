"""Max / min / average / LP / adaptive / channel pooling: loop reference, gradcheck, PyTorch parity."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import cnnkit
import cnnkit.functional as F

from . import references as R
from .helpers import ck, gradcheck, parity

DTYPES = [np.float64, np.float32]


# ----------------------------------------------------------------------------- helpers


def labelled(label, check):
    try:
        check()
    except AssertionError as error:
        raise AssertionError(label + str(error)) from None


def distinct(shape, seed, spacing=0.01):
    """Tie-free values: a random permutation of a grid spaced ``spacing`` apart, centred on 0."""
    n = int(np.prod(shape))
    values = (np.random.default_rng(seed).permutation(n) - n / 2) * spacing
    return values.reshape(shape)


def positive(shape, seed):
    return np.random.default_rng(seed).uniform(0.2, 2.0, shape)


def tup(v, nd):
    return tuple(v) if isinstance(v, tuple) else (v,) * nd


def fits(spatial, k, s, p, d, ceil_mode, torch_rule=False):
    """cnnkit's rule (padding ≤ half the effective kernel) or PyTorch's stricter (half the kernel),
    and a non-empty output."""
    nd = len(spatial)
    k, p, d = tup(k, nd), tup(p, nd), tup(d, nd)
    s = k if s is None else tup(s, nd)
    for n, kk, ss, pp, dd in zip(spatial, k, s, p, d):
        limit = kk // 2 if torch_rule else (dd * (kk - 1) + 1) // 2
        if pp > limit or not R.pool_windows(n, kk, ss, pp, dd, ceil_mode):
            return False
    return True


# ----------------------------------------------------------------------------- reference sanity


def test_pool_reference_windows_match_pytorch_formula():
    """The brute-force window list against PyTorch's documented closed form (with its ceil fix)."""
    for n, k, s, p, d, ceil in itertools.product(range(1, 12), range(1, 5), range(1, 4), range(0, 3), (1, 2),
                                                  (False, True)):
        extent = d * (k - 1) + 1
        span = n + 2 * p - extent
        if span < 0 or p > extent // 2:
            continue
        out = (-(-span // s) if ceil else span // s) + 1
        if ceil and (out - 1) * s >= n + p:
            out -= 1
        assert len(R.pool_windows(n, k, s, p, d, ceil)) == out, (n, k, s, p, d, ceil)


# ----------------------------------------------------------------------------- max pooling

MAXK = [1, 2, 3, (2, 3)]
MAXS = [None, 1, 2, 3]
MAXP = [0, 1, (1, 0)]
MAX_INNER = list(itertools.product([1, 2], [False, True]))  # dilation, ceil_mode
X2 = (2, 3, 9, 8)


def _max_cases():
    for k, s, p in itertools.product(MAXK, MAXS, MAXP):
        yield pytest.param(k, s, p, id=f"k{k}-s{s}-p{p}".replace(" ", ""))


@pytest.mark.parametrize("k,s,p", list(_max_cases()))
def test_max_pool2d_forward_and_indices(k, s, p):
    x = distinct(X2, 0)
    for d, ceil in MAX_INNER:
        if not fits(X2[2:], k, s, p, d, ceil):
            continue
        label = f"[dilation={d}, ceil_mode={ceil}] "
        want, want_idx = R.pool_ref(x, k, s, p, d, ceil, "max")
        for dtype in DTYPES:
            out, idx = F.max_pool2d(ck(x, dtype=dtype), k, s, p, d, ceil, return_indices=True)
            labelled(label, lambda: R.assert_forward(out.numpy(), want, dtype))
            labelled(label, lambda: np.testing.assert_array_equal(idx.numpy(), want_idx))
            plain = F.max_pool2d(ck(x, dtype=dtype), k, s, p, d, ceil)
            labelled(label, lambda: R.assert_forward(plain.numpy(), want, dtype))


@pytest.mark.parity
@pytest.mark.parametrize("k,s,p", list(_max_cases()))
def test_max_pool2d_parity(k, s, p, torch):
    x = distinct(X2, 0)
    for d, ceil in MAX_INNER:
        if not fits(X2[2:], k, s, p, d, ceil, torch_rule=True):
            continue
        label = f"[dilation={d}, ceil_mode={ceil}] "
        labelled(label, lambda: parity(torch, lambda a: F.max_pool2d(a, k, s, p, d, ceil),
                                       lambda a: torch.nn.functional.max_pool2d(a, k, s, p, d, ceil), [x]))
        _, c_idx = F.max_pool2d(ck(x, dtype=np.float32), k, s, p, d, ceil, return_indices=True)
        _, t_idx = torch.nn.functional.max_pool2d(torch.tensor(x, dtype=torch.float32), k, s, p, d, ceil,
                                                  return_indices=True)
        labelled(label, lambda: np.testing.assert_array_equal(c_idx.numpy(), t_idx.numpy()))


MAX_GRAD = [(2, None, 0, 1, False), (3, 2, 1, 1, False), (3, 2, 1, 1, True), (2, 1, 1, 2, False),
            ((2, 3), (2, 1), (1, 0), 1, True), (3, 3, 1, 2, True), (1, 2, 0, 1, True)]


@pytest.mark.parametrize("k,s,p,d,ceil", MAX_GRAD)
def test_max_pool2d_gradcheck(k, s, p, d, ceil):
    x = ck(distinct((1, 2, 6, 7), 1), True)
    gradcheck(lambda a: F.max_pool2d(a, k, s, p, d, ceil), x)


@pytest.mark.parametrize("k,s,p,d,ceil", [(2, None, 0, 1, False), (3, 2, 1, 2, True), (4, 3, 2, 1, True),
                                          (5, 1, 2, 1, False)])
def test_max_pool1d_forward_indices_gradcheck(k, s, p, d, ceil):
    x = distinct((2, 3, 11), 2)
    want, want_idx = R.pool_ref(x, k, s, p, d, ceil, "max")
    for dtype in DTYPES:
        out, idx = F.max_pool1d(ck(x, dtype=dtype), k, s, p, d, ceil, return_indices=True)
        R.assert_forward(out.numpy(), want, dtype)
        np.testing.assert_array_equal(idx.numpy(), want_idx)
    gradcheck(lambda a: F.max_pool1d(a, k, s, p, d, ceil), ck(distinct((1, 2, 11), 3), True))


@pytest.mark.parity
@pytest.mark.parametrize("k,s,p,d,ceil", [(2, None, 0, 1, False), (3, 2, 1, 2, True), (4, 3, 2, 1, True)])
def test_max_pool1d_parity(k, s, p, d, ceil, torch):
    x = distinct((2, 3, 11), 2)
    parity(torch, lambda a: F.max_pool1d(a, k, s, p, d, ceil),
           lambda a: torch.nn.functional.max_pool1d(a, k, s, p, d, ceil), [x])
    _, c_idx = F.max_pool1d(ck(x), k, s, p, d, ceil, return_indices=True)
    _, t_idx = torch.nn.functional.max_pool1d(torch.tensor(x), k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(c_idx.numpy(), t_idx.numpy())


MAX3 = [(2, None, 0, 1, False), ((2, 3, 1), (1, 2, 2), (1, 1, 0), 1, True), (3, 2, 1, 2, False),
        (2, 2, 1, 1, True)]


@pytest.mark.parametrize("k,s,p,d,ceil", MAX3)
def test_max_pool3d_forward_indices_gradcheck(k, s, p, d, ceil):
    x = distinct((2, 2, 5, 6, 7), 4)
    want, want_idx = R.pool_ref(x, k, s, p, d, ceil, "max")
    for dtype in DTYPES:
        out, idx = F.max_pool3d(ck(x, dtype=dtype), k, s, p, d, ceil, return_indices=True)
        R.assert_forward(out.numpy(), want, dtype)
        np.testing.assert_array_equal(idx.numpy(), want_idx)
    gradcheck(lambda a: F.max_pool3d(a, k, s, p, d, ceil), ck(distinct((1, 1, 4, 5, 5), 5), True))


@pytest.mark.parity
@pytest.mark.parametrize("k,s,p,d,ceil", MAX3)
def test_max_pool3d_parity(k, s, p, d, ceil, torch):
    x = distinct((2, 2, 5, 6, 7), 4)
    parity(torch, lambda a: F.max_pool3d(a, k, s, p, d, ceil),
           lambda a: torch.nn.functional.max_pool3d(a, k, s, p, d, ceil), [x])
    _, c_idx = F.max_pool3d(ck(x), k, s, p, d, ceil, return_indices=True)
    _, t_idx = torch.nn.functional.max_pool3d(torch.tensor(x), k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(c_idx.numpy(), t_idx.numpy())


def test_max_pool2d_unbatched_and_non_contiguous():
    base = distinct((3, 8, 9), 6)
    view = np.swapaxes(base, 1, 2)[:, ::-1, 1:]  # (3, 9, 8), non-contiguous, negative stride
    assert not view.flags["C_CONTIGUOUS"]
    want, want_idx = R.pool_ref(np.ascontiguousarray(view)[None], 3, 2, 1, 1, True, "max")
    out, idx = F.max_pool2d(cnnkit.tensor(view), 3, 2, 1, ceil_mode=True, return_indices=True)
    R.assert_forward(out.numpy(), want[0], np.float64)
    np.testing.assert_array_equal(idx.numpy(), want_idx[0])
    gradcheck(lambda a: F.max_pool2d(a.transpose(1, 2), 2, 1), ck(distinct((2, 4, 5), 7), True))


@pytest.mark.parametrize("k,d,p", [(3, 2, 2), (2, 3, 2), ((3, 2), (2, 3), (2, 1))])
def test_max_pool2d_padding_up_to_half_the_dilated_extent(k, d, p):
    """cnnkit allows padding up to half the *dilated* window (PyTorch: half the kernel); still exact."""
    x = distinct((1, 2, 7, 8), 33)
    want, want_idx = R.pool_ref(x, k, 1, p, d, False, "max")
    out, idx = F.max_pool2d(ck(x), k, 1, p, d, return_indices=True)
    R.assert_forward(out.numpy(), want, np.float64)
    np.testing.assert_array_equal(idx.numpy(), want_idx)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2, padding=2), dict(kernel_size=3, stride=0),
                                    dict(kernel_size=0), dict(kernel_size=20)])
def test_max_pool2d_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        F.max_pool2d(cnnkit.ones(1, 1, 6, 6), **kwargs)


# ----------------------------------------------------------------------------- min pooling


@pytest.mark.parametrize("nd,k,s,p,d,ceil", [(1, 3, 2, 1, 1, True), (2, 2, None, 0, 1, False),
                                             (2, 3, 2, 1, 2, True), (2, (2, 3), 1, (1, 0), 1, False),
                                             (3, 2, 1, 1, 1, True)])
def test_min_pool(nd, k, s, p, d, ceil):
    shape = (2, 2) + (5, 6, 7)[:nd]
    x = distinct(shape, 8)
    fn = getattr(F, f"min_pool{nd}d")
    want = R.pool_ref(x, k, s, p, d, ceil, "min")
    for dtype in DTYPES:
        R.assert_forward(fn(ck(x, dtype=dtype), k, s, p, d, ceil).numpy(), want, dtype)
    small = (1, 1) + (4, 5, 5)[:nd] if nd == 3 else (1, 2) + (5, 6)[:nd]
    gradcheck(lambda a: fn(a, k, s, p, d, ceil), ck(distinct(small, 9), True))


@pytest.mark.parity
@pytest.mark.parametrize("nd,k,s,p,d,ceil", [(1, 3, 2, 1, 1, True), (2, 3, 2, 1, 2, True), (3, 2, 1, 1, 1, True)])
def test_min_pool_parity_with_negated_torch_max_pool(nd, k, s, p, d, ceil, torch):
    x = distinct((2, 2) + (5, 6, 7)[:nd], 8)
    t_pool = getattr(torch.nn.functional, f"max_pool{nd}d")
    parity(torch, lambda a: getattr(F, f"min_pool{nd}d")(a, k, s, p, d, ceil),
           lambda a: -t_pool(-a, k, s, p, d, ceil), [x])


def test_min_pool2d_padding_never_wins():
    """Padding must act as +inf for min pooling (never a zero that beats positive inputs)."""
    x = positive((1, 1, 4, 4), 10)
    out = F.min_pool2d(ck(x), 3, 1, 1).numpy()
    assert out.min() >= 0.2
    np.testing.assert_allclose(out, R.pool_ref(x, 3, 1, 1, 1, False, "min"))


# ----------------------------------------------------------------------------- average pooling

AVGK = [1, 2, 3, (2, 3)]
AVGS = [None, 1, 2, 3]
AVGP = [0, 1, (1, 0)]
AVG_INNER = list(itertools.product([False, True], [True, False], [None, 5]))  # ceil, count_include_pad, divisor


def _avg_cases():
    for k, s, p in itertools.product(AVGK, AVGS, AVGP):
        if all(pp <= kk // 2 for pp, kk in zip(tup(p, 2), tup(k, 2))):
            yield pytest.param(k, s, p, id=f"k{k}-s{s}-p{p}".replace(" ", ""))


@pytest.mark.parametrize("k,s,p", list(_avg_cases()))
def test_avg_pool2d_forward(k, s, p):
    x = np.random.default_rng(11).standard_normal(X2)
    for ceil, cip, div in AVG_INNER:
        if not fits(X2[2:], k, s, p, 1, ceil):
            continue
        label = f"[ceil_mode={ceil}, count_include_pad={cip}, divisor_override={div}] "
        want = R.pool_ref(x, k, s, p, 1, ceil, "avg", cip, div)
        for dtype in DTYPES:
            out = F.avg_pool2d(ck(x, dtype=dtype), k, s, p, ceil, cip, div)
            labelled(label, lambda: R.assert_forward(out.numpy(), want, dtype))


@pytest.mark.parity
@pytest.mark.parametrize("k,s,p", list(_avg_cases()))
def test_avg_pool2d_parity(k, s, p, torch):
    x = np.random.default_rng(11).standard_normal(X2)
    for ceil, cip, div in AVG_INNER:
        if not fits(X2[2:], k, s, p, 1, ceil):
            continue
        label = f"[ceil_mode={ceil}, count_include_pad={cip}, divisor_override={div}] "
        labelled(label, lambda: parity(torch, lambda a: F.avg_pool2d(a, k, s, p, ceil, cip, div),
                                       lambda a: torch.nn.functional.avg_pool2d(a, k, s, p, ceil, cip, div), [x]))


AVG_GRAD = [(2, None, 0, False, True, None), (3, 2, 1, True, True, None), (3, 2, 1, True, False, None),
            ((2, 3), 1, (1, 0), False, False, None), (3, 2, 1, False, True, 4), (2, 3, 1, True, False, None)]


@pytest.mark.parametrize("k,s,p,ceil,cip,div", AVG_GRAD)
def test_avg_pool2d_gradcheck(k, s, p, ceil, cip, div):
    x = ck(np.random.default_rng(12).standard_normal((1, 2, 6, 7)), True)
    gradcheck(lambda a: F.avg_pool2d(a, k, s, p, ceil, cip, div), x)


AVG13 = [(1, 3, 2, 1, True, False, None), (1, 2, None, 0, False, True, None), (1, 4, 3, 2, True, True, None),
         (3, 2, None, 0, False, True, None), (3, (2, 3, 1), (1, 2, 1), (1, 1, 0), True, False, None),
         (3, 3, 2, 1, True, True, 7)]


@pytest.mark.parametrize("nd,k,s,p,ceil,cip,div", AVG13)
def test_avg_pool_1d_3d(nd, k, s, p, ceil, cip, div):
    x = np.random.default_rng(13).standard_normal((2, 2) + (11,) if nd == 1 else (2, 2, 5, 6, 7))
    fn = getattr(F, f"avg_pool{nd}d")
    args = (k, s, p, ceil, cip) + ((div,) if nd == 3 else ())
    want = R.pool_ref(x, k, s, p, 1, ceil, "avg", cip, div)
    for dtype in DTYPES:
        R.assert_forward(fn(ck(x, dtype=dtype), *args).numpy(), want, dtype)
    small = (1, 2, 9) if nd == 1 else (1, 1, 4, 5, 5)
    gradcheck(lambda a: fn(a, *args), ck(np.random.default_rng(14).standard_normal(small), True))


@pytest.mark.parity
@pytest.mark.parametrize("nd,k,s,p,ceil,cip,div", AVG13)
def test_avg_pool_1d_3d_parity(nd, k, s, p, ceil, cip, div, torch):
    x = np.random.default_rng(13).standard_normal((2, 2) + (11,) if nd == 1 else (2, 2, 5, 6, 7))
    args = (k, s, p, ceil, cip) + ((div,) if nd == 3 else ())
    parity(torch, lambda a: getattr(F, f"avg_pool{nd}d")(a, *args),
           lambda a: getattr(torch.nn.functional, f"avg_pool{nd}d")(a, *args), [x])


def test_avg_pool2d_unbatched():
    x = np.random.default_rng(15).standard_normal((3, 7, 6))
    want = R.pool_ref(x[None], 3, 2, 1, 1, True, "avg", False)
    R.assert_forward(F.avg_pool2d(ck(x), 3, 2, 1, True, False).numpy(), want[0], np.float64)


# ----------------------------------------------------------------------------- LP pooling

LP_CASES = [(p, k, s, ceil) for p in [1, 2, 3.5] for k, s in [(2, None), (3, 1), ((2, 3), 2), (3, 2)]
            for ceil in [False, True]]


@pytest.mark.parametrize("norm,k,s,ceil", LP_CASES)
def test_lp_pool2d_forward(norm, k, s, ceil):
    x = positive(X2, 16)
    want = R.pool_ref(x, k, s, 0, 1, ceil, "lp", norm_type=norm)
    for dtype in DTYPES:
        R.assert_forward(F.lp_pool2d(ck(x, dtype=dtype), norm, k, s, ceil).numpy(), want, dtype)


@pytest.mark.parity
@pytest.mark.parametrize("norm,k,s,ceil", LP_CASES)
def test_lp_pool2d_parity(norm, k, s, ceil, torch):
    x = positive(X2, 16)
    parity(torch, lambda a: F.lp_pool2d(a, norm, k, s, ceil),
           lambda a: torch.nn.functional.lp_pool2d(a, norm, k, s, ceil), [x])


@pytest.mark.parametrize("norm,k,s,ceil", [(2, 2, None, False), (3.5, 3, 2, True), (1, (2, 3), 1, False)])
def test_lp_pool2d_gradcheck(norm, k, s, ceil):
    gradcheck(lambda a: F.lp_pool2d(a, norm, k, s, ceil), ck(positive((1, 2, 5, 6), 17), True))


def test_lp_pool2d_is_the_slides_l2_pooling():
    """L2 pooling h = √(Σ x²) over each full window."""
    x = np.array([[[[3.0, 4.0, 1.0, 2.0], [0.0, 12.0, 2.0, 4.0]]]])
    out = F.lp_pool2d(ck(x), 2, 2).numpy()
    np.testing.assert_allclose(out, [[[[13.0, 5.0]]]], rtol=1e-12)


@pytest.mark.parametrize("nd,norm,k,s,ceil", [(1, 2, 3, 2, True), (1, 3.5, 2, None, False), (3, 2, 2, None, False),
                                              (3, 1.5, (2, 3, 2), (1, 2, 2), True)])
def test_lp_pool_1d_3d(nd, norm, k, s, ceil):
    x = positive((2, 2, 11) if nd == 1 else (2, 2, 5, 6, 7), 18)
    fn = getattr(F, f"lp_pool{nd}d")
    want = R.pool_ref(x, k, s, 0, 1, ceil, "lp", norm_type=norm)
    for dtype in DTYPES:
        R.assert_forward(fn(ck(x, dtype=dtype), norm, k, s, ceil).numpy(), want, dtype)
    small = (1, 2, 9) if nd == 1 else (1, 1, 4, 5, 5)
    gradcheck(lambda a: fn(a, norm, k, s, ceil), ck(positive(small, 19), True))


@pytest.mark.parity
@pytest.mark.parametrize("nd,norm,k,s,ceil", [(1, 2, 3, 2, True), (3, 2, 2, None, False),
                                              (3, 1.5, (2, 3, 2), (1, 2, 2), True)])
def test_lp_pool_1d_3d_parity(nd, norm, k, s, ceil, torch):
    x = positive((2, 2, 11) if nd == 1 else (2, 2, 5, 6, 7), 18)
    parity(torch, lambda a: getattr(F, f"lp_pool{nd}d")(a, norm, k, s, ceil),
           lambda a: getattr(torch.nn.functional, f"lp_pool{nd}d")(a, norm, k, s, ceil), [x])


# ----------------------------------------------------------------------------- adaptive pooling

ADAPT = [
    (1, (2, 3, 10), 5), (1, (2, 3, 10), 3), (1, (2, 3, 10), 4), (1, (2, 3, 10), 1), (1, (2, 3, 10), 10),
    (1, (2, 3, 7), 9),  # output larger than input: overlapping windows
    (2, X2, (3, 4)), (2, X2, (4, 3)), (2, X2, (5, 5)), (2, X2, 1), (2, X2, (9, 8)), (2, X2, (None, 3)),
    (2, X2, (2, None)), (2, X2, 7), (2, (3, 9, 8), (4, 3)),  # unbatched
    (3, (2, 2, 5, 6, 7), (2, 3, None)), (3, (2, 2, 5, 6, 7), (5, 3, 7)), (3, (2, 2, 5, 6, 7), 1),
    (3, (2, 2, 4, 6, 2), (2, 3, 1)),
]
ADAPT_IDS = [f"{nd}d-{shape}-{o}".replace(" ", "") for nd, shape, o in ADAPT]


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("nd,shape,size", ADAPT, ids=ADAPT_IDS)
def test_adaptive_pool_forward(mode, nd, shape, size):
    x = distinct(shape, 20)
    unbatched = len(shape) == nd + 1
    want = R.adaptive_pool_ref(x[None] if unbatched else x, size, mode)
    if unbatched:
        want = want[0]
    fn = getattr(F, f"adaptive_{mode}_pool{nd}d")
    for dtype in DTYPES:
        R.assert_forward(fn(ck(x, dtype=dtype), size).numpy(), want, dtype)


@pytest.mark.parity
@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("nd,shape,size", ADAPT, ids=ADAPT_IDS)
def test_adaptive_pool_parity(mode, nd, shape, size, torch):
    x = distinct(shape, 20)
    name = f"adaptive_{mode}_pool{nd}d"
    parity(torch, lambda a: getattr(F, name)(a, size), lambda a: getattr(torch.nn.functional, name)(a, size), [x])


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("nd,shape,size", [(1, (1, 2, 10), 3), (1, (1, 2, 7), 9), (2, (1, 2, 7, 6), (3, 4)),
                                           (2, (1, 2, 6, 6), (3, 2)), (2, (1, 2, 5, 7), (None, 3)),
                                           (3, (1, 1, 4, 5, 3), (3, 2, None))])
def test_adaptive_pool_gradcheck(mode, nd, shape, size):
    fn = getattr(F, f"adaptive_{mode}_pool{nd}d")
    gradcheck(lambda a: fn(a, size), ck(distinct(shape, 21), True))


def test_adaptive_reference_windows():
    # 10 → 3: [0, 4), [3, 7), [6, 10); 7 → 9 repeats cells; 9 → 3 is plain pooling.
    assert R.adaptive_windows(10, 3) == [(0, 4), (3, 7), (6, 10)]
    assert R.adaptive_windows(9, 3) == [(0, 3), (3, 6), (6, 9)]
    assert R.adaptive_windows(7, 9)[:3] == [(0, 1), (0, 2), (1, 3)]


# ----------------------------------------------------------------------------- channel pooling / maxout

CHAN = [((2, 6, 3, 4), 2), ((2, 6, 3, 4), 3), ((2, 6, 3, 4), 6), ((2, 6, 3, 4), 1), ((3, 8), 4), ((2, 4, 5), 2)]


@pytest.mark.parametrize("mode", ["max", "avg", "l2"])
@pytest.mark.parametrize("shape,k", CHAN)
def test_channel_pool_forward(mode, shape, k):
    x = distinct(shape, 22, spacing=0.05)
    want = R.channel_pool_ref(x, k, mode)
    for dtype in DTYPES:
        R.assert_forward(F.channel_pool(ck(x, dtype=dtype), k, mode).numpy(), want, dtype)


@pytest.mark.parametrize("mode", ["max", "avg", "l2"])
@pytest.mark.parametrize("shape,k", [((1, 6, 2, 3), 2), ((1, 6, 2, 3), 3), ((4, 6), 3)])
def test_channel_pool_gradcheck(mode, shape, k):
    x = distinct(shape, 23, spacing=0.05)
    x = x + np.sign(x) * 0.1  # keep away from 0 (the l2 norm's kink when a whole group is 0)
    gradcheck(lambda a: F.channel_pool(a, k, mode), ck(x, True))


@pytest.mark.parametrize("shape,pieces", [((2, 6, 3, 4), 2), ((2, 6, 3, 4), 3), ((5, 8), 4)])
def test_maxout(shape, pieces):
    x = distinct(shape, 24)
    want = np.empty((shape[0], shape[1] // pieces) + shape[2:])
    for n in range(shape[0]):  # by hand: max over channels j·pieces … j·pieces + pieces − 1
        for j in range(shape[1] // pieces):
            want[n, j] = np.max(x[n, j * pieces:(j + 1) * pieces], axis=0)
    for dtype in DTYPES:
        R.assert_forward(F.maxout(ck(x, dtype=dtype), pieces).numpy(), want, dtype)
    gradcheck(lambda a: F.maxout(a, pieces), ck(distinct((1,) + shape[1:], 25), True))


def test_channel_pool_l2_matches_the_slides_formula():
    # √(3² + 4²) = 5 and √(1² + (−2)²) = √5 at every position
    x = np.array([3.0, 4.0, 1.0, -2.0]).reshape(1, 4, 1, 1) * np.ones((1, 4, 2, 2))
    out = F.channel_pool(ck(x), 2, "l2").numpy()
    np.testing.assert_allclose(out[0, :, 0, 0], [5.0, np.sqrt(5.0)], rtol=1e-12)


@pytest.mark.parity
def test_maxout_parity_with_torch_reshape_max(torch):
    x = distinct((2, 6, 3, 4), 26)
    parity(torch, lambda a: F.maxout(a, 3), lambda a: a.reshape(2, 2, 3, 3, 4).amax(dim=2), [x])


def test_channel_pool_rejects_indivisible_channels():
    with pytest.raises(ValueError):
        F.channel_pool(cnnkit.ones(1, 5, 2, 2), 2)
    with pytest.raises(ValueError):
        F.channel_pool(cnnkit.ones(1, 4, 2, 2), 2, "median")


# ----------------------------------------------------------------------------- signatures, ties, NaN, unbatched

POOL_NAMES = [f"{kind}_pool{nd}d" for kind in ("max", "avg", "lp") for nd in (1, 2, 3)] + \
    [f"adaptive_{kind}_pool{nd}d" for kind in ("avg", "max") for nd in (1, 2, 3)]


@pytest.mark.parity
@pytest.mark.parametrize("name", POOL_NAMES)
def test_signature_matches_torch(name, torch):
    assert R.signature_mismatches(getattr(F, name), R.torch_signature(torch, name)) == []


def ties(shape, seed):
    """Small integers: many equal values in every window."""
    return np.random.default_rng(seed).integers(0, 3, shape).astype(np.float64)


@pytest.mark.parity
@pytest.mark.parametrize("nd,k,s,p,d,ceil", [(2, 2, None, 0, 1, False), (2, 3, 2, 1, 1, True),
                                             (2, (2, 3), 1, 1, (1, 2), False), (1, 3, 1, 1, 1, False),
                                             (3, 2, 1, 1, 1, True)])
@pytest.mark.parametrize("constant", [False, True])
def test_max_pool_ties_follow_torch(nd, k, s, p, d, ceil, constant, torch):
    """Ties: the first maximum in the window gets the gradient and the index, as in PyTorch."""
    shape = (1, 2) + (5, 6, 7)[:nd]
    x = np.ones(shape) if constant else ties(shape, 27)
    name = f"max_pool{nd}d"
    parity(torch, lambda a: getattr(F, name)(a, k, s, p, d, ceil),
           lambda a: getattr(torch.nn.functional, name)(a, k, s, p, d, ceil), [x])
    _, c_idx = getattr(F, name)(ck(x), k, s, p, d, ceil, return_indices=True)
    _, t_idx = getattr(torch.nn.functional, name)(torch.tensor(x), k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(c_idx.numpy(), t_idx.numpy())


@pytest.mark.parity
def test_max_pool_nan_propagates_like_torch(torch):
    x = np.random.default_rng(28).standard_normal((1, 2, 6, 6))
    x[0, 0, 1, 2] = x[0, 1, 4, 4] = np.nan
    c = ck(x.astype(np.float32), True)
    t = torch.tensor(x.astype(np.float32), requires_grad=True)
    c_out, c_idx = F.max_pool2d(c, 3, 2, 1, return_indices=True)
    t_out, t_idx = torch.nn.functional.max_pool2d(t, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(c_out.numpy(), t_out.detach().numpy())  # NaN positions equal too
    np.testing.assert_array_equal(c_idx.numpy(), t_idx.numpy())
    g = np.random.default_rng(0).standard_normal(c_out.shape).astype(np.float32)
    c_out.backward(cnnkit.tensor(g))
    t_out.backward(torch.tensor(g))
    np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-6)


@pytest.mark.parity
@pytest.mark.parametrize("size,case", [
    ((2, 3), "ties"),  # divisible: plain max pooling
    ((4, 3), "ties"),  # non-divisible: overlapping windows
    ((3, 5), "constant"),
    ((3, 3), "nan"),  # divisible
    ((4, 4), "nan"),
])
def test_adaptive_max_pool_ties_and_nan_follow_torch(size, case, torch):
    x = {"ties": ties((1, 2, 6, 6), 29), "constant": np.ones((1, 2, 6, 6)),
         "nan": np.arange(72.0).reshape(1, 2, 6, 6)}[case]
    if case == "nan":
        x[0, 0, 1, 2] = np.nan
    c = ck(x.astype(np.float32), True)
    t = torch.tensor(x.astype(np.float32), requires_grad=True)
    c_out = F.adaptive_max_pool2d(c, size)
    t_out = torch.nn.functional.adaptive_max_pool2d(t, size)
    np.testing.assert_array_equal(c_out.numpy(), t_out.detach().numpy())
    g = np.random.default_rng(0).standard_normal(c_out.shape).astype(np.float32)
    with np.errstate(all="ignore"):
        c_out.backward(cnnkit.tensor(g))
    t_out.backward(torch.tensor(g))
    np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-6)
    _, c_idx = F.adaptive_max_pool2d(ck(x), size, return_indices=True)
    _, t_idx = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
    np.testing.assert_array_equal(c_idx.numpy(), t_idx.numpy())


@pytest.mark.parity
@pytest.mark.parametrize("nd,shape,size", ADAPT, ids=ADAPT_IDS)
def test_adaptive_max_pool_indices_match_torch(nd, shape, size, torch):
    x = distinct(shape, 20)
    name = f"adaptive_max_pool{nd}d"
    c_out, c_idx = getattr(F, name)(ck(x), size, return_indices=True)
    t_out, t_idx = getattr(torch.nn.functional, name)(torch.tensor(x), size, return_indices=True)
    np.testing.assert_array_equal(c_out.numpy(), t_out.numpy())
    np.testing.assert_array_equal(c_idx.numpy(), t_idx.numpy())


@pytest.mark.parity
@pytest.mark.parametrize("norm", [1, 2])
def test_lp_pool_with_negative_inputs(norm, torch):
    x = np.random.default_rng(30).standard_normal((2, 2, 6, 7))
    want = R.pool_ref(x, 2, 2, 0, 1, True, "lp", norm_type=norm)
    R.assert_forward(F.lp_pool2d(ck(x), norm, 2, ceil_mode=True).numpy(), want, np.float64)
    parity(torch, lambda a: F.lp_pool2d(a, norm, 2, ceil_mode=True),
           lambda a: torch.nn.functional.lp_pool2d(a, norm, 2, ceil_mode=True), [x])


@pytest.mark.parametrize("call,ref", [
    (lambda a: F.max_pool1d(a, 3, 2, 1), lambda x: R.pool_ref(x, 3, 2, 1, 1, False, "max")[0]),
    (lambda a: F.avg_pool1d(a, 3, 2, 1, True, False), lambda x: R.pool_ref(x, 3, 2, 1, 1, True, "avg", False)),
    (lambda a: F.min_pool1d(a, 2), lambda x: R.pool_ref(x, 2, 2, 0, 1, False, "min")),
    (lambda a: F.lp_pool1d(a, 2, 3), lambda x: R.pool_ref(x, 3, 3, 0, 1, False, "lp", norm_type=2)),
    (lambda a: F.adaptive_avg_pool1d(a, 4), lambda x: R.adaptive_pool_ref(x, 4)),
    (lambda a: F.adaptive_max_pool1d(a, 4), lambda x: R.adaptive_pool_ref(x, 4, "max")),
], ids=["max", "avg", "min", "lp", "adaptive_avg", "adaptive_max"])
def test_unbatched_1d_pooling(call, ref):
    x1 = positive((3, 11), 31)
    R.assert_forward(call(ck(x1)).numpy(), ref(x1[None])[0], np.float64)


@pytest.mark.parametrize("call,ref", [
    (lambda a: F.max_pool3d(a, 2, 1, 1, ceil_mode=True), lambda x: R.pool_ref(x, 2, 1, 1, 1, True, "max")[0]),
    (lambda a: F.avg_pool3d(a, 2, 2), lambda x: R.pool_ref(x, 2, 2, 0, 1, False, "avg")),
    (lambda a: F.adaptive_max_pool3d(a, (2, 3, None)), lambda x: R.adaptive_pool_ref(x, (2, 3, None), "max")),
], ids=["max", "avg", "adaptive_max"])
def test_unbatched_3d_pooling(call, ref):
    x3 = distinct((2, 4, 5, 3), 32)
    R.assert_forward(call(ck(x3)).numpy(), ref(x3[None])[0], np.float64)
