"""Delayed recipients pending until delivered, bounced or expired."""

from __future__ import annotations

from sesd.dedup import stable_key
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


def test_a_message_with_nothing_pending_is_known_at_once() -> None:
    """``may_have`` is False for a message none of whose recipients is pending, however
    its entries went: delivered, expired or evicted with their label."""
    pending = PendingDelays(100)
    assert not pending.may_have("m1")
    pending.delayed(pending_key("m1", "a@a.com"), "a.com", 0, 100, "m1")
    pending.delayed(pending_key("m1", "b@a.com"), "a.com", 0, 100, "m1")
    pending.delayed(pending_key("m2", "c@b.com"), "b.com", 0, 50, "m2")
    pending.delayed(pending_key("m3", "d@c.com"), "c.com", 0, 100, "m3")
    assert [pending.may_have(m) for m in ("m1", "m2", "m3", "m4")] == [True, True, True, False]
    pending.resolved(pending_key("m1", "a@a.com"), 10)
    assert pending.may_have("m1")  # b@a.com is still pending
    pending.resolved(pending_key("m1", "b@a.com"), 10)
    assert not pending.may_have("m1")
    pending.expire(50)
    assert not pending.may_have("m2")
    pending.drop_label("c.com")
    assert not pending.may_have("m3")
    assert len(pending) == 0


def test_restored_entries_keep_every_message_possible() -> None:
    """Entries from a state file do not say their message: until they are gone, a
    Delivery for any message is checked recipient by recipient."""
    before = PendingDelays(100)
    before.delayed(pending_key("m1", "a@a.com"), "a.com", 0, 100, "m1")
    after = PendingDelays(100)
    after.restore(before.snapshot())
    assert [after.may_have(m) for m in ("m1", "m2")] == [True, True]
    assert after.resolved(pending_key("m1", "a@a.com"), 30) == ("a.com", 30)
    assert [after.may_have(m) for m in ("m1", "m2")] == [False, False]


def test_pending_keys_are_the_same_in_every_version() -> None:
    """Keys go into the state file: a recipient's key must not change between releases."""
    assert pending_key("m-1", " A@Example.org ") == stable_key("m-1", "a@example.org")
    assert pending_key("m-1", "a@example.org") == 0xBD7BD11A886508A4
