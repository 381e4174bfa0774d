"""TensorDataset, Subset and random_split against plain indexing and PyTorch's split lengths."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import cnnkit
from cnnkit.data import Dataset, Subset, TensorDataset, random_split
from cnnkit.data import transforms as T


def test_tensor_dataset_rows_and_length():
    x = np.arange(24).reshape(6, 2, 2)
    y = np.arange(6) * 10
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    for i in range(-6, 6):
        xi, yi = ds[i]
        np.testing.assert_array_equal(xi, x[i])
        assert yi == y[i]
    xi, yi = ds[np.int64(2)]
    assert yi == 20


def test_tensor_dataset_keeps_references_and_accepts_tensors():
    x = np.zeros((3, 2), np.float32)
    ds = TensorDataset(cnnkit.from_numpy(x), [1, 2, 3])
    assert ds.arrays[0] is x  # no copy of the data
    assert ds.arrays[1].tolist() == [1, 2, 3]
    assert "float32[3, 2]" in repr(ds)


def test_tensor_dataset_single_array_gives_one_tuple():
    ds = TensorDataset(np.arange(4))
    assert isinstance(ds[1], tuple) and len(ds[1]) == 1 and ds[1][0] == 1


def test_tensor_dataset_transform_applies_to_first_element_only():
    x = np.arange(8, dtype=np.uint8).reshape(2, 1, 2, 2)
    y = np.array([3, 4], np.uint8)
    ds = TensorDataset(x, y, transform=T.ToFloat(scale=0.5))
    xi, yi = ds[1]
    np.testing.assert_array_equal(xi, x[1].astype(np.float32) * 0.5)
    assert yi == 4 and yi.dtype == np.uint8
    np.testing.assert_array_equal(ds.arrays[0], np.arange(8).reshape(2, 1, 2, 2))  # source untouched
    assert ds.batchable
    assert not TensorDataset(x, transform=lambda a: a).batchable


def test_tensor_dataset_get_batch_fancy_indexes():
    x, y = np.arange(10) * 2, np.arange(10)
    bx, by = TensorDataset(x, y).get_batch(np.array([7, 0, 7]))
    assert bx.tolist() == [14, 0, 14] and by.tolist() == [7, 0, 7]
    with pytest.raises(TypeError, match="get_batch"):
        TensorDataset(x, transform=lambda a: a).get_batch(np.array([0]))


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match=r"array 0: 5, array 1: 5, array 2: 4"):
        TensorDataset(np.zeros(5), np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()
    with pytest.raises(ValueError, match="scalar"):
        TensorDataset(np.float32(3))
    with pytest.raises(TypeError, match="object array"):
        TensorDataset([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="transform must be callable"):
        TensorDataset(np.zeros(2), transform=3)
    ds = TensorDataset(np.zeros(3))
    with pytest.raises(IndexError, match="index 3 is out of range for 3 samples"):
        ds[3]
    with pytest.raises(IndexError, match="-4"):
        ds[-4]
    with pytest.raises(TypeError, match="integer"):
        ds[1.0]
    with pytest.raises(TypeError, match="integer"):
        ds[True]


def test_dataset_base_class():
    class Squares(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return i * i

    assert [Squares()[i] for i in range(3)] == [0, 1, 4]
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Dataset())
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]


def test_subset_order_and_errors():
    ds = TensorDataset(np.arange(10) * 10)
    sub = Subset(ds, [9, 0, 4])
    assert len(sub) == 3
    assert [int(sub[i][0]) for i in range(3)] == [90, 0, 40]
    assert int(sub[-1][0]) == 40
    assert [int(v) for v in sub.get_batch(np.array([2, 0]))[0]] == [40, 90]
    assert sub.batchable and not Subset(list(range(10)), [1]).batchable
    assert len(Subset(ds, [])) == 0
    with pytest.raises(IndexError, match="index 10 is out of range for a dataset of 10"):
        Subset(ds, [1, 10])
    with pytest.raises(IndexError, match="-1"):
        Subset(ds, [-1])
    with pytest.raises(TypeError, match="integers"):
        Subset(ds, [0.5])
    with pytest.raises(IndexError, match="out of range for 3"):
        sub[3]


def _values(subset):
    return [int(subset[i][0]) for i in range(len(subset))]


def test_random_split_counts_partition_the_dataset():
    ds = TensorDataset(np.arange(20))
    a, b, c = random_split(ds, [10, 7, 3], seed=1)
    assert (len(a), len(b), len(c)) == (10, 7, 3)
    values = _values(a) + _values(b) + _values(c)
    assert sorted(values) == list(range(20))
    assert values != list(range(20))  # shuffled
    assert [_values(s) for s in random_split(ds, [10, 7, 3], seed=1)] == [_values(a), _values(b), _values(c)]
    assert [_values(s) for s in random_split(ds, [10, 7, 3], seed=2)] != [_values(a), _values(b), _values(c)]


@pytest.mark.parametrize("n, fractions", [(10, [0.8, 0.2]), (11, [0.5, 0.5]), (7, [0.3, 0.3, 0.4]),
                                          (100, [0.33, 0.33, 0.34]), (5, [0.1, 0.9]), (3, [1.0])])
def test_random_split_fraction_lengths_match_pytorch(torch, n, fractions):
    expected = [len(s) for s in torch.utils.data.random_split(range(n), fractions,
                                                              generator=torch.Generator().manual_seed(0))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert [len(s) for s in random_split(TensorDataset(np.arange(n)), fractions, seed=0)] == expected


def test_random_split_generator_argument():
    ds = TensorDataset(np.arange(12))
    a = [_values(s) for s in random_split(ds, [4, 8], generator=np.random.default_rng(5))]
    assert a == [_values(s) for s in random_split(ds, [4, 8], generator=np.random.default_rng(5))]
    assert sorted(a[0] + a[1]) == list(range(12))


def test_random_split_seed_none_follows_manual_seed():
    ds = TensorDataset(np.arange(30))
    cnnkit.manual_seed(3)
    first = [_values(s) for s in random_split(ds, [0.5, 0.5])]
    cnnkit.manual_seed(3)
    assert [_values(s) for s in random_split(ds, [0.5, 0.5])] == first


def test_random_split_errors_and_warning():
    ds = TensorDataset(np.arange(10))
    with pytest.raises(ValueError, match=r"sum to 9, but the dataset holds 10"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="fractions must sum to 1"):
        random_split(ds, [0.5, 0.3])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(ds, [-1, 11])
    with pytest.raises(ValueError, match="empty"):
        random_split(ds, [])
    with pytest.raises(ValueError, match="seed"):
        random_split(ds, [5, 5], seed=-1)
    with pytest.raises(ValueError, match="not both"):
        random_split(ds, [5, 5], seed=1, generator=np.random.default_rng(1))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        random_split(ds, [5, 5], generator=1)
    with pytest.warns(UserWarning, match="split 1 is empty"):
        random_split(TensorDataset(np.arange(3)), [0.9, 0.1], seed=0)
