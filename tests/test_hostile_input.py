"""Hostile input: whatever arrives, the decoder and pipeline answer with a typed
outcome, count it once, leak no recipient address and never count below zero.

Property-based (hypothesis) over arbitrary JSON and over mutations of real
events, and the extreme cases by hand: 1 MiB bodies, deep nesting, invalid
UTF-8, 10,000 recipients in one event. Every body goes to a pipeline of its own,
so what one example leaves behind (a duplicate key, a label, a pending delay)
cannot change what the next one shows.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sesd.config import core_settings, parse_config
from sesd.core.decode import Event, decode_body
from sesd.core.events import EVENT_TYPE_INDEX, Invalid, Skipped
from sesd.core.pipeline import Pipeline, Result
from sesd.core.tallies import Outcome
from sesd.core.tenants import TenantNotice
from tests import factory as f

#: What the decoder makes of a body.
Decoded = Event | Skipped | Invalid | TenantNotice

#: Examples per property: fewer under mutation testing (make mutation), where every
#: mutant of the decoder runs these.
EXAMPLES = 30 if os.environ.get("SESD_MUTATION") else 300

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=40,
)
SEEDS = [
    f.delivery(["a@one.example", "b@two.example"]),
    f.delay(["c@one.example"], expires=f.T0 + 60),
    f.bounce(["d@one.example"]),
    f.complaint(["e@one.example"]),
    f.simple("Send", ["g@one.example"]),
    # Remote MTAs quote the recipient in their diagnostic: alert text must not.
    f.delay(["h@one.example"], diagnostic="smtp; 452 4.2.2 <h@one.example>: mailbox full"),
]
#: Every recipient address of the seeds: none may show in what sesd says of a body.
SEED_ADDRESSES = sorted({a for seed in SEEDS for a in seed["mail"]["destination"]})
#: A tag breakdown, and a rule on 5m so that window keeps breakdowns for alert text:
#: whatever a body holds may reach them.
CONFIG = (
    '[dimensions]\ntags = ["ses:configuration-set"]\n'
    '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\nabove = 0.1\n'
)
#: Every reason an invalid body is counted under (sesd_invalid_messages_total{reason}).
REASONS = {
    "not_json",
    "not_utf8",
    "too_deep",
    "schema",
    "unrecognised",
    "missing_mail",
    "no_recipients",
    "too_many_recipients",
    "no_usable_domain",
}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _mutated(event: dict[str, Any], path: tuple[Any, ...], value: Any, drop: bool) -> Any:
    copy = json.loads(json.dumps(event))
    node = copy
    for step in path[:-1]:
        node = node[step]
    if drop and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return copy


def _fed(body: str | bytes) -> tuple[Decoded, Pipeline, Result]:
    """The body decoded, and fed to a pipeline of its own."""
    pipeline = Pipeline(core_settings(parse_config(CONFIG)))
    decoded = decode_body(body)
    # Bodies made from email events: none is SES's word on a tenant.
    assert not isinstance(decoded, TenantNotice)
    return decoded, pipeline, pipeline.feed(body, "q", f.T0)


def _outcome_follows_the_decoding(decoded: Decoded, result: Result) -> None:
    """Skipped and invalid bodies keep the decoder's reason; an event is processed
    under its own type, or invalid when none of its recipients has a usable domain.
    What SES says of a tenant is processed as such. A first message is never a
    duplicate."""
    assert isinstance(decoded, Event | Skipped | Invalid | TenantNotice)
    assert isinstance(result.outcome, Outcome)
    if isinstance(decoded, TenantNotice):
        assert (result.outcome, result.event_type) == (Outcome.PROCESSED, "tenant_status")
    elif isinstance(decoded, Skipped):
        assert (result.outcome, result.reason) == (Outcome.SKIPPED, decoded.reason)
        assert decoded.reason
    elif isinstance(decoded, Invalid):
        assert (result.outcome, result.reason, result.detail) == (
            Outcome.INVALID,
            decoded.reason,
            decoded.detail,
        )
    elif result.outcome is Outcome.PROCESSED:
        assert result.event_type == decoded.type
    else:
        assert (result.outcome, result.reason) == (Outcome.INVALID, "no_usable_domain")


def _counted_once(decoded: Decoded, pipeline: Pipeline, result: Result) -> None:
    """One message, counted once under its outcome; an invalid one also under its
    reason; a processed event's recipients each once, in a domain or as unusable."""
    tallies = pipeline.ledger.tallies
    assert tallies.messages == {("q", result.outcome): 1}
    if result.outcome is Outcome.INVALID:
        assert result.reason in REASONS
        assert tallies.invalid == {("q", result.reason): 1}
    else:
        assert tallies.invalid == {}
    if result.outcome is Outcome.PROCESSED and not isinstance(decoded, TenantNotice):
        assert isinstance(decoded, Event)
        kind = EVENT_TYPE_INDEX[decoded.type]
        counted = sum(counts[kind] for counts in pipeline.ledger.by_domain.recipients.values())
        assert counted + tallies.invalid_recipients == len(decoded.recipients)
        assert counted > 0
    else:
        assert pipeline.ledger.by_domain.recipients == {}
        assert pipeline.ledger.windows == {}


def _never_negative(pipeline: Pipeline) -> None:
    """No count, total or windowed, per domain or per tag, is below zero; a delay or
    bounce table holds only what was counted."""
    ledger = pipeline.ledger
    scope = ledger.by_domain
    assert all(n >= 0 for counts in scope.recipients.values() for n in counts)
    assert all(n > 0 for table in (scope.delays, scope.bounces) for n in _values(table))
    assert all(n >= 0 for counts in ledger.tallies.events.values() for n in counts)
    assert all(n >= 0 for counts in ledger.tallies.tag_recipients.values() for n in counts)
    assert all(n >= 0 for n in ledger.pending.counts(f.T0).values())
    for windows in (*ledger.windows.values(), *ledger.tag_windows.values()):
        for index in range(len(ledger.specs)):
            assert min(windows.figures(index, f.T0).counts) >= 0


def _values(table: dict[str, dict[tuple[str, str], int]]) -> Iterator[int]:
    for per_kind in table.values():
        yield from per_kind.values()


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _strings(item)


def _said(pipeline: Pipeline, result: Result) -> list[str]:
    """Everything sesd says of what it was fed: the result's reason and detail, and
    every breakdown alert text reads (per domain and per tag value)."""
    ledger = pipeline.ledger
    said = [result.reason, result.detail]
    for windows in (*ledger.windows.values(), *ledger.tag_windows.values()):
        breakdown = windows.breakdown(0, f.T0)
        said += _strings(dataclasses.astuple(breakdown))
    return said


def _no_address_shown(
    decoded: Decoded,
    pipeline: Pipeline,
    result: Result,
    addresses: Iterable[str],
) -> None:
    """No recipient address (the event's, and any the body was made from) appears in
    an invalid result's detail or in any breakdown. An address whose local part is
    empty or all asterisks cannot be told from its redacted form, so it is not looked
    for."""
    recipients = decoded.recipients if isinstance(decoded, Event) else []
    shown = [
        address for address in {*addresses, *recipients} if address.rpartition("@")[0].strip("*")
    ]
    for text in _said(pipeline, result):
        for address in shown:
            assert address not in text, (address, text)


def _check(body: str | bytes, addresses: Iterable[str] = ()) -> tuple[Pipeline, Result]:
    """Every invariant above, for one body fed to a fresh pipeline (``addresses``:
    recipients the body was made from, beyond those it decodes to)."""
    decoded, pipeline, result = _fed(body)
    _outcome_follows_the_decoding(decoded, result)
    _counted_once(decoded, pipeline, result)
    _never_negative(pipeline)
    _no_address_shown(decoded, pipeline, result, addresses)
    return pipeline, result


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values)
def test_any_json_document_in_any_envelope_holds_the_invariants(value: Any) -> None:
    """Any JSON document, raw, as an SNS Message or as an EventBridge detail, each fed
    to a pipeline of its own: feed does not raise; the outcome follows the decoding and
    is never a duplicate; the message is counted once, an invalid one under a known
    reason; no count is negative; no recipient address shows in the result or in a
    breakdown."""
    _check(json.dumps(value))
    _check(json.dumps({"Type": "Notification", "Message": json.dumps(value)}))
    _check(json.dumps({"source": "aws.ses", "detail-type": "Email Delivered", "detail": value}))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    choice=st.integers(min_value=0, max_value=10_000),
    value=json_values | st.sampled_from([None, "", 0, -1, 1e308, "x" * 10_000, [], {}]),
    drop=st.booleans(),
    wrap=st.sampled_from([f.raw, f.sns, f.eventbridge]),
)
def test_a_real_event_with_one_field_broken_holds_the_invariants(
    seed: dict[str, Any], choice: int, value: Any, drop: bool, wrap: Any
) -> None:
    """A real event with one field removed or replaced (wrong type, null, huge string),
    in every envelope, fed to a pipeline of its own: feed does not raise; the outcome
    follows the decoding and is never a duplicate; the message is counted once (an
    invalid one under a known reason, a processed one with each recipient in a domain
    or as unusable); no count is negative; and no seed's recipient address shows in the
    result or in a breakdown, though one diagnostic quotes its recipient."""
    paths = _paths(seed)
    event = _mutated(seed, paths[choice % len(paths)], value, drop)
    _check(wrap(event), SEED_ADDRESSES)


@settings(max_examples=EXAMPLES, deadline=None)
@given(body=st.binary(max_size=300) | st.text(max_size=300))
def test_arbitrary_bytes_and_text_hold_the_invariants(body: bytes | str) -> None:
    """Arbitrary bytes and text (mostly not JSON, often not UTF-8), fed to a pipeline of
    their own: feed does not raise; the outcome follows the decoding and is counted
    once, an invalid one under a known reason; no count is negative; no recipient
    address shows."""
    _check(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "schema"),
        ('{"a":' * 50_000 + "1" + "}" * 50_000, "too_deep"),
        (f.sns('{"a":' * 50_000 + "1" + "}" * 50_000), "too_deep"),
        (b'{"eventType": "Delivery", "mail": {"messageId": "\xff\xfe"}}', "not_utf8"),
        (b'{"Type": "Notification", "Message": "\xff"}', "not_utf8"),
        ('{"eventType": "Delivery", "mail": {"timestamp": 1e999}}', "schema"),
        ('{"eventType": "\udc80"}', "not_utf8"),
    ],
    ids=[
        "deep-array",
        "deep-object",
        "deep-in-sns",
        "bad-utf8",
        "bad-utf8-in-sns",
        "huge-number",
        "lone-surrogate-in-text",
    ],
)
def test_extreme_bodies_are_invalid_with_a_reason(body: str | bytes, reason: str) -> None:
    """Deep nesting and invalid UTF-8 are typed invalid outcomes with their reason, not
    exceptions: the decoder says so, and the pipeline counts the message invalid under
    that reason, and nothing else."""
    decoded = decode_body(body)
    assert isinstance(decoded, Invalid)
    assert decoded.reason == reason
    pipeline, result = _check(body)
    assert (result.outcome, result.reason) == (Outcome.INVALID, reason)
    assert pipeline.ledger.tallies.invalid == {("q", reason): 1}


@pytest.mark.parametrize(
    "body",
    [
        {"eventType": "victim.person@example.com\r\nFORGED " + "Z" * 300_000},
        {"eventType": "Bounce\x1b[2J", "mail": {"messageId": "m"}},
        {"notificationType": "victim.person@example.com", "mail": {}, "bounce": {}},
        {"Type": "Note\u202e" + "victim.person@example.com" * 1000},
    ],
    ids=["missing-mail", "no-object", "no-recipients", "sns-type"],
)
def test_an_invalid_result_repeats_no_more_of_the_body_than_a_clean_short_name(
    body: dict[str, Any],
) -> None:
    """The detail of an invalid message is logged: a name the body gives (an event or
    SNS type) is repeated cleaned and cut, never an address, a control character or a
    third of a megabyte."""
    decoded = decode_body(json.dumps(body))
    assert isinstance(decoded, Invalid)
    assert len(decoded.detail) <= 120
    assert decoded.detail.isprintable()
    assert "victim" not in decoded.detail


def test_a_one_mebibyte_body_is_processed() -> None:
    """SQS's largest message (256 KiB) and beyond: a 1 MiB event is decoded and its
    recipient counted once, in its domain's windows."""
    event = f.delivery(["a@one.example"])
    event["mail"]["headers"] = [{"name": "X-Pad", "value": "x" * (1 << 20)}]
    pipeline, result = _check(f.sns(event))
    assert result.outcome == "processed"
    assert pipeline.ledger.windows["one.example"].figures(0, f.T0).count("delivery") == 1


def test_ten_thousand_recipients_in_one_event() -> None:
    """An event listing 10,000 recipients is none of SES's (it sends a message to 50 at
    most): invalid under its own reason, counted once, and nothing of it is counted in
    any domain. One listing 100 counts each once, in its domain, within the cap; none
    is unusable and no count is negative."""
    pipeline = Pipeline(core_settings(parse_config("[domains]\nmax_tracked = 20\n")))
    recipients = [f"u{i}@d{i % 50}.example" for i in range(10_000)]
    result = pipeline.feed(f.sns(f.delivery(recipients)), "q", f.T0)
    assert (result.outcome, result.reason) == (Outcome.INVALID, "too_many_recipients")
    assert pipeline.ledger.tallies.invalid == {("q", "too_many_recipients"): 1}
    assert not pipeline.ledger.by_domain.recipients
    assert pipeline.feed(f.sns(f.delivery(recipients[:100])), "q", f.T0).outcome == "processed"
    counted = sum(counts[4] for counts in pipeline.ledger.by_domain.recipients.values())
    assert counted == 100
    assert len(pipeline.ledger.domains) == 20
    assert pipeline.ledger.by_domain.recipients["other"][4] == 30 * 2
    assert pipeline.ledger.tallies.invalid_recipients == 0
    _never_negative(pipeline)
