"""``cnnkit evaluate`` on the shared tiny run: accuracy, per-class table, confusion-matrix PNG."""

from __future__ import annotations

import json
import os
import re
import shutil

import numpy as np

from cnnkit.cli import main
from cnnkit.cli.evaluate import format_matrix

from .conftest import TINY


def _table(printed: str) -> np.ndarray:
    """The matrix counts parsed back from the printed table (rows 0..9)."""
    rows = [line.split() for line in printed.splitlines() if re.match(r"^\d\s", line)]
    return np.array([[int(v) for v in row[1:11]] for row in rows])


def test_evaluate_a_run_directory(trained_run, tiny_mnist, capsys, tmp_path):
    out = str(tmp_path / "cm.png")
    assert main(["evaluate", trained_run, "--out", out]) == 0
    printed = capsys.readouterr().out
    labels = TINY[1][1]
    matrix = _table(printed)
    # Rows hold every test image of their true class (counted independently from the labels).
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=10))
    accuracy = np.trace(matrix) / len(labels)
    # The same accuracy as Model.evaluate found at the end of training (a different code path).
    expected = json.load(open(os.path.join(trained_run, "result.json")))["test_accuracy"]
    assert abs(accuracy - expected) < 1e-9
    assert f"accuracy {accuracy:.2%} ({np.trace(matrix)}/{len(labels)})" in printed
    for i, line in enumerate(l for l in printed.splitlines() if re.match(r"^\d\s", l)):
        assert line.split()[-1] == f"{matrix[i, i] / matrix[i].sum():.2%}"
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_evaluate_a_checkpoint_with_limit_writes_beside_it(trained_run, tiny_mnist, tmp_path, capsys):
    # best.safetensors holds weights only: the zoo model comes from result.json beside it.
    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    assert main(["evaluate", str(run / "best.safetensors"), "--limit", "30"]) == 0
    printed = capsys.readouterr().out
    assert "(30 images)" in printed and _table(printed).sum() == 30
    assert (run / "confusion_matrix.png").exists()
    # Alone, it needs --model (and gets mnist by default).
    lone = tmp_path / "lone.safetensors"
    shutil.copy(run / "best.safetensors", lone)
    assert main(["evaluate", str(lone), "--limit", "10"]) == 2
    assert "name the zoo model with --model" in capsys.readouterr().err
    assert main(["evaluate", str(lone), "--limit", "10", "--model", "lenet5_classic", "--dataset", "mnist"]) == 0


def test_format_matrix_layout():
    text = format_matrix(np.array([[3, 1], [0, 0]]), ["cat", "dog"])
    lines = text.splitlines()
    assert lines[0].split() == ["true", "\\", "predicted", "0", "1", "total", "accuracy"]
    assert lines[1].split() == ["0", "cat", "3", "1", "4", "75.00%"]
    assert lines[2].split() == ["1", "dog", "0", "0", "0", "-"]
