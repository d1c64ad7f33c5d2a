"""An event's recipients under the values of its message tags (``[dimensions] tags``):
each tag's value a bounded label, its counters and its windows. Pure code."""

from __future__ import annotations

from typing import Final

from sesd.core.decode import Event
from sesd.core.domains import tag_label
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.core.ledger import Ledger
from sesd.core.recipients import never_sent
from sesd.core.windows import DomainWindows

__all__ = ["count_event_tags", "count_tags"]

#: The event types a suppression list can stand in for (see never_sent).
_SUPPRESSIBLE: Final = frozenset((EVENT_TYPE_INDEX["bounce"], EVENT_TYPE_INDEX["complaint"]))


def count_event_tags(
    ledger: Ledger,
    tag_names: list[str],
    event: Event,
    n: int,
    t: float,
    now: float,
    in_windows: bool,
) -> None:
    """:func:`count_tags` for an event of its own type, unless it is a bounce or a
    complaint SES never attempted (a suppression list): that is in no family."""
    kind = event.kind
    if tag_names and not (kind in _SUPPRESSIBLE and never_sent(event)):
        count_tags(ledger, tag_names, event, kind, n, t, now, in_windows)


def count_tags(
    ledger: Ledger,
    tag_names: list[str],
    event: Event,
    type_index: int,
    n: int,
    t: float,
    now: float,
    in_windows: bool,
) -> None:
    """``n`` recipients of an event of type ``type_index`` at ``t``, under the value of
    each of ``tag_names`` the event's mail carries."""
    tags = event.mail.tags
    for tag in tag_names:
        values = tags.get(tag)
        if not values:
            continue
        # SES gives a tag one value (a message tag is one name and one value): the
        # first is the tag's. Each of many, none of SES's, would count the event's
        # recipients once more, and a thousand would take every label of the tag.
        label = ledger.tag_tables[tag].label(tag_label(values[0]), now)
        ledger.tallies.tag_counts(tag, label)[type_index] += n
        if in_windows:
            key = (tag, label)
            windows = ledger.tag_windows.get(key)
            if windows is None:
                windows = ledger.tag_windows[key] = DomainWindows(ledger.specs)
            windows.count(t, now, type_index, n)
