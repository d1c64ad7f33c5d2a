"""What a reload says of the config's warnings: those its config brought, not those
of the config it replaced. A warning names an entry of a list by its index, which one
written before it moves; a warning moved so is no news."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sesd.config import Config

__all__ = ["new_warnings"]


def new_warnings(
    old: Config, new: Config, warned: Callable[[Config], list[str]] | None = None
) -> list[str]:
    """The warnings of ``new`` that ``old`` did not give (each as ``warned`` says them,
    :meth:`Config.warnings` unless given): what a reload says of what it brought. A
    warning names a queue or a rule by its index, which a queue or rule written before
    it moves: each is told by what it is (a queue's name, a rule's, and the value said
    after any other index), not where it is."""
    said = warned or (lambda config: config.warnings())
    before = {_unmoved(warning, old) for warning in said(old)}
    return [warning for warning in said(new) if _unmoved(warning, new) not in before]


_QUEUE_AT = re.compile(r"queues\[(\d+)\]")

#: A key's path as a warning begins it, or says it after a space (``domains.track[0]``,
#: ``domains.groups.shop-[1]``, ``domains.groups."Shop[1]"[0]``), from one of the
#: file's sections, or after a rule's name (``alerts.rules[0] (latency).sinks[1]``):
#: its indexes are where an entry is, not what it is. A name, quoted or not, is no
#: path: ``Shop[2]``'s warnings must not read as ``Shop[1]``'s, nor a rule's glob
#: ``eu[2]*`` listed in a warning as ``eu[1]*``, nor a group ``Shop queues[0]`` (its
#: name quoted, the path's end its quote's) as naming the first queue. A path is read
#: whole or not at all (possessively: ``Shop queues[0].eu`` is not ``queues[0]`` and
#: ``.eu``), and ends where a key's does, at no letter nor quote (``queues[0]x``).
_PATH = (
    r'(?:(?<![^\s])(?:{sections})|(?<=\))\.[a-z_]+)(?:\.(?:[\w-]+|"(?:[^"\\]|\\.)*")|\[\d+\])++'
    r"""(?![\w"-]|'(?!s\b))"""
)
#: In a path, a quoted key (kept as written, a ``[1]`` in it too) or an index.
_INDEX = re.compile(r'"(?:[^"\\]|\\.)*"|\[\d+\]')


@cache
def _paths(sections: tuple[str, ...]) -> re.Pattern[str]:
    """:data:`_PATH` of the file's ``sections``."""
    return re.compile(_PATH.format(sections="|".join(map(re.escape, sections))))


def _unmoved(warning: str, config: Config) -> str:
    """``warning`` with ``queues[1]`` as ``queues (NAME)`` (names are unique), and every
    other index of a key's path left out: a rule's is followed by its name, a list's by
    the value."""
    queues = config.queues

    def unplaced(path: re.Match[str]) -> str:
        text, head = path[0], ""
        if (queue := _QUEUE_AT.match(text)) and int(queue[1]) < len(queues):
            text, head = text[queue.end() :], f"queues ({queues[int(queue[1])].label})"
        return head + _INDEX.sub(lambda found: found[0] if found[0][0] == '"' else "[]", text)

    return _paths(type(config).__struct_encode_fields__).sub(unplaced, warning)
