"""Training run for test_resume.py's kill -9 test (run as a script, not collected by pytest).

    python resume_worker.py BACKUP_DIR OUT.npz [--epochs N] [--sleep SECONDS] [--seed S]

Trains a small Dropout MLP with Adam on shuffled Gaussian blobs under ``BackupAndRestore(BACKUP_DIR)``,
sleeping ``--sleep`` seconds after each batch (so a test can kill it mid-run), and writes the final
weights, the history and the first epoch it ran to ``OUT.npz`` (atomically, after training ends).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src"))

import cnnkit  # noqa: E402
from cnnkit import nn  # noqa: E402


def data(n: int = 96) -> tuple:
    rng = np.random.default_rng(7)
    centers = np.array([[2, 2], [-2, 2], [2, -2], [-2, -2]], dtype=np.float32)
    y = rng.integers(0, 4, n).astype(np.int64)
    return (centers[y] + 0.8 * rng.normal(size=(n, 2))).astype(np.float32), y


class Sleep(cnnkit.callbacks.Callback):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.first_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.first_epoch is None:
            self.first_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.seconds:
            time.sleep(self.seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("backup_dir")
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    cnnkit.manual_seed(args.seed)
    net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 4))
    model = cnnkit.Model(net)
    model.compile(cnnkit.optim.Adam(net.parameters(), lr=0.02), "sparse_categorical_crossentropy", ["accuracy"])
    sleeper = Sleep(args.sleep)
    x, y = data()
    history = model.fit(x, y, epochs=args.epochs, batch_size=24, shuffle=True, verbose=0,
                        callbacks=[cnnkit.callbacks.BackupAndRestore(args.backup_dir), sleeper])
    arrays = {f"w/{k}": v.numpy() for k, v in net.state_dict().items()}
    arrays.update({f"h/{k}": np.asarray(v, dtype=np.float64) for k, v in history.history.items()})
    arrays["epochs_seen"] = np.asarray(history.epoch)
    arrays["first_epoch"] = np.asarray(sleeper.first_epoch if sleeper.first_epoch is not None else -1)
    tmp = args.out + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
