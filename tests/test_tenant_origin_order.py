"""SES's tenant status events, come out of order (EventBridge does not promise their
order, SQS redelivers): each speaks of one origin of the sending status (SES's own,
the customer's), so one is older than the newest word on its own origin, not on
either. Taken by the newest on either, the customer's pause come behind SES's later
word was dropped: SES's lifting its own pause then showed the tenant sending while
the customer's pause held it, its alert resolved (until a poll read the pause again;
for a tenant no poll lists, for good). Pure code, no server."""

from __future__ import annotations

import msgspec
import pytest

from sesd.core.tenants import TenantNotice, TenantStatus, TenantStatuses

ACCOUNT = "123456789012"
REGION = "eu-west-1"
T = 1_800_000_000.0
KEY = (ACCOUNT, REGION, "acme")


def _said(statuses: TenantStatuses, at: float, status: str, origin: str) -> None:
    notice = TenantNotice(REGION, ACCOUNT, "acme", at, status=status, origin=origin)
    statuses.apply(notice)


def test_an_origins_word_come_behind_the_others_newer_one_is_taken() -> None:
    """The customer paused acme, then SES did too; SES's event came first, the
    customer's after it, then SES's lifting its own: the customer's pause holds."""
    statuses = TenantStatuses()
    _said(statuses, T + 10, "DISABLED", "AWS_MANAGED")
    _said(statuses, T, "DISABLED", "CUSTOMER_MANAGED")
    # Still the newest word on either: a poll read before SES's is older than it.
    assert statuses.status[KEY].status_at == T + 10
    _said(statuses, T + 20, "ENABLED", "AWS_MANAGED")
    status = statuses.status[KEY]
    assert (status.customer, status.aws, status.sending) == ("DISABLED", "ENABLED", "DISABLED")
    assert status.cause == "paused by you"
    assert status.status_at == T + 20


def test_an_origins_older_word_is_still_ignored() -> None:
    """The customer's pause lifted, then its pause come again (older, redelivered):
    ignored, as an older word on its own origin."""
    statuses = TenantStatuses()
    _said(statuses, T + 10, "ENABLED", "CUSTOMER_MANAGED")
    _said(statuses, T, "DISABLED", "CUSTOMER_MANAGED")
    status = statuses.status[KEY]
    assert (status.customer, status.sending, status.status_at) == ("ENABLED", "ENABLED", T + 10)


def test_an_event_older_than_a_poll_is_ignored_on_either_origin() -> None:
    """A poll's word is on both origins: an event older than it, of either, changes
    nothing."""
    statuses = TenantStatuses([(ACCOUNT, REGION)])
    paused = TenantStatus(sending="DISABLED", aws="DISABLED", aws_cause="bounces")
    statuses.polled(KEY, paused, T)
    _said(statuses, T - 10, "DISABLED", "CUSTOMER_MANAGED")
    _said(statuses, T - 5, "ENABLED", "AWS_MANAGED")
    status = statuses.status[KEY]
    assert (status.customer, status.aws, status.sending) == ("ENABLED", "DISABLED", "DISABLED")


def test_a_status_an_earlier_build_saved_ignores_older_words_on_either_origin() -> None:
    """A state file from before each origin's time was kept: both origins are as new
    as its newest status word, so an older event of either changes nothing."""
    statuses = TenantStatuses([(ACCOUNT, REGION)])
    saved = {"sending": "DISABLED", "aws": "DISABLED", "status_at": T, "updated": T}
    statuses.restore([[*KEY, saved]], {(ACCOUNT, REGION)})
    _said(statuses, T - 10, "DISABLED", "CUSTOMER_MANAGED")
    _said(statuses, T - 5, "ENABLED", "AWS_MANAGED")
    status = statuses.status[KEY]
    assert (status.customer, status.aws, status.sending) == ("ENABLED", "DISABLED", "DISABLED")


def test_a_poll_keeps_its_word_on_the_origin_no_newer_event_spoke_of() -> None:
    """A poll read from T that SES paused acme; the customer's own event (enabled, as
    far as they are concerned) came at T + 5, while the poll was under way: the poll's
    word on SES's origin, which no newer event spoke of, is taken, the event's on the
    customer's stands. Dropped whole, the pause went unseen until the next poll."""
    statuses = TenantStatuses([(ACCOUNT, REGION)])
    _said(statuses, T + 5, "ENABLED", "CUSTOMER_MANAGED")
    paused = TenantStatus(sending="DISABLED", aws="DISABLED", aws_cause="bounces")
    statuses.polled(KEY, paused, T)
    status = statuses.status[KEY]
    assert (status.customer, status.aws, status.sending) == ("ENABLED", "DISABLED", "DISABLED")
    assert (status.customer_at, status.aws_at, status.status_at) == (T + 5, T, T + 5)
    assert status.cause == "bounces"


@pytest.mark.parametrize("origin", ["AWS_MANAGED", "CUSTOMER_MANAGED"])
def test_a_sending_status_an_earlier_build_saved_ignores_older_pauses(origin: str) -> None:
    """A state file from before each origin's time was kept: acme sending, SES's
    newest word at T. A pause of either origin from before T, come late, was lifted
    by then: acme still sends."""
    statuses = TenantStatuses([(ACCOUNT, REGION)])
    statuses.restore([[*KEY, {"status_at": T, "updated": T}]], {(ACCOUNT, REGION)})
    _said(statuses, T - 5, "DISABLED", origin)
    assert not statuses.status[KEY].paused


def test_a_restart_keeps_the_newest_word_on_each_origin_apart() -> None:
    """A poll read from T that acme sends; the customer paused it at T + 10; sesd
    restarts from its file. SES's own pause of T + 5 comes late: newer than the last
    word on SES's origin (the poll's), it is taken, as without the restart; the
    customer's lifting its pause at T + 20 leaves acme paused by SES."""
    statuses = TenantStatuses([(ACCOUNT, REGION)])
    statuses.polled(KEY, TenantStatus(), T)
    _said(statuses, T + 10, "DISABLED", "CUSTOMER_MANAGED")
    rows = msgspec.json.decode(msgspec.json.encode(statuses.snapshot()))
    statuses = TenantStatuses([(ACCOUNT, REGION)])
    statuses.restore(rows, {(ACCOUNT, REGION)})
    _said(statuses, T + 5, "DISABLED", "AWS_MANAGED")
    _said(statuses, T + 20, "ENABLED", "CUSTOMER_MANAGED")
    status = statuses.status[KEY]
    assert (status.sending, status.cause) == ("DISABLED", "paused by SES")
