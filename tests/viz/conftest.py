"""Shared checks for the viz tests: a written PNG is valid, non-blank and of the expected size."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("PIL")


@pytest.fixture
def check_png():
    """``check_png(path, (width, height))``: parse with Pillow, check the size and that it is not blank."""
    from PIL import Image

    def check(path, size):
        with Image.open(path) as image:
            assert image.format == "PNG"
            image.verify()  # the chunks and CRCs are intact
        with Image.open(path) as image:
            assert image.size == tuple(size)
            pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
        assert pixels.std() > 0, f"{path} is blank"
        return pixels

    return check
