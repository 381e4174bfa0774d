"""Visualisation: filter and activation grids, training curves, confusion matrices, activation
functions, receptive fields and the classic-kernel playground.

matplotlib and Pillow are optional (``pip install "cnnkit[viz]"``) and imported only inside the
functions that draw, so importing this package needs neither. Every ``plot_*`` function returns
a matplotlib Figure (Agg backend, never shown) and writes a PNG when given ``path=``.
"""

from cnnkit.viz.activations import activation_curves as activation_curves
from cnnkit.viz.activations import plot_activation_functions as plot_activation_functions
from cnnkit.viz.images import png_data_uri as png_data_uri
from cnnkit.viz.images import tile as tile
from cnnkit.viz.images import to_png_bytes as to_png_bytes
from cnnkit.viz.kernels import CLASSIC_KERNELS as CLASSIC_KERNELS
from cnnkit.viz.kernels import apply_kernel as apply_kernel
from cnnkit.viz.kernels import load_image as load_image
from cnnkit.viz.kernels import plot_kernels as plot_kernels
from cnnkit.viz.plots import activation_maps as activation_maps
from cnnkit.viz.plots import plot_activations as plot_activations
from cnnkit.viz.plots import plot_confusion_matrix as plot_confusion_matrix
from cnnkit.viz.plots import plot_filters as plot_filters
from cnnkit.viz.plots import plot_history as plot_history
from cnnkit.viz.receptive import plot_receptive_field as plot_receptive_field
from cnnkit.viz.receptive import receptive_field_map as receptive_field_map

# The HTML inspector (cnnkit.viz.inspector) is imported below by its own lines.
from cnnkit.viz.inspector import Report as Report
from cnnkit.viz.inspector import inspect as inspect
