"""The kernel playground: slide values, apply_kernel vs loop references, the figure and the CLI."""

import argparse

import numpy as np
import pytest
from PIL import Image

from cnnkit.cli.errors import CLIError
from cnnkit.cli.kernels import add_parser
from cnnkit.viz import CLASSIC_KERNELS, apply_kernel, load_image, plot_kernels


def _correlate(image, kernel):
    """'same' zero-padded cross-correlation, one output pixel at a time (odd kernels)."""
    kh, kw = kernel.shape
    padded = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)))
    out = np.zeros(image.shape)
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            out[i, j] = sum(kernel[u, v] * padded[i + u, j + v] for u in range(kh) for v in range(kw))
    return out


def _anchored(image, kernel, sign):
    """'same' filtering from the definition, zeros outside the image: out[i, j] = Σ k[u, v] · x[i + s(u − a),
    j + s(v − b)] with s = +1 (cross-correlation) or −1 (true convolution), at the anchor
    (a, b) = ((kH − 1) // 2, (kW − 1) // 2) of PyTorch's 'same' (the centre for odd kernels)."""
    kh, kw = kernel.shape
    a, b = (kh - 1) // 2, (kw - 1) // 2
    out = np.zeros(image.shape)
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            for u in range(kh):
                for v in range(kw):
                    r, c = i + sign * (u - a), j + sign * (v - b)
                    if 0 <= r < image.shape[0] and 0 <= c < image.shape[1]:
                        out[i, j] += kernel[u, v] * image[r, c]
    return out


def _convolve(image, kernel):
    return _anchored(image, kernel, -1)


def test_classic_kernels_have_the_slides_values():
    expected = {
        "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
        "edge_diagonal": [[1, 0, -1], [0, 0, 0], [-1, 0, 1]],
        "edge_laplacian_4": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
        "edge_laplacian_8": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
        "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
        "box_blur": np.ones((3, 3)) / 9,
        "gaussian_blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16,
    }
    assert list(CLASSIC_KERNELS) == list(expected)
    for name, values in expected.items():
        np.testing.assert_allclose(CLASSIC_KERNELS[name], values, rtol=0, atol=1e-15)
    with pytest.raises(ValueError):
        CLASSIC_KERNELS["sharpen"][0, 0] = 7.0  # shared constants are read-only


@pytest.mark.parametrize("name", list(CLASSIC_KERNELS))
def test_classic_kernels_match_loop_references(name):
    image = np.random.default_rng(0).random((7, 9))
    kernel = np.array(CLASSIC_KERNELS[name])
    np.testing.assert_allclose(apply_kernel(image, name), _correlate(image, kernel), atol=1e-12)
    np.testing.assert_allclose(apply_kernel(image, kernel, "convolution"), _convolve(image, kernel), atol=1e-12)


def test_asymmetric_kernel_correlation_and_convolution_differ():
    rng = np.random.default_rng(1)
    image, kernel = rng.random((6, 8)), rng.normal(size=(3, 5))
    corr = apply_kernel(image, kernel, "correlation")
    conv = apply_kernel(image, kernel, "convolution")
    np.testing.assert_allclose(corr, _correlate(image, kernel), atol=1e-12)
    np.testing.assert_allclose(conv, _convolve(image, kernel), atol=1e-12)
    assert not np.allclose(corr, conv)
    valid = apply_kernel(image, kernel, padding="valid")
    assert valid.shape == (4, 4)
    np.testing.assert_allclose(valid, corr[1:5, 2:6], atol=1e-12)


@pytest.mark.parametrize("shape", [(2, 2), (2, 4), (4, 3), (1, 2)])
def test_even_kernels_share_one_anchor_in_both_modes(shape):
    rng = np.random.default_rng(2)
    image, kernel = rng.random((5, 7)), rng.normal(size=shape)
    np.testing.assert_allclose(apply_kernel(image, kernel), _anchored(image, kernel, 1), atol=1e-12)
    np.testing.assert_allclose(apply_kernel(image, kernel, "convolution"), _convolve(image, kernel), atol=1e-12)
    delta = np.zeros(shape)
    delta[(shape[0] - 1) // 2, (shape[1] - 1) // 2] = 1.0  # the anchor cell: the identity either way
    np.testing.assert_allclose(apply_kernel(image, delta), image, atol=1e-12)
    np.testing.assert_allclose(apply_kernel(image, delta, "convolution"), image, atol=1e-12)


@pytest.mark.parametrize("call, error, match", [
    (lambda: apply_kernel(np.zeros((4, 4)), "emboss"), ValueError, "identity, edge_diagonal"),
    (lambda: apply_kernel(np.zeros((4, 4)), np.ones(3)), ValueError, "2-D array"),
    (lambda: apply_kernel(np.zeros((4, 4, 3)), "identity"), ValueError, "grayscale"),
    (lambda: apply_kernel(np.zeros((4, 4)), "identity", mode="conv"), ValueError, "mode"),
    (lambda: apply_kernel(np.zeros((2, 2)), "identity", padding="valid"), ValueError, "does not fit"),
    (lambda: apply_kernel(np.zeros((4, 4)), "identity", padding="full"), ValueError, "padding"),
])
def test_apply_kernel_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_load_image_converts_any_colour_and_shrinks(tmp_path):
    rgb = np.zeros((4, 6, 3), dtype=np.uint8)
    rgb[1, 2] = [255, 0, 0]
    rgb[3, 5] = [255, 255, 255]
    Image.fromarray(rgb).save(tmp_path / "small.png")
    gray = load_image(tmp_path / "small.png")
    assert gray.shape == (4, 6) and gray.dtype == np.float64
    assert gray[3, 5] == 1.0 and gray[0, 0] == 0.0
    assert gray[1, 2] == pytest.approx(round(0.299 * 255) / 255, abs=1 / 255)  # ITU-R 601 luma of red
    Image.fromarray(np.full((40, 100), 128, dtype=np.uint8)).save(tmp_path / "wide.jpg")
    assert load_image(tmp_path / "wide.jpg", max_size=25).shape == (10, 25)


def test_load_image_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="not an image Pillow can read"):
        load_image(tmp_path / "notes.txt")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(IsADirectoryError, match="is a directory; pass one image file inside it"):
        load_image(tmp_path)
    Image.fromarray(np.zeros((4, 6), np.uint8)).save(tmp_path / "ok.png")
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match=rf"max_size must be a positive whole number of pixels or None, got {bad}"):
            load_image(tmp_path / "ok.png", max_size=bad)


def test_plot_kernels_panels_hold_the_results(tmp_path, check_png):
    image = np.random.default_rng(2).random((10, 12))
    path = tmp_path / "k.png"
    kernels = {"sharpen": CLASSIC_KERNELS["sharpen"], "skew": np.array([[0.0, 1.0, 2.0]])}
    fig = plot_kernels(image, path=path, kernels=kernels, include_asymmetric=False, cell=1.0, dpi=60)
    check_png(path, (240, 180))  # 4 columns x (1 input row + 2 kernel rows) inches at 60 dpi
    panels = [ax for ax in fig.axes if ax.images]
    np.testing.assert_allclose(panels[0].images[0].get_array(), image)
    skew_kernel, skew_corr, skew_conv, skew_diff = (ax.images[0].get_array() for ax in panels[5:9])
    np.testing.assert_allclose(skew_kernel, [[0.0, 1.0, 2.0]])
    np.testing.assert_allclose(skew_corr, _correlate(image, np.array([[0.0, 1.0, 2.0]])), atol=1e-12)
    np.testing.assert_allclose(skew_conv, _convolve(image, np.array([[0.0, 1.0, 2.0]])), atol=1e-12)
    np.testing.assert_allclose(skew_diff, skew_conv - skew_corr, atol=1e-12)
    assert [t.get_text() for t in panels[1].texts][:3] == ["0", "-1", "0"]


def _cli(argv):
    parser = argparse.ArgumentParser(prog="cnnkit")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["kernels", *argv])
    return args.run(args)


def test_cli_writes_the_figure_for_a_user_image(tmp_path, check_png, capsys):
    pixels = (np.arange(12 * 16).reshape(12, 16) % 7 * 36).astype(np.uint8)
    Image.fromarray(np.stack([pixels] * 3, axis=-1)).save(tmp_path / "tiny.png")
    out = tmp_path / "figs" / "kernels.png"
    assert _cli([str(tmp_path / "tiny.png"), "--out", str(out), "--dpi", "20"]) == 0
    check_png(out, (160, 360))  # 4 x 2 inches wide, 9 rows x 2 inches, at 20 dpi
    assert "8 kernels" in capsys.readouterr().out

    # nothing is overwritten without --force
    before = out.read_bytes()
    with pytest.raises(CLIError, match="exists; pass --force"):
        _cli([str(tmp_path / "tiny.png"), "--out", str(out)])
    assert out.read_bytes() == before


def test_cli_force_overwrites(tmp_path, check_png, monkeypatch):
    from cnnkit.viz import kernels as playground

    full = playground.plot_kernels
    small = lambda image, dpi: full(image, kernels={}, dpi=dpi, cell=0.5)  # noqa: E731
    monkeypatch.setattr(playground, "plot_kernels", small)  # the full figure is covered above
    Image.fromarray(np.eye(5, dtype=np.uint8) * 255).save(tmp_path / "eye.png")
    out = tmp_path / "kernels.png"
    out.write_bytes(b"old")
    assert _cli([str(tmp_path / "eye.png"), "--out", str(out), "--force", "--dpi", "40"]) == 0
    check_png(out, (80, 40))  # 4 x 0.5 inches by 2 x 0.5 inches (input row + the sobel row), 40 dpi


def test_cli_rejects_a_non_image_and_bad_options(tmp_path):
    (tmp_path / "data.csv").write_text("1,2,3\n")
    out = tmp_path / "k.png"
    with pytest.raises(ValueError, match="not an image Pillow can read"):
        _cli([str(tmp_path / "data.csv"), "--out", str(out)])
    with pytest.raises(FileNotFoundError, match="no such file"):
        _cli([str(tmp_path / "nothing.png"), "--out", str(out)])
    with pytest.raises(CLIError, match="--dpi"):
        _cli(["--dpi", "0", "--out", str(out)])
    with pytest.raises(CLIError, match="--max-size"):
        _cli(["--max-size", "1", "--out", str(out)])
    assert not out.exists()


def test_cli_main_reports_one_line_and_exit_code_2(tmp_path, capsys):
    from cnnkit.cli import main

    (tmp_path / "data.csv").write_text("1,2,3\n")
    if not _registered():
        pytest.skip("cnnkit kernels is not registered in cnnkit.cli yet")
    assert main(["kernels", str(tmp_path / "data.csv"), "--out", str(tmp_path / "k.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnkit kernels: load_image():") and "Traceback" not in err


def _registered():
    import cnnkit.cli as cli

    return "kernels" in getattr(cli, "_OPTIONAL", ()) + getattr(cli, "_COMMANDS", ())


def test_default_image_is_the_first_mnist_test_digit():
    import os

    from cnnkit.datasets import mnist
    from cnnkit.datasets.idx import read_idx
    from cnnkit.viz.kernels import _default_image

    digit = _default_image()
    folder = os.path.join(os.path.dirname(mnist.__file__), "data", "mnist")
    name = next(f for f in os.listdir(folder) if f.startswith("t10k-images"))
    first = read_idx(os.path.join(folder, name))[0]  # read on its own, no checksum: just the first image
    assert digit.shape == (28, 28)
    np.testing.assert_array_equal(digit * 255, first)
