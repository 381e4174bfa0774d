"""``cnnkit train``'s run directory: nothing overwritten, Ctrl-C at any point, ``--resume`` with the saved settings."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import cnnkit
from cnnkit.cli import main
from cnnkit.training import callbacks as C

ARGS = ["train", "--model", "lenet5_classic", "--epochs", "3", "--batch-size", "64", "--limit", "128", "--verbose", "0"]


def _weights(out):
    return {k: v.numpy() for k, v in cnnkit.load_model(os.path.join(out, "model.safetensors")).module.state_dict().items()}


def _interrupt_at_epoch_end(monkeypatch, at):
    """Ctrl-C right after metrics.csv got epoch ``at`` (before the backup of that epoch)."""
    original = C.CSVLogger.on_epoch_end

    def stop(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == at:
            raise KeyboardInterrupt

    monkeypatch.setattr(C.CSVLogger, "on_epoch_end", stop)
    return original


def _one_error_line(capsys, message):
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_validation_split_zero_trains_and_keeps_the_best_training_epoch(tiny_mnist, tmp_path, capsys):
    # Was: KeyError "ModelCheckpoint: the logs have no 'val_accuracy'" with a traceback.
    out = str(tmp_path / "noval")
    assert main([*ARGS, "--epochs", "1", "--validation-split", "0", "--out", out]) == 0
    result = json.load(open(os.path.join(out, "result.json")))
    assert result["validation_images"] == 0 and result["val_accuracy"] is None and result["train_images"] == 128
    assert os.path.isfile(os.path.join(out, "best.safetensors"))
    assert "validation accuracy" not in capsys.readouterr().out


def test_resume_needs_only_out_and_matches_an_uninterrupted_run(tiny_mnist, tmp_path, monkeypatch, capsys):
    full, part = str(tmp_path / "full"), str(tmp_path / "part")
    assert main([*ARGS, "--out", full]) == 0
    original = _interrupt_at_epoch_end(monkeypatch, 1)
    assert main([*ARGS, "--out", part]) == 130
    printed = capsys.readouterr().out
    # The printed command is complete: the run's options come from its settings.json.
    assert f"cnnkit train --out {part} --resume" in printed and "1 epoch(s) saved" in printed
    monkeypatch.setattr(C.CSVLogger, "on_epoch_end", original)
    before = open(os.path.join(part, "metrics.csv")).read()
    # Was: a rerun without --resume silently restored the backup and truncated metrics.csv.
    assert main([*ARGS, "--out", part]) == 2
    _one_error_line(capsys, "holds an interrupted run (1 epoch(s) done); continue it with")
    assert open(os.path.join(part, "metrics.csv")).read() == before
    # Was: the hint's command resumed with the default --limit and --batch-size (another run).
    assert main(["train", "--out", part, "--resume", "--verbose", "0"]) == 0
    expected, resumed = _weights(full), _weights(part)
    for key in expected:
        np.testing.assert_array_equal(resumed[key], expected[key], err_msg=key)
    rows = open(os.path.join(part, "metrics.csv")).read().splitlines()
    assert [r.split(",")[0] for r in rows] == ["epoch", "0", "1", "2"]
    result = json.load(open(os.path.join(part, "result.json")))
    # images/s over all three epochs and their summed time, not the last session's one epoch.
    assert result["resumed_at_epoch"] == 1 and result["epochs"] == 3
    assert result["images_per_s"] == pytest.approx(3 * result["train_images"] / result["wall_time_s"], rel=1e-2)
    assert not os.path.exists(os.path.join(part, "backup"))
    assert main(["train", "--out", part, "--resume"]) == 2
    _one_error_line(capsys, "holds a finished run, nothing to resume")


def test_resume_refuses_an_option_that_differs_from_the_run(tiny_mnist, tmp_path, monkeypatch, capsys):
    # Was: "the checkpoint does not fit this model (Sequential)" / "holds Adam state, not SGD" /
    # "BackupAndRestore: ... SchedulerCallback(s)", none naming the option to drop.
    part = str(tmp_path / "part")
    original = C.BackupAndRestore.on_epoch_end

    def backup_then_stop(self, epoch, logs=None):
        original(self, epoch, logs)
        raise KeyboardInterrupt

    monkeypatch.setattr(C.BackupAndRestore, "on_epoch_end", backup_then_stop)
    assert main([*ARGS, "--out", part]) == 130
    monkeypatch.setattr(C.BackupAndRestore, "on_epoch_end", original)
    capsys.readouterr()
    for option in (["--model", "mnist_cnn"], ["--optimizer", "sgd"], ["--schedule", "none"], ["--epochs", "5"]):
        assert main(["train", "--out", part, "--resume", *option]) == 2
        _one_error_line(capsys, f"{option[0]} {option[1]} differs from the interrupted run's")


def test_ctrl_c_in_the_first_epoch_leaves_nothing_behind(tiny_mnist, tmp_path, monkeypatch, capsys):
    out = str(tmp_path / "first")
    _interrupt_at_epoch_end(monkeypatch, 0)
    assert main([*ARGS, "--out", out]) == 130
    assert "nothing was saved; run the command again" in capsys.readouterr().out
    assert not os.path.exists(out)  # so running the command again is not refused


def test_ctrl_c_during_the_test_evaluation_is_resumable(tiny_mnist, tmp_path, monkeypatch, capsys):
    out = str(tmp_path / "eval")
    original = cnnkit.Model.evaluate

    def interrupted_test(self, *args, batch_size=32, **kwargs):
        if batch_size == 512:  # the test evaluation after fit (validation uses --batch-size)
            raise KeyboardInterrupt
        return original(self, *args, batch_size=batch_size, **kwargs)

    monkeypatch.setattr(cnnkit.Model, "evaluate", interrupted_test)
    assert main([*ARGS, "--out", out]) == 130
    assert "3 epoch(s) saved" in capsys.readouterr().out and not os.path.exists(os.path.join(out, "result.json"))
    monkeypatch.setattr(cnnkit.Model, "evaluate", original)
    assert main(["train", "--out", out, "--resume", "--verbose", "0"]) == 0
    result = json.load(open(os.path.join(out, "result.json")))
    assert result["resumed_at_epoch"] == 3 and len(json.load(open(os.path.join(out, "history.json")))["loss"]) == 3
    assert result["images_per_s"] > 0


def test_out_that_is_a_file_or_holds_run_files_is_refused(tiny_mnist, tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    assert main([*ARGS, "--out", str(a_file)]) == 2
    _one_error_line(capsys, f"--out {a_file} is a file; name a directory")
    other = tmp_path / "other"
    other.mkdir()
    (other / "metrics.csv").write_text("someone's metrics")
    assert main([*ARGS, "--out", str(other)]) == 2
    _one_error_line(capsys, "already holds metrics.csv of an earlier run; choose another --out")
    assert (other / "metrics.csv").read_text() == "someone's metrics"


@pytest.mark.parametrize("content", ["{broken", "[3]"])
def test_a_damaged_settings_json_is_one_line_with_the_fix(content, tmp_path):
    import argparse

    from cnnkit.cli import rundir
    from cnnkit.cli.errors import CLIError

    (tmp_path / rundir.SETTINGS).write_text(content)
    with pytest.raises(CLIError, match=r"settings.json: unreadable \(.*\); delete it and pass the interrupted run's"):
        rundir.resume_settings(argparse.Namespace(out=str(tmp_path), epochs=6), {"epochs": 6})


@pytest.mark.parametrize("option, value", [("--lr", "-1"), ("--lr", "nan"), ("--lr", "0"), ("--seed", "-1")])
def test_bad_lr_or_seed_is_refused_before_anything_is_written(option, value, tmp_path, capsys):
    # Was: refused by the optimizer / manual_seed after settings.json was written, so the corrected
    # command was then refused as overwriting an earlier run (and --lr nan trained to NaN weights).
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        main([*ARGS, option, value, "--out", str(out)])
    assert info.value.code == 2 and f"argument {option}: " in capsys.readouterr().err
    assert not out.exists()


def test_an_error_in_the_first_epoch_leaves_nothing_that_blocks_a_rerun(tiny_mnist, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"

    def disk_full(self, epoch, logs=None):
        raise OSError(28, "No space left on device", self.filename)

    monkeypatch.setattr(C.CSVLogger, "on_epoch_end", disk_full)
    assert main([*ARGS, "--epochs", "1", "--out", str(out)]) == 2
    _one_error_line(capsys, "No space left on device")
    assert not out.exists()


def test_data_that_is_not_a_directory_is_refused(tmp_path, capsys):
    # Was: MNIST's embedded copy was used and the wrong --data silently ignored.
    assert main([*ARGS, "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")]) == 2
    _one_error_line(capsys, f"--data {tmp_path / 'nowhere'}: no such directory")


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_a_diverging_run_says_lower_the_learning_rate(tiny_mnist, tmp_path, capsys):
    # Was: KeyError "ModelCheckpoint: the logs have no 'val_accuracy'" with a traceback (the
    # non-finite epoch has no validation).
    out = tmp_path / "run"
    assert main([*ARGS, "--model", "lenet5", "--optimizer", "sgd", "--lr", "1e30", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.endswith("cnnkit train: training diverged: the loss became NaN or infinite (--lr 1e+30); lower --lr, "
                        "run the command again\n") and "Traceback" not in err
    assert not out.exists()


def test_a_resumed_run_keeps_the_best_checkpoint_of_the_epochs_before(tmp_path):
    # Was: the best value started at -inf on --resume, so the first resumed epoch always replaced
    # best.safetensors, even when an epoch before the interrupt was better.
    from types import SimpleNamespace

    from cnnkit.cli.train import _BestCheckpoint

    path = tmp_path / "best.safetensors"
    callback = _BestCheckpoint(str(path), monitor="val_accuracy", save_best_only=True)
    callback.model = SimpleNamespace(history=SimpleNamespace(history={"val_accuracy": [0.7, 0.9]}),
                                     module=cnnkit.nn.Linear(2, 2), optimizer=None)
    callback.on_epoch_begin(2)
    callback.on_epoch_end(2, {"val_accuracy": 0.8})
    assert not path.exists() and callback.best == 0.9
    callback.on_epoch_begin(3)
    callback.on_epoch_end(3, {"val_accuracy": 0.95})
    assert path.exists() and callback.best == 0.95
    callback.on_epoch_end(4, {"accuracy": 1.0})  # no validation (a non-finite epoch): skipped, not a KeyError
