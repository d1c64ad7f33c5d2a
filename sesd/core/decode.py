"""An SQS message body -> an :class:`Event`, :class:`Skipped` or :class:`Invalid`.

Pure: no I/O, no clock. Recognises every form SES events reach SQS in:

* SNS notification envelope (``Type == "Notification"``; ``Message`` a JSON
  string, or an object),
* SNS raw message delivery (the SES event itself),
* EventBridge (``source == "aws.ses"``, the event under ``detail``; and SES's
  tenant events: sending status changes and reputation findings),
* legacy identity notifications (``notificationType`` instead of ``eventType``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, TypeVar

import msgspec

from sesd.core.domains import recipient_key
from sesd.core.events import (
    EVENT_TYPE_INDEX,
    LONGEST_DELAY,
    MAX_RECIPIENTS,
    BouncedRecipient,
    DelayedRecipient,
    Invalid,
    Mail,
    Outer,
    SesEvent,
    Skipped,
)
from sesd.core.tenant_events import TENANT_EVENTS, tenant_notice
from sesd.core.tenants import TenantNotice
from sesd.core.text import clean
from sesd.core.timestamps import parse_iso, unix_seconds
from sesd.core.unreadable import TOO_DEEP, after_mark, unmarked, unreadable

__all__ = ["Event", "decode_body", "decode_event"]

#: The longest name from a body an invalid result repeats.
_NAME_CHARS: Final = 64
#: The text SES publishes to a topic when an event destination is created.
VALIDATION_TEXT: Final = "Successfully validated SNS topic for Amazon SES event publishing."

#: SES event type names -> (label, the label's index in EVENT_TYPES).
_SES_TYPES: Final = {
    name: (label, EVENT_TYPE_INDEX[label])
    for name, label in {
        "Send": "send",
        "Reject": "reject",
        "Bounce": "bounce",
        "Complaint": "complaint",
        "Delivery": "delivery",
        "DeliveryDelay": "delivery_delay",
        "Open": "open",
        "Click": "click",
        "Rendering Failure": "rendering_failure",
        "RenderingFailure": "rendering_failure",
        "Subscription": "subscription",
    }.items()
}
_DELIVERY: Final = EVENT_TYPE_INDEX["delivery"]
#: The tag SES sets to the configuration set a message was sent with.
_CONFIG_SET_TAG: Final = "ses:configuration-set"
_UNKNOWN: Final = EVENT_TYPE_INDEX["unknown"]

_SKIP_SNS_TYPES: Final = {
    "SubscriptionConfirmation": "sns_subscription_confirmation",
    "UnsubscribeConfirmation": "sns_unsubscribe_confirmation",
}


class Event(msgspec.Struct, frozen=True, gc=False):
    """A decoded SES event: its type label (and that label's index in
    :data:`~sesd.core.events.EVENT_TYPES`), event time, the time the message was sent
    (Unix seconds), recipients, the ``mail`` object and its message id, the whole SES
    event and, for a delay, its expiration time. For a delay or a bounce, ``entries``
    are its per-recipient objects (SMTP status, diagnostic), one for each of
    ``recipients``. A recipient listed twice in one event is kept once.
    ``config_set`` is the configuration set it was sent with ("" without one): the
    reputation estimate, tenants and problem notes each read it.

    Built once per event, by :func:`decode_event` alone, with nothing to validate
    (msgspec checked the types): a Struct, whose ``__init__`` is C code. Every stage
    reads its fields. Frozen and not tracked by the collector: it holds texts, numbers,
    lists of texts and untracked structs, in no cycle (215 instructions an event fewer).
    """

    type: str
    kind: int
    time: float
    sent: float
    recipients: list[str]
    mail: Mail
    message_id: str
    ses: SesEvent
    expires: float | None = None
    entries: Sequence[DelayedRecipient | BouncedRecipient] | None = None
    config_set: str = ""

    def __repr__(self) -> str:
        return f"Event({self.type!r}, {self.time!r}, {len(self.recipients)} recipients)"


_OUTER: Final = msgspec.json.Decoder(Outer)
_EVENT: Final = msgspec.json.Decoder(SesEvent)
_STR: Final = msgspec.json.Decoder(str)


def decode_body(body: bytes | str) -> Event | Skipped | Invalid | TenantNotice:
    """Decode one SQS message body in any supported form."""
    try:
        outer = _OUTER.decode(body)
    except msgspec.ValidationError as exc:
        if _is_validation_text(body):
            return Skipped("ses_topic_validation")
        return Invalid("schema", str(exc))
    except (msgspec.DecodeError, UnicodeError):
        return _undecodable(body)
    except RecursionError:
        return TOO_DEEP

    sns_type = outer.sns_type
    if sns_type is not None:
        if sns_type != "Notification":
            return _not_notification(sns_type)
        message = outer.sns_message
        if isinstance(message, str):  # the usual form, checked first
            # An event opens with its brace: the text SES validates a topic with
            # (whitespace around it stripped) is looked for only in what does not. (Its
            # first character read by index: a one-character slice cost 270 more.)
            if (not message or message[0] != "{") and message.strip() == VALIDATION_TEXT:
                return Skipped("ses_topic_validation")
            # _decode_message()'s usual path, without its call (about 600 instructions
            # an event); a Message that fails is decoded again there, to say why.
            try:
                inner = _OUTER.decode(message)
            except (msgspec.DecodeError, UnicodeError, RecursionError):
                return _decode_message(message)
            if inner.sns_type is None and inner.eb_source is None:
                return decode_event(inner)
            return _message_form(inner)
        return _message_object(message)
    if outer.eb_source is None:
        # The SES event itself (raw message delivery, a replay's archive): what
        # _decode_unwrapped() does with it, without that call.
        return decode_event(outer)
    return _decode_unwrapped(outer)


def _message_object(message: SesEvent | None) -> Event | Skipped | Invalid:
    """An SNS ``Message`` given as an object, not as JSON text, or none at all."""
    if message is None:
        return Invalid("unrecognised", "SNS notification without Message")
    return decode_event(message)


def _not_notification(sns_type: str) -> Skipped | Invalid:
    """An SNS message other than a notification: a subscription's, or none of SNS's."""
    skip = _SKIP_SNS_TYPES.get(sns_type)
    if skip is not None:
        return Skipped(skip)
    return Invalid("unrecognised", f"SNS message of Type {_shown(sns_type)!r}")


def _undecodable(body: bytes | str) -> Event | Skipped | Invalid | TenantNotice:
    """A body msgspec could not read: the event after one byte-order mark, SNS's
    subscription text, or why it is not an event."""
    rest = after_mark(body)
    if rest is not None:
        return decode_body(rest)
    if _is_validation_text(body):
        return Skipped("ses_topic_validation")
    return unreadable(body, "body")


def _decode_message(message: str) -> Event | Skipped | Invalid | TenantNotice:
    """An SNS ``Message``: an SES event, or an EventBridge event (an EventBridge rule
    whose target is the SNS topic that feeds the queue)."""
    try:
        outer = _OUTER.decode(message)
    except msgspec.ValidationError as exc:
        return Invalid("schema", f"SNS Message: {exc}")
    except (msgspec.DecodeError, UnicodeError):
        rest = after_mark(message)
        return unreadable(message, "SNS Message") if rest is None else _decode_message(rest)
    except RecursionError:
        return TOO_DEEP
    if outer.sns_type is None and outer.eb_source is None:
        # The SES event itself, as nearly always: what _decode_unwrapped() does with
        # it, without that call.
        return decode_event(outer)
    return _message_form(outer)


def _message_form(outer: Outer) -> Event | Skipped | Invalid | TenantNotice:
    """A decoded SNS ``Message`` that is not a bare SES event: EventBridge's, or refused."""
    if outer.sns_type is not None:
        return Invalid("unrecognised", "SNS envelope inside an SNS Message")
    return _decode_unwrapped(outer)


def _decode_unwrapped(outer: Outer) -> Event | Skipped | Invalid | TenantNotice:
    """A body (or SNS Message) that is not an SNS envelope: EventBridge, or the event."""
    if outer.eb_source is not None and outer.eb_detail_type is not None:
        if outer.eb_source != "aws.ses":
            return Invalid("unrecognised", "EventBridge event not from aws.ses")
        # "Email Delivered", "Email Bounced"... carry an email event; "Sending Status
        # ..." and "Advisor Recommendation Status ..." what SES says of a tenant.
        if outer.eb_detail_type in TENANT_EVENTS:
            return tenant_notice(outer, TENANT_EVENTS[outer.eb_detail_type])
        if not outer.eb_detail_type.startswith("Email "):
            return Skipped("eventbridge_not_email")
        if not outer.eb_detail:
            return Invalid("unrecognised", "EventBridge event without detail")
        return _decode_payload(outer.eb_detail, "EventBridge detail")

    return decode_event(outer)


def _is_validation_text(body: bytes | str) -> bool:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text.strip().strip('"') == VALIDATION_TEXT


def _decode_payload(raw: msgspec.Raw, where: str) -> Event | Skipped | Invalid:
    """Decode an envelope's payload: a JSON object, or a JSON string holding one."""
    payload: bytes | str = bytes(raw)
    if payload[:1] == b'"':
        # The envelope's decoding checked this string's escapes, not its UTF-8 (msgspec
        # reads a value it skips into Raw without decoding its text).
        try:
            payload = unmarked(_STR.decode(payload))
        except (msgspec.DecodeError, UnicodeError):
            return unreadable(payload, where)
        if payload.strip() == VALIDATION_TEXT:
            return Skipped("ses_topic_validation")
    return _decode_text(payload, where)


def _decode_text(payload: bytes | str, where: str) -> Event | Skipped | Invalid:
    """Decode an SES event from JSON text."""
    try:
        event = _EVENT.decode(payload)
    except msgspec.ValidationError as exc:
        return Invalid("schema", f"{where}: {exc}")
    except (msgspec.DecodeError, UnicodeError):
        return unreadable(payload, where)
    except RecursionError:
        return TOO_DEEP
    return decode_event(event)


def _shown(name: str) -> str:
    """A name from the body (an event type, an SNS type) as an invalid result may say
    it: a stranger's, so cleaned and cut (its ``detail`` is logged)."""
    return clean(name, _NAME_CHARS)


def decode_event(ses: SesEvent) -> Event | Skipped | Invalid:
    """Classify a decoded SES event and pick its recipients and time."""
    name = ses.event_type
    if name is None:
        name = ses.notification_type
        if name is None:
            return Invalid("unrecognised", "no eventType or notificationType")
        if name == "AmazonSnsSubscriptionSucceeded":
            return Skipped("ses_subscription_succeeded")
    mail = ses.mail
    if mail is None:
        return Invalid("missing_mail", f"{_shown(name)} event without mail")
    delivery = ses.delivery if name == "Delivery" else None
    if delivery is not None:
        # Nine events in ten are deliveries, nearly all to one recipient: one comparison
        # instead of hashing the name, and their recipients picked here, with no call.
        label, kind = "delivery", _DELIVERY
        listed = delivery.recipients
        recipients = listed if len(listed) < 2 else _unique(listed)
        entries, sub_time, expiration = None, delivery.timestamp, None
    else:
        found = _SES_TYPES.get(name)
        label, kind = ("unknown", _UNKNOWN) if found is None else found
        picked = _recipients(ses, label, mail)
        if picked is None:
            shown = _shown(name)
            detail = f"{shown} event without its {shown[:1].lower()}{shown[1:]} object"
            return Invalid("schema", detail)
        recipients, entries, sub_time, expiration = picked
    if not recipients:
        return Invalid("no_recipients", f"{_shown(name)} event without recipients")
    if len(recipients) > MAX_RECIPIENTS:  # none SES sends: refused before any is read
        shown = f"{_shown(name)} event listing {len(recipients)} recipients"
        return Invalid("too_many_recipients", f"{shown}, more than {MAX_RECIPIENTS}")
    try:
        # unix_seconds() inline for SES's form, with its zone (one without goes through it;
        # one not ISO 8601 raises ValueError as there): 760 instructions an event fewer.
        moment = parse_iso(mail.timestamp)
        sent = moment.timestamp() if moment.tzinfo is not None else unix_seconds(mail.timestamp)
        if sub_time is None:
            time = sent
        else:
            moment = parse_iso(sub_time)
            time = moment.timestamp() if moment.tzinfo is not None else unix_seconds(sub_time)
        expires = None if expiration is None else unix_seconds(expiration)
        expires = expires if expires is None else min(expires, time + LONGEST_DELAY)
    except ValueError:
        return Invalid("schema", f"{label} event with a timestamp not in ISO 8601")
    tagged = mail.tags.get(_CONFIG_SET_TAG)
    config_set = tagged[0] if tagged else ""
    return Event(
        label, kind, time, sent, recipients, mail, mail.message_id, ses, expires, entries,
        config_set,
    )  # fmt: skip


#: An event's recipients, their per-recipient entries (delays and bounces), the time
#: of its type's own object, and a delay's expiry.
_Recipients = tuple[
    list[str], Sequence[DelayedRecipient | BouncedRecipient] | None, str | None, str | None
]


def _recipients(ses: SesEvent, label: str, mail: Mail) -> _Recipients | None:
    """What an event of type ``label`` says of its recipients; None when its type's
    object is missing. (A delivery with its object is picked by :func:`decode_event`.)"""
    if label == "delivery_delay" and ses.delivery_delay is not None:
        delayed = _unique_entries(ses.delivery_delay.delayed_recipients)
        delay = ses.delivery_delay
        return [r.email_address for r in delayed], delayed, delay.timestamp, delay.expiration_time
    if label == "bounce" and ses.bounce is not None:
        bounced = _unique_entries(ses.bounce.bounced_recipients)
        return [r.email_address for r in bounced], bounced, ses.bounce.timestamp, None
    if label == "complaint" and ses.complaint is not None:
        complained = [r.email_address for r in ses.complaint.complained_recipients]
        return _unique(complained), None, ses.complaint.timestamp, None
    if label in ("delivery", "delivery_delay", "bounce", "complaint"):
        return None
    detail = {"open": ses.open, "click": ses.click, "subscription": ses.subscription}.get(label)
    return _unique(mail.destination), None, detail.timestamp if detail is not None else None, None


def _unique(addresses: list[str]) -> list[str]:
    """Addresses in order, each once (compared as pending keys compare them, and
    ``Ann <ann@x.example>`` as ``ann@x.example``: a message's destination lists To and
    Cc, display names and all). Too many to be SES's are left for the caller to refuse."""
    if not 1 < len(addresses) <= MAX_RECIPIENTS:
        return addresses
    seen: dict[str, str] = {}
    for address in addresses:
        seen.setdefault(recipient_key(address), address)
    return addresses if len(seen) == len(addresses) else list(seen.values())


_E = TypeVar("_E", DelayedRecipient, BouncedRecipient)


def _unique_entries(entries: list[_E]) -> list[_E]:
    """Per-recipient entries, the first one of each address (as :func:`_unique`)."""
    if not 1 < len(entries) <= MAX_RECIPIENTS:
        return entries
    seen: dict[str, _E] = {}
    for entry in entries:
        seen.setdefault(recipient_key(entry.email_address), entry)
    return entries if len(seen) == len(entries) else list(seen.values())
