"""Containers and structural layers: Sequential, ModuleList, ModuleDict, Identity, Flatten, Unflatten."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import cnnkit
from cnnkit import nn


class AddConst(nn.Module):
    """x + c, with a visible name for checking order."""

    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, x):
        return x + self.c


class MulConst(AddConst):
    def forward(self, x):
        return x * self.c


# ---------------------------------------------------------------------------- Sequential
def test_sequential_positional_names_and_forward_chaining():
    seq = nn.Sequential(AddConst(1.0), MulConst(3.0), AddConst(-2.0))
    assert list(seq._modules) == ["0", "1", "2"]
    out = seq(cnnkit.tensor([0.0, 1.0]))
    assert out.tolist() == [1.0, 4.0]  # ((x + 1) * 3) - 2


def test_sequential_from_ordered_dict():
    a, b = nn.Linear(3, 4), nn.ReLU()
    seq = nn.Sequential(OrderedDict([("fc", a), ("act", b)]))
    assert list(seq._modules) == ["fc", "act"]
    assert seq.fc is a and seq["act"] is b and seq[0] is a
    assert [n for n, _ in seq.named_parameters()] == ["fc.weight", "fc.bias"]


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match=r"Sequential: argument 1 is a int, not a Module"):
        nn.Sequential(nn.ReLU(), 3)


def test_sequential_indexing_len_iter():
    mods = [AddConst(i) for i in range(4)]
    seq = nn.Sequential(*mods)
    assert len(seq) == 4
    assert list(seq) == mods
    assert seq[0] is mods[0] and seq[3] is mods[3]
    assert seq[-1] is mods[3] and seq[-4] is mods[0]
    with pytest.raises(IndexError, match=r"index 4 is out of range for 4 modules"):
        seq[4]
    with pytest.raises(IndexError):
        seq[-5]


def test_sequential_slicing_returns_sequential_sharing_modules():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(nn.ReLU(), lin, nn.Tanh())
    part = seq[1:]
    assert isinstance(part, nn.Sequential)
    assert len(part) == 2
    assert part[0] is lin
    assert list(part._modules) == ["1", "2"]  # PyTorch keeps the original names
    assert part[0].weight is seq[1].weight
    assert list(seq[::-1]) == [seq[2], seq[1], seq[0]]
    assert len(seq[5:]) == 0


def test_sequential_append_extend():
    seq = nn.Sequential(nn.ReLU())
    assert seq.append(nn.Tanh()) is seq
    seq.extend([nn.Sigmoid(), nn.Identity()])
    assert list(seq._modules) == ["0", "1", "2", "3"]
    assert [type(m).__name__ for m in seq] == ["ReLU", "Tanh", "Sigmoid", "Identity"]


def test_sequential_setitem_last_and_out_of_range():
    seq = nn.Sequential(nn.ReLU(), nn.Tanh())
    new = nn.Linear(2, 2)
    seq[1] = new
    assert seq[1] is new and list(seq._modules) == ["0", "1"]
    assert [n for n, _ in seq.named_parameters()] == ["1.weight", "1.bias"]
    with pytest.raises(IndexError):
        seq[2] = nn.ReLU()


def test_sequential_setitem_keeps_position():
    seq = nn.Sequential(nn.ReLU(), nn.Tanh())
    seq[0] = nn.Sigmoid()
    assert list(seq._modules) == ["0", "1"]
    assert isinstance(seq[0], nn.Sigmoid)
    x = cnnkit.tensor([-1.0])
    np.testing.assert_allclose(seq(x).numpy(), np.tanh(1 / (1 + np.exp(1.0))), rtol=1e-6)


def test_sequential_delitem_index_and_slice():
    seq = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.Identity())
    del seq[1]
    assert [type(m).__name__ for m in seq] == ["ReLU", "Sigmoid", "Identity"]
    del seq[-1]
    assert [type(m).__name__ for m in seq] == ["ReLU", "Sigmoid"]
    del seq[0:1]
    assert [type(m).__name__ for m in seq] == ["Sigmoid"]
    assert len(seq) == 1


def test_sequential_delitem_then_append_keeps_every_module():
    seq = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    del seq[0]
    seq.append(nn.ELU())
    assert [type(m).__name__ for m in seq] == ["Tanh", "Sigmoid", "ELU"]
    assert list(seq._modules) == ["0", "1", "2"]  # PyTorch renumbers after deletion


def test_sequential_empty_is_identity():
    x = cnnkit.tensor([1.0, 2.0])
    assert nn.Sequential()(x) is x


def test_sequential_nested_parameters_registered():
    seq = nn.Sequential(nn.Sequential(nn.Linear(2, 3)), nn.Linear(3, 1))
    assert [n for n, _ in seq.named_parameters()] == ["0.0.weight", "0.0.bias", "1.weight", "1.bias"]


def test_sequential_forward_backward_reaches_every_parameter():
    seq = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    seq(cnnkit.randn(5, 3)).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in seq.parameters())


# ---------------------------------------------------------------------------- ModuleList
def test_module_list_registers_and_indexes():
    layers = [nn.Linear(2, 2) for _ in range(3)]
    ml = nn.ModuleList(layers)
    assert len(ml) == 3 and list(ml) == layers
    assert ml[-1] is layers[2]
    assert [n for n, _ in ml.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert len(list(ml.parameters())) == 6
    part = ml[1:]
    assert isinstance(part, nn.ModuleList) and list(part) == layers[1:]
    with pytest.raises(IndexError):
        ml[3]


def test_module_list_append_extend_setitem_last():
    ml = nn.ModuleList()
    assert len(ml) == 0
    assert ml.append(nn.ReLU()) is ml
    ml.extend([nn.Tanh(), nn.Sigmoid()])
    ml[-1] = nn.ELU()
    assert [type(m).__name__ for m in ml] == ["ReLU", "Tanh", "ELU"]


def test_module_list_setitem_keeps_position():
    ml = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    ml[0] = nn.Identity()
    assert [type(m).__name__ for m in ml] == ["Identity", "Tanh"]


def test_module_list_is_not_callable():
    with pytest.raises(NotImplementedError, match=r"iterate over it"):
        nn.ModuleList([nn.ReLU()])(cnnkit.zeros(1))


def test_module_list_in_custom_module():
    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    s = Stack()
    assert [n for n, _ in s.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
    ]
    assert s(cnnkit.randn(4, 3)).shape == (4, 3)


def test_module_list_delitem():
    ml = nn.ModuleList([nn.ReLU(), nn.Tanh(), nn.Sigmoid()])
    del ml[0]
    assert [type(m).__name__ for m in ml] == ["Tanh", "Sigmoid"]
    assert list(ml._modules) == ["0", "1"]


# ---------------------------------------------------------------------------- ModuleDict
def test_module_dict():
    md = nn.ModuleDict({"conv": nn.Conv2d(1, 2, 3), "act": nn.ReLU()})
    assert list(md) == ["conv", "act"] and list(md.keys()) == ["conv", "act"]
    assert len(md) == 2 and "conv" in md and "fc" not in md
    md["fc"] = nn.Linear(2, 2)
    assert [k for k, _ in md.items()] == ["conv", "act", "fc"]
    assert md["fc"] is list(md.values())[2]
    assert [n for n, _ in md.named_parameters()] == ["conv.weight", "conv.bias", "fc.weight", "fc.bias"]
    with pytest.raises(KeyError):
        md["missing"]
    with pytest.raises(NotImplementedError):
        md(cnnkit.zeros(1))


def test_module_dict_from_pairs_keeps_order():
    md = nn.ModuleDict([("b", nn.ReLU()), ("a", nn.Tanh())])
    assert list(md) == ["b", "a"]


# ------------------------------------------------------------------ Identity, Flatten, Unflatten
def test_identity_returns_input_and_ignores_args():
    x = cnnkit.randn(2, 3)
    ident = nn.Identity(54, unused="argument")
    assert ident(x) is x
    assert repr(ident) == "Identity()"
    assert list(ident.parameters()) == []


@pytest.mark.parametrize(
    "start_dim, end_dim, expected",
    [
        (1, -1, (2, 60)),
        (0, -1, (120,)),
        (0, 1, (6, 4, 5)),
        (1, 2, (2, 12, 5)),
        (2, 3, (2, 3, 20)),
        (-2, -1, (2, 3, 20)),
        (1, 1, (2, 3, 4, 5)),
    ],
)
def test_flatten_dims(start_dim, end_dim, expected):
    x = cnnkit.tensor(np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5))
    out = nn.Flatten(start_dim, end_dim)(x)
    assert out.shape == expected
    np.testing.assert_array_equal(out.numpy().reshape(-1), np.arange(120))


def test_flatten_default_and_repr():
    assert nn.Flatten()(cnnkit.zeros(2, 3, 4, 5)).shape == (2, 60)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.Flatten(0, 2)) == "Flatten(start_dim=0, end_dim=2)"


def test_flatten_backward_restores_shape():
    x = cnnkit.randn(2, 3, 4, requires_grad=True)
    nn.Flatten()(x).sum().backward()
    assert x.grad.shape == (2, 3, 4)
    assert np.all(x.grad.numpy() == 1)


@pytest.mark.parametrize(
    "dim, size, in_shape, expected",
    [
        (1, (3, 4), (2, 12), (2, 3, 4)),
        (-1, (2, 2, 3), (5, 12), (5, 2, 2, 3)),
        (0, (2, 3), (6, 7), (2, 3, 7)),
        (1, (2, 6), (4, 12, 5), (4, 2, 6, 5)),
    ],
)
def test_unflatten(dim, size, in_shape, expected):
    x = cnnkit.tensor(np.arange(np.prod(in_shape), dtype=np.float32).reshape(in_shape))
    out = nn.Unflatten(dim, size)(x)
    assert out.shape == expected
    np.testing.assert_array_equal(out.numpy().reshape(-1), x.numpy().reshape(-1))


def test_unflatten_inverts_flatten_and_repr():
    x = cnnkit.randn(2, 3, 4, 5)
    y = nn.Unflatten(1, (3, 4, 5))(nn.Flatten()(x))
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    assert repr(nn.Unflatten(1, [2, 3])) == "Unflatten(dim=1, unflattened_size=(2, 3))"


def test_unflatten_wrong_size_raises():
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(2, 7\)"):
        nn.Unflatten(1, (2, 3))(cnnkit.zeros(2, 7))


@pytest.mark.parity
def test_container_reprs_match_torch(torch):
    tnn = torch.nn
    assert repr(nn.Flatten(0, 2)) == repr(tnn.Flatten(0, 2))
    assert repr(nn.Unflatten(1, (2, 3))) == repr(tnn.Unflatten(1, (2, 3)))
    ours = nn.ModuleList([nn.ReLU(), nn.Sequential(nn.Tanh())])
    theirs = tnn.ModuleList([tnn.ReLU(), tnn.Sequential(tnn.Tanh())])
    assert repr(ours) == repr(theirs)
    ours = nn.ModuleDict({"a": nn.ReLU(), "b": nn.Identity()})
    theirs = tnn.ModuleDict({"a": tnn.ReLU(), "b": tnn.Identity()})
    assert repr(ours) == repr(theirs)
