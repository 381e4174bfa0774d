"""How the command line reports a user's mistake: one clear line on stderr and exit code 2.

``main()`` catches the error types below (a wrong path, a corrupted checkpoint, a file that is
not an image, a dataset that cannot be loaded, an invalid argument) and prints
``cnnkit <command>: <message>``; any further lines of the message (e.g. the files a dataset
needs) follow, indented. Anything else is a bug in cnnkit and keeps its traceback; ``--debug``
keeps the traceback for every error. Exit code 2 matches argparse's for a bad command line, so a
script can tell "you asked for something wrong" (2) from "interrupted" (130) and success (0).
"""

from __future__ import annotations

import difflib
import sys
from typing import Iterable, TextIO

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """A mistake in what the user asked for; its message is printed without a traceback."""


class MissingExtra(CLIError):
    """An optional library (matplotlib, Pillow) is needed and not installed."""

    def __init__(self, what: str, library: str) -> None:
        super().__init__(f"{what} needs {library}, which is not installed; install the viz extra: "
                         'pip install "cnnkit[viz]"')


def known_errors() -> tuple:
    """The exception types ``main()`` reports in one line.

    ``OSError`` covers missing files, permissions and Pillow's ``UnidentifiedImageError`` (a
    subclass); ``ValueError`` covers argument validation and ``DatasetError``; ``CheckpointError``
    is a ``RuntimeError`` and is named on its own so other RuntimeErrors keep their traceback.
    """
    from cnnkit.io import CheckpointError

    return (CLIError, CheckpointError, OSError, ValueError)


def report(command: str, error: BaseException, stream: TextIO = None) -> None:
    """Print ``cnnkit <command>: <message>`` (further lines of the message indented) to ``stream``.

    Args:
        command: the subcommand (``""`` for none).
        error: what went wrong; an OSError is said as ``file: reason``.
        stream: default stderr.

    Example:
        >>> report("evaluate", FileNotFoundError(2, "No such file or directory", "run"), sys.stdout)
        cnnkit evaluate: run: No such file or directory
    """
    stream = stream or sys.stderr
    text = str(error).strip() or type(error).__name__
    if isinstance(error, OSError) and error.filename and error.strerror:
        # str(OSError) reads "[Errno 2] No such file or directory: 'x'"; say it plainly.
        text = f"{error.filename}: {error.strerror}"
    first, *rest = text.splitlines()
    prefix = f"cnnkit {command}: " if command else "cnnkit: "
    print(prefix + first, file=stream)
    for line in rest:
        print("  " + line.strip() if line.strip() else "", file=stream)


def suggest(name: str, choices: Iterable[str], what: str) -> CLIError:
    """A :class:`CLIError` for an unknown ``name`` that proposes close matches (difflib).

    Args:
        name: what the user typed.
        choices: the valid names.
        what: ``"model"``, ``"dataset"``.

    Example:
        >>> str(suggest("lenet", ["lenet5", "vgg16"], "model"))
        "unknown model 'lenet'; did you mean lenet5? available: lenet5, vgg16"
    """
    choices = list(choices)
    close = difflib.get_close_matches(name.lower().replace("-", "_"), choices, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return CLIError(f"unknown {what} {name!r}; {hint}available: {', '.join(choices)}")
