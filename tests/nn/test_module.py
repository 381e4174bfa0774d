"""Module and Parameter: registration, traversal, modes, state_dict, repr (PyTorch semantics)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import cnnkit
from cnnkit import nn
from cnnkit.nn.module import IncompatibleKeys


# ------------------------------------------------------------------------------- helpers
class Leaf(nn.Module):
    """Parameters a, b, a persistent buffer and a non-persistent buffer."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(np.ones((2, 3), np.float32))
        self.register_buffer("stat", cnnkit.zeros(3))
        self.b = nn.Parameter(np.zeros(3, np.float32))
        self.register_buffer("scratch", cnnkit.ones(2), persistent=False)
        self.plain = 7  # an ordinary attribute: not registered anywhere

    def forward(self, x):
        return x @ self.a + self.b


class Tree(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Leaf()
        self.w = nn.Parameter([1.0, 2.0])
        self.second = nn.Sequential(Leaf(), nn.ReLU())

    def forward(self, x):
        return self.second(self.first(x))


def names(pairs):
    return [n for n, _ in pairs]


# ----------------------------------------------------------------------------- Parameter
def test_parameter_requires_grad_by_default_and_is_a_tensor():
    p = nn.Parameter([1.0, 2.0])
    assert isinstance(p, cnnkit.Tensor)
    assert p.requires_grad and p.is_leaf and p.grad is None
    assert p.dtype == np.float32
    assert not nn.Parameter([1.0], requires_grad=False).requires_grad


def test_parameter_keeps_an_arrays_float_dtype():
    assert nn.Parameter(np.zeros(2, np.float64)).dtype == np.float64


def test_parameter_repr():
    text = repr(nn.Parameter([1.0, 2.0]))
    assert text.startswith("Parameter containing:\n")
    assert text.splitlines()[1] == "tensor([1., 2.], requires_grad=True)"


# -------------------------------------------------------------------------- registration
def test_attribute_assignment_registers_in_order():
    leaf = Leaf()
    assert list(leaf._parameters) == ["a", "b"]
    assert list(leaf._buffers) == ["stat", "scratch"]
    assert leaf.plain == 7 and "plain" not in leaf._parameters
    assert names(leaf.named_parameters()) == ["a", "b"]
    assert names(leaf.named_buffers()) == ["stat", "scratch"]


def test_non_persistent_buffer_is_a_buffer_but_not_in_state_dict():
    leaf = Leaf()
    assert "scratch" in names(leaf.named_buffers())
    assert list(leaf.state_dict()) == ["a", "b", "stat"]


def test_state_dict_orders_parameters_before_buffers_per_module():
    # PyTorch: for each module, its parameters then its persistent buffers.
    assert list(Tree().state_dict()) == [
        "w", "first.a", "first.b", "first.stat", "second.0.a", "second.0.b", "second.0.stat",
    ]


def test_nested_names_are_dotted_and_ordered():
    tree = Tree()
    assert names(tree.named_parameters()) == ["w", "first.a", "first.b", "second.0.a", "second.0.b"]
    assert names(tree.named_buffers()) == [
        "first.stat", "first.scratch", "second.0.stat", "second.0.scratch",
    ]
    assert names(tree.named_modules()) == ["", "first", "second", "second.0", "second.1"]
    assert names(tree.named_children()) == ["first", "second"]
    assert [type(m).__name__ for m in tree.children()] == ["Leaf", "Sequential"]
    assert [type(m).__name__ for m in tree.modules()] == ["Tree", "Leaf", "Sequential", "Leaf", "ReLU"]
    assert len(list(tree.parameters())) == 5


def test_named_parameters_prefix_and_no_recursion():
    tree = Tree()
    assert names(tree.named_parameters(prefix="net")) == [
        "net.w", "net.first.a", "net.first.b", "net.second.0.a", "net.second.0.b",
    ]
    assert names(tree.named_parameters(recurse=False)) == ["w"]


def test_shared_parameter_and_module_listed_once():
    lin = nn.Linear(3, 3)
    net = nn.Sequential(lin, nn.ReLU(), lin)
    assert names(net.named_parameters()) == ["0.weight", "0.bias"]
    assert names(net.named_modules()) == ["", "0", "1"]

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(4, 2)
            self.dec = nn.Linear(2, 4)
            self.dec.weight = self.enc.weight  # different shape is irrelevant: identity is what counts

    tied = Tied()
    assert names(tied.named_parameters()) == ["enc.weight", "enc.bias", "dec.bias"]


def test_assigning_non_parameter_to_parameter_slot_raises_type_error():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"cannot assign ndarray to parameter 'weight' of Linear"):
        lin.weight = np.zeros((2, 2))
    with pytest.raises(TypeError, match=r"parameter 'bias'"):
        lin.bias = cnnkit.zeros(2)
    assert isinstance(lin.weight, nn.Parameter)
    lin.bias = None  # None is allowed (declared-but-absent parameter)
    assert lin.bias is None
    assert names(lin.named_parameters()) == ["weight"]


def test_register_parameter_rejects_plain_tensor():
    m = nn.Module()
    with pytest.raises(TypeError, match=r"expected a Parameter or None, got Tensor"):
        m.register_parameter("p", cnnkit.zeros(2))


def test_assigning_before_super_init_raises_clear_attribute_error():
    class Forgetful(nn.Module):
        def __init__(self):
            self.w = nn.Parameter([1.0])
            super().__init__()

    with pytest.raises(AttributeError, match=r"cannot assign 'w' before Module.__init__\(\).*super\(\).__init__\(\).*Forgetful"):
        Forgetful()

    class ForgetfulModule(nn.Module):
        def __init__(self):
            self.child = nn.ReLU()
            super().__init__()

    with pytest.raises(AttributeError, match=r"before Module.__init__"):
        ForgetfulModule()


def test_reassigning_kind_moves_the_name_between_registries():
    m = nn.Module()
    m.x = nn.Parameter([1.0])
    m.x = nn.ReLU()
    assert "x" not in m._parameters and "x" in m._modules
    m.x = nn.Parameter([2.0])
    assert "x" in m._parameters and "x" not in m._modules


def test_reassigning_registered_name_keeps_its_position():
    lin = nn.Linear(2, 2)
    lin.weight = nn.Parameter(np.zeros((2, 2), np.float32))
    assert list(lin.state_dict()) == ["weight", "bias"]
    tree = Tree()
    tree.first = Leaf()
    assert [n for n, _ in tree.named_children()] == ["first", "second"]


def test_delattr_unregisters():
    leaf = Leaf()
    del leaf.a
    assert names(leaf.named_parameters()) == ["b"]
    with pytest.raises(AttributeError, match=r"'Leaf' object has no attribute 'a'"):
        leaf.a
    del leaf.stat
    assert list(leaf.state_dict()) == ["b"]
    del leaf.plain
    assert not hasattr(leaf, "plain")
    tree = Tree()
    del tree.first
    assert names(tree.named_children()) == ["second"]


def test_missing_attribute_message():
    with pytest.raises(AttributeError, match=r"'Linear' object has no attribute 'nope'"):
        nn.Linear(2, 2).nope


def test_add_module_validates_name():
    m = nn.Module()
    with pytest.raises(ValueError, match=r"without '\.'"):
        m.add_module("a.b", nn.ReLU())
    with pytest.raises(TypeError, match=r"expected a Module"):
        m.add_module("a", 3)


def test_buffer_assignment_keeps_registration():
    leaf = Leaf()
    leaf.stat = cnnkit.ones(3)
    assert leaf.stat.tolist() == [1.0, 1.0, 1.0]
    assert "stat" in leaf.state_dict()
    with pytest.raises(TypeError, match=r"buffer 'stat'"):
        leaf.stat = "text"


# ---------------------------------------------------------------------------- state_dict
def test_state_dict_values_are_detached_and_share_memory():
    lin = nn.Linear(3, 2)
    sd = lin.state_dict()
    assert list(sd) == ["weight", "bias"]
    w = sd["weight"]
    assert not w.requires_grad and w.creator is None
    assert w is not lin.weight
    assert np.shares_memory(w.data, lin.weight.data)
    with cnnkit.no_grad():
        lin.weight.data[0, 0] = 42.0
    assert sd["weight"].data[0, 0] == 42.0


def test_state_dict_keep_vars_returns_the_parameters():
    lin = nn.Linear(3, 2)
    assert lin.state_dict(keep_vars=True)["weight"] is lin.weight


def test_load_state_dict_round_trip_keeps_parameter_objects():
    cnnkit.manual_seed(0)
    src = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    cnnkit.manual_seed(1)
    dst = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    w_obj = dst[0].weight
    result = dst.load_state_dict(src.state_dict())
    assert result == IncompatibleKeys([], [])
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert dst[0].weight is w_obj
    for key, value in src.state_dict().items():
        np.testing.assert_array_equal(dst.state_dict()[key].data, value.data)
    # the loaded values are copies: changing the source does not change the destination
    src[0].weight.data[...] = 0
    assert np.abs(dst[0].weight.data).sum() > 0


def test_load_state_dict_copies_into_existing_storage():
    lin = nn.Linear(3, 2)
    alias = lin.state_dict()["weight"]
    new = {"weight": np.full((2, 3), 5.0, np.float32), "bias": np.zeros(2, np.float32)}
    lin.load_state_dict(new)
    assert np.shares_memory(alias.data, lin.weight.data)
    assert alias.data[0, 0] == 5.0


def test_load_state_dict_accepts_numpy_and_casts_to_param_dtype():
    lin = nn.Linear(3, 2)
    w = np.arange(6, dtype=np.float64).reshape(2, 3)
    lin.load_state_dict({"weight": w, "bias": np.array([1, 2], dtype=np.int64)})
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32
    np.testing.assert_array_equal(lin.weight.data, w.astype(np.float32))
    assert lin.bias.tolist() == [1.0, 2.0]
    assert lin.weight.requires_grad
    w[0, 0] = 100.0  # copied, not aliased
    assert lin.weight.data[0, 0] == 0.0


def _snapshot(module):
    return {k: v.data.copy() for k, v in module.state_dict().items()}


def test_load_state_dict_strict_reports_everything_by_name_and_copies_nothing():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    before = _snapshot(net)
    bad = {k: np.full(v.shape, 9.0) for k, v in before.items()}
    del bad["1.running_var"]                      # missing
    bad["2.weight"] = np.zeros(3)                 # unexpected
    bad["0.weight"] = np.zeros((5, 3))            # size mismatch
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(bad)
    msg = str(info.value)
    assert "Error(s) in loading state_dict for Sequential" in msg
    assert 'Missing key(s) in state_dict: "1.running_var".' in msg
    assert 'Unexpected key(s) in state_dict: "2.weight".' in msg
    assert ("size mismatch for 0.weight: copying a param with shape (5, 3) from checkpoint, "
            "the shape in current model is (4, 3).") in msg
    for key, value in _snapshot(net).items():  # nothing was copied, not even the good keys
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_load_state_dict_non_strict_returns_incompatible_keys():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    sd = {k: v.data.copy() + 1 for k, v in net.state_dict().items()}
    expected_bias = sd["0.bias"].copy()
    del sd["2.bias"]
    sd["extra.weight"] = np.zeros(1)
    result = net.load_state_dict(sd, strict=False)
    assert isinstance(result, IncompatibleKeys)
    assert result.missing_keys == ["2.bias"]
    assert result.unexpected_keys == ["extra.weight"]
    np.testing.assert_array_equal(net[0].bias.data, expected_bias)


def test_load_state_dict_non_strict_still_rejects_size_mismatch():
    lin = nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match=r"size mismatch for bias"):
        lin.load_state_dict({"bias": np.zeros(5)}, strict=False)


# ------------------------------------------------------------------------- modes, grads
def test_train_eval_recurse():
    tree = Tree()
    assert all(m.training for m in tree.modules())
    assert tree.eval() is tree
    assert not any(m.training for m in tree.modules())
    assert tree.train() is tree
    assert all(m.training for m in tree.modules())
    tree.train(False)
    assert not tree.second[1].training
    tree.second.train()
    assert not tree.training and tree.second.training and tree.second[0].training


def _backward_once(net):
    net(cnnkit.randn(4, 3)).sum().backward()


def test_zero_grad_set_to_none_default():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    _backward_once(net)
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_zero_grad_in_place():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    _backward_once(net)
    grads = [p.grad for p in net.parameters()]
    net.zero_grad(set_to_none=False)
    for p, g in zip(net.parameters(), grads):
        assert p.grad is g
        assert not p.grad.data.any()


def test_requires_grad_():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    out = net(cnnkit.randn(2, 3))
    assert not out.requires_grad
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())


def test_apply_visits_children_first_then_self():
    tree = Tree()
    seen = []
    assert tree.apply(lambda m: seen.append(type(m).__name__)) is tree
    assert seen == ["Leaf", "Leaf", "ReLU", "Sequential", "Tree"]


def test_apply_can_reinitialise():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))

    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    net.apply(init)
    assert not net[0].weight.data.any() and not net[2].weight.data.any()


def test_to_double_and_float_convert_params_and_float_buffers():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    w = net[0].weight
    assert net.to(np.float64) is net
    assert net[0].weight is w
    for name, t in net.state_dict().items():
        expected = np.int64 if name.endswith("num_batches_tracked") else np.float64
        assert t.dtype == expected, name
    assert net(cnnkit.randn(2, 1, 5, 5, dtype="float64")).dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    assert net[1].running_mean.dtype == np.float32
    net.double()
    assert all(p.dtype == np.float64 for p in net.parameters())


def test_to_converts_existing_grads():
    lin = nn.Linear(2, 2)
    lin(cnnkit.randn(3, 2)).sum().backward()
    lin.double()
    assert lin.weight.grad.dtype == np.float64


# ---------------------------------------------------------------------------------- repr
def test_repr_nesting():
    net = nn.Sequential(OrderedDict([
        ("features", nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())),
        ("flat", nn.Flatten()),
        ("fc", nn.Linear(16, 2)),
    ]))
    assert repr(net) == (
        "Sequential(\n"
        "  (features): Sequential(\n"
        "    (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "    (1): ReLU()\n"
        "  )\n"
        "  (flat): Flatten(start_dim=1, end_dim=-1)\n"
        "  (fc): Linear(in_features=16, out_features=2, bias=True)\n"
        ")"
    )


def test_repr_of_empty_and_custom_modules():
    assert repr(nn.Module()) == "Module()"
    assert repr(nn.Sequential()) == "Sequential()"
    text = repr(Tree())
    assert text.startswith("Tree(\n  (first): Leaf()\n  (second): Sequential(\n    (0): Leaf()\n")


@pytest.mark.parity
def test_repr_matches_torch(torch):
    tnn = torch.nn
    ours = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.ReLU(),
                         nn.Sequential(nn.Flatten(), nn.Linear(10, 2)), nn.Identity())
    theirs = tnn.Sequential(tnn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), tnn.ReLU(),
                            tnn.Sequential(tnn.Flatten(), tnn.Linear(10, 2)), tnn.Identity())
    assert repr(ours) == repr(theirs)


# ------------------------------------------------------------------------ torch parity
def _twins(torch):
    tnn = torch.nn
    ours = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3 * 3 * 3, 4))
    theirs = tnn.Sequential(tnn.Conv2d(2, 3, 3, padding=1), tnn.BatchNorm2d(3), tnn.ReLU(),
                            tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(3 * 3 * 3, 4))
    return ours, theirs


@pytest.mark.parity
def test_state_dict_keys_equal_torch(torch):
    ours, theirs = _twins(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert ours.state_dict()[key].shape == tuple(value.shape), key
    assert names(ours.named_parameters()) == [n for n, _ in theirs.named_parameters()]
    assert names(ours.named_buffers()) == [n for n, _ in theirs.named_buffers()]
    assert names(ours.named_modules()) == [n for n, _ in theirs.named_modules()]


@pytest.mark.parity
def test_torch_state_dict_loads_and_outputs_match_in_eval(torch):
    ours, theirs = _twins(torch)
    torch.manual_seed(0)
    theirs.train()
    with torch.no_grad():
        for _ in range(3):  # make the running statistics non-trivial
            theirs(torch.randn(8, 2, 6, 6) * 2 + 0.5)
        theirs[1].weight.uniform_(0.5, 1.5)
        theirs[1].bias.uniform_(-0.5, 0.5)
    result = ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert result == ([], [])
    assert int(ours[1].num_batches_tracked.item()) == 3
    assert ours[1].num_batches_tracked.dtype == np.int64
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(0).standard_normal((5, 2, 6, 6)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    got = ours(cnnkit.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parity
def test_cnnkit_state_dict_loads_into_torch(torch):
    ours, theirs = _twins(torch)
    ours(cnnkit.randn(4, 2, 6, 6))  # one training step of running statistics
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.data)) for k, v in ours.state_dict().items()})
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(1).standard_normal((3, 2, 6, 6)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(cnnkit.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------- copies and prefixes
def test_deepcopy_is_independent():
    import copy

    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    clone = copy.deepcopy(net)
    assert list(clone.state_dict()) == list(net.state_dict())
    assert isinstance(clone[0].weight, nn.Parameter) and clone[0].weight.requires_grad
    assert not np.shares_memory(clone[0].weight.data, net[0].weight.data)
    clone[0].weight.data[...] = 0
    assert np.abs(net[0].weight.data).sum() > 0


def test_pickle_round_trip():
    import pickle

    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    net(cnnkit.randn(4, 3))
    back = pickle.loads(pickle.dumps(net))
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[key].numpy(), value.numpy(), err_msg=key)
    net.eval()
    back.eval()
    x = cnnkit.randn(2, 3)
    np.testing.assert_array_equal(back(x).numpy(), net(x).numpy())


def test_state_dict_prefix():
    assert list(nn.Linear(2, 2).state_dict(prefix="fc.")) == ["fc.weight", "fc.bias"]


def test_shared_parameter_gradients_accumulate():
    lin = nn.Linear(2, 2, bias=False)
    with cnnkit.no_grad():
        lin.weight.data[...] = np.eye(2, dtype=np.float32)
    nn.Sequential(lin, lin)(cnnkit.ones(1, 2)).sum().backward()
    # d/dW of 1ᵀ W W x with W = I, x = 1: each use contributes 1·1ᵀ
    np.testing.assert_allclose(lin.weight.grad.numpy(), 2 * np.ones((2, 2)))
