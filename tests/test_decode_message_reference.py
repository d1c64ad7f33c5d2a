"""An SNS notification's ``Message`` decoded inside decode_body (its usual path without
a call) answers as the path it replaced, kept here as the reference: every Message
string through _decode_message. Valid, malformed and odd Messages and envelopes alike:
the same outcome, reason and detail, or the same event."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.core import decode as module
from sesd.core.decode import VALIDATION_TEXT, Event, decode_body
from sesd.core.events import Invalid, Outer, Skipped
from sesd.core.tenants import TenantNotice
from sesd.core.unreadable import TOO_DEEP, after_mark, unreadable
from tests import factory as f

_Result = Event | Skipped | Invalid | TenantNotice


def reference(body: bytes | str) -> _Result:
    """decode_body as it was."""
    try:
        outer = module._OUTER.decode(body)
    except msgspec.ValidationError as exc:
        if module._is_validation_text(body):
            return Skipped("ses_topic_validation")
        return Invalid("schema", str(exc))
    except (msgspec.DecodeError, UnicodeError):
        return _reference_undecodable(body)
    except RecursionError:
        return TOO_DEEP
    sns_type = outer.sns_type
    if sns_type is not None:
        if sns_type != "Notification":
            skip = module._SKIP_SNS_TYPES.get(sns_type)
            if skip is not None:
                return Skipped(skip)
            return Invalid("unrecognised", f"SNS message of Type {module._shown(sns_type)!r}")
        message = outer.sns_message
        if isinstance(message, str):
            if message[:1] != "{" and message.strip() == VALIDATION_TEXT:
                return Skipped("ses_topic_validation")
            return _reference_message(message)
        if message is None:
            return Invalid("unrecognised", "SNS notification without Message")
        return module.decode_event(message)
    return module._decode_unwrapped(outer)


def _reference_undecodable(body: bytes | str) -> _Result:
    """_undecodable as it was."""
    rest = after_mark(body)
    if rest is not None:
        return reference(rest)
    if module._is_validation_text(body):
        return Skipped("ses_topic_validation")
    return unreadable(body, "body")


def _reference_message(message: str) -> _Result:
    """_decode_message as it was."""
    try:
        outer: Outer = module._OUTER.decode(message)
    except msgspec.ValidationError as exc:
        return Invalid("schema", f"SNS Message: {exc}")
    except (msgspec.DecodeError, UnicodeError):
        rest = after_mark(message)
        return unreadable(message, "SNS Message") if rest is None else _reference_message(rest)
    except RecursionError:
        return TOO_DEEP
    if outer.sns_type is not None:
        return Invalid("unrecognised", "SNS envelope inside an SNS Message")
    if outer.eb_source is None:
        return module.decode_event(outer)
    return module._decode_unwrapped(outer)


_RECIPIENTS = st.lists(st.sampled_from(["a@x.example", "b@y.example", "A@X.example"]), max_size=3)
_EVENTS = st.one_of(
    _RECIPIENTS.map(f.delivery),
    _RECIPIENTS.map(f.delay),
    _RECIPIENTS.map(f.bounce),
    _RECIPIENTS.map(f.complaint),
    _RECIPIENTS.map(lambda r: f.legacy(f.bounce(r))),
    _RECIPIENTS.map(lambda r: f.simple("Open", r)),
)
#: Values for the keys decoding reads, of every JSON type, some of them right.
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=4),
    st.sampled_from(["Notification", "aws.ses", "Email Delivered", "Delivery", "x"]),
    st.lists(st.text(max_size=3), max_size=2), st.just({}), st.just({"timestamp": 5}),
)  # fmt: skip
_KEYS = st.sampled_from([
    "Type", "Message", "eventType", "notificationType", "mail", "delivery", "bounce",
    "source", "detail-type", "detail", "resources", "time", "MessageId", "Subject",
])  # fmt: skip


@st.composite
def _message_object(draw: st.DrawFn) -> Any:
    event: dict[str, Any] = draw(_EVENTS)
    if draw(st.booleans()):
        event.update(draw(st.dictionaries(_KEYS, _VALUES, max_size=3)))
    return event


_MESSAGES = st.one_of(
    _message_object().map(json.dumps),
    _EVENTS.map(lambda e: json.loads(f.eventbridge(e))).map(json.dumps),
    _EVENTS.map(lambda e: f.sns(e)),
    _message_object().map(lambda e: "\ufeff" + json.dumps(e)),
    _message_object().map(lambda e: json.dumps(e)[:-1]),
    st.integers(1, 3).map(lambda n: "[" * (n * 2000) + "]" * (n * 2000)),
    # Nested too deeply under a key decoding skips: msgspec raises RecursionError (an
    # array at the top, or under a key read, is refused before its nesting is read).
    st.integers(1, 3).map(lambda n: '{"x": ' + "[" * (n * 2000) + "]" * (n * 2000) + "}"),
    # An SNS envelope behind a byte-order mark: refused as one without the mark is.
    _EVENTS.map(lambda e: "\ufeff" + f.sns(e)),
    st.sampled_from([VALIDATION_TEXT, f" {VALIDATION_TEXT} ", "\ud800", "{}", "[]", "5", ""]),
    st.text(max_size=20),
)


@st.composite
def _bodies(draw: st.DrawFn) -> bytes | str:
    envelope: dict[str, Any] = json.loads(f.sns("x"))
    envelope["Message"] = draw(_MESSAGES)
    if draw(st.booleans()):
        envelope.update(draw(st.dictionaries(_KEYS, _VALUES, max_size=2)))
    text = json.dumps(envelope, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass") if draw(st.booleans()) else text


@settings(max_examples=400, deadline=None)
@given(_bodies())
def test_a_notification_decodes_as_through_the_message_call(body: bytes | str) -> None:
    assert decode_body(body) == reference(body)


def test_the_usual_delivery_decodes_to_its_event() -> None:
    body = f.sns(f.delivery(["a@x.example"]))
    decoded = decode_body(body)
    assert isinstance(decoded, Event)
    assert decoded == reference(body)
