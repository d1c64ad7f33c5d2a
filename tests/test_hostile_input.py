"""Hostile input: whatever arrives, the decoder and pipeline answer with a typed outcome.

Property-based (hypothesis) over arbitrary JSON and over mutations of real
events, and the extreme cases by hand: 1 MiB bodies, deep nesting, invalid
UTF-8, 10,000 recipients in one event.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sesd.config import core_settings, parse_config
from sesd.core.decode import Event, decode_body
from sesd.core.events import Invalid, Skipped
from sesd.core.pipeline import Pipeline
from tests import factory as f

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
]
KEYS = [
    "eventType",
    "mail",
    "messageId",
    "timestamp",
    "destination",
    "delivery",
    "recipients",
    "deliveryDelay",
    "delayedRecipients",
    "emailAddress",
    "bounce",
    "bouncedRecipients",
    "processingTimeMillis",
    "tags",
    "expirationTime",
    "Type",
    "Message",
    "detail",
]
PIPELINE = Pipeline(core_settings(parse_config('[dimensions]\ntags = ["ses:configuration-set"]\n')))


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


def _check(body: str | bytes) -> None:
    decoded = decode_body(body)
    assert isinstance(decoded, Event | Skipped | Invalid)
    result = PIPELINE.feed(body, "q", f.T0)
    assert result.outcome in ("processed", "skipped", "invalid", "duplicate")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values)
def test_arbitrary_json_never_raises(value: Any) -> None:
    """Any JSON document, raw or as an SNS Message or EventBridge detail, gives a typed
    outcome."""
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
def test_mutated_real_events_never_raise(
    seed: dict[str, Any], choice: int, value: Any, drop: bool, wrap: Any
) -> None:
    """A real event with one field removed or replaced (wrong type, null, huge string)
    still gives a typed outcome, in every envelope."""
    paths = _paths(seed)
    event = _mutated(seed, paths[choice % len(paths)], value, drop)
    _check(wrap(event))


@settings(max_examples=EXAMPLES, deadline=None)
@given(body=st.binary(max_size=300) | st.text(max_size=300))
def test_arbitrary_bytes_never_raise(body: bytes | str) -> None:
    """Arbitrary bytes and text (not JSON, invalid UTF-8) give a typed outcome."""
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
    ],
    ids=["deep-array", "deep-object", "deep-in-sns", "bad-utf8", "bad-utf8-in-sns", "huge-number"],
)
def test_extreme_bodies_are_invalid_with_a_reason(body: str | bytes, reason: str) -> None:
    """Deep nesting and invalid UTF-8 are typed invalid outcomes, not exceptions."""
    decoded = decode_body(body)
    assert isinstance(decoded, Invalid)
    assert decoded.reason == reason


def test_a_one_mebibyte_body_is_processed() -> None:
    """SQS's largest message (256 KiB) and beyond: a 1 MiB event is decoded and counted."""
    event = f.delivery(["a@one.example"])
    event["mail"]["headers"] = [{"name": "X-Pad", "value": "x" * (1 << 20)}]
    pipeline = Pipeline(core_settings(parse_config("")))
    assert pipeline.feed(f.sns(event), "q", f.T0).outcome == "processed"


def test_ten_thousand_recipients_in_one_event() -> None:
    """10,000 recipients count once each, in their domains, within the cap."""
    pipeline = Pipeline(core_settings(parse_config("[domains]\nmax_tracked = 20\n")))
    recipients = [f"u{i}@d{i % 50}.example" for i in range(10_000)]
    assert pipeline.feed(f.sns(f.delivery(recipients)), "q", f.T0).outcome == "processed"
    counted = sum(counts[4] for counts in pipeline.ledger.by_domain.recipients.values())
    assert counted == 10_000
    assert len(pipeline.ledger.domains) == 20
    assert pipeline.ledger.by_domain.recipients["other"][4] == 30 * 200
