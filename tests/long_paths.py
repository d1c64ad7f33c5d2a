"""Paths longer than sesd's lines name in full (500 characters), for the lines that
name them cut."""

from __future__ import annotations

from pathlib import Path

#: The most characters of a path a line names, the rest cut with an ellipsis.
NAMED = 500


def long_path(base: Path, length: int, suffix: str) -> Path:
    """A path of ``length`` characters under ``base`` ending in ``suffix``, its
    directories made (each name within the 255 bytes a filesystem takes)."""
    path = base
    while length - len(str(path)) > 201:
        path /= "d" * 100
    path.mkdir(parents=True, exist_ok=True)
    return path / ("s" * (length - len(str(path)) - 1 - len(suffix)) + suffix)


def named(path: Path) -> str:
    """``path`` as a line names it: at most NAMED characters, cut with an ellipsis."""
    text = str(path)
    return text if len(text) <= NAMED else text[: NAMED - 1] + "…"
