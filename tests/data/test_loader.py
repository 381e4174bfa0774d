"""DataLoader: batch contents and counts, per-epoch shuffling determinism, the fast path, collation,
augmentation driven by the loader seed, errors, and training a Model from a loader."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import cnnkit
from cnnkit import nn
from cnnkit.data import DataLoader, Subset, TensorDataset, default_collate
from cnnkit.data import transforms as T

from training.helpers import tiny_images, weights  # tests/ is on sys.path (rootdir-relative packages)


def labels(batches) -> list:
    return [b[1].tolist() for b in batches]


class ItemDataset:
    """A map-style dataset without the batch fast path, counting its __getitem__ calls."""

    def __init__(self, x, y):
        self.x, self.y, self.calls = x, y, 0

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        self.calls += 1
        return self.x[i], self.y[i]


# ----------------------------------------------------------------------------- batches, counts
@pytest.mark.parametrize("n, batch_size, drop_last", [
    (n, b, d) for n, b in [(10, 3), (10, 5), (10, 10), (10, 11), (1, 1), (7, 2)] for d in (False, True)
    if not (d and n < b)])  # no batch at all is an error, tested below
def test_batch_sizes_and_len(n, batch_size, drop_last):
    loader = DataLoader(TensorDataset(np.arange(n), np.arange(n) * 2), batch_size=batch_size, drop_last=drop_last)
    sizes = [len(x) for x, _ in loader]
    full, rest = divmod(n, batch_size)
    expected = [batch_size] * full + ([rest] if rest and not drop_last else [])
    assert sizes == expected and len(loader) == len(expected)
    seen = np.concatenate([x for x, _ in loader])
    assert seen.tolist() == list(range(len(seen)))  # no shuffle: in order


def test_batches_hold_the_right_rows_and_types():
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    y = np.arange(10, dtype=np.int64)
    batches = list(DataLoader(TensorDataset(x, y), batch_size=4))
    assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)
    np.testing.assert_array_equal(batches[1][0], x[4:8])
    assert batches[1][0].dtype == np.float32 and batches[1][1].dtype == np.int64
    batches[0][0][:] = -1  # a batch is a copy: the dataset is safe
    assert x.min() == 0


# ---------------------------------------------------------------------------------- shuffling
def test_each_epoch_visits_every_sample_once_in_a_new_order():
    loader = DataLoader(TensorDataset(np.arange(50), np.arange(50)), batch_size=8, shuffle=True, seed=3)
    orders = [np.concatenate([x for x, _ in loader]).tolist() for _ in range(3)]
    for order in orders:
        assert sorted(order) == list(range(50))
    assert orders[0] != orders[1] != orders[2] and orders[0] != list(range(50))
    assert loader.epoch == 3


def test_epoch_order_is_the_documented_seed_sequence_permutation():
    # The module notes promise: epoch e's order comes from numpy.random.SeedSequence([seed, e]) (its first
    # spawned stream; the second drives the augmentations). Written out with NumPy alone, so a change to
    # the derivation, which would silently change every saved run's batches, fails here.
    loader = DataLoader(TensorDataset(np.arange(37), np.arange(37)), batch_size=37, shuffle=True, seed=2024)
    for epoch in range(3):
        order_stream = np.random.SeedSequence([2024, epoch]).spawn(2)[0]
        expected = np.random.default_rng(order_stream).permutation(37).tolist()
        assert labels(loader) == [expected]


def test_same_seed_same_sequence_different_seed_different():
    ds = TensorDataset(np.arange(40), np.arange(40))
    a, b = DataLoader(ds, 6, shuffle=True, seed=1), DataLoader(ds, 6, shuffle=True, seed=1)
    c = DataLoader(ds, 6, shuffle=True, seed=2)
    for _ in range(3):
        la = labels(a)
        assert la == labels(b)
        assert la != labels(c)


def test_set_epoch_resumes_and_state_dict_round_trips():
    ds = TensorDataset(np.arange(20), np.arange(20))
    a = DataLoader(ds, 4, shuffle=True, seed=9)
    epochs = [labels(a) for _ in range(4)]
    b = DataLoader(ds, 4, shuffle=True, seed=9)
    b.set_epoch(2)
    assert labels(b) == epochs[2] and labels(b) == epochs[3]
    c = DataLoader(ds, 4, shuffle=True, seed=0)
    c.load_state_dict({"seed": 9, "epoch": 1})
    assert c.state_dict() == {"seed": 9, "epoch": 1}
    assert labels(c) == epochs[1]
    with pytest.raises(ValueError, match="non-negative"):
        b.set_epoch(-1)
    with pytest.raises(ValueError, match="'seed' and 'epoch'"):
        c.load_state_dict({"seed": 1})


def test_iterators_claim_their_epoch_when_created():
    ds = TensorDataset(np.arange(30), np.arange(30))
    loader = DataLoader(ds, 30, shuffle=True, seed=4)
    first, second = iter(loader), iter(loader)  # epochs 0 and 1, claimed before any batch is drawn
    twin = DataLoader(ds, 30, shuffle=True, seed=4)
    epoch0, epoch1 = labels(twin), labels(twin)
    assert [next(second)[1].tolist()] == epoch1
    assert [next(first)[1].tolist()] == epoch0
    assert loader.epoch == 2


def test_seed_none_is_drawn_from_manual_seed():
    ds = TensorDataset(np.arange(25), np.arange(25))
    cnnkit.manual_seed(123)
    a = DataLoader(ds, 5, shuffle=True)
    cnnkit.manual_seed(123)
    b = DataLoader(ds, 5, shuffle=True)
    assert a.seed == b.seed
    assert [labels(a) for _ in range(2)] == [labels(b) for _ in range(2)]
    assert DataLoader(ds, 5, shuffle=True).seed != a.seed  # the generator moved on


def test_shuffle_false_ignores_the_seed():
    ds = TensorDataset(np.arange(9), np.arange(9))
    assert labels(DataLoader(ds, 4, seed=1)) == labels(DataLoader(ds, 4, seed=2)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]


# ---------------------------------------------------------------------- fast path and datasets
def test_fast_path_equals_the_per_sample_path_without_calling_getitem():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(23, 2, 3)), rng.integers(0, 5, 23)

    class Counting(TensorDataset):
        calls = 0

        def __getitem__(self, index):
            Counting.calls += 1
            return super().__getitem__(index)

    fast = DataLoader(Counting(x, y), 5, shuffle=True, seed=8)
    items = ItemDataset(x, y)
    slow = DataLoader(items, 5, shuffle=True, seed=8)
    for _ in range(2):
        for (fx, fy), (sx, sy) in zip(fast, slow, strict=True):
            np.testing.assert_array_equal(fx, sx)
            np.testing.assert_array_equal(fy, sy)
    assert Counting.calls == 0 and items.calls == 46


def test_subset_array_and_list_datasets():
    x = np.arange(12) * 3
    sub = Subset(TensorDataset(x), [11, 2, 5, 7])
    assert [b[0].tolist() for b in DataLoader(sub, 3)] == [[33, 6, 15], [21]]
    assert [b.tolist() for b in DataLoader(x, 5)] == [x[:5].tolist(), x[5:10].tolist(), x[10:].tolist()]
    samples = [(np.full(2, i), i) for i in range(5)]
    xb, yb = next(iter(DataLoader(samples, 5)))
    assert xb.shape == (5, 2) and yb.tolist() == [0, 1, 2, 3, 4]


def test_single_array_dataset_yields_one_tuples():
    (xb,) = next(iter(DataLoader(TensorDataset(np.arange(6)), 4)))
    assert xb.tolist() == [0, 1, 2, 3]


def test_dataset_with_a_plain_function_transform_goes_sample_by_sample():
    shapes = []

    def record(a):
        shapes.append(a.shape)
        return a + 100

    ds = TensorDataset(np.zeros((5, 1, 2, 2)), np.arange(5), transform=record)
    xb, yb = next(iter(DataLoader(ds, 5)))
    assert shapes == [(1, 2, 2)] * 5 and xb.min() == 100 and yb.tolist() == [0, 1, 2, 3, 4]


# --------------------------------------------------------------------------------- collation
def test_default_collate_structures():
    Pair = namedtuple("Pair", "image label")
    batch = default_collate([Pair(np.zeros((2, 2)), 1), Pair(np.ones((2, 2)), 2)])
    assert isinstance(batch, Pair) and batch.image.shape == (2, 2, 2) and batch.label.tolist() == [1, 2]
    as_list = default_collate([[1.0, "a"], [2.0, "b"]])
    assert isinstance(as_list, list) and as_list[0].dtype == np.float64 and as_list[1] == ["a", "b"]
    d = default_collate([{"x": np.zeros(3), "y": 0}, {"x": np.ones(3), "y": 1}])
    assert d["x"].shape == (2, 3) and d["y"].tolist() == [0, 1]
    tensors = default_collate([cnnkit.tensor([1.0, 2.0]), cnnkit.tensor([3.0, 4.0])])
    assert isinstance(tensors, np.ndarray) and tensors.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_default_collate_errors():
    with pytest.raises(ValueError, match=r"different shapes: \(3,\) \(sample 0\) and \(4,\) \(sample 1\)"):
        default_collate([np.zeros(3), np.zeros(4)])
    with pytest.raises(ValueError, match="different keys"):
        default_collate([{"x": 1}, {"y": 1}])
    with pytest.raises(ValueError, match="different structures"):
        default_collate([(1, 2), (1, 2, 3)])
    with pytest.raises(TypeError, match="None"):
        default_collate([None, None])
    with pytest.raises(TypeError, match="collate_fn"):
        default_collate([object(), object()])
    with pytest.raises(ValueError, match="no samples"):
        default_collate([])


def test_custom_collate_fn_gets_the_samples():
    got = []

    def collate(samples):
        got.append(len(samples))
        return sum(int(s[1]) for s in samples)

    loader = DataLoader(TensorDataset(np.zeros(7), np.arange(7)), 3, collate_fn=collate)
    assert list(loader) == [3, 12, 6] and got == [3, 3, 1]


# ------------------------------------------------------------------------------ augmentation
def augment() -> T.Compose:
    return T.Compose([T.ToFloat(), T.RandomCrop(6, padding=2), T.RandomHorizontalFlip()])


def test_loader_transform_changes_x_only_and_follows_the_loader_seed():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(20, 3, 6, 6), dtype=np.uint8)
    y = np.arange(20)
    ds = TensorDataset(x, y)
    a = DataLoader(ds, 8, shuffle=True, seed=5, transform=augment())
    b = DataLoader(ds, 8, shuffle=True, seed=5, transform=augment())
    epoch_a = list(a)
    for (xa, ya), (xb, yb) in zip(epoch_a, b, strict=True):
        assert xa.dtype == np.float32 and xa.shape[1:] == (3, 6, 6)
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not all(np.array_equal(p[0], q[0]) for p, q in zip(epoch_a, a))  # the next epoch differs
    b.set_epoch(0)
    np.testing.assert_array_equal(next(iter(b))[0], epoch_a[0][0])  # resuming reproduces it
    # Each augmented sample is a crop (or flipped crop) of its own source image.
    xa, ya = epoch_a[0]
    for image, label in zip(xa, ya):
        source = np.pad(x[label].astype(np.float32) / np.float32(255), ((0, 0), (2, 2), (2, 2)))
        windows = [source[:, i:i + 6, j:j + 6] for i in range(5) for j in range(5)]
        assert any(np.allclose(image, w) or np.allclose(image, w[..., ::-1]) for w in windows)


def test_dataset_transform_runs_on_the_whole_batch_with_the_loader_generator():
    x = np.repeat(np.arange(16.0).reshape(1, 1, 4, 4), 12, axis=0)
    ds = TensorDataset(x, np.arange(12), transform=T.RandomShift(1))
    first = [b[0] for b in DataLoader(ds, 6, seed=2)]
    again = [b[0] for b in DataLoader(ds, 6, seed=2)]
    for p, q in zip(first, again, strict=True):
        np.testing.assert_array_equal(p, q)
    assert len({p.tobytes() for p in first[0]}) > 1  # per-sample shifts within a batch


def test_custom_collate_fn_keeps_the_dataset_transform_on_the_loader_seed():
    x = np.repeat(np.arange(16.0).reshape(1, 1, 4, 4), 12, axis=0)
    ds = Subset(TensorDataset(x, np.arange(12), transform=T.RandomShift(1)), list(range(12)))

    def stack(samples):
        assert all(isinstance(s, tuple) and s[0].shape == (1, 4, 4) for s in samples)
        return np.stack([s[0] for s in samples]), [int(s[1]) for s in samples]

    def run(global_seed, epoch):
        cnnkit.manual_seed(global_seed)  # must not matter: the loader's seed and epoch decide
        loader = DataLoader(ds, 6, shuffle=True, seed=4, collate_fn=stack)
        loader.set_epoch(epoch)
        return list(loader)

    first, again = run(0, 1), run(99, 1)
    for (xa, ya), (xb, yb) in zip(first, again, strict=True):
        np.testing.assert_array_equal(xa, xb)
        assert ya == yb
    assert sorted(sum((y for _, y in first), [])) == list(range(12))
    assert not all(np.array_equal(p[0], q[0]) for p, q in zip(first, run(0, 2)))  # another epoch differs


def test_loader_transform_on_plain_array_batches():
    out = next(iter(DataLoader(np.full((4, 1, 2, 2), 255, np.uint8), 4, transform=T.ToFloat())))
    assert out.dtype == np.float32 and out.max() == 1.0


# ---------------------------------------------------------------------------------- errors
def test_errors():
    ds = TensorDataset(np.zeros(5))
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            DataLoader(ds, batch_size=bad)
    with pytest.raises(ValueError, match="empty"):
        DataLoader(TensorDataset(np.zeros((0, 3))), 2)
    with pytest.raises(ValueError, match=r"drop_last=True with batch_size=8 and only 5 samples"):
        DataLoader(ds, 8, drop_last=True)
    with pytest.raises(TypeError, match="__len__ and __getitem__"):
        DataLoader(iter([1, 2]), 2)
    with pytest.raises(ValueError, match="seed"):
        DataLoader(ds, 2, seed=-3)
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        DataLoader(ds, 2, shuffle="yes")
    with pytest.raises(TypeError, match="transform must be callable"):
        DataLoader(ds, 2, transform="flip")
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        DataLoader(ds, 2, collate_fn=1)
    assert "batch_size=2" in repr(DataLoader(ds, 2, seed=0))


# ------------------------------------------------------------------------------ Model.fit
def net() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 2))


def model() -> cnnkit.Model:
    m = cnnkit.Model(net())
    m.compile(cnnkit.optim.SGD(m.module.parameters(), lr=0.1), "sparse_categorical_crossentropy", ["accuracy"])
    return m


def test_model_fits_from_a_shuffling_loader_one_epoch_order_per_epoch():
    x, y = tiny_images()
    cnnkit.manual_seed(0)
    a = model()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=7)
    history = a.fit(loader, epochs=3, verbose=0, validation_data=DataLoader(TensorDataset(x, y), 32))
    assert loader.epoch == 3 and len(history.history["loss"]) == 3
    assert history.history["accuracy"][-1] >= 0.9 and "val_loss" in history.history
    # The same updates by hand, over a twin loader's three epochs.
    cnnkit.manual_seed(0)
    b = model()
    twin = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=7)
    b.module.train()
    for _ in range(3):
        for xb, yb in twin:
            b.train_on_batch(xb, yb)
    for k, v in weights(a).items():
        np.testing.assert_array_equal(v, weights(b)[k], err_msg=k)


def test_model_fit_from_an_unshuffled_loader_equals_fit_on_arrays():
    x, y = tiny_images(48)
    cnnkit.manual_seed(1)
    a = model()
    a.fit(DataLoader(TensorDataset(x, y), batch_size=16), epochs=2, verbose=0)
    cnnkit.manual_seed(1)
    b = model()
    b.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for k, v in weights(a).items():
        np.testing.assert_array_equal(v, weights(b)[k], err_msg=k)


def test_fit_from_epoch_two_follows_the_loaders_epoch_two_order():
    # Resuming at initial_epoch=2 with a fresh loader must see epoch 2's order, not epoch 0's.
    x, y = tiny_images()
    y = np.arange(len(y))  # labels name the samples, so the recorded batches give the order
    seen = []
    m = model()
    m.train_step = lambda batch: seen.append(np.asarray(batch[1]).copy()) or {"loss": 0.0}
    m.fit(DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=3), epochs=3, initial_epoch=2, verbose=0)
    twin = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=3)
    first = np.concatenate([yb for _, yb in twin])
    twin.set_epoch(2)
    expected = np.concatenate([yb for _, yb in twin])
    assert not np.array_equal(first, expected)
    np.testing.assert_array_equal(np.concatenate(seen), expected)


def test_one_array_loader_predicts_and_three_part_batches_are_refused():
    x, _ = tiny_images(40)
    m = model()
    out = m.predict(DataLoader(TensorDataset(x), batch_size=16))
    assert out.shape == (40, 2)
    with pytest.raises(ValueError, match=r"3 parts.*\(x, y\)"):
        m.fit(DataLoader(TensorDataset(x, np.zeros(40, np.int64), np.ones(40)), batch_size=16), epochs=1, verbose=0)
