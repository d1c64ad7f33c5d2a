"""Decoding: every body form, every event type, skips and invalid bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from sesd.core.decode import VALIDATION_TEXT, Event, decode_body
from sesd.core.domains import _normalised
from sesd.core.events import LONGEST_DELAY, Invalid, Skipped
from sesd.core.unreadable import not_utf8_at
from tests import factory as f

RECIPIENT = ["a@example.org"]


def event(body: str | bytes) -> Event:
    decoded = decode_body(body)
    assert isinstance(decoded, Event), decoded
    return decoded


@pytest.mark.parametrize(
    "wrap",
    [
        f.raw,
        f.sns,
        lambda e: f.sns(e, as_object=True),
        f.eventbridge,
        lambda e: f.raw(f.legacy(e)),
        lambda e: f.sns(f.eventbridge(e)),
    ],
    ids=["raw", "sns-string", "sns-object", "eventbridge", "legacy-raw", "eventbridge-in-sns"],
)
def test_every_form_gives_the_same_event(wrap: object) -> None:
    """A Delivery in each form SQS may carry decodes to the same type, time and recipients."""
    body = f.delivery(["a@example.org", "b@example.net"], at=f.T0)
    decoded = event(wrap(body))  # type: ignore[operator]
    assert decoded.type == "delivery"
    assert decoded.time == pytest.approx(f.T0)
    assert decoded.recipients == ["a@example.org", "b@example.net"]
    assert decoded.mail.message_id == body["mail"]["messageId"]


def test_legacy_notification_inside_sns() -> None:
    """A legacy Bounce notification inside an SNS envelope is a bounce."""
    decoded = event(f.sns(f.legacy(f.bounce(RECIPIENT))))
    assert decoded.type == "bounce"


@pytest.mark.parametrize(
    ("ses_type", "label"),
    [
        ("Send", "send"),
        ("Reject", "reject"),
        ("Open", "open"),
        ("Click", "click"),
        ("Rendering Failure", "rendering_failure"),
        ("Subscription", "subscription"),
        ("SomethingNew", "unknown"),
    ],
)
def test_other_types_use_mail_destination(ses_type: str, label: str) -> None:
    """Types without their own recipient list count ``mail.destination``; unknown types are
    not invalid but labelled ``unknown``."""
    decoded = event(f.sns(f.simple(ses_type, ["x@example.org", "y@example.com"])))
    assert decoded.type == label
    assert decoded.recipients == ["x@example.org", "y@example.com"]


def test_recipients_per_type() -> None:
    """Each type reads recipients from its own list, not from mail.destination."""
    body = f.delay(["d@example.org"])
    body["mail"]["destination"] = ["d@example.org", "other@example.com"]
    assert event(f.raw(body)).recipients == ["d@example.org"]
    body = f.bounce(["b@example.org"])
    body["mail"]["destination"] = ["b@example.org", "ok@example.com"]
    assert event(f.raw(body)).recipients == ["b@example.org"]
    body = f.complaint(["c@example.org"])
    body["mail"]["destination"] = ["c@example.org", "ok@example.com"]
    assert event(f.raw(body)).recipients == ["c@example.org"]
    body = f.delivery(["ok@example.org"])
    body["mail"]["destination"] = ["ok@example.org", "late@example.com"]
    assert event(f.raw(body)).recipients == ["ok@example.org"]


def test_event_time_is_the_events_own_timestamp() -> None:
    """The sub-object's timestamp wins; Send (none of its own) uses mail.timestamp."""
    assert event(f.raw(f.delay(RECIPIENT, at=f.T0 + 5))).time == pytest.approx(f.T0 + 5)
    assert event(f.raw(f.bounce(RECIPIENT, at=f.T0 + 7))).time == pytest.approx(f.T0 + 7)
    assert event(f.raw(f.simple("Open", RECIPIENT, at=f.T0))).time == pytest.approx(f.T0 + 30)
    assert event(f.raw(f.simple("Send", RECIPIENT, at=f.T0 + 9))).time == pytest.approx(f.T0 + 9)


def test_timestamp_without_zone_is_utc() -> None:
    """A timestamp with no zone is read as UTC, whatever the machine's zone."""
    body = f.delivery(RECIPIENT, at=f.T0)
    body["delivery"]["timestamp"] = body["delivery"]["timestamp"].rstrip("Z")
    assert event(f.raw(body)).time == pytest.approx(f.T0)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            json.dumps({"Type": "SubscriptionConfirmation", "Message": "confirm"}),
            "sns_subscription_confirmation",
        ),
        (
            json.dumps({"Type": "UnsubscribeConfirmation", "Message": "bye"}),
            "sns_unsubscribe_confirmation",
        ),
        (VALIDATION_TEXT, "ses_topic_validation"),
        (f.sns(VALIDATION_TEXT), "ses_topic_validation"),
        (f.sns(f" \n{VALIDATION_TEXT}\t "), "ses_topic_validation"),
        (
            json.dumps({"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "ok"}),
            "ses_subscription_succeeded",
        ),
        (
            f.sns({"notificationType": "AmazonSnsSubscriptionSucceeded"}),
            "ses_subscription_succeeded",
        ),
        (f.eventbridge({}, "Configuration Set Updated"), "eventbridge_not_email"),
        (f.eventbridge({}, "Advisor Recommendation Status Open"), "eventbridge_not_tenant"),
        (f.eventbridge({}, "Sending Status Enabled"), "eventbridge_not_tenant"),
    ],
    ids=[
        "sns-subscribe",
        "sns-unsubscribe",
        "validation-raw",
        "validation-sns",
        "validation-sns-in-whitespace",
        "subscription-succeeded",
        "subscription-succeeded-sns",
        "other-eventbridge",
        "advisor-without-tenant",
        "sending-status-without-tenant",
    ],
)
def test_bodies_to_skip(body: str, reason: str) -> None:
    """Confirmations, non-email notices and SES's notices about no tenant are skipped,
    not invalid."""
    decoded = decode_body(body)
    assert decoded == Skipped(reason)


def _without(path: list[str]) -> str:
    body = f.delivery(RECIPIENT)
    node = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return f.sns(body)


def _with(path: list[str], value: object) -> str:
    body = f.delivery(RECIPIENT)
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return f.raw(body)


_DEEP = '{"eventType":"Delivery","x":' + "[" * 100_000 + "]" * 100_000 + "}"


@pytest.mark.parametrize(
    ("body", "reason", "detail"),
    [
        (b"\xff\xfe not json", "not_json", "body is not JSON"),
        ("{truncated", "not_json", "body is not JSON"),
        (json.dumps({"hello": "world"}), "unrecognised", "no eventType or notificationType"),
        (json.dumps([1, 2, 3]), "schema", "Expected `object`, got `array`"),
        (json.dumps({"Type": "Notification"}), "unrecognised", "SNS notification without Message"),
        (
            json.dumps({"Type": "Notification", "Message": "not json"}),
            "not_json",
            "SNS Message is not JSON",
        ),
        (
            json.dumps({"Type": "Notification", "Message": None}),
            "unrecognised",
            "SNS notification without Message",
        ),
        (
            json.dumps({"Type": "Notification", "Message": ""}),
            "not_json",
            "SNS Message is not JSON",
        ),
        (
            json.dumps({"Type": "Notification", "Message": 12}),
            "schema",
            "Expected `str | object | null`, got `int` - at `$.Message`",
        ),
        (
            json.dumps({"Type": "Notification", "Message": {"mail": 12}}),
            "schema",
            "Expected `object | null`, got `int` - at `$.Message.mail`",
        ),
        (
            json.dumps({"Type": "Other", "Message": "{}"}),
            "unrecognised",
            "SNS message of Type 'Other'",
        ),
        (
            json.dumps({"source": "aws.ec2", "detail-type": "Email Delivered", "detail": {}}),
            "unrecognised",
            "EventBridge event not from aws.ses",
        ),
        (
            json.dumps({"source": "aws.ses", "detail-type": "Email Delivered"}),
            "unrecognised",
            "EventBridge event without detail",
        ),
        (
            json.dumps({"source": "aws.ses", "detail-type": "Email Delivered", "detail": _DEEP}),
            "too_deep",
            "JSON nested too deeply",
        ),
        (
            json.dumps({"Type": "Notification", "Message": _DEEP}),
            "too_deep",
            "JSON nested too deeply",
        ),
        (_without(["mail"]), "missing_mail", "Delivery event without mail"),
        (_without(["delivery"]), "schema", "Delivery event without its delivery object"),
        (
            f.raw(f.simple("Bounce", RECIPIENT)),
            "schema",
            "Bounce event without its bounce object",
        ),
        (
            f.raw(f.simple("DeliveryDelay", RECIPIENT)),
            "schema",
            "DeliveryDelay event without its deliveryDelay object",
        ),
        (
            f.raw(f.simple("Complaint", RECIPIENT)),
            "schema",
            "Complaint event without its complaint object",
        ),
        (
            _without(["mail", "messageId"]),
            "schema",
            "SNS Message: Object missing required field `messageId` - at `$.mail`",
        ),
        (
            _with(["mail", "timestamp"], "yesterday"),
            "schema",
            "delivery event with a timestamp not in ISO 8601",
        ),
        (
            _with(["delivery", "recipients"], "a@example.org"),
            "schema",
            "Expected `array`, got `str` - at `$.delivery.recipients`",
        ),
        (
            _with(["delivery", "recipients"], [1, 2]),
            "schema",
            "Expected `str`, got `int` - at `$.delivery.recipients[0]`",
        ),
        (
            _with(["delivery", "processingTimeMillis"], "fast"),
            "schema",
            "Expected `float | null`, got `str` - at `$.delivery.processingTimeMillis`",
        ),
        (
            _with(["delivery", "recipients"], []),
            "no_recipients",
            "Delivery event without recipients",
        ),
        (f.sns(f.simple("Send", [])), "no_recipients", "Send event without recipients"),
    ],
    ids=[
        "bytes",
        "truncated",
        "no-event",
        "array",
        "sns-no-message",
        "sns-message-not-json",
        "sns-message-null",
        "sns-message-empty",
        "sns-message-number",
        "sns-message-object-bad-mail",
        "sns-other-type",
        "eventbridge-other-source",
        "eventbridge-no-detail",
        "eventbridge-detail-too-deep",
        "sns-message-too-deep",
        "missing-mail",
        "missing-delivery",
        "missing-bounce",
        "missing-delivery-delay",
        "missing-complaint",
        "missing-message-id",
        "bad-timestamp",
        "recipients-not-list",
        "recipients-not-str",
        "processing-not-number",
        "empty-recipients",
        "send-empty-destination",
    ],
)
def test_invalid_bodies_have_a_reason(body: str | bytes, reason: str, detail: str) -> None:
    """Bodies sesd cannot use are Invalid with a bounded reason and a detail that says
    what is wrong (logged for the operator, never the body), and never raise."""
    decoded = decode_body(body)
    assert isinstance(decoded, Invalid), decoded
    assert (decoded.reason, decoded.detail) == (reason, detail)


@pytest.mark.parametrize(
    ("event_type", "stray", "label"),
    [
        ("Bounce", "delivery", "bounce"),
        ("Complaint", "deliveryDelay", "complaint"),
        ("Open", "bounce", "open"),
        ("Click", "complaint", "click"),
    ],
)
def test_an_events_type_decides_which_object_is_read(
    event_type: str, stray: str, label: str
) -> None:
    """An event carrying another type's object as well is read as its own type."""
    own = {"Bounce": f.bounce, "Complaint": f.complaint}
    body = own[event_type](RECIPIENT) if event_type in own else f.simple(event_type, RECIPIENT)
    body[stray] = (
        f.delay(["other@else.example"])["deliveryDelay"]
        | f.delivery(["other@else.example"])["delivery"]
    )
    if stray == "bounce":
        body[stray] = f.bounce(["other@else.example"])["bounce"]
    if stray == "complaint":
        body[stray] = f.complaint(["other@else.example"])["complaint"]
    decoded = event(f.raw(body))
    assert decoded.type == label
    assert decoded.recipients == RECIPIENT


def test_an_engagement_event_is_timed_by_its_own_object() -> None:
    """Open, Click and Subscription events take their time from their object."""
    for event_type, key in (("Open", "open"), ("Click", "click"), ("Subscription", "subscription")):
        body = f.simple(event_type, RECIPIENT, at=f.T0)
        body[key] = {"timestamp": f.iso(f.T0 + 90)}
        assert event(f.raw(body)).time == f.T0 + 90, event_type
        del body[key]
        assert event(f.raw(body)).time == f.T0, event_type


def test_a_top_level_source_alone_is_not_eventbridge() -> None:
    """EventBridge needs both ``source`` and ``detail-type``: an SES event with a stray
    ``source`` field is read as the SES event it is."""
    body = f.delivery(RECIPIENT)
    body["source"] = "aws.ses"
    assert event(f.raw(body)).type == "delivery"


def test_two_recipients_that_are_one_address_count_once_and_case_folds_down() -> None:
    """Recipients compare as lower-cased addresses: two that differ in case are one;
    two that only upper-casing would merge (ß and ss) stay two."""
    same = event(f.raw(f.delivery(["A@x.example", "a@x.example"])))
    assert same.recipients == ["A@x.example"]
    delayed = event(f.raw(f.delay(["A@x.example", "a@x.example"])))
    assert delayed.recipients == ["A@x.example"]
    assert len(delayed.entries or ()) == 1
    distinct = event(f.raw(f.delivery(["straße@x.example", "strasse@x.example"])))
    assert distinct.recipients == ["straße@x.example", "strasse@x.example"]
    bounced = event(f.raw(f.bounce(["straße@x.example", "strasse@x.example"])))
    assert bounced.recipients == ["straße@x.example", "strasse@x.example"]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["delivery", "timestamp"], "2027-02-30T08:00:00.000Z"),
        (["delivery", "timestamp"], "a@example.org"),
        (["mail", "timestamp"], "2027-01-15T25:00:00.000Z"),
        (["deliveryDelay", "expirationTime"], "soon: a@example.org"),
        (["deliveryDelay", "timestamp"], ""),
    ],
)
def test_a_timestamp_not_in_iso_8601_makes_the_body_invalid(path: list[str], value: str) -> None:
    """Timestamps are read after msgspec (as text): one that is no time is a schema
    error, as when msgspec read them, and the detail does not repeat it."""
    body = f.delay(RECIPIENT) if path[0] == "deliveryDelay" else f.delivery(RECIPIENT)
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    decoded = decode_body(f.sns(body))
    assert isinstance(decoded, Invalid), decoded
    assert decoded.reason == "schema"
    assert "example.org" not in decoded.detail
    assert "ISO 8601" in decoded.detail


def test_invalid_detail_never_echoes_the_body() -> None:
    """The detail logged for an invalid body holds its shape, not its values (addresses)."""
    decoded = decode_body(_with(["delivery", "recipients"], [{"secret": "a@example.org"}]))
    assert isinstance(decoded, Invalid)
    assert "a@example.org" not in decoded.detail


def test_unknown_fields_are_ignored() -> None:
    """SES adds fields over time; unknown ones are ignored, not invalid."""
    body = f.delivery(RECIPIENT)
    body["delivery"]["newField"] = {"nested": [1, 2]}
    body["brandNew"] = True
    assert event(f.sns(body)).type == "delivery"


def test_eventbridge_through_sns_keeps_its_skips() -> None:
    """An EventBridge rule that targets the SNS topic feeding the queue: the SNS Message is
    the EventBridge event; its non-email events are skipped, an SNS envelope in an SNS
    Message is not an event."""
    advisor = f.eventbridge(f.delivery(RECIPIENT), detail_type="Advisor Recommendation Status")
    assert decode_body(f.sns(advisor)) == Skipped("eventbridge_not_email")
    nested = decode_body(f.sns(f.sns(f.delivery(RECIPIENT))))
    assert isinstance(nested, Invalid)
    assert nested.reason == "unrecognised"


@pytest.mark.parametrize(
    "build",
    [
        lambda r: f.delivery(r),
        lambda r: f.delay(r),
        lambda r: f.bounce(r),
        lambda r: f.complaint(r),
        lambda r: f.simple("Send", r),
    ],
    ids=["delivery", "delay", "bounce", "complaint", "send"],
)
def test_a_recipient_listed_twice_counts_once(build: object) -> None:
    """The same address twice in one event (in any case) is one recipient; the first
    entry's SMTP status and diagnostic are the ones kept."""
    decoded = event(f.raw(build(["a@one.com", "b@two.com", "A@One.com"])))  # type: ignore[operator]
    assert decoded.recipients == ["a@one.com", "b@two.com"]


def test_a_recipient_in_to_and_cc_with_a_display_name_counts_once() -> None:
    """A message's destination lists To and Cc as written: ``Ann <ann@x.example>`` in
    one and ``ann@x.example`` in the other are one recipient; two people are two."""
    listed = ["Ann <ann@x.example>", "ANN@x.example", "Bob <bob@x.example>", "<bob@y.example>"]
    decoded = event(f.raw(f.simple("Send", listed)))
    assert decoded.recipients == ["Ann <ann@x.example>", "Bob <bob@x.example>", "<bob@y.example>"]
    # Its domain in Unicode and in punycode, or with a trailing dot: one recipient too.
    listed = ["Anna <anna@Bücher.de>", "anna@xn--bcher-kva.de", "anna@bücher.de.", "jo@bücher.de"]
    decoded = event(f.raw(f.simple("Send", listed)))
    assert decoded.recipients == ["Anna <anna@Bücher.de>", "jo@bücher.de"]
    if decoded.entries is not None:
        assert [e.email_address for e in decoded.entries] == ["a@one.com", "b@two.com"]


VALIDATION = "Successfully validated SNS topic for Amazon SES event publishing."


def _eventbridge_detail(detail_json: str) -> str:
    """An EventBridge envelope whose ``detail`` is the given JSON text, as it is."""
    envelope = json.loads(f.eventbridge(f.delivery(RECIPIENT)))
    envelope["detail"] = "@@DETAIL@@"
    return json.dumps(envelope).replace('"@@DETAIL@@"', detail_json)


_MARK = "\ufeff"  # a byte-order mark, as a Windows editor saves one before the text


@pytest.mark.parametrize(
    "marked",
    [
        pytest.param((_MARK + f.raw(f.delivery(RECIPIENT))).encode(), id="body bytes"),
        pytest.param(_MARK + f.raw(f.delivery(RECIPIENT)), id="body text"),
        pytest.param(f.sns(_MARK + f.raw(f.delivery(RECIPIENT))), id="SNS Message"),
        pytest.param(
            _eventbridge_detail(json.dumps(_MARK + f.raw(f.delivery(RECIPIENT)))),
            id="EventBridge detail string",
        ),
        pytest.param(_MARK + f.sns(f.delivery(RECIPIENT)), id="SNS envelope"),
    ],
)
def test_a_byte_order_mark_before_the_json_is_dropped(marked: bytes | str) -> None:
    """An event saved by a tool that writes a UTF-8 byte-order mark first (no AWS
    service does) and sent by hand, as a body, an SNS Message or an EventBridge detail:
    the mark is dropped and the event counts as the same event without it."""
    result = decode_body(marked)
    assert isinstance(result, Event)
    assert (result.type, result.recipients) == ("delivery", [RECIPIENT[0]])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_MARK * 2 + f.raw(f.delivery(RECIPIENT)), Invalid("not_json", "body is not JSON")),
        (
            f.raw(f.delivery(RECIPIENT)).replace("{", "{" + _MARK, 1),
            Invalid("not_json", "body is not JSON"),
        ),
        (
            f.sns(_MARK * 2 + f.raw(f.delivery(RECIPIENT))),
            Invalid("not_json", "SNS Message is not JSON"),
        ),
    ],
)
def test_only_one_byte_order_mark_at_the_start_is_dropped(body: str, expected: Invalid) -> None:
    """Two marks, or one after the first brace, are not JSON: only the one mark a tool
    writes at the start of a file is dropped."""
    assert decode_body(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("not json", Invalid("not_json", "body is not JSON")),
        (
            '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}",
            Invalid("too_deep", "JSON nested too deeply"),
        ),
        (b'{"eventType": "\xff"}', Invalid("not_utf8", "body is not valid UTF-8")),
        (f.sns("not json"), Invalid("not_json", "SNS Message is not JSON")),
        (_eventbridge_detail('"not json"'), Invalid("not_json", "EventBridge detail is not JSON")),
        (_eventbridge_detail(json.dumps(VALIDATION)), Skipped("ses_topic_validation")),
        (json.dumps(VALIDATION), Skipped("ses_topic_validation")),
        (
            f.sns(f.sns(f.delivery(RECIPIENT))),
            Invalid("unrecognised", "SNS envelope inside an SNS Message"),
        ),
        (
            '{"mail": {"timestamp": "x", "messageId": "m"}}',
            Invalid("unrecognised", "no eventType or notificationType"),
        ),
        ('{"eventType": "Send"}', Invalid("missing_mail", "Send event without mail")),
        (
            f.sns('{"a":' * 50_000 + "1" + "}" * 50_000),
            Invalid("too_deep", "JSON nested too deeply"),
        ),
        (f'  "{VALIDATION}"  '.encode(), Skipped("ses_topic_validation")),
    ],
    ids=[
        "not-json",
        "too-deep",
        "not-utf8",
        "sns-message-not-json",
        "eventbridge-detail-string-not-json",
        "eventbridge-detail-validation",
        "validation-as-json-string",
        "sns-in-sns",
        "no-event-type",
        "no-mail",
        "too-deep-in-sns",
        "validation-quoted-bytes",
    ],
)
def test_every_way_a_body_goes_wrong_has_its_reason(body: str | bytes, expected: object) -> None:
    """Each invalid or skipped body gets exactly its reason and detail (details never
    quote the body)."""
    assert decode_body(body) == expected


def _bytes_in_detail(detail: bytes) -> bytes:
    """An EventBridge envelope whose ``detail`` is the given bytes, as they are."""
    return _eventbridge_detail('"@@DETAIL@@"').encode().replace(b'"@@DETAIL@@"', detail)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            _bytes_in_detail(b'"\xff"'),
            Invalid("not_utf8", "EventBridge detail is not valid UTF-8"),
        ),
        (
            _bytes_in_detail(b'"{\\"eventType\\": \\"\xe9\\"}"'),
            Invalid("not_utf8", "EventBridge detail is not valid UTF-8"),
        ),
        (
            _bytes_in_detail(b'{"eventType": "Delivery", "mail": {"messageId": "\xe9"}}'),
            Invalid("not_utf8", "EventBridge detail is not valid UTF-8"),
        ),
        (
            b'{"eventType": "Delivery", "mail": {"messageId": "\xe9"}, ',
            Invalid("not_json", "body is not JSON"),
        ),
        (b'{"eventType": "\xff", "mail": }', Invalid("not_json", "body is not JSON")),
        (b'{"eventType": "\xff", "mail": {}}', Invalid("not_utf8", "body is not valid UTF-8")),
    ],
    ids=[
        "detail-string-not-utf8",
        "detail-string-holding-an-event-not-utf8",
        "detail-object-not-utf8",
        "cut-short-after-latin1",
        "not-json-after-bad-byte",
        "json-but-a-bad-byte",
    ],
)
def test_text_not_utf8_is_not_utf8_only_when_it_is_json_otherwise(
    body: bytes, expected: Invalid
) -> None:
    """Bytes that are not UTF-8 are `not_utf8` when the text is JSON apart from them, at
    whatever depth (an EventBridge detail written as a JSON string raised out of the
    decoder), and `not_json` when it is not JSON either way (a body cut short after a
    Latin-1 byte was `not_utf8` or `not_json` by the msgspec release installed)."""
    assert decode_body(body) == expected


def test_an_eventbridge_detail_given_as_a_json_string() -> None:
    """A ``detail`` written as a JSON string holding the event decodes like an object;
    one of the wrong shape names where it failed."""
    event = decode_body(_eventbridge_detail(json.dumps(json.dumps(f.delivery(RECIPIENT)))))
    assert isinstance(event, Event)
    assert event.recipients == RECIPIENT
    wrong = decode_body(_eventbridge_detail(json.dumps(json.dumps({"eventType": 5}))))
    assert isinstance(wrong, Invalid)
    assert wrong.reason == "schema"
    assert wrong.detail.startswith("EventBridge detail: Expected `str | null`")


@pytest.mark.parametrize(
    ("listed", "kept"),
    [
        (["a@x.com", "b@x.com"], ["a@x.com", "b@x.com"]),
        (["a@x.com", " A@X.com"], ["a@x.com"]),
        (["a@x.com"], ["a@x.com"]),
    ],
)
def test_two_recipients_are_two_unless_they_are_one(listed: list[str], kept: list[str]) -> None:
    """Two different addresses are both kept; the same one in another case is one."""
    assert event(f.raw(f.delivery(listed))).recipients == kept


def test_an_sns_message_of_the_wrong_shape_names_where() -> None:
    """The schema error of an SNS Message says it was in the SNS Message."""
    wrong = decode_body(f.sns(json.dumps({"eventType": 5})))
    assert isinstance(wrong, Invalid)
    assert wrong.reason == "schema"
    assert wrong.detail.startswith("SNS Message: Expected `str | null`")


@pytest.mark.parametrize("wrap", [f.raw, f.sns, f.eventbridge], ids=["raw", "sns", "eventbridge"])
def test_an_identity_or_account_longer_than_aws_makes_is_invalid(
    wrap: Callable[[dict[str, Any]], str],
) -> None:
    """sesd remembers who sent each identity's mail, keyed on the event's sourceArn and
    sendingAccountId: a stranger's megabyte there would be kept whole. An ARN is at most
    2,048 characters and an account id 12 digits: one longer makes the event invalid, its
    detail naming the field (cut, it would count under an identity SES never had). At
    the bounds, it decodes."""
    body = f.delivery(RECIPIENT)
    body["mail"]["sourceArn"] = "arn:aws:ses:eu-west-1:123456789012:identity/" + "x" * 2004
    assert len(body["mail"]["sourceArn"]) == 2048
    assert isinstance(decode_body(wrap(body)), Event)
    for field, value in [("sourceArn", "arn:" + "x" * 2045), ("sendingAccountId", "1" * 13)]:
        wrong = decode_body(wrap({**body, "mail": {**body["mail"], field: value}}))
        assert isinstance(wrong, Invalid)
        assert wrong.reason == "schema"
        assert wrong.detail.endswith(f"of length <= {len(value) - 1} - at `$.mail.{field}`")


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (f.delivery, "Delivery"),
        (f.delay, "DeliveryDelay"),
        (f.bounce, "Bounce"),
        (f.complaint, "Complaint"),
        (lambda listed: f.simple("Open", listed), "Open"),
    ],
    ids=["delivery", "delay", "bounce", "complaint", "open-destination"],
)
def test_an_event_listing_more_recipients_than_ses_sends_to_is_invalid(
    build: Callable[[list[str]], dict[str, Any]], name: str
) -> None:
    """SES sends a message to at most 50 recipients (To, Cc and Bcc). An event listing
    more than 100 is none of SES's (10,000, each with a long Unicode domain, was seconds
    of work a body): invalid, reason ``too_many_recipients``, its detail saying how
    many, and refused before any of its domains is normalised. One listing 100 decodes
    (three listed twice: 97 recipients); a Delivery whose destination lists more than
    it delivered to is no matter (its own list counts)."""
    _normalised.cache_clear()
    listed = [f"u{i}@dömäin-{i}.example" for i in range(10_000)]
    refused = decode_body(f.sns(build(listed)))
    detail = f"{name} event listing 10000 recipients, more than 100"
    assert refused == Invalid("too_many_recipients", detail)
    assert _normalised.cache_info().misses == 0
    assert event(f.sns(build(listed[:97] + listed[:3]))).recipients == listed[:97]
    body = f.delivery(listed[:1])
    body["mail"]["destination"] = listed
    assert event(f.raw(body)).recipients == listed[:1]


def test_where_text_stops_being_utf8_is_said_as_an_editor_counts() -> None:
    """not_utf8_at names the first byte that is not UTF-8 by line, column (characters)
    and byte offset in the whole text: at the start, after a line of multi-byte
    characters, a sequence cut at the very end, and after a line end that is the
    text's first byte (a line of its own); UTF-8 throughout gives None."""
    assert not_utf8_at('{"a": "déjà"}\n'.encode()) is None
    assert not_utf8_at(b"\n\xff") == "line 2, column 1, byte offset 1"
    assert not_utf8_at(b"\xff{}") == "line 1, column 1, byte offset 0"
    assert not_utf8_at("ü\n".encode() + b"ab\xe9") == "line 2, column 3, byte offset 5"
    assert not_utf8_at("éé".encode() + b"\xc3") == "line 1, column 3, byte offset 4"


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"ses:configuration-set": ["ConfigSet"]}, "ConfigSet"),
        ({"ses:configuration-set": ["first", "second"]}, "first"),  # SES sets one
        ({"ses:configuration-set": []}, ""),
        ({"campaign": ["spring"]}, ""),
        ({}, ""),
    ],
)
def test_an_events_configuration_set_is_its_tags_first_value(
    tags: dict[str, list[str]], expected: str
) -> None:
    """The configuration set SES tags a message with is read once, at decoding, for
    every stage that reads it (the reputation estimate, tenants, problem notes)."""
    for body in (f.delivery(RECIPIENT, tags=tags), f.delay(RECIPIENT, tags=tags)):
        assert event(f.sns(body)).config_set == expected


def test_a_delays_expiry_is_at_most_sixteen_hours_after_it() -> None:
    """SES stops trying a message within 16 hours: a delay whose expirationTime is
    later (a year on: a stranger's body, a clock far off) ends 16 hours after it, so
    its recipient stops pending then; an expiry within the 16 hours is kept."""
    far = decode_body(f.raw(f.delay(RECIPIENT, expires=f.T0 + 365 * 86400)))
    near = decode_body(f.raw(f.delay(RECIPIENT, expires=f.T0 + 3600)))
    assert isinstance(far, Event)
    assert isinstance(near, Event)
    assert (far.expires, near.expires) == (f.T0 + LONGEST_DELAY, f.T0 + 3600)
