"""The pipeline's way into the reputation estimate (Senders.observe: a sender's windows
looked up by the event's own strings, its counting inline, one call an event) answers
as the two calls it replaced, kept here as the reference: the pipeline's lookup by a key
with "" for a configuration set past SES's names, then Reputation.count."""

from __future__ import annotations

from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.config import core_settings, parse_config
from sesd.core import reputation_senders as module
from sesd.core.decode import Event, decode_body
from sesd.core.events import EVENT_TYPES
from sesd.core.ledger import Ledger
from sesd.core.reputation import MAX_CONFIG_SET_NAME, Reputation, Windows, eligible
from sesd.core.reputation_senders import Senders
from tests import factory as f

#: Small, so that windows prune and the senders kept reach their bound in an example.
WINDOW = 3
BOUND = 3
_WATCHED = tuple(
    name if name in ("send", "delivery", "bounce", "complaint") else None for name in EVENT_TYPES
)
_CONFIG = (
    '[[accounts]]\nname = "prod"\nregion = "eu-west-1"\n'
    'role_arn = "arn:aws:iam::111111111111:role/sesd-reader"\n'
    '[[accounts]]\nname = "us"\nregion = "us-east-1"\n'
    'role_arn = "arn:aws:iam::222222222222:role/sesd-reader"\n'
)


class ReferenceSenders:
    """Pipeline._reputation and Reputation.count as they were (the reference)."""

    def __init__(self, reputation: Reputation, ledger: Ledger) -> None:
        self.reputation = reputation
        self.ledger = ledger
        self.estimates: dict[tuple[str, str, str, str], Windows] = {}

    def observe(self, event: Event, queue: str, kind: int) -> None:
        watched = _WATCHED[kind]
        if watched is None:
            return
        mail, config_set = event.mail, event.config_set
        if len(config_set) > MAX_CONFIG_SET_NAME:
            config_set = ""
        key = (queue, mail.source_arn, mail.sending_account_id, config_set)
        windows = self.estimates.get(key)
        if windows is None:
            if not eligible(event.recipients):
                return
            account, region = self.ledger.sender(queue, mail.source_arn, mail.sending_account_id)
            windows = self.reputation.windows(account, region, config_set)
            if len(self.estimates) < BOUND:
                self.estimates[key] = windows
        bounce = event.ses.bounce
        hard = bounce is not None and bounce.bounce_type == "Permanent"
        self.count(windows, watched, event.recipients, hard)

    @staticmethod
    def count(windows: Windows, event_type: str, recipients: list[str], hard: bool) -> None:
        n = eligible(recipients)
        if not n:
            return
        if event_type == "delivery":
            for window in windows:
                if not window.from_sends:
                    window.next += n
                    if window.next >= window.prune_at:
                        window._prune()
            return
        for window in windows:
            window.observe(event_type, n, hard)


_ADDRESS = st.sampled_from(
    [
        "a@x.example",
        "b@y.example",
        "success@simulator.amazonses.com",
        "Bounce@SIMULATOR.AmazonSES.com",
        "c@notsimulator.amazonses.com",
        "d@simulator.amazonses.com.example",
        # As long as the simulator's domain, and shorter: the bounds of its "@" read by
        # index.
        "@Simulator.AmazonSES.com",
        "imulator.amazonses.com",
    ]
)
#: Configuration set tags: none, SES's names (64 characters the longest), names past
#: them (other characters, 65 characters and more), an empty one.
_TAGS: st.SearchStrategy[dict[str, list[str]]] = st.one_of(
    st.just({}),
    st.sampled_from(["cs1", "cs2", "x" * 64, "y" * 65, "z" * 300, "not a name", ""]).map(
        lambda name: {"ses:configuration-set": [name]}
    ),
    st.text(max_size=80).map(lambda name: {"ses:configuration-set": [name], "other": ["t"]}),
)
_ARN = st.sampled_from(
    [
        "arn:aws:ses:eu-west-1:111111111111:identity/example.com",
        "arn:aws:ses:us-east-1:222222222222:identity/a.example",
        "arn:aws:ses:xx:333333333333:identity/b.example",
        "not an arn",
        "",
    ]
)


def _body(
    kind: str, recipients: list[str], arn: str, account: str, tags: dict[str, list[str]]
) -> dict[str, Any]:
    if kind == "delivery":
        event = f.delivery(recipients)
    elif kind == "delay":
        event = f.delay(recipients)
    elif kind in ("Permanent", "Transient"):
        event = f.bounce(recipients, kind=kind)
    elif kind == "complaint":
        event = f.complaint(recipients)
    else:
        event = f.simple(kind, recipients)
    event["mail"].update(sourceArn=arn, sendingAccountId=account, tags=tags)
    return event


_EVENT = st.builds(
    _body,
    st.sampled_from(
        ["delivery", "delivery", "delay", "Permanent", "Transient", "complaint", "Send", "Open"]
    ),
    st.lists(_ADDRESS, min_size=1, max_size=3),
    _ARN,
    st.sampled_from(["111111111111", "222222222222", "444444444444", ""]),
    _TAGS,
)


def _state(reputation: Reputation, ledger: Ledger) -> tuple[Any, ...]:
    seen = reputation.seen()
    return seen, [reputation.estimate(key) for key in seen], ledger.senders


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(st.tuples(st.sampled_from(["q1", "q2"]), _EVENT), max_size=40),
)
def test_senders_count_as_the_reference(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Every event (of every type, any sender, configuration set tags of any length,
    the simulator's addresses among the recipients, more senders than are kept) leaves
    the same estimates and the same senders noted as the reference does; no name past
    SES's is kept in a key, and no more senders than the bound."""
    settings_ = core_settings(parse_config(_CONFIG))
    ours, theirs = Ledger(settings_), Ledger(settings_)
    ours_reputation, their_reputation = Reputation(WINDOW), Reputation(WINDOW)
    senders = Senders(ours_reputation, ours.sender)
    reference = ReferenceSenders(their_reputation, theirs)
    with mock.patch.object(module, "MAX_ESTIMATED", BOUND):
        for queue, body in events:
            event = decode_body(f.raw(body))
            assert isinstance(event, Event)
            senders.observe(event, queue, event.kind)
            reference.observe(event, queue, event.kind)
            assert _state(ours_reputation, ours) == _state(their_reputation, theirs)
    kept = senders._found
    assert len(kept) <= BOUND
    assert all(len(config_set) <= MAX_CONFIG_SET_NAME for *_, config_set in kept)
