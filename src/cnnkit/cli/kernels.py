"""``cnnkit kernels [IMAGE] [--out PATH]``: the slides' classic kernels applied to an image.

Writes one PNG with every kernel, its cross-correlation result (what ``conv2d`` computes), its
true-convolution result and their difference. IMAGE is any file Pillow reads (converted to
grayscale, the longer side shrunk to ``--max-size``); without it, the first MNIST test digit.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    """Register the ``kernels`` subcommand on an argparse subparsers object."""
    p = sub.add_parser("kernels", help="apply the slides' classic kernels to an image (PNG figure)",
                       description="Show identity, edge, sharpen and blur kernels applied to an image by "
                                   "cross-correlation and by true convolution, side by side.")
    p.add_argument("image", nargs="?", default=None,
                   help="an image file (any format Pillow reads; default: the first MNIST test digit)")
    p.add_argument("--out", default="kernels.png", help="the PNG to write (default kernels.png)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--max-size", type=int, default=512,
                   help="shrink the image so its longer side is at most this many pixels (default 512)")
    p.add_argument("--dpi", type=int, default=100, help="resolution of the PNG (default 100)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the figure and print where.

    Raises:
        CLIError: ``--out`` exists without ``--force``, a bad option value, or matplotlib/Pillow
            missing. OSError / ValueError: IMAGE missing or not an image. ``cnnkit``'s ``main()``
            prints these as one line and exits with code 2.
    """
    from cnnkit.cli.common import output_path
    from cnnkit.cli.errors import CLIError

    out = output_path(args.out, args.out, ".png", args.force)
    if args.max_size is not None and args.max_size < 3:
        raise CLIError(f"--max-size must be at least 3, got {args.max_size}")
    if args.dpi < 1:
        raise CLIError(f"--dpi must be positive, got {args.dpi}")
    try:
        from cnnkit.viz._deps import save_figure
        from cnnkit.viz.kernels import load_image, plot_kernels

        image = None if args.image is None else load_image(args.image, max_size=args.max_size)
        fig = plot_kernels(image, dpi=args.dpi)
        save_figure(fig, out)
    except ImportError as error:  # matplotlib or Pillow missing: the message names the extra
        raise CLIError(str(error)) from None
    source = args.image or "the first MNIST test digit"
    width, height = (round(v * fig.dpi) for v in fig.get_size_inches())
    print(f"wrote {out} ({width}×{height} px): {source} filtered by {len(fig.axes) // 4 - 1} kernels")
    return 0
