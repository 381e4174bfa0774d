"""The inspector page in a real headless browser (Chromium's own --dump-dom and --screenshot).

Skips when no Chromium binary is installed (CI installs the distribution's ``chromium`` package).
The page is opened from a file:// URL with the network unused: every panel must be in the
rendered DOM and every image must decode (checked by a probe script added to a copy of the page).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import cnnkit
from cnnkit import nn
from cnnkit.viz import inspect

pytest.importorskip("PIL")

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((path for path in map(shutil.which, BROWSERS) if path), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium binary (apt-get install chromium)")

# Counts the decoded images once the page has loaded and writes the count into the DOM.
PROBE = ("<script>window.addEventListener('load',function(){var n=0,a=document.images;for(var i=0;i<a.length;i++)"
         "{if(a[i].complete&&a[i].naturalWidth>0)n++;}document.body.setAttribute('data-decoded',n+'/'+a.length);"
         "});</script>")


def _chromium(tmp_path, *args):
    command = [BROWSER, "--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={tmp_path / 'profile'}", *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    cnnkit.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(64, 10))
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    report = inspect(model, x, [3, 7])
    directory = tmp_path_factory.mktemp("browser")
    return report, report.save_html(directory / "report.html"), directory


def test_panels_are_in_the_rendered_dom_and_images_decode(page):
    report, path, directory = page
    probe = directory / "probe.html"
    probe.write_text(open(path, encoding="utf-8").read().replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _chromium(directory, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()).stdout
    ids = re.findall(r"<div class=\"layer-panel[^\"]*\" id=\"([^\"]+)\"", dom)
    assert ids == [r.panel_id for r in report.layers]
    images = len(re.findall(r"<img ", open(path, encoding="utf-8").read()))
    assert f'data-decoded="{images}/{images}"' in dom
    assert "<table class=\"summary\">" in dom


def test_screenshot_is_a_non_blank_page(page):
    from PIL import Image

    _, path, directory = page
    shot = directory / "screenshot.png"
    _chromium(directory, "--window-size=1200,1600", "--hide-scrollbars", f"--screenshot={shot}",
              "file://" + os.path.abspath(path))
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == (1200, 1600)
        pixels = np.asarray(image.convert("L"))
    # Text, tables and pictures: many grey levels, and plenty of non-background pixels.
    assert len(np.unique(pixels)) > 50
    assert (pixels < 200).mean() > 0.02
