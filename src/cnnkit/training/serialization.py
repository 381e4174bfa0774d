"""Architecture configs: a JSON description of a model built from cnnkit's own layers.

A leaf layer is described by its class name and the arguments it was constructed with
(recorded automatically by ``Module``); containers (``Sequential``, ``ModuleList``,
``ModuleDict``) by their children. Custom ``Module`` subclasses cannot be rebuilt from a name:
save their weights with :func:`cnnkit.io.save_checkpoint` and rebuild them in code.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from cnnkit.nn.container import ModuleDict, ModuleList, Sequential
from cnnkit.nn.module import Module


_REGISTRY: dict = {}


def _load_registry() -> None:
    if not _REGISTRY:
        _REGISTRY.update(registry())


def registry() -> dict:
    """Every Module class cnnkit can rebuild by name: ``cnnkit.nn`` and the Keras facade's core."""
    import cnnkit.nn as nn
    from cnnkit.keras import layers as keras_layers

    classes = {}
    for namespace in (nn, keras_layers):
        for name in dir(namespace):
            value = getattr(namespace, name)
            if isinstance(value, type) and issubclass(value, Module) and value.__module__.startswith("cnnkit."):
                classes[value.__name__] = value
    classes["_AnyRankBatchNorm"] = keras_layers._AnyRankBatchNorm
    return classes


def _jsonable(value: Any, where: str) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return {"__dtype__": np.dtype(value).name}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, where) for v in value]
    try:
        json.dumps(value)
    except TypeError:
        raise TypeError(f"{where}: constructor argument {value!r} is not JSON-serialisable") from None
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"__dtype__"}:
        return np.dtype(value["__dtype__"])
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def module_config(module: Module, path: str = "model") -> dict:
    """The JSON-able description of ``module``; raises TypeError naming what cannot be described."""
    _load_registry()
    name = type(module).__name__
    if any(p.size == 0 for p in module.parameters(recurse=False)):
        raise TypeError(f"{path}: {name} is a lazy layer that has not seen data yet (its sizes are unknown); "
                        "run the model on one batch before saving it")
    if type(module) in (Sequential, ModuleList):
        return {"class": name, "children": [module_config(child, f"{path}.{key}")
                                            for key, child in module._modules.items()]}
    if type(module) is ModuleDict:
        return {"class": name, "children": {key: module_config(child, f"{path}.{key}")
                                            for key, child in module._modules.items()}}
    if _REGISTRY.get(name) is not type(module):
        raise TypeError(f"{path} is a {name}, a custom Module that cannot be rebuilt from a saved config; save its "
                        "weights with cnnkit.io.save_checkpoint and rebuild the model in code, or build it from "
                        "cnnkit.nn layers")
    args, kwargs = getattr(module, "_init_args", None) or ((), {})
    if any(isinstance(a, Module) for a in list(args) + list(kwargs.values())):
        raise TypeError(f"{path}: {name} takes modules as arguments and cannot be described by a config")
    return {"class": name, "args": _jsonable(list(args), path), "kwargs": _jsonable(dict(kwargs), path)}


def build(config: dict) -> Module:
    """Rebuild a model from :func:`module_config` (its weights come from the checkpoint)."""
    classes = registry()
    name = config.get("class")
    if name not in classes:
        raise ValueError(f"unknown layer class {name!r} in the saved architecture (this cnnkit knows "
                         f"{len(classes)} classes); was it saved by a newer cnnkit?")
    if name in ("Sequential", "ModuleList"):
        children = [build(child) for child in config["children"]]
        return Sequential(*children) if name == "Sequential" else ModuleList(children)
    if name == "ModuleDict":
        return ModuleDict({key: build(child) for key, child in config["children"].items()})
    return classes[name](*_from_json(config["args"]), **{k: _from_json(v) for k, v in config["kwargs"].items()})


def save_model(model: Any, path: str, **metadata: Any) -> str:
    """Save a :class:`~cnnkit.Model`: architecture, weights, optimizer state and compile settings.

    Raises:
        TypeError: when the module holds a custom layer (its config cannot be written).
    """
    from cnnkit.io import save_checkpoint

    import warnings

    architecture = module_config(model.module)
    names = {id(p): name for name, p in model.module.named_parameters()}
    compiled = None
    if model.optimizer is not None:
        loss = model.loss_name if model.loss_fn is None else (
            {"module": module_config(model.loss_fn, "loss")} if isinstance(model.loss_fn, Module) else None)
        if loss is None:
            warnings.warn("Model.save: the loss is a plain function and cannot be saved; the reloaded model will "
                          "need compile() again (its optimizer state is still saved)", UserWarning, stacklevel=3)
        dropped = [m for m in model.metric_specs if not isinstance(m, str)]
        if dropped:
            warnings.warn(f"Model.save: {len(dropped)} callable metric(s) cannot be saved and are left out",
                          UserWarning, stacklevel=3)
        groups = [[names.get(id(p)) for p in g["params"]] for g in model.optimizer.param_groups]
        if any(None in g for g in groups):
            raise TypeError("Model.save: the optimizer holds tensors that are not parameters of the model")
        compiled = {"optimizer": type(model.optimizer).__name__, "loss": loss, "groups": groups,
                    "metrics": [m for m in model.metric_specs if isinstance(m, str)]}
    frozen = [name for name, p in model.module.named_parameters() if not p.requires_grad]
    return save_checkpoint(path, model.module, model.optimizer, architecture=architecture, compile=compiled,
                           frozen=frozen, input_shape=list(model._input_shape or []) or None, **metadata)


def load_model(path: str) -> Any:
    """Rebuild the :class:`~cnnkit.Model` saved by ``Model.save(path)``, compiled as it was.

    Example:
        >>> import cnnkit, tempfile, os
        >>> model = cnnkit.Model(cnnkit.nn.Sequential(cnnkit.nn.Linear(4, 2)))
        >>> model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
        >>> _ = model.save(path)
        >>> type(cnnkit.load_model(path).optimizer).__name__
        'Adam'
    """
    from cnnkit import optim
    from cnnkit.io import CheckpointError, load_checkpoint, read_checkpoint
    from cnnkit.training.model import Model

    _, document = read_checkpoint(path)
    meta = document.get("metadata", {})
    if "architecture" not in meta:
        raise CheckpointError(f"{path}: this checkpoint holds weights but no architecture (it was written by "
                              "save_checkpoint, not Model.save); build the model in code and use load_checkpoint")
    model = Model(build(meta["architecture"]))
    by_name = dict(model.module.named_parameters())
    for name in meta.get("frozen", []):
        by_name[name].requires_grad = False
    compiled = meta.get("compile")
    optimizer = None
    if compiled:
        optimizer_class = getattr(optim, compiled["optimizer"], None)
        if optimizer_class is None:
            raise CheckpointError(f"{path}: unknown optimizer {compiled['optimizer']!r}")
        groups = [{"params": [by_name[n] for n in names]} for names in compiled.get("groups", [])] or None
        optimizer = optimizer_class(groups or list(by_name.values()))
        loss = compiled["loss"]
        loss = build(loss["module"]) if isinstance(loss, dict) else loss
        if loss is not None:
            model.compile(optimizer=optimizer, loss=loss, metrics=compiled["metrics"])
        else:
            model.optimizer = optimizer  # compile(loss=...) again before training
    load_checkpoint(path, model.module, optimizer)
    if meta.get("input_shape"):
        model._input_shape = tuple(meta["input_shape"])
    return model
