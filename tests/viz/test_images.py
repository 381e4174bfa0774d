"""cnnkit.viz.images: the tile grid against an explicit placement loop, PNG encoding, data URIs."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

import cnnkit
from cnnkit.viz import png_data_uri, tile, to_png_bytes


def _reference_grid(tiles, ncols, pad, fill):
    """Place already-normalised tiles (n, h, w[, 3]) into a grid, one pixel at a time."""
    n, h, w = tiles.shape[:3]
    rows = -(-n // ncols)
    extra = tiles.shape[3:]
    grid = np.full((rows * h + (rows - 1) * pad, ncols * w + (ncols - 1) * pad) + extra, fill)
    for k in range(n):
        for i in range(h):
            for j in range(w):
                grid[(k // ncols) * (h + pad) + i, (k % ncols) * (w + pad) + j] = tiles[k, i, j]
    return grid


def test_tile_raw_values_match_explicit_loop():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(7, 4, 5))
    grid = tile(maps, ncols=3, pad=2, normalize=None, pad_value=-9.0)
    assert grid.shape == (3 * 4 + 2 * 2, 3 * 5 + 2 * 2)
    np.testing.assert_array_equal(grid, _reference_grid(maps, 3, 2, -9.0))


def test_tile_each_normalises_every_tile_to_unit_range():
    rng = np.random.default_rng(1)
    maps = rng.normal(size=(4, 3, 3)) * np.array([1, 10, 100, 0.1])[:, None, None]
    grid = tile(maps, pad=1)  # default ncols = ceil(sqrt(4)) = 2
    expected = [(m - m.min()) / (m.max() - m.min()) for m in maps]
    np.testing.assert_allclose(grid, _reference_grid(np.array(expected), 2, 1, 1.0))


def test_tile_all_uses_one_range_and_constant_tile_is_zero():
    maps = np.stack([np.zeros((2, 2)), np.full((2, 2), 4.0), np.arange(4.0).reshape(2, 2)])
    grid = tile(maps, ncols=3, pad=0, normalize="all")
    np.testing.assert_allclose(grid, np.hstack([maps[0], maps[1], maps[2]]) / 4.0)
    each = tile(maps, ncols=3, pad=0, normalize="each")
    np.testing.assert_array_equal(each[:, :4], 0.0)  # constant tiles have no contrast


def test_tile_rgb_filters_and_multichannel_split():
    rng = np.random.default_rng(2)
    weights = rng.normal(size=(5, 3, 2, 2))
    grid = tile(cnnkit.from_numpy(weights), ncols=5, pad=1, normalize=None, pad_value=0.0)
    assert grid.shape == (2, 5 * 2 + 4, 3)
    np.testing.assert_array_equal(grid, _reference_grid(weights.transpose(0, 2, 3, 1), 5, 1, 0.0))
    four = rng.normal(size=(2, 4, 3, 3))
    split = tile(four, ncols=4, pad=0, normalize=None)
    np.testing.assert_array_equal(split[:3, 3:6], four[0, 1])
    np.testing.assert_array_equal(split[3:, 0:3], four[1, 0])


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 2, 2, 2, 2)), "shape"),
    (np.array([[np.nan, 0.0]]), "NaN"),
    (np.zeros((0, 3, 3)), "empty"),
])
def test_tile_rejects_bad_arrays(bad, match):
    with pytest.raises(ValueError, match=match):
        tile(bad)


def test_tile_rejects_bad_options():
    with pytest.raises(ValueError, match="normalize"):
        tile(np.zeros((1, 2, 2)), normalize="per")
    with pytest.raises(ValueError, match="ncols"):
        tile(np.zeros((1, 2, 2)), ncols=0)
    with pytest.raises(TypeError, match="Tensor"):
        tile("not an array")


def test_png_gray_nearest_neighbour_upscale():
    image = np.array([[0.0, 1.0], [0.5, 0.25]])
    png = to_png_bytes(image, scale=3)
    decoded = np.asarray(Image.open(io.BytesIO(png)))
    assert decoded.shape == (6, 6)
    expected = np.round(np.kron(image, np.ones((3, 3))) * 255)
    np.testing.assert_array_equal(decoded, expected)


def test_png_vmin_vmax_and_colormap():
    image = np.array([[0.0, 2.0]])
    decoded = np.asarray(Image.open(io.BytesIO(to_png_bytes(image, vmin=0, vmax=4))))
    np.testing.assert_array_equal(decoded, [[0, 128]])
    rgb = np.asarray(Image.open(io.BytesIO(to_png_bytes(image, cmap="viridis"))))
    assert rgb.shape == (1, 2, 3) and rgb.std() > 0
    with pytest.raises(ValueError, match="colormap"):
        to_png_bytes(image, cmap="no-such-map")


def test_png_rgb_and_data_uri_roundtrip():
    rgb = np.zeros((2, 3, 3))
    rgb[0, 0] = [1.0, 0.0, 0.0]
    rgb[1, 2] = [0.0, 0.0, 2.0]  # clipped to 1
    uri = png_data_uri(rgb, scale=2)
    assert uri.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    assert decoded.shape == (4, 6, 3)
    np.testing.assert_array_equal(decoded[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(decoded[3, 5], [0, 0, 255])


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 2, 4)), "RGB"), (np.zeros(3), "2-D"), (np.array([[np.inf]]), "NaN"),
])
def test_png_rejects_bad_images(bad, match):
    with pytest.raises(ValueError, match=match):
        to_png_bytes(bad)
    with pytest.raises(ValueError, match="scale"):
        to_png_bytes(np.zeros((2, 2)), scale=0)


def test_importing_viz_needs_neither_matplotlib_nor_pillow_and_plotting_leaves_pyplot_alone(tmp_path):
    import os
    import subprocess
    import sys

    # One interpreter for both checks (each start costs about a second): importing loads neither
    # library; plotting then neither imports pyplot nor changes the user's backend.
    code = ("import sys, cnnkit, cnnkit.viz, cnnkit.cli.kernels; "
            "loaded = [m for m in ('matplotlib', 'PIL') if m in sys.modules]; assert not loaded, loaded; "
            f"cnnkit.viz.plot_history({{'loss': [1.0, 0.5]}}, path={str(tmp_path / 'h.png')!r}); "
            "import matplotlib; assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'; "
            "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "MPLBACKEND": "svg"})
    with Image.open(tmp_path / "h.png") as image:
        assert image.format == "PNG" and image.size == (450, 360)


def test_missing_libraries_name_the_install_command(monkeypatch):
    import sys

    from cnnkit.viz import plot_history

    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r'to_png_bytes\(\) needs Pillow.*pip install "cnnkit\[viz\]"'):
        to_png_bytes(np.zeros((2, 2)))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'plot_history\(\) needs matplotlib.*pip install "cnnkit\[viz\]"'):
        plot_history({"loss": [1.0]})

