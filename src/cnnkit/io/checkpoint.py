"""Crash-safe checkpoints: one safetensors file, no pickle, verified on load.

Layout: tensors ``model/<state_dict key>`` and ``optimizer/<param index>/<state name>``; the
safetensors header metadata holds one JSON document (key ``"cnnkit"``) with the format version,
the SHA-256 of every tensor (name, dtype, shape and bytes, in name order), the optimizer's
hyper-parameters and scalar state, the RNG state and the caller's metadata (epoch, step, ...).

Writing goes to a temporary file in the same directory, is fsynced, atomically renamed over the
target (``os.replace``), and the directory is fsynced; the checkpoint it replaces is kept as
``<path>.prev``. safetensors alone does not detect a flipped bit in the data, hence the SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any, Optional

import numpy as np

from cnnkit import random as _random

FORMAT = "cnnkit-checkpoint"
VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint could not be written or read: the message names the file and the problem."""


def _digest(tensors: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        array = tensors[name]
        h.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        h.update(np.asarray(array, order="C").tobytes())
    return h.hexdigest()


def _collect(model: Any, optimizer: Any) -> tuple:
    tensors = {f"model/{k}": np.asarray(v.data, order="C") for k, v in model.state_dict().items()}
    optimizer_meta = None
    if optimizer is not None:
        state = optimizer.state_dict()
        scalars: dict = {}
        for index, values in state["state"].items():
            for key, value in values.items():
                if isinstance(value, np.ndarray):
                    tensors[f"optimizer/{index}/{key}"] = np.asarray(value, order="C")
                else:
                    scalars.setdefault(str(index), {})[key] = value
        optimizer_meta = {"type": type(optimizer).__name__, "param_groups": state["param_groups"], "scalars": scalars}
    return tensors, optimizer_meta


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(path: str, model: Any, optimizer: Any = None, **metadata: Any) -> str:
    """Write ``model`` (and ``optimizer``) state plus ``metadata`` to ``path`` atomically.

    Args:
        path: the checkpoint file (conventionally ``*.safetensors``); its directory is created.
        model: a Module (its ``state_dict()`` is saved).
        optimizer: an optional :class:`cnnkit.optim.Optimizer` (hyper-parameters and state).
        **metadata: JSON-serialisable values returned by :func:`load_checkpoint` (epoch, step, ...).

    Returns:
        The path written.

    Raises:
        CheckpointError: for non-finite weights (never written, so the last good checkpoint
            survives a diverged run) or metadata that is not JSON-serialisable.

    Example:
        >>> import cnnkit, tempfile, os
        >>> model = cnnkit.nn.Linear(3, 2)
        >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
        >>> _ = cnnkit.io.save_checkpoint(path, model, epoch=3)
        >>> cnnkit.io.load_checkpoint(path, cnnkit.nn.Linear(3, 2))["epoch"]
        3
    """
    from safetensors.numpy import save as _save

    tensors, optimizer_meta = _collect(model, optimizer)
    bad = [name for name, array in tensors.items() if array.dtype.kind == "f" and not np.isfinite(array).all()]
    if bad:
        raise CheckpointError(f"{path}: refusing to save non-finite values (NaN/Inf) in {', '.join(bad[:5])}"
                              f"{' ...' if len(bad) > 5 else ''}; the previous checkpoint is left untouched")
    document = {"format": FORMAT, "version": VERSION, "sha256": _digest(tensors), "model": type(model).__name__,
                "optimizer": optimizer_meta, "rng_state": _random.get_rng_state(), "metadata": metadata}
    try:
        header = json.dumps(document)
    except TypeError as error:
        raise CheckpointError(f"{path}: metadata must be JSON-serialisable (numbers, strings, lists, dicts): {error}") from None
    payload = _save(tensors, metadata={"cnnkit": header})
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; give the permissions a normal file gets
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(path):
            _keep_previous(path)
        os.replace(tmp, path)
        _fsync_directory(directory)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _keep_previous(path: str) -> None:
    """Hard-link the current checkpoint to ``<path>.prev`` (atomically), so ``path`` never goes missing."""
    link = f"{path}.prev.{os.getpid()}.tmp"
    try:
        os.link(path, link)
    except OSError:  # no hard links here: fall back to a copy
        import shutil

        shutil.copyfile(path, link)
    os.replace(link, f"{path}.prev")


def read_checkpoint(path: str) -> tuple:
    """Read and verify a checkpoint file: ``(tensors, document)``; raises :class:`CheckpointError`."""
    from safetensors.numpy import load as _load

    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint file") from None
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read the checkpoint: {error}") from None
    hint = f" The previous checkpoint, if any, is {path}.prev."
    if len(data) < 8:
        raise CheckpointError(f"{path}: the file is {len(data)} bytes long: it is empty or truncated, not a checkpoint.{hint}")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8 or size > 100_000_000:
        raise CheckpointError(f"{path}: the header claims {size} bytes but the file holds {len(data) - 8}: the file is "
                              f"truncated or not a safetensors checkpoint.{hint}")
    try:
        header = json.loads(data[8:8 + size])
        document = json.loads(header["__metadata__"]["cnnkit"])
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"{path}: not a cnnkit checkpoint (no readable 'cnnkit' metadata in the header); it was "
                              f"written by another program or is corrupted.{hint}") from None
    if document.get("format") != FORMAT or not isinstance(document.get("version"), int):
        raise CheckpointError(f"{path}: not a cnnkit checkpoint (format {document.get('format')!r})")
    if document["version"] > VERSION:
        raise CheckpointError(f"{path}: written by a newer cnnkit (format version {document['version']}, this one "
                              f"reads up to {VERSION}); upgrade cnnkit")
    try:
        tensors = _load(data)
    except Exception as error:  # safetensors raises its own error type for malformed payloads
        raise CheckpointError(f"{path}: the tensor data is malformed or truncated ({error}).{hint}") from None
    if _digest(tensors) != document.get("sha256"):
        raise CheckpointError(f"{path}: checksum mismatch: the tensor data changed after it was written (a flipped bit "
                              f"or a partial copy).{hint}")
    return tensors, document


def load_checkpoint(path: str, model: Any = None, optimizer: Any = None, restore_rng: bool = False) -> dict:
    """Verify ``path`` and load it into ``model`` (and ``optimizer``); return the saved metadata.

    Nothing is modified unless the whole file verifies and every name and shape matches.

    Args:
        path: a file written by :func:`save_checkpoint`.
        model: the Module to load the weights into (or None to only read the metadata).
        optimizer: the optimizer to restore (must be of the same type, with the same groups).
        restore_rng: also restore cnnkit's random generator (for bit-exact resumption).

    Raises:
        CheckpointError: on a missing, truncated, corrupted or foreign file, or on any mismatch
            (missing, unexpected and mismatched keys are all listed).
    """
    tensors, document = read_checkpoint(path)
    if optimizer is not None:
        _check_optimizer(path, optimizer, document.get("optimizer"))  # before anything is modified
    if model is not None:
        weights = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
        try:
            model.load_state_dict(weights, strict=True)
        except RuntimeError as error:
            raise CheckpointError(f"{path}: the checkpoint does not fit this model ({type(model).__name__}):\n{error}") from None
    if optimizer is not None:
        _restore_optimizer(path, optimizer, tensors, document.get("optimizer"))
    if restore_rng:
        _random.set_rng_state(document["rng_state"])
    return dict(document.get("metadata", {}))


def _check_optimizer(path: str, optimizer: Any, saved: Optional[dict]) -> None:
    if saved is None:
        raise CheckpointError(f"{path}: the checkpoint holds no optimizer state (it was saved without an optimizer)")
    if saved["type"] != type(optimizer).__name__:
        raise CheckpointError(f"{path}: the checkpoint holds {saved['type']} state, not {type(optimizer).__name__}")
    sizes = [len(g["params"]) for g in saved["param_groups"]]
    own = [len(g["params"]) for g in optimizer.param_groups]
    if sizes != own:
        raise CheckpointError(f"{path}: the saved optimizer has parameter groups of sizes {sizes}, this one {own}")


def _restore_optimizer(path: str, optimizer: Any, tensors: dict, saved: Optional[dict]) -> None:
    state: dict = {int(k): dict(v) for k, v in saved["scalars"].items()}
    for name, array in tensors.items():
        if name.startswith("optimizer/"):
            _, index, key = name.split("/", 2)
            state.setdefault(int(index), {})[key] = array
    groups = []
    for group, own in zip(saved["param_groups"], optimizer.param_groups):
        # JSON turned tuples (Adam's betas) into lists; give them back their type.
        groups.append({k: tuple(v) if isinstance(own.get(k), tuple) and isinstance(v, list) else v
                       for k, v in group.items()})
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups + saved["param_groups"][len(groups):]})
    except ValueError as error:
        raise CheckpointError(f"{path}: the optimizer state does not fit this optimizer: {error}") from None
