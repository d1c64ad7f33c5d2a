"""Senders.observe remembers the last sender found and its windows, compared by the
event's four strings: an event differing from it in any one of them (its queue, its
configuration set) counts where its own sender's mail does, and a forgetting of where
senders count forgets the one remembered too."""

from __future__ import annotations

from sesd.core.decode import Event, decode_body
from sesd.core.reputation import Reputation
from sesd.core.reputation_senders import Senders
from tests import factory as f

_NOT_AN_ARN = ""  # placed by its queue alone (not an SES identity's ARN)


def _delivery(config_set: str | None = None) -> Event:
    body = f.delivery(["a@x.example"])
    tags = {} if config_set is None else {"ses:configuration-set": [config_set]}
    body["mail"].update(sourceArn=_NOT_AN_ARN, sendingAccountId="111111111111", tags=tags)
    event = decode_body(f.raw(body))
    assert isinstance(event, Event)
    return event


def _sends(reputation: Reputation, key: tuple[str, str, str]) -> int:
    estimate = reputation.estimate(key)
    return 0 if estimate is None else estimate.sends


def test_two_queues_with_the_same_sender_strings_count_at_each_queues_place() -> None:
    """Alternating queues in two places, their events otherwise alike: each event counts
    at its own queue's place, not at the one the event before counted at."""
    places = {"q1": ("prod", "eu-west-1"), "q2": ("us", "us-east-1")}
    reputation = Reputation(100)
    senders = Senders(reputation, lambda queue, arn, account: places[queue])
    event = _delivery()
    for queue in ["q1", "q2"] * 3:
        senders.observe(event, queue, event.kind)
    assert _sends(reputation, ("prod", "eu-west-1", "")) == 3
    assert _sends(reputation, ("us", "us-east-1", "")) == 3


def test_alternating_configuration_sets_of_one_sender_count_in_their_own() -> None:
    """One sender's events with a configuration set, another, and none: each counts in
    its own configuration set's estimate (and all in the account's)."""
    reputation = Reputation(100)
    senders = Senders(reputation, lambda queue, arn, account: ("prod", "eu-west-1"))
    events = [_delivery("cs1"), _delivery("cs2"), _delivery(None), _delivery("")]
    for event in events * 3:
        senders.observe(event, "q1", event.kind)
    assert _sends(reputation, ("prod", "eu-west-1", "")) == 12
    assert _sends(reputation, ("prod", "eu-west-1", "cs1")) == 3
    assert _sends(reputation, ("prod", "eu-west-1", "cs2")) == 3


def test_a_sender_placed_anew_after_clear_counts_at_its_new_place() -> None:
    """After clear(), the sender remembered last is placed again: its next event counts
    where its place answers now."""
    place = {"q1": ("prod", "eu-west-1")}
    reputation = Reputation(100)
    senders = Senders(reputation, lambda queue, arn, account: place[queue])
    event = _delivery()
    for _ in range(3):  # found, then remembered
        senders.observe(event, "q1", event.kind)
    place["q1"] = ("us", "us-east-1")
    senders.clear()
    senders.observe(event, "q1", event.kind)
    assert _sends(reputation, ("prod", "eu-west-1", "")) == 3
    assert _sends(reputation, ("us", "us-east-1", "")) == 1
