"""``cnnkit.Model``: Keras's ``compile``/``fit``/``evaluate``/``predict`` around any Module.

The loop (``fit``) is separate from the step (``train_step``), which subclasses may override.
Losses are computed from logits: when the module ends in ``Softmax`` (or ``Sigmoid``) and the
loss is a cross-entropy, the final activation is skipped for the loss and the fused, stable
cross-entropy is used instead, as Keras does for ``Dense(..., activation='softmax')``.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence

import numpy as np

import cnnkit.functional as F
from cnnkit.autograd.grad_mode import no_grad
from cnnkit.nn.activation import Sigmoid, Softmax
from cnnkit.nn.container import Sequential
from cnnkit.nn.module import Module
from cnnkit.optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from cnnkit.tensor import Tensor
from cnnkit.training import callbacks as C
from cnnkit.training import data_adapter as D
from cnnkit.training import metrics as M

_OPTIMIZERS = {"sgd": lambda p: SGD(p, lr=0.01), "adam": lambda p: Adam(p, lr=1e-3), "adamw": lambda p: AdamW(p, lr=1e-3),
               "rmsprop": lambda p: RMSprop(p, lr=1e-3), "adagrad": lambda p: Adagrad(p, lr=1e-3)}
_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy", "mse",
           "mean_squared_error", "mae", "mean_absolute_error")


class _NonFiniteLoss(Exception):
    pass


class Model:
    """Keras-style training for a Module (e.g. an ``nn.Sequential``).

    Args:
        module: the network; its output is taken as logits unless it ends in Softmax/Sigmoid.

    Example:
        >>> import numpy as np, cnnkit
        >>> net = cnnkit.nn.Sequential(cnnkit.nn.Linear(4, 3))
        >>> model = cnnkit.Model(net)
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> x, y = np.random.default_rng(0).normal(size=(32, 4)).astype("float32"), np.arange(32) % 3
        >>> history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        >>> sorted(history.history)
        ['accuracy', 'loss', 'lr']
    """

    def __init__(self, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"Model wraps a cnnkit.nn.Module, got {type(module).__name__}")
        self.module = module
        self.optimizer: Optional[Optimizer] = None
        self.loss_name: Optional[str] = None
        self.metric_fns: list = []
        self.stop_training = False
        self.history: Optional[C.History] = None
        self.callbacks: list = []
        self._input_shape: Optional[tuple] = None
        self._fit_epochs, self._steps_per_epoch, self._epoch = 0, 0, 0

    # ------------------------------------------------------------------------------ compile
    def compile(self, optimizer: Any = "sgd", loss: Any = "sparse_categorical_crossentropy",
                metrics: Optional[Sequence[Any]] = None) -> None:
        """Choose the optimizer, the loss and the metrics.

        Args:
            optimizer: ``'sgd'`` (lr 0.01), ``'adam'`` (1e-3), ``'adamw'``, ``'rmsprop'`` (1e-3), ``'adagrad'``, an
                :class:`~cnnkit.optim.Optimizer`, or a callable ``params -> Optimizer``.
            loss: ``'sparse_categorical_crossentropy'`` (integer labels), ``'categorical_crossentropy'``
                (one-hot), ``'binary_crossentropy'``, ``'mse'``, ``'mae'``, or a callable ``loss(y_pred, y_true)``
                returning a scalar Tensor (a cnnkit loss module works).
            metrics: Keras names (``'accuracy'``, ``'mae'``, ...) or callables ``fn(y_pred, y_true) -> float``.
        """
        if isinstance(optimizer, str):
            if optimizer.lower() not in _OPTIMIZERS:
                raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {sorted(_OPTIMIZERS)} or pass an Optimizer")
            self.optimizer = _OPTIMIZERS[optimizer.lower()](self.module.parameters())
        elif isinstance(optimizer, Optimizer):
            self.optimizer = optimizer
        elif callable(optimizer):
            self.optimizer = optimizer(self.module.parameters())
        else:
            raise TypeError(f"optimizer must be a name, an Optimizer or a factory, got {type(optimizer).__name__}")
        if isinstance(loss, str):
            if loss not in _LOSSES:
                raise ValueError(f"unknown loss {loss!r}; choose one of {list(_LOSSES)} or pass a callable")
            self.loss_name, self.loss_fn = loss, None
        elif callable(loss):
            self.loss_name, self.loss_fn = getattr(loss, "__name__", type(loss).__name__), loss
        else:
            raise TypeError(f"loss must be a name or a callable, got {type(loss).__name__}")
        self.metric_fns = [M.resolve(m, self.loss_name) for m in (metrics or [])]
        self.metric_specs = list(metrics or [])  # as given: names can be saved, callables cannot

    def _require_compiled(self) -> None:
        if self.optimizer is None:
            raise RuntimeError("call model.compile(optimizer=..., loss=...) before fit/evaluate/train_on_batch")

    # --------------------------------------------------------------------------- the steps
    def _final_activation(self) -> Optional[Module]:
        last = self.module[-1] if isinstance(self.module, Sequential) and len(self.module) else None
        return last if type(last) in (Softmax, Sigmoid) else None

    def _inputs(self, x: np.ndarray) -> Tensor:
        """The batch as a Tensor in the weights' dtype (Keras users pass ``uint8 / 255.0``, i.e. float64)."""
        dtype = next((p.dtype for p in self.module.parameters() if p.dtype.kind == "f"), np.dtype(np.float32))
        return Tensor(x if x.dtype == dtype else x.astype(dtype))

    def _forward(self, x: np.ndarray) -> tuple:
        """``(outputs, logits)``: logits skip a final Softmax/Sigmoid when the loss is its cross-entropy."""
        if self._input_shape is None:
            self._input_shape = tuple(x.shape[1:])
        inputs = self._inputs(x)
        final = self._final_activation()
        pairs = {Softmax: ("sparse_categorical_crossentropy", "categorical_crossentropy"),
                 Sigmoid: ("binary_crossentropy",)}
        fused = (final is not None and self.loss_fn is None and self.loss_name in pairs[type(final)]
                 # Only a plain Sequential without hooks can be run up to its last layer instead.
                 and type(self.module).forward is Sequential.forward and not self.module._forward_hooks
                 and not self.module._forward_pre_hooks and not self.module._backward_hooks
                 and not self.module._backward_pre_hooks)
        if fused:
            logits = self.module[:-1](inputs)
            return final(logits), logits
        out = self.module(inputs)
        return out, out

    def _loss(self, outputs: Tensor, logits: Tensor, y: np.ndarray) -> Tensor:
        if self.loss_fn is not None:
            return self.loss_fn(outputs, Tensor(y))
        name, fused = self.loss_name, logits is not outputs
        if name == "sparse_categorical_crossentropy":
            return F.cross_entropy(logits, Tensor(y.astype(np.int64)))
        if name == "categorical_crossentropy":
            return F.cross_entropy(logits, Tensor(y.astype(logits.dtype)))
        if name == "binary_crossentropy":
            target = Tensor(y.reshape(outputs.shape).astype(outputs.dtype))
            if fused or self._final_activation() is None:
                return F.binary_cross_entropy_with_logits(logits, target)
            return F.binary_cross_entropy(outputs, target)
        target = Tensor(y.reshape(outputs.shape).astype(outputs.dtype))
        return F.mse_loss(outputs, target) if name in ("mse", "mean_squared_error") else F.l1_loss(outputs, target)

    def _probabilities(self, outputs: Tensor, logits: Tensor) -> np.ndarray:
        """What metrics see: probabilities for binary cross-entropy on logits, outputs otherwise."""
        if self.loss_name == "binary_crossentropy" and logits is outputs:
            return F.sigmoid(outputs).numpy()
        return outputs.numpy()

    def train_step(self, batch: tuple) -> dict:
        """One optimisation step on ``batch = (x, y)``; returns the batch's loss and metrics.

        A non-finite loss raises before the update and restores the buffers the forward pass moved
        (BatchNorm statistics), so no NaN ever reaches the model's state.
        """
        x, y = batch
        buffers = [(b, b.data.copy()) for b in self.module.buffers()]  # small: BatchNorm statistics
        outputs, logits = self._forward(x)
        loss = self._loss(outputs, logits, y)
        value = float(loss.item())
        if not np.isfinite(value):
            for buffer, saved in buffers:  # the forward pass already moved them: put them back
                buffer.data = saved
            raise _NonFiniteLoss(value)
        self.optimizer.zero_grad()
        loss.backward()
        if not all(np.isfinite(p.grad.data).all() for p in self.module.parameters() if p.grad is not None):
            for buffer, saved in buffers:
                buffer.data = saved
            raise _NonFiniteLoss(float("inf"))  # an overflowing gradient: skip the update, stop
        self.optimizer.step()
        logs = {"loss": value}
        probabilities = self._probabilities(outputs, logits)
        logs.update({name: float(fn(probabilities, y)) for name, fn in self.metric_fns})
        return logs

    def test_step(self, batch: tuple) -> dict:
        """Loss and metrics of ``batch = (x, y)`` without updating anything."""
        x, y = batch
        with no_grad():
            outputs, logits = self._forward(x)
            logs = {"loss": float(self._loss(outputs, logits, y).item())}
        probabilities = self._probabilities(outputs, logits)
        logs.update({name: float(fn(probabilities, y)) for name, fn in self.metric_fns})
        return logs

    # ------------------------------------------------------------------------------ the loop
    def _keras_result(self, logs: dict) -> Any:
        """What Keras returns: the loss alone without metrics, else ``[loss, *metrics]``."""
        return logs["loss"] if not self.metric_fns else [logs["loss"]] + [logs[n] for n, _ in self.metric_fns]

    @staticmethod
    def _mean_logs(totals: dict, count: int) -> dict:
        return {k: v / count for k, v in totals.items()} if count else {}

    def _run_epoch(self, data: Any, callbacks: C.CallbackList) -> tuple:
        """Train one epoch; returns ``(logs, batches, stopped_by_non_finite)``."""
        totals: dict = {}
        seen = batches = 0
        for index, (x, y) in enumerate(data):
            if y is None:
                raise ValueError("fit needs targets: pass y, or batches of (x, y)")
            callbacks.call("on_train_batch_begin", index, {})
            try:
                logs = self.train_step((x, y))
            except _NonFiniteLoss as bad:
                callbacks.call("on_train_batch_end", index, {"loss": float(bad.args[0])})
                self.stop_training = True
                return self._mean_logs(totals, seen), batches, True
            n = len(x)
            seen, batches = seen + n, batches + 1
            for k, v in logs.items():
                totals[k] = totals.get(k, 0.0) + v * n
            callbacks.call("on_train_batch_end", index, self._mean_logs(totals, seen))
            if self.stop_training:
                break
        return self._mean_logs(totals, seen), batches, False

    def fit(self, x: Any, y: Any = None, batch_size: int = 32, epochs: int = 1, verbose: int = 1,
            callbacks: Optional[Sequence[C.Callback]] = None, validation_split: float = 0.0,
            validation_data: Optional[tuple] = None, shuffle: bool = True, initial_epoch: int = 0) -> C.History:
        """Train for ``epochs`` epochs; returns a :class:`~cnnkit.training.callbacks.History`.

        Args:
            x, y: arrays or Tensors of samples and targets, or ``x`` an iterable of ``(x, y)`` batches.
            batch_size: samples per step (arrays only).
            epochs: index of the last epoch (training runs ``initial_epoch`` .. ``epochs − 1``).
            verbose: 0 silent, 1 progress bar, 2 one line per epoch.
            callbacks: extra callbacks; History, the progress bar and TerminateOnNaN are always added.
            validation_split: fraction of the (last) samples held out for validation.
            validation_data: ``(x_val, y_val)`` evaluated after each epoch (``val_*`` logs).
            shuffle: reshuffle the samples each epoch (cnnkit's seeded generator).
            initial_epoch: the epoch to start from (resuming).
        """
        self._require_compiled()
        if validation_split and validation_data is None:
            if y is None:
                raise ValueError("validation_split needs x and y arrays; with an iterable of batches pass "
                                 "validation_data instead")
            (x, y), validation_data = D.split_validation(x, y, validation_split)
        if isinstance(validation_data, tuple) and len(validation_data) in (2, 3):
            validation_data = tuple(validation_data[:2])  # Keras's (x, y[, sample_weight])
        elif validation_data is not None:
            validation_data = (validation_data, None)  # an iterable of (x, y) batches
        data = D.batches(x, y, batch_size, shuffle, fold_single_tail=True)
        self.history = C.History()
        extra = list(callbacks or [])
        if not any(isinstance(cb, C.TerminateOnNaN) for cb in extra):
            extra.append(C.TerminateOnNaN())
        # Backups go last, so they capture the epoch after every other callback (schedulers) ran.
        backups = [cb for cb in extra if isinstance(cb, C.BackupAndRestore)]
        others = [cb for cb in extra if not isinstance(cb, C.BackupAndRestore)]
        cbs = C.CallbackList([self.history, *others, C.ProgressBar(verbose), *backups], self)
        self.callbacks = cbs.callbacks  # BackupAndRestore saves the schedulers among them
        self.stop_training, self.stopped_by_non_finite = False, False
        self._fit_epochs, self._steps_per_epoch = epochs, len(data)
        self._resume_epoch, self._restored_history = None, {}
        self.module.train()
        cbs.call("on_train_begin", {})
        start = self._resume_epoch if self._resume_epoch is not None else initial_epoch
        for key, values in self._restored_history.items():
            self.history.history[key] = list(values)
        self.history.epoch = list(range(start - len(next(iter(self._restored_history.values()), [])), start)) \
            if self._restored_history else []
        for epoch in range(start, epochs):
            self._epoch = epoch
            self.module.train()
            cbs.call("on_epoch_begin", epoch, {})
            if hasattr(x, "set_epoch"):  # a DataLoader's order then depends on the epoch only (resume)
                x.set_epoch(epoch)
            logs, batches, non_finite = self._run_epoch(data, cbs)
            self.stopped_by_non_finite = non_finite
            if non_finite and batches == 0:
                break  # nothing good happened in this epoch: nothing to report or checkpoint
            if batches == 0:
                warnings.warn(f"fit: the training data produced no batches in epoch {epoch + 1} (a one-shot "
                              "iterable is exhausted after one epoch); stopping. Pass arrays or a re-iterable "
                              "loader to train for several epochs.", UserWarning, stacklevel=2)
                break
            if validation_data is not None and not non_finite:
                val = self.evaluate(*validation_data, batch_size=batch_size, verbose=0, return_dict=True,
                                    callbacks=cbs)
                logs.update({f"val_{k}": v for k, v in val.items()})
            logs["lr"] = float(self.optimizer.param_groups[0]["lr"])
            cbs.call("on_epoch_end", epoch, logs)
            if self.stop_training:
                break
        cbs.call("on_train_end", {})
        self.module.eval()
        return self.history

    def evaluate(self, x: Any, y: Any = None, batch_size: int = 32, verbose: int = 1,
                 return_dict: bool = False, callbacks: Optional[Sequence[C.Callback]] = None) -> Any:
        """Loss and metrics over ``(x, y)``: ``[loss, *metrics]`` as Keras returns (the loss alone
        without metrics; a dict with ``return_dict=True``). Callbacks get the ``on_test_*`` hooks."""
        self._require_compiled()
        cbs = callbacks if isinstance(callbacks, C.CallbackList) else C.CallbackList(list(callbacks or []), self)
        was_training = self.module.training
        self.module.eval()
        totals, seen = {}, 0
        cbs.call("on_test_begin", {})
        try:
            for index, (x_batch, y_batch) in enumerate(D.batches(x, y, batch_size, shuffle=False)):
                if y_batch is None:
                    raise ValueError("evaluate needs targets: pass y, or batches of (x, y)")
                cbs.call("on_test_batch_begin", index, {})
                logs = self.test_step((x_batch, y_batch))
                seen += len(x_batch)
                for k, v in logs.items():
                    totals[k] = totals.get(k, 0.0) + v * len(x_batch)
                cbs.call("on_test_batch_end", index, self._mean_logs(totals, seen))
        finally:
            self.module.train(was_training)
        if not seen:
            raise ValueError("evaluate: the data produced no batches (an empty or exhausted iterable?)")
        result = self._mean_logs(totals, seen)
        cbs.call("on_test_end", dict(result))
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in result.items()))
        if return_dict:
            return result
        return self._keras_result(result)

    def predict(self, x: Any, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """The model's outputs for ``x`` (eval mode, no graph), as one NumPy array."""
        was_training = self.module.training
        self.module.eval()
        outputs = []
        try:
            with no_grad():
                for x_batch, _ in D.batches(x, None, batch_size, shuffle=False):
                        outputs.append(self.module(self._inputs(x_batch)).numpy())
        finally:
            self.module.train(was_training)
        return np.concatenate(outputs, axis=0)

    def train_on_batch(self, x: Any, y: Any) -> Any:
        """One step on one batch; returns ``[loss, *metrics]`` (the loss alone without metrics)."""
        self._require_compiled()
        self.module.train()
        logs = self.train_step((D.as_array(x, "x"), D.as_array(y, "y")))
        return self._keras_result(logs)

    def test_on_batch(self, x: Any, y: Any) -> Any:
        """Loss and metrics of one batch, without updating."""
        self._require_compiled()
        self.module.eval()
        logs = self.test_step((D.as_array(x, "x"), D.as_array(y, "y")))
        return self._keras_result(logs)

    def save(self, path: str, **metadata: Any) -> str:
        """Save architecture, weights, optimizer state and compile settings to one verified file
        (see :func:`cnnkit.load_model`); layers must be cnnkit's own (custom Modules cannot be rebuilt)."""
        from cnnkit.training.serialization import save_model

        return save_model(self, path, **metadata)

    def summary(self, input_shape: Optional[Sequence[int]] = None, **kwargs: Any) -> Any:
        """Print and return :func:`cnnkit.summary` (the input shape defaults to the one seen in fit)."""
        from cnnkit.training.summary import summary

        shape = input_shape if input_shape is not None else self._input_shape
        if shape is None:
            raise ValueError("summary needs input_shape (one sample's shape, e.g. (1, 28, 28)) before the model "
                             "has seen data")
        return summary(self.module, shape, **kwargs)
