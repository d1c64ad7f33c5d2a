"""How the config's own value types go to and from plain data: a file's strings and
numbers become :class:`Duration`, :class:`Secret` and :class:`WebConfigFile` on the way
in; on the way out they become what the file said (or, for display, with literal
secrets masked)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from sesd.config.secrets import Secret
from sesd.config.values import Duration
from sesd.config.web import WebConfigFile

__all__ = ["dec_hook", "display_hook", "source_hook"]

#: The longest a duration may be, in seconds (Duration's own bound).
_YEAR = 366 * 86400


def dec_hook(type_: type, obj: Any) -> Any:
    """msgspec's decoding hook for the config's value types."""
    if type_ is Duration:
        if isinstance(obj, int | float) and not isinstance(obj, bool):
            # Said as written (-5, inf), not as the text it would become ('-5s', 'infs').
            if not 0 <= obj <= _YEAR:  # nan too
                raise ValueError(
                    f"invalid duration {obj!r}: a bare number is seconds, from 0 to a year "
                    "(or write e.g. '10s', '5m', '1h30m')"
                )
            # Written out: Python writes 0.00001 as 1e-05, which is no duration's text.
            return Duration(f"{format(Decimal(repr(obj)), 'f')}s")
        if isinstance(obj, str):
            if re.fullmatch(r"\d+(?:\.\d+)?", obj.strip()) and obj.strip() != "0":
                # A bare number is seconds; quoted, the file gave a string.
                raise ValueError(
                    f"invalid duration {obj.strip()!r}: a number of seconds is written "
                    f"without quotes ({obj.strip()}) or with its unit ('{obj.strip()}s')"
                )
            return Duration(obj)
        raise ValueError(f"expected a duration such as '10s', got {type(obj).__name__}")
    if type_ is Secret:
        if not isinstance(obj, str):
            raise ValueError("expected a string ('env:NAME', 'file:PATH' or a literal)")
        if not obj.strip():
            raise ValueError("is empty (give 'env:NAME', 'file:PATH' or a literal)")
        return Secret(obj)
    if type_ is WebConfigFile:
        if not isinstance(obj, str) or not obj:
            raise ValueError("expected the path of a web configuration file")
        return WebConfigFile(obj)
    raise NotImplementedError(type_)


def display_hook(obj: Any) -> Any:
    """What check-config prints and logs show: a literal secret as asterisks."""
    if isinstance(obj, Secret):
        return obj.masked()
    return source_hook(obj)


def source_hook(obj: Any) -> Any:
    """What the file said, a literal secret included: decoded again with
    :func:`dec_hook`, it is the same config, its files not yet read."""
    if isinstance(obj, Duration):
        return obj.text
    if isinstance(obj, Secret | WebConfigFile):
        return obj.reference
    raise NotImplementedError(type(obj))
