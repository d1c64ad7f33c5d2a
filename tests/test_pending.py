"""Delayed recipients pending until delivered, bounced or expired."""

from __future__ import annotations

from sesd.pending import DEFAULT_EXPIRY, PendingDelays, pending_key


def test_delay_then_delivery_gives_its_duration() -> None:
    """A delayed recipient is pending until its Delivery, which reports how long it waited."""
    pending = PendingDelays(100)
    key = pending_key("m1", "A@example.org")
    pending.delayed(key, "example.org", 100, 1000)
    pending.delayed(key, "example.org", 160, 1200)  # a second delay keeps the first time
    assert pending.count("example.org") == 1
    assert pending.resolved(pending_key("m1", "a@example.org"), 400) == ("example.org", 300)
    assert pending.count("example.org") == 0
    assert pending.resolved(key, 500) is None


def test_expiry_and_default_expiry() -> None:
    """At expirationTime (or a default when absent) the recipient stops being pending."""
    pending = PendingDelays(100)
    pending.delayed(1, "a.com", 0, 50)
    pending.delayed(2, "a.com", 0, None)
    assert pending.expire(49) == 0
    assert pending.expire(50) == 1
    assert pending.count("a.com") == 1
    assert pending.expire(DEFAULT_EXPIRY) == 1
    assert len(pending) == 0


def test_capacity_and_eviction() -> None:
    """Beyond max_entries delays are counted as overflow; an evicted label's entries go."""
    pending = PendingDelays(2)
    pending.delayed(1, "a.com", 0, 100)
    pending.delayed(2, "b.com", 0, 100)
    pending.delayed(3, "b.com", 0, 100)
    assert pending.overflow == 1
    pending.drop_label("b.com")
    assert pending.counts() == {"a.com": 1}
