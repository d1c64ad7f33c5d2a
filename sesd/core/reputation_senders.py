"""The pipeline's way into the reputation estimate (sesd.core.reputation): the windows
each sender's mail counts in, found once a sender (its place, as AWS reviews it, is
the ledger's :meth:`~sesd.core.ledger.Ledger.sender`), and each event counted there in
one call, the commonest work written out inline. Pure code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from sesd.core.decode import Event
from sesd.core.events import EVENT_TYPES
from sesd.core.reputation import (
    MAX_CONFIG_SET_NAME,
    SIMULATOR,
    SIMULATOR_AT,
    SIMULATOR_LEN,
    Reputation,
    Windows,
    eligible,
)

__all__ = ["MAX_ESTIMATED", "Place", "Senders"]

#: The event types the estimate reads, by index (sesd.core.events): the type's name, or
#: None for the others (a tuple: indexing it is no call, where a dict's get was one).
_WATCHED: Final = tuple(
    name if name in ("send", "delivery", "bounce", "complaint") else None for name in EVENT_TYPES
)
#: The most senders whose windows :class:`Senders` keeps (as the ledger keeps senders):
#: a flood of identities (a replay of strangers' files) is counted, not kept.
MAX_ESTIMATED: Final = 4096


def _observe(event: Event, watched: str, n: int, windows: Windows) -> None:
    """:meth:`Senders.observe` for an event other than a delivery."""
    bounce = event.ses.bounce
    hard = bounce is not None and bounce.bounce_type == "Permanent"
    for window in windows:
        window.observe(watched, n, hard)


#: Who sent an event's mail, as AWS reviews it: (queue, identity ARN, sending account id)
#: -> (account, region) (:meth:`sesd.core.ledger.Ledger.sender`).
Place = Callable[[str, str, str], tuple[str, str]]


class Senders:
    """The pipeline's way into the estimate: the windows each sender's mail counts in,
    found once a sender, and each event counted there, in one call an event."""

    __slots__ = ("_found", "_last", "_place", "_reputation")

    def __init__(self, reputation: Reputation, place: Place) -> None:
        self._reputation = reputation
        self._place = place
        # (queue, identity ARN, sending account id, configuration set) -> its windows,
        # looked up by the event's own strings (no name past SES's is kept: such an
        # event is looked up again with "" for it, by _first).
        self._found: dict[tuple[str, str, str, str], Windows] = {}
        # The last sender found in _found, and its windows: most events are the same
        # sender's as the one before, and four comparisons of its strings cost less
        # than the key's tuple, its hash (the event's strings are new: each is hashed)
        # and the lookup (1,190 instructions an event fewer, counted under cachegrind).
        self._last: tuple[str, str, str, str, Windows] | None = None

    def clear(self) -> None:
        """Forget where each sender's mail is estimated."""
        self._found.clear()
        self._last = None

    def moved(self, senders: dict[tuple[str, str, str], tuple[str, str]]) -> None:
        """Where senders' mail counts may have moved (a poll named another AWS account
        for a label, or a reload): each sender ``senders`` holds (the place function's
        record of those it answered, emptied here) is placed again, and the places no
        sender's mail counts at any more are forgotten (:meth:`Reputation.forget`), as
        a restart would forget them. The place a sender moves to carries on with what
        its other senders sent (AWS reviews their mail as one; the mover's own past is
        not told apart in a window). A record holding :data:`MAX_ESTIMATED` senders may
        have left others out, which may still count anywhere: no place is forgotten."""
        keys = list(senders)
        senders.clear()
        self._found.clear()
        self._last = None
        placed = {self._place(*key) for key in keys}
        if len(keys) < MAX_ESTIMATED:
            self._reputation.forget({key[:2] for key in self._reputation.seen()} - placed)

    def observe(self, event: Event, queue: str, kind: int) -> None:
        """One event of type ``kind`` (its index) from ``queue``: its eligible recipients,
        when the estimate reads its type, counted as :meth:`Reputation.observe` counts them
        in the windows :meth:`Reputation.windows` answers for its sender."""
        watched = _WATCHED[kind]
        if watched is None:
            return
        mail = event.mail
        arn, account, config_set = mail.source_arn, mail.sending_account_id, event.config_set
        last = self._last
        if (
            last is not None
            and arn == last[1]
            and account == last[2]
            and config_set == last[3]
            and queue == last[0]
        ):
            windows = last[4]
        else:
            found = self._found.get((queue, arn, account, config_set))
            if found is not None:  # (one _first() answers is found here from the next event)
                self._last = (queue, arn, account, config_set, found)
            else:
                found = self._first(event, queue)
                if found is None:
                    return
            windows = found
        recipients = event.recipients
        n = len(recipients)
        for address in recipients:  # eligible(), inline
            if len(address) >= SIMULATOR_LEN and address[SIMULATOR_AT] == "@":
                n -= address[SIMULATOR_AT:].lower() == SIMULATOR
        if not n:
            return
        if watched == "delivery":
            # Nine events in ten: _Window.observe's delivery, inline (two calls fewer).
            for window in windows:
                if not window.from_sends:
                    window.next += n
                    if window.next >= window.prune_at:
                        window._prune()
            return
        _observe(event, watched, n, windows)

    def _first(self, event: Event, queue: str) -> Windows | None:
        """The windows of a sender not found by its event's own strings: made on its first
        eligible event (None before it), or its account's for a configuration set named
        past SES's names."""
        mail, config_set = event.mail, event.config_set
        if len(config_set) > MAX_CONFIG_SET_NAME:
            config_set = ""  # no SES name (a sender's tag, any size): the account's, as ""
        key = (queue, mail.source_arn, mail.sending_account_id, config_set)
        windows = self._found.get(key)
        if windows is None:
            if not eligible(event.recipients):
                return None  # the mailbox simulator's alone: no estimate starts with it
            account, region = self._place(queue, mail.source_arn, mail.sending_account_id)
            windows = self._reputation.windows(account, region, config_set)
            if len(self._found) < MAX_ESTIMATED:
                self._found[key] = windows
        return windows
