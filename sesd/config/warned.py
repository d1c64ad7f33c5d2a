"""How many of the config's warnings are said at once, by check-config, a start and a
reload alike. A generated config with thousands of faulty keys would otherwise print
thousands of lines at each start and reload, the journal's rate limit dropping what
came after them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

__all__ = ["SHOWN", "said"]

#: The most warnings said at once, the first as the config gives them: a screen's worth,
#: which those after them likely repeat (one mistake a generator made for each entry).
SHOWN: Final = 20


def said(warnings: list[str], placed: Callable[[str], str]) -> list[str]:
    """The lines to say of ``warnings``: the first :data:`SHOWN`, each as ``placed``
    says it (on its line of the file), then how many more there are, if any."""
    lines = [placed(warning) for warning in warnings[:SHOWN]]
    if len(warnings) > SHOWN:
        more = len(warnings) - SHOWN
        lines.append(
            f"and {more} more warning{'s' if more > 1 else ''} not shown (the first {SHOWN} "
            "are): fix those, then check again"
        )
    return lines
