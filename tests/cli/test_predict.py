"""``cnnkit predict`` and its MNIST-style preprocessing, on images drawn with Pillow."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cnnkit.cli import main
from cnnkit.cli.errors import CLIError
from cnnkit.cli.predict import preprocess_digit, preprocess_image, softmax


def _seven(size=(200, 100), ink="black", paper="white", mode="RGB") -> Image.Image:
    image = Image.new(mode, size, paper)
    ImageDraw.Draw(image).line([(80, 20), (125, 20), (100, 85)], fill=ink, width=9)
    return image


def _centre_of_mass(a: np.ndarray) -> tuple:
    rows, cols = np.indices(a.shape)
    return (rows * a).sum() / a.sum(), (cols * a).sum() / a.sum()


def _ink_box(a: np.ndarray) -> tuple:
    rows, cols = np.nonzero(a > 0)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def test_dark_digit_on_white_becomes_an_mnist_sample():
    digit = preprocess_digit(_seven())
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.min() == 0.0 and digit.max() == 1.0
    # White on black: the field's border is background (centring by mass moves a 7 down and left
    # of the box's centre, as in MNIST, but keeps it inside the field).
    assert not digit[0].any() and not digit[-1].any() and not digit[:, 0].any() and not digit[:, -1].any()
    assert digit[7, 10] == 1.0  # the top bar of the 7, full ink
    # Fitted into 20×20: the drawing is 66 px tall and ~54 px wide, so it becomes 20 tall.
    h, w = _ink_box(digit)
    assert h == 20 and w <= 20
    r, c = _centre_of_mass(digit)
    assert abs(r - 13.5) <= 0.5 and abs(c - 13.5) <= 0.5


def test_aspect_ratio_is_kept():
    page = np.full((120, 90), 255, np.uint8)
    page[30:90, 40:60] = 0  # a 60×20 dark bar
    digit = preprocess_digit(page)
    assert _ink_box(digit) == (20, 7)  # 20 · 20/60 = 6.7 columns
    assert np.all(digit[digit > 0][:] > 0) and digit.max() == 1.0
    r, c = _centre_of_mass(digit)
    assert abs(r - 13.5) <= 0.5 and abs(c - 13.5) <= 0.5


def test_light_on_dark_is_not_inverted_and_alpha_counts_as_paper():
    reference = preprocess_digit(_seven())
    np.testing.assert_allclose(preprocess_digit(_seven(ink="white", paper="black")), reference, atol=1e-6)
    np.testing.assert_allclose(preprocess_digit(_seven(ink=(0, 0, 0, 255), paper=(0, 0, 0, 0), mode="RGBA")),
                               reference, atol=1e-6)
    gray = np.asarray(_seven().convert("L"))
    np.testing.assert_allclose(preprocess_digit(gray), reference, atol=1e-6)
    np.testing.assert_allclose(preprocess_digit(gray / 255.0), reference, atol=1e-6)


def test_blank_image_is_refused():
    with pytest.raises(CLIError, match="blank"):
        preprocess_digit(np.full((30, 30), 200, np.uint8))


def test_softmax_matches_its_definition():
    logits = np.array([[1000.0, 1001.0, 999.0], [0.0, 0.0, 0.0]])
    e = np.exp(np.array([0.0, 1.0, -1.0]))
    np.testing.assert_allclose(softmax(logits), [e / e.sum(), [1 / 3] * 3], rtol=1e-12)


def test_predict_prints_class_and_probabilities(trained_run, tmp_path, capsys):
    # The shared run learned: class = row of a bright horizontal bar. A dark bar drawn low on paper
    # lands, after centring, in the middle rows of the field.
    path = tmp_path / "seven.png"
    _seven().save(path)
    jpeg = tmp_path / "big.jpg"
    _seven(size=(640, 480)).resize((640, 480)).save(jpeg, quality=90)
    assert main(["predict", trained_run, str(path), str(jpeg)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    for head, probs in ((lines[0], lines[1]), (lines[2], lines[3])):
        match = re.match(r"^(.*): (\d) \((\d+\.\d)%\)$", head)
        assert match, head
        values = [float(v) for v in probs.split()[1::2]]
        assert [int(v) for v in probs.split()[0::2]] == list(range(10))
        assert abs(sum(values) - 1) < 0.01 and max(values) == pytest.approx(float(match.group(3)) / 100, abs=1e-3)
    assert main(["predict", trained_run, str(path), "--top", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()[1].split()) == 6


@pytest.mark.parametrize("content, message", [
    (b"not an image at all", "not an image file Pillow can read"),
    (b"", "not an image file Pillow can read"),
])
def test_non_images_give_one_line(content, message, trained_run, tmp_path, capsys):
    path = tmp_path / "digit.png"
    path.write_bytes(content)
    assert main(["predict", trained_run, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnkit predict: ") and message in err and "Traceback" not in err


def test_truncated_image_and_missing_file(trained_run, tmp_path, capsys):
    whole = tmp_path / "whole.png"
    _seven().save(whole)
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.read_bytes()[:200])
    assert main(["predict", trained_run, str(cut)]) == 2
    assert "cut.png: the image is damaged" in capsys.readouterr().err
    assert main(["predict", trained_run, str(tmp_path / "nothing.png")]) == 2
    err = capsys.readouterr().err
    assert err == f"cnnkit predict: {tmp_path / 'nothing.png'}: No such file or directory\n"


def test_without_pillow_the_message_names_the_extra(trained_run, tmp_path, monkeypatch, capsys):
    path = tmp_path / "seven.png"
    _seven().save(path)
    monkeypatch.setitem(sys.modules, "PIL", None)
    assert main(["predict", trained_run, str(path)]) == 2
    err = capsys.readouterr().err
    assert "needs Pillow" in err and 'pip install "cnnkit[viz]"' in err and len(err.splitlines()) == 1


def test_fashion_and_colour_images_fill_the_field():
    # Fashion-MNIST: a dark 40×80 box on white → light on black, longer side 28, centred.
    page = np.full((100, 100), 255, np.uint8)
    page[10:90, 30:70] = 0
    item = preprocess_image(page, "fashion_mnist", (1, 28, 28))
    assert item.shape == (1, 28, 28) and item.max() == 255.0
    assert _ink_box(item[0]) == (28, 14)
    assert np.nonzero(item[0].any(axis=0))[0].tolist() == list(range(7, 21))
    # CIFAR-10: the centre square of a 60×40 image, resized to 32×32, channels first, 0..255.
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, 10:50] = (255, 128, 0)  # the central 40 columns: the square kept
    out = preprocess_image(rgb, "cifar10", (3, 32, 32))
    assert out.shape == (3, 32, 32)
    np.testing.assert_allclose(out[:, 16, 16], [255, 128, 0])
    np.testing.assert_allclose(out.reshape(3, -1).min(axis=1), [255, 128, 0])  # nothing outside it kept


def test_report_on_the_shared_run(trained_run, tiny_mnist, tmp_path, capsys):
    pytest.importorskip("cnnkit.cli.report")
    out = tmp_path / "page.html"
    assert main(["report", trained_run, "--out", str(out), "--images", "2"]) == 0
    assert out.read_text().lstrip().lower().startswith("<!doctype html")


def test_sixteen_bit_and_rotated_files(tmp_path):
    from cnnkit.cli.predict import load_image

    reference = preprocess_digit(_seven())
    wide = (np.asarray(_seven().convert("L"), dtype=np.uint16) * 257)  # 0..65535
    path = tmp_path / "deep.png"
    Image.fromarray(wide).save(path)
    assert load_image(str(path)).mode.startswith("I")
    np.testing.assert_allclose(preprocess_digit(load_image(str(path))), reference, atol=1e-6)
    # Stored rotated by 90° with EXIF orientation 6 ("rotate 90° clockwise to view"): read upright.
    sideways = _seven().transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    jpeg = tmp_path / "phone.jpg"
    sideways.save(jpeg, exif=exif, quality=95)
    upright = load_image(str(jpeg))
    assert upright.size == (200, 100)
    np.testing.assert_allclose(preprocess_digit(upright), reference, atol=0.08)


def test_an_image_over_pillows_pixel_limit_gives_one_line(trained_run, tmp_path, monkeypatch, capsys):
    # Was: PIL.Image.DecompressionBombError (not an OSError) escaped with a traceback.
    from PIL import Image

    path = tmp_path / "big.png"
    Image.new("1", (100, 60), 1).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 6,000 pixels is then over twice the limit
    assert main(["predict", trained_run, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cnnkit predict: {path}: too large for Pillow to open safely") and "shrink it" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_blank_image_or_a_directory_is_named_in_the_error(trained_run, tmp_path, capsys):
    from PIL import Image

    good, blank = tmp_path / "seven.png", tmp_path / "white.png"
    _seven().save(good)
    Image.new("L", (1, 1), 255).save(blank)
    # Was: "the image is blank (...)" without saying which of the files.
    assert main(["predict", trained_run, str(good), str(blank)]) == 2
    assert capsys.readouterr().err.startswith(f"cnnkit predict: {blank}: the image is blank")
    assert main(["predict", trained_run, str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"cnnkit predict: {tmp_path}: is a directory, not an image file; pass the "
                                       "image files themselves\n")


def test_a_dataset_the_model_cannot_take_names_the_option(trained_run, tmp_path, capsys):
    # Was: Conv2d's channel error and the model's shape listing on many lines.
    path = tmp_path / "seven.png"
    _seven().save(path)
    assert main(["predict", trained_run, str(path), "--dataset", "cifar10"]) == 2
    assert capsys.readouterr().err == ("cnnkit predict: cifar10 has 3 channel(s) but the model expects 1 (input "
                                       "(1, 32, 32)); pass the --dataset the model was trained on\n")


@pytest.mark.parametrize("mode", ["1", "P", "I;16", "CMYK", "LA", "F"])
def test_a_large_image_is_reduced_on_loading_to_the_same_digit(mode, tmp_path):
    # Was: a 64-megapixel PNG took 1.7 GB (float64 copies at full size) for a 28×28 input.
    from PIL import Image, ImageDraw

    from cnnkit.cli.predict import MAX_SIDE, load_image, preprocess_digit

    page = Image.new("L", (2100, 1400), 255)
    ImageDraw.Draw(page).line([(1050, 200), (1050, 1200)], fill=0, width=120)
    if mode == "I;16":
        image = Image.fromarray(np.asarray(page, np.uint16) * 257)
    elif mode == "F":
        image = Image.fromarray(np.asarray(page, np.float32) / 255)
    else:
        image = page.convert(mode)
    path = tmp_path / ("big.tiff" if mode in ("I;16", "F", "CMYK") else "big.png")
    image.save(path)
    loaded = load_image(str(path))
    assert loaded.size == (700, 467) and max(loaded.size) <= MAX_SIDE  # reduced by 3, the ceiling of 2100/1024
    np.testing.assert_allclose(preprocess_digit(loaded), preprocess_digit(page), atol=0.05)
