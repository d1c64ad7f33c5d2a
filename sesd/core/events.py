"""Typed SES events, as SES publishes them, and what decoding a body yields.

The structs name only the fields sesd reads; SES adds fields over time and
msgspec ignores the rest. A field with the wrong type makes the body invalid.
Timestamps stay text here: :mod:`sesd.core.decode` reads them (sesd.core.timestamps).
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

__all__ = [
    "EVENT_TYPES",
    "EVENT_TYPE_INDEX",
    "INVALID_REASONS",
    "LONGEST_DELAY",
    "MAX_ARN",
    "MAX_RECIPIENTS",
    "REPLAY_INVALID_REASONS",
    "SKIPPED_REASONS",
    "Bounce",
    "Complaint",
    "Delivery",
    "DeliveryDelay",
    "Invalid",
    "Mail",
    "Outer",
    "SesEvent",
    "Skipped",
]

#: Label values of ``event_type``, in a fixed order (windows index counts by it).
EVENT_TYPES: tuple[str, ...] = (
    "send",
    "reject",
    "bounce",
    "complaint",
    "delivery",
    "delivery_delay",
    "open",
    "click",
    "rendering_failure",
    "subscription",
    "unknown",
)
EVENT_TYPE_INDEX: dict[str, int] = {name: i for i, name in enumerate(EVENT_TYPES)}
#: Every :class:`Invalid` reason the pipeline counts (``sesd_invalid_messages_total``'s
#: ``reason``): a configured queue has each at 0 before its first (sesd.metrics.pipeline).
INVALID_REASONS: Final = (
    "not_json", "not_utf8", "too_deep", "unrecognised", "schema", "missing_mail",
    "no_recipients", "too_many_recipients", "no_usable_domain",
)  # fmt: skip
#: The :class:`Invalid` reasons of ``sesd replay`` alone: ``too_large``, a body over its
#: 1 MiB bound, not decoded. An SQS message is never one (SQS's own bound is 1 MiB), so
#: the daemon exports no series of them; a replay counts them in its document.
REPLAY_INVALID_REASONS: Final = ("too_large",)
#: Every :class:`Skipped` reason, alike (``sesd_skipped_messages_total``'s ``reason``).
SKIPPED_REASONS: Final = (
    "sns_subscription_confirmation", "sns_unsubscribe_confirmation", "ses_topic_validation",
    "ses_subscription_succeeded", "eventbridge_not_email", "eventbridge_not_tenant",
    "tenants_off",
)  # fmt: skip


#: The longest ARN AWS gives a resource (IAM's bound on a resource ARN's length).
MAX_ARN: Final = 2048
#: An AWS account id: twelve digits.
_ACCOUNT_ID: Final = 12
#: The most recipients an event may list: SES sends a message to at most 50 (To, Cc and
#: Bcc together), so twice that leaves a margin, and bounds the work one event can cause.
MAX_RECIPIENTS: Final = 100
#: The longest a delayed recipient stays pending after its DeliveryDelay's time: SES
#: keeps trying a message for at most 14 hours, and a configuration set's
#: MaxDeliverySeconds may only shorten that (300 to 50,400 s, says the SES API v2
#: reference's DeliveryOptions); two hours more for clocks. A later expirationTime is
#: none of SES's: taken at its word, it would hold the delay, and its domain's label,
#: for ever.
LONGEST_DELAY: Final = 16 * 3600.0


class _Ses(msgspec.Struct, frozen=True, gc=False, rename="camel"):
    pass


class Mail(_Ses, frozen=True, kw_only=True):
    """The ``mail`` object common to every event. Its fields in the order SES writes
    them: msgspec looks each key up from the field after the last one found."""

    timestamp: str
    # Both are kept (the sender of each identity is remembered, an identity's tenant
    # too): longer than AWS makes them, an event is no SES event, and invalid (its
    # detail says which field), not kept cut to a name that was never SES's.
    source_arn: Annotated[str, msgspec.Meta(max_length=MAX_ARN)] = ""
    #: The account that sent (a delegate sender's, under sending authorization: the
    #: identity, in ``source_arn``, may be another account's).
    sending_account_id: Annotated[str, msgspec.Meta(max_length=_ACCOUNT_ID)] = ""
    message_id: str
    destination: list[str] = []
    tags: dict[str, list[str]] = {}


class Delivery(_Ses, frozen=True):
    """``delivery``: SES handed the message to the recipient's MTA."""

    timestamp: str | None = None
    # SES stops trying a message within LONGEST_DELAY: a time outside it, or below 0,
    # is none of SES's, and kept it would be a domain's p99 for an hour. Such an event
    # is invalid (its detail names the field), as an ARN longer than AWS makes is.
    processing_time_millis: (
        Annotated[float, msgspec.Meta(ge=0, le=LONGEST_DELAY * 1000.0)] | None
    ) = None
    recipients: list[str] = []


class DelayedRecipient(_Ses, frozen=True):
    """One entry of ``deliveryDelay.delayedRecipients``."""

    email_address: str
    status: str = ""
    diagnostic_code: str = ""


class DeliveryDelay(_Ses, frozen=True):
    """``deliveryDelay``: SES could not deliver yet and keeps trying."""

    timestamp: str | None = None
    delay_type: str = ""
    expiration_time: str | None = None
    delayed_recipients: list[DelayedRecipient] = []
    reporting_mta: str = msgspec.field(default="", name="reportingMTA")


class BouncedRecipient(_Ses, frozen=True):
    """One entry of ``bounce.bouncedRecipients``."""

    email_address: str
    status: str = ""
    diagnostic_code: str = ""


class Bounce(_Ses, frozen=True):
    """``bounce``: the recipient's MTA (or SES) rejected the message."""

    bounce_type: str = ""  # (in the order SES writes them, as Mail's)
    bounce_sub_type: str = ""
    bounced_recipients: list[BouncedRecipient] = []
    timestamp: str | None = None
    reporting_mta: str = msgspec.field(default="", name="reportingMTA")


class ComplainedRecipient(_Ses, frozen=True):
    """One entry of ``complaint.complainedRecipients``."""

    email_address: str


class Complaint(_Ses, frozen=True):
    """``complaint``: a recipient marked the message as spam."""

    timestamp: str | None = None
    complained_recipients: list[ComplainedRecipient] = []
    #: ``OnAccountSuppressionList``: SES did not send (the account's list holds the
    #: address), so no mailbox provider complained; else null or absent.
    complaint_sub_type: str | None = None


class _Timestamped(_Ses, frozen=True):
    """``open``, ``click``, ``subscription``, ``reject``...: only the time matters."""

    timestamp: str | None = None


class Engagement(_Timestamped, frozen=True):
    """``open``: SES does not say which recipient opened, so the address and program
    that opened tell two opens of one message in one millisecond apart."""

    ip_address: str = ""
    user_agent: str = ""


class Click(Engagement, frozen=True):
    """``click``: its link, and who followed it, tell two clicks of one message in one
    millisecond apart (link scanners follow every link of a message at once, from
    several hosts)."""

    link: str = ""


class SesEvent(_Ses, frozen=True):
    """An SES event (``eventType``) or legacy notification (``notificationType``)."""

    event_type: str | None = None
    notification_type: str | None = None
    mail: Mail | None = None
    delivery: Delivery | None = None
    delivery_delay: DeliveryDelay | None = None
    bounce: Bounce | None = None
    complaint: Complaint | None = None
    open: Engagement | None = None
    click: Click | None = None
    subscription: _Timestamped | None = None


_EMPTY = msgspec.Raw()


class Outer(SesEvent, frozen=True, gc=False):
    """Every top-level key any form of message body may have (see sesd.core.decode). A raw
    SES event decodes in one pass through the inherited fields; an SNS ``Message``
    comes out as text (or as the event, when it is an object); an EventBridge
    ``detail`` stays undecoded."""

    sns_type: str | None = msgspec.field(default=None, name="Type")
    # A JSON string, decoded to text in this same pass (SNS always sends one); or
    # the event itself as an object.
    sns_message: str | SesEvent | None = msgspec.field(default=None, name="Message")
    eb_source: object = msgspec.field(default=None, name="source")
    eb_detail_type: str | None = msgspec.field(default=None, name="detail-type")
    eb_detail: msgspec.Raw = msgspec.field(default=_EMPTY, name="detail")
    # A tuple: its default is shared, where a list's is a new list each body and each
    # SNS Message decodes without one (two made and freed: 360 instructions an event).
    eb_resources: tuple[str, ...] = msgspec.field(default=(), name="resources")
    eb_time: str | None = msgspec.field(default=None, name="time")


class Skipped(msgspec.Struct, frozen=True, gc=False):
    """A body that is not an email event (subscription confirmations...)."""

    reason: str


class Invalid(msgspec.Struct, frozen=True, gc=False):
    """A body that cannot be used. ``reason`` is a bounded label; ``detail`` says its
    shape, and never more of the body (bodies hold addresses) than a name it gives (an
    event type), cleaned and cut."""

    reason: str
    detail: str = ""
