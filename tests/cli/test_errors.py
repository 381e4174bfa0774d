"""A new user's mistakes: one line ``cnnkit <command>: ...`` on stderr, exit code 2, no traceback
(unless ``--debug``)."""

from __future__ import annotations

import os
import shutil

import pytest

import cnnkit

from cnnkit.cli import main
from cnnkit.cli.errors import CLIError
from cnnkit.io import CheckpointError


def _one_line(err: str, command: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cnnkit {command}: "), err
    return lines[0]


def test_wrong_path(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "no-such-run")]) == 2
    assert "no such run directory or checkpoint file" in _one_line(capsys.readouterr().err, "evaluate")
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a run directory (no model.safetensors in it)" in _one_line(capsys.readouterr().err, "evaluate")


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:-100], "truncated"),
    (lambda b: b[:-10] + bytes(x ^ 0xFF for x in b[-10:]), "checksum mismatch"),
    (lambda b: b"hello, I am a text file\n", "the header claims"),
])
def test_corrupted_checkpoint(damage, message, trained_run, tmp_path, capsys):
    path = tmp_path / "model.safetensors"
    path.write_bytes(damage(open(os.path.join(trained_run, "model.safetensors"), "rb").read()))
    for command in (["evaluate", str(path)], ["predict", str(path), str(path)]):
        assert main(command) == 2
        assert message in _one_line(capsys.readouterr().err, command[0])


def test_dataset_not_available_offline(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("CNNKIT_OFFLINE", "1")
    assert main(["train", "--dataset", "fashion-mnist", "--out", str(tmp_path / "run"), "--verbose", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnkit train: ") and "Traceback" not in err and "Fashion" in err
    assert not (tmp_path / "run").exists()  # nothing left behind by a run that never started


def test_unknown_dataset_suggests(tmp_path, capsys):
    assert main(["train", "--dataset", "cifar", "--out", str(tmp_path / "x")]) == 2
    assert "did you mean cifar10?" in _one_line(capsys.readouterr().err, "train")


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(where, tmp_path):
    argv = ["evaluate", str(tmp_path / "nothing")]
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    with pytest.raises(CLIError, match="no such run directory"):
        main(argv)


def test_debug_reraises_library_errors(trained_run, tmp_path):
    path = tmp_path / "cut.safetensors"
    shutil.copy(os.path.join(trained_run, "model.safetensors"), path)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CheckpointError):
        main(["--debug", "evaluate", str(path)])


def test_bugs_keep_their_traceback(monkeypatch):
    """Only a user's mistakes are turned into one line; an error inside cnnkit stays visible."""
    from cnnkit.cli import datasets

    def broken(args):
        raise KeyError("a bug")

    monkeypatch.setattr(datasets, "run", broken)
    with pytest.raises(KeyError):
        main(["datasets"])


def test_ctrl_c_exits_130(monkeypatch, capsys):
    from cnnkit.cli import datasets

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(datasets, "run", interrupted)
    assert main(["datasets"]) == 130
    assert "cnnkit datasets: interrupted" in capsys.readouterr().err


def test_a_model_that_cannot_take_the_dataset_is_refused_before_loading(tmp_path, monkeypatch, capsys):
    def no_loading(*args, **kwargs):
        raise AssertionError("the dataset was loaded")

    monkeypatch.setattr("cnnkit.datasets.load", no_loading)
    assert main(["train", "--dataset", "cifar10", "--model", "lenet5", "--out", str(tmp_path / "x")]) == 2
    assert "cifar10 has 3 channel(s) but the model expects 1" in _one_line(capsys.readouterr().err, "train")
    assert main(["train", "--dataset", "mnist", "--model", "alexnet", "--out", str(tmp_path / "x")]) == 2
    assert "mnist has 1 channel(s) but the model expects 3" in _one_line(capsys.readouterr().err, "train")


def test_out_of_memory_is_one_line_naming_the_sizes_to_reduce(monkeypatch, capsys):
    # Was: `cnnkit summary lenet5 --input-shape 1,100000,100000` ended in numpy's _ArrayMemoryError traceback.
    def too_big(*args, **kwargs):
        raise MemoryError("Unable to allocate 37.3 GiB for an array with shape (1, 1, 100000, 100000)")

    monkeypatch.setattr(cnnkit, "summary", too_big)
    assert main(["summary", "lenet5", "--input-shape", "1,100000,100000"]) == 2
    line = _one_line(capsys.readouterr().err, "summary")
    assert "out of memory (Unable to allocate 37.3 GiB" in line and "use a smaller --input-shape" in line
    with pytest.raises(MemoryError):
        main(["summary", "lenet5", "--debug"])


def test_a_model_that_cannot_take_the_dataset_says_what_to_do(tmp_path, capsys):
    assert main(["train", "--dataset", "cifar10", "--model", "lenet5", "--out", str(tmp_path / "x")]) == 2
    assert _one_line(capsys.readouterr().err, "train").endswith("choose a model built for such inputs (see "
                                                                "`cnnkit models`)")


@pytest.mark.parametrize("shape", ["1,4,4", "3,28,28"])
def test_an_input_shape_the_model_cannot_take_is_one_line(shape, capsys):
    # Was: the layer's error, a blank line and the model's shape listing, advising in_features.
    assert main(["summary", "lenet5", "--input-shape", shape]) == 2
    line = _one_line(capsys.readouterr().err, "summary")
    assert line.startswith(f"cnnkit summary: --input-shape {shape} does not fit lenet5 (built for 1,28,28): ")
