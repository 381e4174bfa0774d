"""What evaluate, report, predict and kernels read and write: no file overwritten without --force,
checkpoints and result.json that are not what they should be, each as one line."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from cnnkit.cli import common, main


def _one_error_line(capsys, command, message):
    err = capsys.readouterr().err
    assert err.startswith(f"cnnkit {command}: ") and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("command, name", [("evaluate", "cm.png"), ("report", "page.html")])
def test_an_existing_out_is_not_overwritten_without_force(command, name, trained_run, tiny_mnist, tmp_path, capsys):
    # Was: `cnnkit report RUN --out RUN/result.json` replaced the run's result with HTML.
    mine = tmp_path / name
    mine.write_text("mine")
    assert main([command, trained_run, "--out", str(mine)]) == 2
    _one_error_line(capsys, command, f"{mine} exists; pass --force to overwrite it")
    assert mine.read_text() == "mine"
    extra = ["--images", "1"] if command == "report" else ["--limit", "10"]
    assert main([command, trained_run, "--out", str(mine), "--force", *extra]) == 0
    assert mine.read_bytes() != b"mine"


@pytest.mark.parametrize("command, out, message", [
    ("evaluate", "cm.txt", "expected a .png file name"),
    ("report", "result.json", "expected a .html file name"),
    ("evaluate", ".", "is a directory; name the .png file to write"),
])
def test_out_of_the_wrong_kind_is_refused(command, out, message, trained_run, tiny_mnist, tmp_path, capsys):
    assert main([command, trained_run, "--out", str(tmp_path / out)]) == 2
    _one_error_line(capsys, command, message)
    assert not os.path.exists(tmp_path / "cm.txt")


@pytest.mark.parametrize("name", ["history.png", "metrics.csv", "result.json"])
def test_a_run_file_given_as_checkpoint_says_what_is_expected(name, trained_run, tmp_path, capsys):
    # Was: "the header claims 727905341920923785 bytes ... the previous checkpoint is history.png.prev".
    image = tmp_path / "digit.png"
    shutil.copy(os.path.join(trained_run, "history.png"), image)
    assert main(["predict", os.path.join(trained_run, name), str(image)]) == 2
    _one_error_line(capsys, "predict", "not a checkpoint (expected a .safetensors file written by cnnkit")


def _copy_run(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    return run


@pytest.mark.parametrize("content", ["{broken", "[1, 2]", '{"model": 5, "dataset": ["mnist"]}'])
def test_a_damaged_result_json_is_skipped_when_the_checkpoint_suffices(content, trained_run, tiny_mnist, tmp_path,
                                                                        capsys):
    # Was: '{broken' refused a run whose model.safetensors names everything; '{"model": 5}' gave
    # AttributeError: 'int' object has no attribute 'strip' with a traceback.
    run = _copy_run(trained_run, tmp_path)
    (run / "result.json").write_text(content)
    assert main(["evaluate", str(run), "--limit", "10"]) == 0
    captured = capsys.readouterr()
    assert "accuracy" in captured.out and "Traceback" not in captured.err
    # A weights-only checkpoint needs the model's name: without a usable result.json, --model gives it.
    assert main(["evaluate", str(run / "best.safetensors"), "--limit", "10", "--out", str(tmp_path / "a.png")]) == 2
    _one_error_line(capsys, "evaluate", "holds weights but no architecture; name the zoo model with --model")
    assert main(["evaluate", str(run / "best.safetensors"), "--model", "lenet5_classic", "--limit", "10",
                 "--out", str(tmp_path / "b.png")]) == 0


def test_weights_of_another_model_name_the_fix(trained_run, tiny_mnist, tmp_path, capsys):
    # Was: "the checkpoint does not fit this model (Sequential):" and the state-dict diff on many lines.
    best = os.path.join(trained_run, "best.safetensors")
    assert main(["evaluate", best, "--model", "mnist_cnn", "--out", str(tmp_path / "cm.png")]) == 2
    _one_error_line(capsys, "evaluate", "its weights do not fit the zoo model 'mnist_cnn' (named by --model); "
                                        "pass --model with the model it was trained as")


def test_an_interrupted_run_directory_points_to_its_best_checkpoint(trained_run, tmp_path, capsys):
    run = tmp_path / "part"
    run.mkdir()
    shutil.copy(os.path.join(trained_run, "best.safetensors"), run)
    assert main(["evaluate", str(run)]) == 2
    _one_error_line(capsys, "evaluate", f"its best epoch so far is {run / 'best.safetensors'}")


def test_output_path_rules(tmp_path):
    assert common.output_path(None, "x/report.html", ".html", False) == "x/report.html"
    assert common.output_path(str(tmp_path / "new.PNG"), "d.png", ".png", False) == str(tmp_path / "new.PNG")
    (tmp_path / "old.png").write_bytes(b"")
    assert common.output_path(str(tmp_path / "old.png"), "d.png", ".png", True) == str(tmp_path / "old.png")
    with pytest.raises(common.CLIError, match="exists; pass --force"):
        common.output_path(str(tmp_path / "old.png"), "d.png", ".png", False)


def test_kernels_refuses_an_existing_out_and_a_wrong_suffix(tmp_path, capsys):
    (tmp_path / "k.png").write_text("mine")
    assert main(["kernels", "--out", str(tmp_path / "k.png")]) == 2
    _one_error_line(capsys, "kernels", "exists; pass --force")
    assert main(["kernels", "--out", str(tmp_path / "k.jpg")]) == 2
    _one_error_line(capsys, "kernels", "expected a .png file name")
    assert json.dumps((tmp_path / "k.png").read_text()) == '"mine"'


def test_a_model_option_that_contradicts_the_checkpoint_is_refused(trained_run, tmp_path, capsys):
    # Was: silently ignored, evaluating the stored lenet5_classic while the user asked for mnist_cnn.
    assert main(["evaluate", trained_run, "--model", "mnist_cnn", "--out", str(tmp_path / "cm.png")]) == 2
    _one_error_line(capsys, "evaluate", "holds a lenet5_classic model, not mnist_cnn; drop --model")
