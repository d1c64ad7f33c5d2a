"""What SES said of a tenant under its AWS account id (its events, read before a poll
named the id) joined with what its label kept (a poll's answer) when a poll names
the id: each origin of its sending status (SES's own, the customer's) by the newer
word on it, not both by the newest word on either. Pure code, no server."""

from __future__ import annotations

from sesd.core.tenants import TenantNotice, TenantStatus, TenantStatuses

ACCOUNT = "123456789012"
REGION = "eu-west-1"
T = 1_800_000_000.0
KEY = ("default", REGION, "acme")
PAUSE = "The bounce rate exceeded 15.0%."


def _polled(statuses: TenantStatuses, at: float) -> None:
    """A poll at ``at`` read acme paused by SES, sending as far as the customer is."""
    paused = TenantStatus(sending="DISABLED", aws="DISABLED", aws_cause=PAUSE)
    statuses.polled(KEY, paused, at)


def test_a_newer_event_of_one_origin_leaves_the_others_word_as_polled() -> None:
    """A poll read SES's pause under ``default``, while no poll named the account
    (restored from a state file naming none: its listing refused, say). The customer's
    own event (enabled, as far as they are concerned) came under the id; a poll then
    named it (the listing, or a page of the statuses before acme's). Moved under
    ``default``, its SES status (never heard: ENABLED) was taken with its customer
    status, newer than the poll: the pause shown lifted, its alert resolved, until a
    poll read acme's status again."""
    statuses = TenantStatuses([("default", REGION)])
    _polled(statuses, T)
    statuses.apply(TenantNotice(REGION, ACCOUNT, "acme", T + 60, status="ENABLED",
                                origin="CUSTOMER_MANAGED"))  # fmt: skip
    statuses.named(ACCOUNT, "default")
    assert list(statuses.status) == [KEY]
    status = statuses.status[KEY]
    assert (status.sending, status.aws, status.cause) == ("DISABLED", "DISABLED", PAUSE)
    assert status.customer == "ENABLED"
    assert status.status_at == T + 60


def test_a_newer_event_of_an_origin_wins_over_the_polls_word_on_it() -> None:
    """SES lifted its pause after the poll read it (its own event, under the id): moved
    under ``default``, that word stands, the customer's as polled."""
    statuses = TenantStatuses([("default", REGION)])
    _polled(statuses, T)
    statuses.apply(TenantNotice(REGION, ACCOUNT, "acme", T + 60, status="ENABLED",
                                origin="AWS_MANAGED"))  # fmt: skip
    statuses.named(ACCOUNT, "default")
    status = statuses.status[KEY]
    assert (status.sending, status.aws, status.customer, status.cause) == (
        "ENABLED", "ENABLED", "ENABLED", "")  # fmt: skip


def test_an_older_event_of_an_origin_leaves_the_polls_word() -> None:
    """The customer paused acme before the poll that read it enabled (the event came
    late): the poll's word, newer, stands."""
    statuses = TenantStatuses([("default", REGION)])
    _polled(statuses, T)
    statuses.apply(TenantNotice(REGION, ACCOUNT, "acme", T - 60, status="DISABLED",
                                origin="CUSTOMER_MANAGED"))  # fmt: skip
    statuses.named(ACCOUNT, "default")
    status = statuses.status[KEY]
    assert (status.customer, status.aws, status.status_at) == ("ENABLED", "DISABLED", T)


def test_a_status_an_earlier_build_saved_is_as_new_as_its_newest_word_on_either() -> None:
    """A state file from before each origin's time was kept: its status's word on each
    origin is read as of its newest status word, so an event older than it, read under
    the id, does not change it once a poll names the id."""
    statuses = TenantStatuses([("default", REGION)])
    saved = {"sending": "DISABLED", "aws": "DISABLED", "aws_cause": PAUSE, "status_at": T,
             "updated": T}  # fmt: skip
    statuses.restore([[*KEY, saved]], {("default", REGION)})
    statuses.apply(TenantNotice(REGION, ACCOUNT, "acme", T - 60, status="DISABLED",
                                origin="CUSTOMER_MANAGED"))  # fmt: skip
    statuses.named(ACCOUNT, "default")
    status = statuses.status[KEY]
    assert (status.customer, status.aws, status.cause) == ("ENABLED", "DISABLED", PAUSE)


def test_a_finding_heard_under_the_id_leaves_the_aggregate_ses_gave() -> None:
    """SES's aggregate, as a poll read it, stands where the event under the id spoke of
    a finding only (no origin's word taken): not derived again from the two origins."""
    statuses = TenantStatuses([("default", REGION)])
    statuses.polled(KEY, TenantStatus(sending="DISABLED"), T)
    statuses.apply(TenantNotice(REGION, ACCOUNT, "acme", T + 60, finding="BOUNCE",
                                impact="HIGH"))  # fmt: skip
    statuses.named(ACCOUNT, "default")
    status = statuses.status[KEY]
    assert (status.sending, status.impact, status.status_at) == ("DISABLED", "HIGH", T)
