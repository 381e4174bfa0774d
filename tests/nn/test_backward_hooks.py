"""Module backward hooks: call order and gradients against PyTorch, replacement, removal, errors."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
from cnnkit import nn


def _record(module, log, tag, lib):
    """Register a backward pre-hook and a full backward hook that log (tag, kind, grads as arrays)."""
    def as_arrays(grads):
        return tuple(None if g is None else np.array(g.detach().numpy() if lib == "torch" else g.numpy())
                     for g in grads)

    handles = [
        module.register_full_backward_pre_hook(lambda m, gout: log.append((tag, "pre", as_arrays(gout)))),
        module.register_full_backward_hook(
            lambda m, gin, gout: log.append((tag, "full", as_arrays(gin), as_arrays(gout)))),
    ]
    return handles


def _copy_params(ck_module, th_module, torch):
    with torch.no_grad():
        for (name, p), (tname, tp) in zip(ck_module.named_parameters(), th_module.named_parameters()):
            assert name == tname
            tp.copy_(torch.from_numpy(p.numpy()))


def _same_log(ck_log, th_log):
    assert [e[:2] for e in ck_log] == [e[:2] for e in th_log]
    for ck_entry, th_entry in zip(ck_log, th_log):
        for ck_grads, th_grads in zip(ck_entry[2:], th_entry[2:]):
            assert len(ck_grads) == len(th_grads)
            for a, b in zip(ck_grads, th_grads):
                assert (a is None) == (b is None), (ck_entry[:2], a, b)
                if a is not None:
                    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _run_both(build_ck, build_th, x, torch, x_requires_grad=True, hooked=None):
    """Run the same model in both libraries with hooks on the named modules; return both logs."""
    logs = []
    ck_model = build_ck()
    for lib in ("cnnkit", "torch"):
        model = ck_model if lib == "cnnkit" else build_th()
        if lib == "torch":
            _copy_params(ck_model, model, torch)
        log: list = []
        for name, module in model.named_modules():
            if hooked is None or name in hooked:
                _record(module, log, name or "<root>", lib)
        if lib == "torch":
            inp = torch.tensor(x, requires_grad=x_requires_grad)
            with pytest.warns(UserWarning) if not x_requires_grad else _nothing():
                out = model(inp)
                (out * torch.from_numpy(np.arange(out.numel(), dtype=np.float32).reshape(out.shape))).sum().backward()
        else:
            inp = cnnkit.tensor(x, requires_grad=x_requires_grad)
            out = model(inp)
            (out * cnnkit.tensor(np.arange(out.size, dtype=np.float32).reshape(out.shape))).sum().backward()
        logs.append(log)
    return logs


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


X = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)


def test_linear_matches_torch(torch):
    cnnkit.manual_seed(0)
    x = X.reshape(2, -1)[:, :5]
    ck, th = _run_both(lambda: nn.Linear(5, 4), lambda: torch.nn.Linear(5, 4), x, torch)
    assert [e[1] for e in ck] == ["pre", "full"]
    _same_log(ck, th)


def test_conv2d_matches_torch(torch):
    cnnkit.manual_seed(1)
    ck, th = _run_both(lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1),
                       lambda: torch.nn.Conv2d(3, 4, 3, stride=2, padding=1), X[:, :, :5, :5], torch)
    _same_log(ck, th)


def test_relu_matches_torch(torch):
    ck, th = _run_both(nn.ReLU, torch.nn.ReLU, X, torch)
    _same_log(ck, th)


def _seq(lib):
    return lib.Sequential(lib.Conv2d(3, 4, 3), lib.ReLU(), lib.MaxPool2d(2), lib.Flatten(), lib.Linear(16, 3))


def test_sequential_order_and_values_match_torch(torch):
    cnnkit.manual_seed(2)
    ck, th = _run_both(lambda: _seq(nn), lambda: _seq(torch.nn), X, torch)
    # The container's pre-hook first, then each layer from the last, the container's full hook last.
    assert [e[:2] for e in ck][:3] == [("<root>", "pre"), ("4", "pre"), ("4", "full")]
    assert [e[:2] for e in ck][-1] == ("<root>", "full")
    _same_log(ck, th)


def test_input_without_grad_gives_none_as_torch(torch):
    """No input requires grad: the first layer's full hook fires with grad_input (None,) (torch warns)."""
    cnnkit.manual_seed(3)
    ck, th = _run_both(lambda: _seq(nn), lambda: _seq(torch.nn), X, torch, x_requires_grad=False)
    first = [e for e in ck if e[:2] == ("0", "full")][0]
    assert first[2] == (None,)
    _same_log(ck, th)


def _twice(lib, relu):
    """A model applying one Linear twice."""
    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.Linear(4, 4)

        def forward(self, x):
            return self.fc(relu(self.fc(x)))
    return Net()


def test_module_used_twice_fires_per_call_as_torch(torch):
    cnnkit.manual_seed(4)
    x = X.reshape(2, -1)[:, :4]
    ck, th = _run_both(lambda: _twice(nn, cnnkit.functional.relu), lambda: _twice(torch.nn, torch.relu), x, torch,
                       hooked={"fc"})
    assert [e[1] for e in ck] == ["pre", "full", "pre", "full"]
    _same_log(ck, th)


class _Pair:
    @staticmethod
    def build(lib):
        class Pair(lib.Module):
            def forward(self, a, b, scale):
                return a * b * scale, a + b
        return Pair()


def test_several_inputs_outputs_and_non_tensors_as_torch(torch):
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((2, 3)).astype(np.float32)
    logs = []
    for lib, make in (("cnnkit", lambda v, r: cnnkit.tensor(v, requires_grad=r)),
                      ("torch", lambda v, r: torch.tensor(v, requires_grad=r))):
        module = _Pair.build(nn if lib == "cnnkit" else torch.nn)
        log: list = []
        _record(module, log, "pair", lib)
        ta, tb = make(a, True), make(b, False)
        p, s = module(ta, tb, 2.0)
        # Only the first output reaches the loss: the second gets no gradient (None); b needs no
        # gradient (zeros in grad_input, as torch), the float is not a tensor (None).
        (p * 3).sum().backward()
        logs.append(log)
    ck, th = logs
    assert ck[1][2][2] is None and not ck[1][2][1].any() and ck[0][2][1] is None
    _same_log(ck, th)


def test_replacing_grad_input_and_grad_output():
    layer = nn.Linear(3, 2)
    x = cnnkit.ones(4, 3, requires_grad=True)
    h1 = layer.register_full_backward_pre_hook(lambda m, gout: (gout[0] * 0 + 2,))
    h2 = layer.register_full_backward_hook(lambda m, gin, gout: (gin[0] * 10,))
    layer(x).sum().backward()
    expected = 10 * (2 * np.ones((4, 2), np.float32)) @ layer.weight.numpy()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)
    # The weight gradient comes from the replaced grad_output, not from the grad_input hook.
    np.testing.assert_allclose(layer.weight.grad.numpy(), 2 * np.ones((2, 4)) @ np.ones((4, 3)), rtol=1e-6)
    h1.remove(), h2.remove()
    x.grad = None
    layer(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.ones((4, 2)) @ layer.weight.numpy(), rtol=1e-6)


def test_grads_given_to_hooks_are_read_only():
    layer = nn.ReLU()
    seen = []
    layer.register_full_backward_hook(lambda m, gin, gout: seen.append(gin[0]))
    layer(cnnkit.ones(2, 2, requires_grad=True)).sum().backward()
    with pytest.raises(ValueError):
        seen[0].numpy()[0, 0] = 5


def test_handle_removal_and_context_manager():
    layer = nn.ReLU()
    calls = []
    with layer.register_full_backward_hook(lambda *a: calls.append(1)):
        layer(cnnkit.ones(2, requires_grad=True)).sum().backward()
    layer(cnnkit.ones(2, requires_grad=True)).sum().backward()
    assert calls == [1]


def test_no_grad_and_no_requires_grad_fire_nothing():
    layer = nn.ReLU()
    calls = []
    layer.register_full_backward_hook(lambda *a: calls.append(1))
    with cnnkit.no_grad():
        out = layer(cnnkit.ones(2, requires_grad=True))
    assert not out.requires_grad and calls == []


def test_wrong_replacement_errors():
    layer = nn.Linear(3, 2)
    layer.register_full_backward_hook(lambda m, gin, gout: (gin[0], gin[0]))
    with pytest.raises(RuntimeError, match="returned 2 gradients, expected 1"):
        layer(cnnkit.ones(1, 3, requires_grad=True)).sum().backward()
    layer = nn.Linear(3, 2)
    layer.register_full_backward_pre_hook(lambda m, gout: (np.ones((5, 5), np.float32),))
    with pytest.raises(RuntimeError, match=r"shape \(5, 5\).*expected \(1, 2\)"):
        layer(cnnkit.ones(1, 3, requires_grad=True)).sum().backward()
    with pytest.raises(TypeError, match="must be callable"):
        layer.register_full_backward_hook(3)


def test_prepend_runs_first():
    layer = nn.ReLU()
    order = []
    layer.register_full_backward_hook(lambda *a: order.append("a"))
    layer.register_full_backward_hook(lambda *a: order.append("b"), prepend=True)
    layer(cnnkit.ones(2, requires_grad=True)).sum().backward()
    assert order == ["b", "a"]


def test_retain_graph_fires_again_on_the_second_backward():
    layer = nn.Linear(3, 2)
    log = []
    layer.register_full_backward_pre_hook(lambda m, gout: log.append("pre"))
    layer.register_full_backward_hook(lambda m, gin, gout: log.append(float(gout[0].numpy().sum())))
    out = layer(cnnkit.ones(4, 3, requires_grad=True)).sum()
    out.backward(retain_graph=True)
    out.backward()
    assert log == ["pre", 8.0, "pre", 8.0]
