"""Versions of installed packages, as every JSON a command writes records them.

Read from `importlib.metadata`, never from imports (importing torch to learn its version
would cost seconds); a package that is not installed is left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """{package: version} of the installed packages among `names`."""
    out: dict[str, str] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
