"""Checkpoints: exact round trips, and clear errors for every kind of broken or foreign file."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest

import cnnkit
from cnnkit import nn
from cnnkit.io import CheckpointError, load_checkpoint, save_checkpoint

pytest.importorskip("safetensors")


def make_model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


def train(model: nn.Module, optimizer: cnnkit.optim.Optimizer, steps: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = cnnkit.tensor(rng.standard_normal((8, 1, 8, 8)).astype(np.float32))
        y = cnnkit.tensor(rng.integers(0, 3, 8))
        optimizer.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        optimizer.step()


def sha(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture()
def trained(tmp_path):
    cnnkit.manual_seed(0)
    model = make_model()
    opt = cnnkit.optim.Adam(model.parameters(), lr=0.01)
    train(model, opt, 3, seed=1)
    path = str(tmp_path / "ckpt.safetensors")
    save_checkpoint(path, model, opt, epoch=3, note="after three steps")
    return model, opt, path


def test_round_trip_then_continue_is_bit_identical(trained):
    model, opt, path = trained
    clone = make_model()
    clone_opt = cnnkit.optim.Adam(clone.parameters(), lr=0.5)  # hyper-parameters come from the checkpoint
    meta = load_checkpoint(path, clone, clone_opt)
    assert meta == {"epoch": 3, "note": "after three steps"}
    assert clone_opt.param_groups[0]["lr"] == 0.01 and clone_opt.param_groups[0]["betas"] == (0.9, 0.999)
    for a, b in zip(model.state_dict().values(), clone.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    train(model, opt, 4, seed=2)
    train(clone, clone_opt, 4, seed=2)
    for a, b in zip(model.state_dict().values(), clone.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_rng_state_restored_on_request(trained):
    _, _, path = trained
    cnnkit.manual_seed(123)
    load_checkpoint(path, make_model(), restore_rng=True)
    first = cnnkit.rand(3).numpy()
    load_checkpoint(path, make_model(), restore_rng=True)
    np.testing.assert_array_equal(cnnkit.rand(3).numpy(), first)


def test_previous_checkpoint_is_kept_and_no_temporary_files_remain(trained, tmp_path):
    model, opt, path = trained
    first = sha(path)
    save_checkpoint(path, model, opt, epoch=4)
    assert sha(path + ".prev") == first
    assert load_checkpoint(path + ".prev", make_model())["epoch"] == 3
    assert sorted(os.listdir(tmp_path)) == ["ckpt.safetensors", "ckpt.safetensors.prev"]


def test_truncated_file(trained, tmp_path):
    _, _, path = trained
    data = open(path, "rb").read()
    for cut in (0, 5, 100, len(data) - 7):
        broken = str(tmp_path / f"cut{cut}.safetensors")
        with open(broken, "wb") as f:
            f.write(data[:cut])
        with pytest.raises(CheckpointError, match=rf"cut{cut}\.safetensors: .*(empty or truncated|truncated|malformed)"):
            load_checkpoint(broken, make_model())


def test_flipped_bit_in_the_data_is_caught(trained):
    model, _, path = trained
    data = bytearray(open(path, "rb").read())
    data[-3] ^= 0x10
    with open(path, "wb") as f:
        f.write(bytes(data))
    target = make_model()
    before = {k: v.numpy().copy() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"checksum mismatch.*previous checkpoint, if any, is .*\.prev"):
        load_checkpoint(path, target)
    for k, v in target.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_foreign_files(tmp_path):
    from safetensors.numpy import save_file

    foreign = str(tmp_path / "foreign.safetensors")
    save_file({"w": np.ones(3, np.float32)}, foreign)
    with pytest.raises(CheckpointError, match=r"not a cnnkit checkpoint"):
        load_checkpoint(foreign, make_model())
    text = str(tmp_path / "notes.txt")
    with open(text, "w") as f:
        f.write("hello, this is not a checkpoint at all")
    with pytest.raises(CheckpointError, match=r"truncated or not a safetensors checkpoint|not a cnnkit checkpoint"):
        load_checkpoint(text, make_model())
    with pytest.raises(CheckpointError, match=r"no such checkpoint file"):
        load_checkpoint(str(tmp_path / "missing.safetensors"), make_model())


def test_wrong_architecture_lists_every_problem_and_changes_nothing(trained):
    _, _, path = trained
    other = nn.Sequential(nn.Conv2d(1, 4, 5), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3), nn.Linear(3, 2))
    before = {k: v.numpy().copy() for k, v in other.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"(?s)does not fit this model.*Missing key\(s\).*\"5\.weight\".*"
                                             r"size mismatch for 0\.weight"):
        load_checkpoint(path, other)
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_optimizer_mismatches(trained):
    _, _, path = trained
    model = make_model()
    with pytest.raises(CheckpointError, match=r"holds Adam state, not SGD"):
        load_checkpoint(path, model, cnnkit.optim.SGD(model.parameters(), lr=0.1))
    bare = str(os.path.dirname(path) + "/bare.safetensors")
    save_checkpoint(bare, model)
    with pytest.raises(CheckpointError, match=r"holds no optimizer state"):
        load_checkpoint(bare, model, cnnkit.optim.Adam(model.parameters()))


def test_non_finite_weights_are_never_written(trained):
    model, opt, path = trained
    before = sha(path)
    with cnnkit.no_grad():
        model[0].weight.data[0, 0, 0, 0] = np.nan
    with pytest.raises(CheckpointError, match=r"refusing to save non-finite values .*0\.weight"):
        save_checkpoint(path, model, opt, epoch=5)
    assert sha(path) == before
    assert not os.path.exists(path + ".prev")


def test_metadata_must_be_json(trained):
    model, _, path = trained
    with pytest.raises(CheckpointError, match=r"metadata must be JSON-serialisable"):
        save_checkpoint(path, model, when=object())


def test_newer_format_version_is_refused(trained, tmp_path):
    from safetensors.numpy import load_file, save_file

    _, _, path = trained
    with open(path, "rb") as f:
        data = f.read()
    size = int.from_bytes(data[:8], "little")
    document = json.loads(json.loads(data[8:8 + size])["__metadata__"]["cnnkit"])
    document["version"] = 99
    newer = str(tmp_path / "newer.safetensors")
    save_file(load_file(path), newer, metadata={"cnnkit": json.dumps(document)})
    with pytest.raises(CheckpointError, match=r"newer cnnkit \(format version 99"):
        load_checkpoint(newer, make_model())


def test_no_pickle_in_the_package():
    root = os.path.dirname(cnnkit.__file__)
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                text = open(os.path.join(folder, name)).read()
                assert "import pickle" not in text and "allow_pickle=True" not in text, name


def test_a_wrong_optimizer_leaves_the_model_untouched(trained):
    _, _, path = trained
    model = make_model()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"holds Adam state, not SGD"):
        load_checkpoint(path, model, cnnkit.optim.SGD(model.parameters(), lr=0.1))
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_checkpoint_files_get_normal_permissions(trained):
    _, _, path = trained
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
