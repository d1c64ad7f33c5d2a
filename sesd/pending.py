"""Recipients delayed now: a DeliveryDelay seen, no Delivery or Bounce yet.

A recipient stays pending until a later Delivery or Bounce for the same SES
message (then the delay's duration is known) or until the delay's
``expirationTime``, when SES gives up. Keys are hashes of (message id,
address), so no address is held. Memory is bounded by ``max_entries``;
delays beyond it are counted in :attr:`overflow` and not tracked.
"""

from __future__ import annotations

import heapq
from typing import Final

from sesd.dedup import stable_key

__all__ = ["DEFAULT_EXPIRY", "PendingDelays", "pending_key"]

#: When a delay carries no expirationTime: SES retries for at most about 14 h.
DEFAULT_EXPIRY: Final = 16 * 3600.0


def pending_key(message_id: str, address: str) -> int:
    """The identity of one recipient of one message (stable across restarts)."""
    return stable_key(message_id, address.strip().lower())


class PendingDelays:
    """Delayed recipients per label, with expiry in event time.

    Entries also note which message they belong to (by ``hash`` of its id, in this
    process only), so that a Delivery for a message with nothing pending, the
    common case, is answered by :meth:`may_have` without hashing each recipient.
    Entries restored from a state file have no message noted: while any is left,
    every message may have one.
    """

    __slots__ = (
        "_entries",
        "_expiries",
        "_messages",
        "_per_label",
        "_unnoted",
        "max_entries",
        "overflow",
    )

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        # key -> (label, since, expires, hash of the message id or None)
        self._entries: dict[int, tuple[str, float, float, int | None]] = {}
        self._per_label: dict[str, int] = {}
        self._messages: dict[int, int] = {}  # hash of a message id -> its entries
        self._unnoted = 0  # entries without a message noted
        self._expiries: list[tuple[float, int]] = []
        self.overflow = 0

    def delayed(
        self, key: int, label: str, t: float, expires: float | None, message_id: str | None = None
    ) -> None:
        """A DeliveryDelay for a recipient (of ``message_id``) at event time ``t``."""
        expires = expires if expires is not None else t + DEFAULT_EXPIRY
        found = self._entries.get(key)
        if found is not None:
            # Another delay for the same recipient: keep the first time, move the expiry.
            self._entries[key] = (found[0], found[1], max(found[2], expires), found[3])
        elif len(self._entries) >= self.max_entries:
            self.overflow += 1
            return
        else:
            message = None if message_id is None else hash(message_id)
            self._entries[key] = (label, t, expires, message)
            self._per_label[label] = self._per_label.get(label, 0) + 1
            self._note(message, 1)
        heapq.heappush(self._expiries, (expires, key))
        if len(self._expiries) > 2 * len(self._entries) + 1024:
            self._expiries = [(e[2], k) for k, e in self._entries.items()]
            heapq.heapify(self._expiries)

    def may_have(self, message_id: str) -> bool:
        """False when no recipient of ``message_id`` is pending (True may be wrong)."""
        return bool(self._unnoted) or hash(message_id) in self._messages

    def resolved(self, key: int, t: float) -> tuple[str, float] | None:
        """A Delivery or Bounce for a recipient: returns (label, seconds delayed) if pending."""
        found = self._entries.pop(key, None)
        if found is None:
            return None
        label, since, _, message = found
        self._forget(label, message)
        return label, max(0.0, t - since)

    def expire(self, now: float) -> int:
        """Forget delays whose expiry has passed; returns how many."""
        expired = 0
        heap = self._expiries
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            found = self._entries.get(key)
            if found is not None and found[2] <= now:
                del self._entries[key]
                self._forget(found[0], found[3])
                expired += 1
        return expired

    def drop_label(self, label: str) -> None:
        """Forget every pending recipient of an evicted label."""
        if self._per_label.pop(label, None) is None:
            return
        for key, entry in list(self._entries.items()):
            if entry[0] == label:
                del self._entries[key]
                self._note(entry[3], -1)

    def count(self, label: str) -> int:
        """Recipients of ``label`` delayed now."""
        return self._per_label.get(label, 0)

    def counts(self) -> dict[str, int]:
        """Pending recipients per label."""
        return dict(self._per_label)

    def __len__(self) -> int:
        return len(self._entries)

    def snapshot(self) -> list[tuple[int, str, float, float]]:
        """Plain data for the state file: (key, label, since, expires) per recipient."""
        return [(key, e[0], e[1], e[2]) for key, e in self._entries.items()]

    def restore(self, rows: list[tuple[int, str, float, float]]) -> None:
        """Load what :meth:`snapshot` returned."""
        for key, label, since, expires in rows:
            if key not in self._entries and len(self._entries) < self.max_entries:
                self._entries[key] = (label, since, expires, None)
                self._per_label[label] = self._per_label.get(label, 0) + 1
                self._unnoted += 1
        self._expiries = [(e[2], k) for k, e in self._entries.items()]
        heapq.heapify(self._expiries)

    def _forget(self, label: str, message: int | None) -> None:
        left = self._per_label.get(label, 0) - 1
        if left > 0:
            self._per_label[label] = left
        else:
            self._per_label.pop(label, None)
        self._note(message, -1)

    def _note(self, message: int | None, n: int) -> None:
        """Count ``n`` entries more (or fewer) for a message, or as unnoted."""
        if message is None:
            self._unnoted += n
            return
        left = self._messages.get(message, 0) + n
        if left > 0:
            self._messages[message] = left
        else:
            self._messages.pop(message, None)
