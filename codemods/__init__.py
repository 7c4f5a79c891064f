"""tinyckpt-migrate: move a codebase off the legacy policy store onto tinyckpt (see README.md and docs/)."""

from __future__ import annotations


def version() -> str:
    """The installed distribution's version (the `tinyckpt` package holds both tinyckpt and this tool)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("tinyckpt")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "0+unknown"
