"""Visualisation: filter and activation grids, training curves, confusion matrices, activation
functions, receptive fields and the classic-kernel playground.

matplotlib and Pillow are optional (``pip install "cnnkit[viz]"``) and imported only inside the
functions that draw, so importing this package needs neither.
"""

from cnnkit.viz.images import png_data_uri as png_data_uri
from cnnkit.viz.images import tile as tile
from cnnkit.viz.images import to_png_bytes as to_png_bytes
