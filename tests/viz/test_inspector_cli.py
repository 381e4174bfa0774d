"""``cnnkit report RUN_OR_CHECKPOINT`` and ``write_report`` (what ``cnnkit train`` calls)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import cnnkit
from cnnkit import models
from cnnkit.cli import main
from cnnkit.cli.report import write_report

pytest.importorskip("PIL")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory as ``cnnkit train`` leaves it (untrained weights are enough here)."""
    cnnkit.manual_seed(0)
    directory = tmp_path_factory.mktemp("run")
    model = cnnkit.Model(models.get("lenet5"))
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.save(str(directory / "model.safetensors"), zoo_model="lenet5", dataset="mnist",
               normalisation=[[0.1307], [0.3081]])
    (directory / "result.json").write_text(json.dumps({"model": "lenet5", "dataset": "mnist"}))
    return directory


def _panels(text):
    return re.findall(r"<div class=\"layer-panel\" id=\"([^\"]+)\"", text)


def test_report_writes_the_page_beside_the_checkpoint(run_dir, capsys):
    assert main(["report", str(run_dir), "--images", "3"]) == 0
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    assert len(_panels(text)) == 1 + 10  # the input and lenet5's ten layers
    assert "batch of 3" in text and "cross-entropy" in text
    assert "report.html" in capsys.readouterr().out


def test_report_on_a_checkpoint_file_with_out(run_dir, tmp_path):
    out = tmp_path / "deep" / "page.html"
    assert main(["report", str(run_dir / "model.safetensors"), "--out", str(out), "--images", "1"]) == 0
    assert "batch of 1" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("make, message", [
    (lambda d, t: str(t / "missing"), "no such run directory or checkpoint file"),
    (lambda d, t: str(d / "result.json"), "not a checkpoint"),
    (lambda d, t: str(t), "not a run directory"),
])
def test_report_errors_are_one_line(run_dir, tmp_path, capsys, make, message):
    assert main(["report", make(run_dir, tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cnnkit report: ") and message in err[0]


def test_report_refuses_a_corrupt_checkpoint_and_a_directory_as_out(run_dir, tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint at all")
    assert main(["report", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("cnnkit report: ")
    assert main(["report", str(run_dir), "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["report", str(run_dir), "--images", "0"])
    assert info.value.code == 2


def test_write_report_takes_a_compiled_model_and_caps_the_batch(tmp_path):
    cnnkit.manual_seed(1)
    model = cnnkit.Model(cnnkit.nn.Sequential(cnnkit.nn.Flatten(), cnnkit.nn.Linear(16, 3)))
    x = np.random.default_rng(0).standard_normal((20, 1, 4, 4)).astype(np.float32)
    path = write_report(model, x, np.arange(20) % 3, tmp_path / "r.html", max_images=4)
    text = open(path, encoding="utf-8").read()
    assert "batch of 4" in text and len(_panels(text)) == 3
    with pytest.raises(ValueError, match="max_images must be at least 1"):
        write_report(model, x, None, tmp_path / "r.html", max_images=0)
