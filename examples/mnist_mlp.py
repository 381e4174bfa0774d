"""Train a two-layer perceptron on MNIST with nothing but cnnkit's autograd core.

This is the foundation's demo: tensors, matmul, ReLU, a numerically stable softmax
cross-entropy written from primitives, and plain SGD written out by hand. MNIST comes from the
copy embedded in the package (or ``--data DIR``); ``cnnkit train`` trains real CNNs.

Run:  python examples/mnist_mlp.py [--epochs 2] [--data DIR]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import cnnkit

def load(split: str, data: str = None) -> tuple:
    """MNIST (embedded in the package) as normalised flat float32 rows and int64 labels."""
    (x_train, y_train), (x_test, y_test) = cnnkit.datasets.mnist.load_data(data)
    images, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
    x = (images.reshape(len(images), -1).astype(np.float32) / 255.0 - 0.1307) / 0.3081
    return x, labels.astype(np.int64)


def cross_entropy(logits: cnnkit.Tensor, labels: np.ndarray) -> cnnkit.Tensor:
    """Mean negative log-likelihood of the softmax, stabilised by subtracting the row max."""
    shifted = logits - logits.max(dim=1, keepdim=True).detach()
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs[np.arange(len(labels)), labels].mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="directory with the MNIST files (default: the embedded copy)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = cnnkit.manual_seed(args.seed)
    x_train, y_train = load("train", args.data)
    x_test, y_test = load("test", args.data)

    def init(fan_in: int, fan_out: int) -> cnnkit.Tensor:  # He initialisation for ReLU
        return cnnkit.randn(fan_in, fan_out) * float(np.sqrt(2.0 / fan_in))

    w1, b1 = init(784, 256), cnnkit.zeros(256)
    w2, b2 = init(256, 10), cnnkit.zeros(10)
    params = [w1, b1, w2, b2]
    for p in params:
        p.requires_grad = True

    def forward(x: np.ndarray) -> cnnkit.Tensor:
        return (cnnkit.tensor(x) @ w1 + b1).relu() @ w2 + b2

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        losses = []
        for i in range(0, len(order), args.batch_size):
            batch = order[i:i + args.batch_size]
            loss = cross_entropy(forward(x_train[batch]), y_train[batch])
            for p in params:
                p.grad = None
            loss.backward()
            with cnnkit.no_grad():
                for p in params:
                    p.sub_(p.grad, alpha=args.lr)
            losses.append(loss.item())
        with cnnkit.no_grad():
            predictions = forward(x_test).argmax(dim=1).numpy()
        accuracy = float((predictions == y_test).mean())
        print(f"epoch {epoch}/{args.epochs}: train loss {np.mean(losses):.4f}, "
              f"test accuracy {accuracy:.2%}, {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
