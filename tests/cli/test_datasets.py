"""``cnnkit datasets``: what is available, cached, where (no network)."""

from __future__ import annotations

import json

from cnnkit.cli import main


def test_lists_every_dataset_and_where(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path))
    monkeypatch.delenv("CNNKIT_OFFLINE", raising=False)
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"cache: {tmp_path} (set CNNKIT_DATA to move it)"
    assert "mnist          MNIST" in out and "embedded" in out
    assert f"not here; downloaded on first use into {tmp_path / 'fashion_mnist'}" in out
    assert f"not here; downloaded on first use into {tmp_path / 'cifar10'}" in out


def test_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path))
    assert main(["datasets", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == ["mnist", "fashion_mnist", "cifar10"]
    assert [r["status"] for r in records][1:] == ["missing", "missing"]
