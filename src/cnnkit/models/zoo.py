"""Model definitions: the slides' networks, classic LeNet-5, a CIFAR-10 VGG, AlexNet and VGG-16.

Every builder returns an ``nn.Sequential`` (index 0 is the first layer) with PyTorch's default
initialisation drawn from cnnkit's seeded generator.
"""

from __future__ import annotations

from typing import Sequence

from cnnkit import nn


def lenet5(num_classes: int = 10) -> nn.Sequential:
    """The slides' LeNet-5 for 1×28×28 inputs: 1,256,080 parameters.

    Conv 20@5×5 pad 2 – ReLU – MaxPool 2/2 – Conv 50@5×5 pad 2 – ReLU – MaxPool 2/2 – Flatten –
    Linear 2450→500 – ReLU – Linear 500→10.

    Args:
        num_classes: outputs of the last layer.

    Example:
        >>> import cnnkit
        >>> cnnkit.count_parameters(cnnkit.models.lenet5())
        1256080
    """
    return nn.Sequential(
        nn.Conv2d(1, 20, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(20, 50, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(2450, 500), nn.ReLU(), nn.Linear(500, num_classes),
    )


def mnist_cnn(num_classes: int = 10) -> nn.Sequential:
    """The slides' 4-layer Keras MNIST network for 1×28×28 inputs: 1,199,882 parameters.

    Conv 32@3×3 – ReLU – Conv 64@3×3 – ReLU – MaxPool 2 – Dropout 0.25 – Flatten –
    Linear 9216→128 – ReLU – Dropout 0.5 – Linear 128→10.

    Example:
        >>> import cnnkit
        >>> cnnkit.count_parameters(cnnkit.models.mnist_cnn())
        1199882
    """
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, num_classes),
    )


def lenet5_classic(num_classes: int = 10) -> nn.Sequential:
    """LeCun et al. (1998)'s LeNet-5 for 1×32×32 inputs: 6 and 16 maps, tanh, average pooling.

    C3 is fully connected to S2 here (the paper's partial connection table was a hardware
    economy), so the network has 61,706 parameters.

    Example:
        >>> import cnnkit
        >>> cnnkit.count_parameters(cnnkit.models.lenet5_classic())
        61706
    """
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes),
    )


def _vgg_features(plan: Sequence, in_channels: int, batch_norm: bool) -> list:
    layers: list = []
    for item in plan:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        layers.append(nn.Conv2d(in_channels, item, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(item))
        layers.append(nn.ReLU())
        in_channels = item
    return layers


def cifar_vgg(num_classes: int = 10) -> nn.Sequential:
    """A VGG-style network for 3×32×32 CIFAR-10 images, with BatchNorm and Dropout.

    Three blocks of two 3×3 conv–BN–ReLU layers (64, 128, 256 channels), each followed by 2×2 max
    pooling and dropout, then Linear 4096→512–BN–ReLU–Dropout–Linear 512→10 (about 3.25 M
    parameters). Recipe expected to reach ≥ 88 % test accuracy on the real CIFAR-10: SGD with
    momentum 0.9 and weight decay 5e-4, OneCycleLR up to 0.1, batch 128, 30 epochs, random crop
    (pad 4) and horizontal flips, per-channel normalisation.

    Example:
        >>> import cnnkit
        >>> cnnkit.models.cifar_vgg()(cnnkit.zeros(2, 3, 32, 32)).shape
        (2, 10)
    """
    layers: list = []
    in_channels = 3
    for width, dropout in ((64, 0.2), (128, 0.3), (256, 0.4)):
        layers += _vgg_features([width, width, "M"], in_channels, batch_norm=True)
        layers.append(nn.Dropout(dropout))
        in_channels = width
    layers += [nn.Flatten(), nn.Linear(256 * 4 * 4, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(),
               nn.Dropout(0.5), nn.Linear(512, num_classes)]
    return nn.Sequential(*layers)


def alexnet(num_classes: int = 1000) -> nn.Sequential:
    """AlexNet for 3×224×224 inputs (the single-GPU variant used by torchvision: 64 first-layer
    filters of 3×11×11, as in the slides), 61,100,840 parameters. For summaries: ImageNet is not
    available offline.

    Example:
        >>> import cnnkit
        >>> cnnkit.count_parameters(cnnkit.models.alexnet())
        61100840
    """
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.AdaptiveAvgPool2d((6, 6)), nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, num_classes),
    )


def vgg16(num_classes: int = 1000) -> nn.Sequential:
    """VGG-16 (configuration D, no BatchNorm) for 3×224×224 inputs: 138,357,544 parameters.

    Example:
        >>> import cnnkit
        >>> cnnkit.count_parameters(cnnkit.models.vgg16())
        138357544
    """
    plan = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    return nn.Sequential(
        *_vgg_features(plan, 3, batch_norm=False), nn.AdaptiveAvgPool2d((7, 7)), nn.Flatten(),
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, num_classes),
    )
