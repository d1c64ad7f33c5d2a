"""The pipeline keeps where each sender's mail is estimated, and places each sender
again when the polls name an AWS account anew (``Accounts.reach``), forgetting the
places none counts at any more: its estimates, across polls naming accounts between
events of every type (a poll's answer lands between two messages of one batch, and
a delivery to one recipient at a domain already counted takes a path of its own), the
janitor's rounds and reloads (which place every sender then, the next event none), are
those of a pipeline that asks every sender afresh at each event, and before it
forgets the places none of the senders its estimate read names now. The estimate's
own reference test holds Senders alone, not this check."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_reach import named_now
from tests import factory as f

ACCOUNT, OTHER_ACCOUNT = "123456789012", "210987654321"
EU, US, AP = "eu-west-1", "us-east-1", "ap-southeast-2"
X, GMAIL = "x.example", "gmail.com"


def _entry(name: str, region: str) -> str:
    return (
        f'[[accounts]]\nname = "{name}"\nrole_arn = "arn:aws:iam::{ACCOUNT}:role/{name}"\n'
        f'region = "{region}"\n'
    )


#: Two queues (the default credentials alone watch ap-southeast-2), two entries whose
#: roles reach one account: where that account's mail counts moves with the polls.
_QUEUES = (
    f'[[queues]]\nurl = "https://sqs.{EU}.amazonaws.com/{ACCOUNT}/eu"\n'
    f'[[queues]]\nurl = "https://sqs.{AP}.amazonaws.com/{ACCOUNT}/ap"\n'
)
_SETTINGS = core_settings(parse_config(f"{_QUEUES}{_entry('eu', EU)}{_entry('us', US)}"))
#: What a reload may make of it: the entry ``us`` watches ap-southeast-2 instead, where
#: that account's mail then counts under it, whatever the polls there named.
_RELOADED = core_settings(parse_config(f"{_QUEUES}{_entry('eu', EU)}{_entry('us', AP)}"))
_KINDS = ["Send", "Open", "delivery", "delay", "bounce", "complaint"]
#: The kinds the estimate reads (every recipient here counts in it).
_READ = {"Send", "delivery", "bounce", "complaint"}
_EVENT = st.tuples(
    st.just("event"),
    st.sampled_from(_KINDS),
    st.integers(1, 3),
    st.sampled_from([AP, EU, US]),
    st.sampled_from([ACCOUNT, OTHER_ACCOUNT, ""]),
    st.sampled_from(["ap", "eu"]),
    # x.example's provider is never known (no DNS here): its slots are never kept.
    # gmail.com's is known by its name: from its first event on, a delivery to one
    # recipient there takes the pipeline's path for those (Pipeline._delivered).
    st.sampled_from([X, GMAIL]),
)
#: A delivery to one recipient at gmail.com: on the path of its own from gmail.com's
#: first event on (drawn as often as any other event, or a stream seldom has one
#: follow a poll moving its sender).
_ONE = st.tuples(
    st.just("event"),
    st.just("delivery"),
    st.just(1),
    st.sampled_from([AP, EU, US]),
    st.sampled_from([ACCOUNT, OTHER_ACCOUNT, ""]),
    st.sampled_from(["ap", "eu"]),
    st.just(GMAIL),
)
#: A poll of the default credentials naming an account (or none) in a region, and
#: whether the janitor's round (Pipeline.housekeep) comes next, before any event.
_POLL = st.tuples(
    st.just("poll"),
    st.sampled_from([ACCOUNT, OTHER_ACCOUNT, None]),
    st.sampled_from([AP, EU]),
    st.sampled_from([False, False, True]),
)
#: A reload (Pipeline.reconfigure) to either config, between two events.
_RELOAD = st.tuples(st.just("reload"), st.booleans())


def _body(kind: str, n: int, region: str, sender: str, i: int, domain: str) -> str:
    recipients = [f"r{i}.{k}@{domain}" for k in range(n)]
    makers: dict[str, Any] = {
        "Send": lambda: f.simple("Send", recipients),
        "Open": lambda: f.simple("Open", recipients),
        "delivery": lambda: f.delivery(recipients),
        "delay": lambda: f.delay(recipients),
        "bounce": lambda: f.bounce(recipients),
        "complaint": lambda: f.complaint(recipients),
    }
    event = makers[kind]()
    event["mail"]["sourceArn"] = f"arn:aws:ses:{region}:{ACCOUNT}:identity/x.example"
    event["mail"]["sendingAccountId"] = sender
    return f.raw(event)


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.one_of(_EVENT, _EVENT, _ONE, _POLL, _RELOAD), max_size=30))
# The default credentials' poll names the account an entry reaches, in the region they
# alone watch, between two messages of one sender (then counted under ``default``),
# and the next event is of a type the estimate does not read.
@example(
    [
        ("event", "Send", 1, AP, ACCOUNT, "ap", X),
        ("poll", ACCOUNT, AP, False),
        ("event", "Open", 1, AP, ACCOUNT, "ap", X),
        ("event", "delivery", 2, AP, "", "ap", X),
    ]
)
# The same sender before and after that poll: it counts under ``default`` from then
# on, and the place under the entry whose role reaches the account is forgotten.
@example(
    [
        ("event", "Send", 1, AP, ACCOUNT, "ap", X),
        ("poll", ACCOUNT, AP, False),
        ("event", "Send", 1, AP, ACCOUNT, "ap", X),
    ]
)
# Moved there and back: each place it leaves goes, and the entry's starts afresh.
@example(
    [
        ("event", "Send", 2, AP, ACCOUNT, "ap", X),
        ("poll", ACCOUNT, AP, False),
        ("event", "Open", 1, AP, ACCOUNT, "ap", X),
        ("poll", OTHER_ACCOUNT, AP, False),
        ("event", "bounce", 1, AP, ACCOUNT, "ap", X),
    ]
)
# A delivery to one recipient at a domain counted before (its slots kept) first after
# the poll: that path follows the move too.
@example(
    [
        ("event", "Send", 1, AP, ACCOUNT, "ap", X),
        ("event", "delivery", 1, AP, ACCOUNT, "ap", GMAIL),
        ("poll", ACCOUNT, AP, False),
        ("event", "delivery", 1, AP, ACCOUNT, "ap", GMAIL),
    ]
)
# The janitor's round first after the poll: the place left goes then.
@example([("event", "Send", 1, AP, ACCOUNT, "ap", X), ("poll", ACCOUNT, AP, True)])
# A reload first after the poll: the senders placed there, and the next event's found.
@example(
    [
        ("event", "Send", 1, AP, ACCOUNT, "ap", X),
        ("poll", ACCOUNT, AP, False),
        ("reload", False),
        ("event", "bounce", 1, AP, ACCOUNT, "ap", X),
        ("reload", True),
        ("event", "Send", 1, AP, ACCOUNT, "ap", X),
    ]
)
def test_senders_kept_across_polls_estimate_as_asked_afresh(steps: list[Any]) -> None:
    ours, afresh = Pipeline(_SETTINGS), Pipeline(_SETTINGS)
    senders: set[tuple[str, str, str]] = set()  # (queue, identity ARN, sending account)
    for i, step in enumerate(steps):
        if step[0] == "poll":
            for pipeline in (ours, afresh):
                ledger = pipeline.ledger
                roles = (ledger.tenant_status.roles, ledger.tenant_status.watched)
                named_now(ledger.accounts, ledger.tenant_map, ("default", step[2]), step[1], roles)
            if not step[3]:
                continue  # (else the janitor's round comes next, before any event)
        elif step[0] == "reload":
            for pipeline in (ours, afresh):
                pipeline.reconfigure(_RELOADED if step[1] else _SETTINGS)
        afresh._estimates.clear()  # every sender asked again, at every event
        afresh.ledger.senders.clear()
        # (its record is then of those senders alone, each placed now)
        placed = {afresh.ledger.sender(*one) for one in senders}
        afresh.ledger.reputation.forget({k[:2] for k in afresh.ledger.reputation.seen()} - placed)
        if step[0] == "poll":
            for pipeline in (ours, afresh):
                pipeline.housekeep(f.T0 + i)
        elif step[0] == "event":
            _, kind, n, region, sender, queue, domain = step
            body = _body(kind, n, region, sender, i, domain)
            assert ours.feed(body, queue, f.T0 + i) == afresh.feed(body, queue, f.T0 + i)
            if kind in _READ:
                senders.add((queue, f"arn:aws:ses:{region}:{ACCOUNT}:identity/x.example", sender))
        mine, theirs = ours.ledger.reputation, afresh.ledger.reputation
        assert mine.seen() == theirs.seen()
        assert [mine.estimate(k) for k in mine.seen()] == [
            theirs.estimate(k) for k in theirs.seen()
        ]
