"""What the subcommands share: zoo names, dataset loading and normalisation, finding a trained model.

A dataset is loaded as uint8 by ``cnnkit.datasets.load`` and prepared here into float32 NCHW
arrays normalised per channel with the constants in :data:`NORMALISATION`. ``train`` records the
dataset and those constants in the checkpoint's metadata and in ``result.json``, so ``evaluate``
and ``predict`` prepare their inputs exactly as training did.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from cnnkit.cli.errors import CLIError, suggest

DATASETS = ("mnist", "fashion_mnist", "cifar10")
# Per-channel mean and standard deviation of each training set's pixels scaled to [0, 1]: the
# usual published values (MNIST's 0.1307/0.3081 as in PyTorch's example; CIFAR-10's std is the
# whole-set pixel std, not the per-image average some code uses).
NORMALISATION = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
SHAPES = {"mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


def resolve_model(name: str) -> str:
    """The zoo key for ``name`` (``-``/``_`` and case ignored); an unknown one suggests close matches.

    Args:
        name: what the user typed.

    Raises:
        CLIError: no such model (the message proposes close names).

    Example:
        >>> resolve_model("LeNet5-Classic")
        'lenet5_classic'
    """
    from cnnkit import models

    key = name.strip().lower().replace("-", "_")
    if key not in models.MODELS:
        raise suggest(name, models.MODELS, "model")
    return key


def resolve_dataset(name: str) -> str:
    """The dataset key for ``name`` (``fashion-mnist``, ``CIFAR-10`` ... accepted).

    Args:
        name: what the user typed.

    Raises:
        CLIError: no such dataset (the message proposes close names).

    Example:
        >>> resolve_dataset("CIFAR-10"), resolve_dataset("fashion")
        ('cifar10', 'fashion_mnist')
    """
    key = name.strip().lower().replace("-", "_")
    key = {"fashion": "fashion_mnist", "fmnist": "fashion_mnist", "cifar_10": "cifar10"}.get(key, key)
    if key not in DATASETS:
        raise suggest(name, DATASETS, "dataset")
    return key


def class_names(dataset: str, k: int = 10) -> list:
    """The dataset's class names (``"0"`` .. ``"9"`` for MNIST).

    Args:
        dataset: a key from :data:`DATASETS`.
        k: the number of classes the model gives (other counts get ``"0"`` .. ``str(k - 1)``).

    Example:
        >>> class_names("mnist")[:3]
        ['0', '1', '2']
    """
    from cnnkit import datasets

    module = getattr(datasets, dataset, None)
    names = getattr(module, "class_names", None)
    return [str(c) for c in names] if names and len(names) == k else [str(i) for i in range(k)]


def load_raw(dataset: str, path: Optional[str] = None, download: bool = True) -> tuple:
    """``((x_train, y_train), (x_test, y_test))`` as uint8 arrays from ``cnnkit.datasets``.

    Args:
        dataset: a key from :data:`DATASETS`.
        path: ``--data``, a directory holding the dataset's files (must exist).
        download: False for ``--no-download``.

    Raises:
        CLIError: ``path`` is not a directory. ValueError (``DatasetError``): the files cannot be had.
    """
    from cnnkit import datasets

    if path is not None and not os.path.isdir(path):
        # Checked here: a loader with an embedded copy (MNIST) would otherwise ignore the wrong --data.
        raise CLIError(f"--data {path}: no such directory; name the directory holding the {dataset} files")
    return datasets.load(dataset, path=path, download=download)


def prepare(images: np.ndarray, normalisation: Sequence, shape: Sequence[int], what: str) -> np.ndarray:
    """uint8 images ``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)`` → normalised float32 NCHW.

    Images smaller than ``shape`` by an even margin are padded with black (MNIST's 28×28 digits
    in LeNet-5's 32×32 field, as LeCun et al. did); other mismatches are errors.

    Args:
        images: uint8 pixels in [0, 255].
        normalisation: ``(means, stds)`` per channel, for pixels scaled to [0, 1].
        shape: the model's input (C, H, W).
        what: names the images in an error message.

    Shape:
        ``(N, H, W)`` / ``(N, H, W, C)`` / ``(N, C, H, W)`` → ``(N, *shape)``.

    Example:
        >>> x = prepare(np.full((2, 28, 28), 255, np.uint8), ((0.5,), (0.5,)), (1, 32, 32), "mnist")
        >>> x.shape, float(x[0, 0, 0, 0]), float(x[0, 0, 16, 16])
        ((2, 1, 32, 32), -1.0, 1.0)
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)  # channels-last from the loader → NCHW
    if x.ndim != 4:
        raise CLIError(f"{what}: expected images (N, H, W[, C]), got shape {x.shape}")
    dh, dw = check_fit(x.shape[1:], shape, what)
    if (dh, dw) != (0, 0):
        x = np.pad(x, ((0, 0), (0, 0), (dh // 2, dh // 2), (dw // 2, dw // 2)))
    mean, std = (np.asarray(v, np.float32).reshape(1, -1, 1, 1) for v in normalisation)
    return (x.astype(np.float32) / np.float32(255.0) - mean) / std


def check_fit(image_shape: Sequence[int], shape: Sequence[int], what: str,
              hint: str = "choose a model built for such inputs (see `cnnkit models`)") -> tuple:
    """The padding ``(dh, dw)`` that fits images of ``image_shape`` (C, H, W) to the model's ``shape``.

    Args:
        image_shape: one image's (C, H, W).
        shape: the model's input (C, H, W).
        what: names the images in the message (``"mnist"``, ``"the image"``).
        hint: what the user can do, appended to the message.

    Raises:
        CLIError: the channels differ, or the images are larger or differ by an odd margin.

    Example:
        >>> check_fit((1, 28, 28), (1, 32, 32), "mnist")  # LeNet-5's field: 2 pixels each side
        (4, 4)
    """
    c, h, w = (int(s) for s in shape)
    hint = f"; {hint}"
    if int(image_shape[0]) != c:
        raise CLIError(f"{what} has {image_shape[0]} channel(s) but the model expects {c} (input {tuple(shape)})"
                       + hint)
    dh, dw = h - int(image_shape[1]), w - int(image_shape[2])
    if dh < 0 or dw < 0 or dh % 2 or dw % 2:
        raise CLIError(f"the model expects inputs of shape {tuple(shape)}, {what} gives "
                       f"{tuple(int(s) for s in image_shape)}" + hint)
    return dh, dw


def load_dataset(dataset: str, shape: Sequence[int], path: Optional[str] = None, download: bool = True,
                 limit: Optional[int] = None, normalisation: Optional[Sequence] = None) -> tuple:
    """The prepared ``((x, y), (x_test, y_test))``: float32 NCHW images, int64 labels of shape (N,).

    Args:
        dataset: a key from :data:`DATASETS`.
        shape: the model's input (C, H, W).
        path, download: as in :func:`load_raw`.
        limit: keep the first ``limit`` images of each split (quick runs; more than there are keeps all).
        normalisation: ``(means, stds)``; default :data:`NORMALISATION` of the dataset.
    """
    (x, y), (x_test, y_test) = load_raw(dataset, path, download)
    if limit:
        x, y, x_test, y_test = x[:limit], y[:limit], x_test[:limit], y_test[:limit]
    norm = normalisation or NORMALISATION[dataset]
    return ((prepare(x, norm, shape, dataset), np.asarray(y).reshape(-1).astype(np.int64)),
            (prepare(x_test, norm, shape, dataset), np.asarray(y_test).reshape(-1).astype(np.int64)))


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1 (``--epochs 0`` is refused with a clear message).

    Args:
        text: the option's value as typed.

    Example:
        >>> positive_int("3")
        3
    """
    return _whole_number(text, 1, "must be at least 1")


def non_negative_int(text: str) -> int:
    """argparse type: an integer ≥ 0 (``--seed``, as :func:`cnnkit.manual_seed` takes).

    Args:
        text: the option's value as typed.

    Example:
        >>> non_negative_int("0")
        0
    """
    return _whole_number(text, 0, "must be 0 or more")


def _whole_number(text: str, minimum: int, rule: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{rule}, got {value}")
    return value


@dataclass
class Trained:
    """A trained model found from a run directory or checkpoint, with how its inputs are prepared
    (what :func:`load_trained` returns; fields as named)."""

    model: Any
    checkpoint: str
    directory: str
    dataset: str
    normalisation: tuple
    input_shape: tuple
    class_names: list
    model_name: Optional[str] = None


def load_trained(path: str, dataset: Optional[str] = None, model_name: Optional[str] = None) -> Trained:
    """Load a run directory (its ``model.safetensors``) or a checkpoint file.

    The dataset, normalisation and model name come from the arguments, else the checkpoint's
    metadata, else ``result.json`` beside the checkpoint, else MNIST. A weights-only checkpoint
    (``best.safetensors``) is loaded into the zoo model named by ``model_name`` or ``result.json``.
    A damaged ``result.json`` is skipped with a warning when the checkpoint names everything.

    Args:
        path: a run directory or a ``.safetensors`` file.
        dataset: ``--dataset`` (the model must be able to take its images).
        model_name: ``--model``, for a weights-only checkpoint.

    Raises:
        CLIError: a missing path, a file that is not a checkpoint, weights that do not fit the
            named model, a dataset the model cannot take. CheckpointError: a damaged checkpoint.

    Example:
        >>> trained = load_trained("runs/lenet5-mnist")  # doctest: +SKIP
        >>> trained.model.predict(x).argmax(axis=1)  # doctest: +SKIP
    """
    import cnnkit
    from cnnkit import models
    from cnnkit.io import CheckpointError, load_checkpoint, read_checkpoint

    if os.path.isdir(path):
        checkpoint = os.path.join(path, "model.safetensors")
        if not os.path.isfile(checkpoint):
            best = os.path.join(path, "best.safetensors")
            hint = (f"; its best epoch so far is {best}" if os.path.isfile(best) else "")
            raise CLIError(f"{path}: not a run directory (no model.safetensors in it); pass a checkpoint "
                           f"file or the --out directory of a finished `cnnkit train`{hint}")
    elif os.path.isfile(path):
        if not path.endswith(".safetensors"):
            # Reading a PNG or CSV as a checkpoint reports a nonsense header size; say what was expected.
            raise CLIError(f"{path}: not a checkpoint (expected a .safetensors file written by cnnkit, or a run "
                           "directory)")
        checkpoint = path
    else:
        raise CLIError(f"{path}: no such run directory or checkpoint file")
    directory = os.path.dirname(os.path.abspath(checkpoint))
    result, damaged = _read_result(os.path.join(directory, "result.json"))
    meta = read_checkpoint(checkpoint)[1].get("metadata", {})
    name = model_name or meta.get("zoo_model") or result.get("model")
    if "architecture" in meta:
        stored = meta.get("zoo_model")
        if model_name and stored and resolve_model(model_name) != stored:
            raise CLIError(f"{checkpoint} holds a {stored} model, not {model_name}; drop --model (it is only for "
                           "weights-only checkpoints)")
        model = cnnkit.load_model(checkpoint)
    elif name:
        name = resolve_model(name)
        model = cnnkit.Model(models.get(name))
        try:
            load_checkpoint(checkpoint, model.module)
        except CheckpointError as error:
            if "does not fit" not in str(error):
                raise
            source = "--model" if model_name else "result.json beside it"
            raise CLIError(f"{checkpoint}: its weights do not fit the zoo model {name!r} (named by {source}); "
                           "pass --model with the model it was trained as") from None
    else:
        why = f" ({damaged})" if damaged else ""
        raise CLIError(f"{checkpoint}: holds weights but no architecture; name the zoo model with --model{why}")
    if damaged:
        print(f"cnnkit: warning: {damaged}; using the checkpoint's own metadata", file=sys.stderr)
    key = resolve_dataset(dataset or meta.get("dataset") or result.get("dataset") or "mnist")
    stored = meta.get("normalisation") or result.get("normalisation")
    # The stored constants apply only to the dataset trained on; another --dataset uses its own.
    trained_on = meta.get("dataset") or result.get("dataset")
    normalisation = tuple(map(tuple, stored)) if stored and trained_on == key else NORMALISATION[key]
    shape = tuple(meta.get("input_shape") or (models.input_shape(name) if name else SHAPES[key]))
    check_fit(SHAPES[key], shape, key, hint="pass the --dataset the model was trained on")
    return Trained(model=model, checkpoint=checkpoint, directory=directory, dataset=key,
                   normalisation=normalisation, input_shape=shape, class_names=class_names(key),
                   model_name=name)


def read_json_object(path: str) -> dict:
    """The JSON object in ``path`` (``result.json``, ``settings.json``).

    Args:
        path: the file.

    Raises:
        OSError: the file cannot be read. ValueError: it is not JSON, or not an object.
    """
    with open(path) as f:
        value = json.load(f)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _read_result(path: str) -> tuple:
    """``(result.json beside a checkpoint as a dict, None)``; ``({}, None)`` when absent. A damaged
    one gives ``({}, what is wrong)``: the checkpoint's own metadata usually suffices, and
    --model/--dataset replace the rest."""
    if not os.path.isfile(path):
        return {}, None
    try:
        result = read_json_object(path)
    except (OSError, ValueError) as error:
        return {}, f"{path} is unreadable ({error})"
    # Only well-formed names are used; a damaged entry is ignored like a missing one.
    return {k: v for k, v in result.items() if k not in ("model", "dataset") or isinstance(v, str)}, None


def output_path(out: Optional[str], default: str, suffix: str, force: bool) -> str:
    """The file a command writes: ``out`` (``--out``) checked, else ``default``.

    ``default`` (the command's own file beside the checkpoint) is regenerated freely; an explicit
    ``--out`` must name a ``suffix`` file and is not overwritten without ``force``.

    Args:
        out: the ``--out`` value, or None.
        default: the path used without ``--out``.
        suffix: the extension required of ``--out`` (``".png"``, ``".html"``).
        force: ``--force`` was given.

    Raises:
        CLIError: ``out`` is a directory, has another extension, or exists without ``force``.

    Example:
        >>> output_path(None, "run/report.html", ".html", force=False)
        'run/report.html'
    """
    if out is None:
        return default
    if os.path.isdir(out):
        raise CLIError(f"--out {out} is a directory; name the {suffix} file to write, e.g. "
                       f"{os.path.join(out, os.path.basename(default))}")
    if not out.lower().endswith(suffix):
        raise CLIError(f"--out {out}: expected a {suffix} file name")
    if os.path.exists(out) and not force:
        raise CLIError(f"{out} exists; pass --force to overwrite it or choose another --out")
    return out
