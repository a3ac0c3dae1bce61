"""fin360: a customer-360 lakehouse for retail banking on Apache Spark."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

try:
    __version__ = metadata.version("fin360")
except metadata.PackageNotFoundError:  # running from a source tree or a --py-files zip
    __version__ = "0.0.0+src"


class Fin360Error(Exception):
    """A user-facing failure (bad input, missing folder, broken rule): one clear line, no trace."""


def code_version() -> str:
    """Package version plus the git commit when running from a checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{sha}"
