"""How to install an optional extra, in the form the reader installed rnnbench.

A clone installed with ``pip install -e .`` (or run from its source tree) installs an extra with
``pip install -e '.[plot]'``; an install from a package index with ``pip install 'rnnbench[plot]'``.
The hint a command prints must be the one that works where it runs.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path


@functools.lru_cache(maxsize=1)
def source_tree() -> Path | None:
    """The clone rnnbench is imported from (its folder holds pyproject.toml), or ``None`` for an installed
    package (inside site-packages)."""
    root = Path(__file__).resolve().parent.parent
    if "site-packages" in root.parts or "dist-packages" in root.parts:
        return None
    return root if (root / "pyproject.toml").is_file() else None


def install_command(extra: str) -> str:
    """``pip install -e '.[plot]'`` in a clone (its path when the working folder is elsewhere), else
    ``pip install 'rnnbench[plot]'``."""
    root = source_tree()
    if root is None:
        return f"pip install 'rnnbench[{extra}]'"
    here = Path(os.getcwd()).resolve()
    where = "." if here == root else str(root)
    return f"pip install -e '{where}[{extra}]'"


def install_hint(extra: str) -> str:
    """``install rnnbench[plot] (pip install -e '.[plot]')``: the extra, and the command that installs it here."""
    return f"install rnnbench[{extra}] ({install_command(extra)})"
