"""The model zoo: the slides' parameter counts, shapes, and the registry."""

from __future__ import annotations

import pytest

import cnnkit
from cnnkit import models, nn


@pytest.mark.parametrize("name, params", [("lenet5", 1_256_080), ("mnist_cnn", 1_199_882), ("lenet5_classic", 61_706),
                                          ("cifar_vgg", 3_249_610), ("alexnet", 61_100_840), ("vgg16", 138_357_544)])
def test_parameter_counts(name, params):
    assert cnnkit.count_parameters(models.get(name)) == params


@pytest.mark.parametrize("name", ["lenet5", "mnist_cnn", "lenet5_classic", "cifar_vgg"])
def test_small_models_run_and_classify_ten_classes(name):
    model = models.get(name).eval()
    out = model(cnnkit.zeros(2, *models.input_shape(name)))
    assert out.shape == (2, 10)


def test_lenet5_is_exactly_the_slides_network():
    net = models.lenet5()
    assert isinstance(net, nn.Sequential) and isinstance(net[0], nn.Conv2d)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU", "Linear"]
    s = cnnkit.summary(net, (1, 28, 28), show=False)
    assert [r["output_shape"] for r in s.rows][:6] == [(20, 28, 28), (20, 28, 28), (20, 14, 14), (50, 14, 14),
                                                      (50, 14, 14), (50, 7, 7)]


def test_alexnet_first_layer_as_in_the_slides():
    s = cnnkit.summary(models.alexnet(), (3, 224, 224), show=False)
    assert s.rows[0]["weight_formula"] == "64 × (3 × 11 × 11 + 1)" and s.rows[0]["output_shape"] == (64, 55, 55)


def test_num_classes_and_registry():
    assert models.get("LeNet5", num_classes=3)[-1].out_features == 3
    listing = models.available()
    assert set(listing) == set(models.MODELS) and listing["lenet5"][1] == (1, 28, 28)
    with pytest.raises(ValueError, match=r"unknown model 'resnet'; available: lenet5, mnist_cnn"):
        models.get("resnet")
