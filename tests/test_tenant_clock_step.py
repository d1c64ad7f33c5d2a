"""A step of the wall clock (measured by sesd.runtime.clock) and what SES says of its
tenants. A poll's times are this host's clock, an event's SES's: a poll read on a
clock an hour ahead, then stepped back, dated its word an hour after SES's next ones.
For that hour SES's pause (its event, then the next polls) was older than it and
dropped, the tenant shown sending and its alert silent; a tenant deleted stayed (a
paused one's alert held); a new tenant's events were dropped as of one gone. A step
back moves those times with the clock; a step ahead leaves them. When an account was
last polled (the status page's ages) moves with every step, and so does a tenant
walk's start; both move back too with a restart behind the save. Pure code, no server."""

from __future__ import annotations

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.ledger import Ledger
from sesd.core.tenant_walks import TenantWalk
from sesd.core.tenants import TenantNotice, TenantStatus
from sesd.runtime.state import restore, snapshot

ACCOUNT = "123456789012"
REGION = "eu-west-1"
T = 1_800_000_000.0  # the right time when the clock steps
AHEAD = 3600.0  # how far ahead the host's clock was
KEY = (ACCOUNT, REGION, "acme")


def _ledger() -> Ledger:
    return Ledger(core_settings(parse_config("")))


def _paused(ledger: Ledger, at: float, tenant: str = "acme") -> None:
    notice = TenantNotice(REGION, ACCOUNT, tenant, at, status="DISABLED", origin="AWS_MANAGED")
    ledger.tenant_status.apply(notice)


def test_ses_pausing_a_tenant_after_a_step_back_is_taken() -> None:
    """Polled on a clock an hour ahead (acme sending), the clock steps back an hour;
    SES pauses acme a minute later: its event pauses it, and the next poll's word (the
    pause) is taken too, not held off by the poll read on the clock ahead."""
    ledger = _ledger()
    statuses = ledger.tenant_status
    statuses.polled(KEY, TenantStatus(), T - 30 + AHEAD)
    ledger.stepped(-AHEAD, T)
    _paused(ledger, T + 60)
    assert statuses.status[KEY].paused
    statuses.polled(KEY, TenantStatus(sending="ENABLED"), T + 120)  # SES lifted it
    assert not statuses.status[KEY].paused
    statuses.polled(KEY, TenantStatus(sending="DISABLED", aws="DISABLED"), T + 300)
    assert statuses.status[KEY].paused


def test_a_tenant_deleted_after_a_step_back_is_forgotten() -> None:
    """acme paused, read by a poll and a list on the clock ahead; the clock steps back.
    A tenant made since, newco, is paused: heard, not dropped as of one that list
    found gone. The next list (read from a minute later) names newco, not acme: acme
    is forgotten (its alert resolves), not kept the hour the clock was ahead."""
    ledger = _ledger()
    statuses = ledger.tenant_status
    statuses.polled(KEY, TenantStatus(sending="DISABLED", aws="DISABLED"), T - 30 + AHEAD)
    statuses.gone(ACCOUNT, REGION, {"acme"}, T - 40 + AHEAD)
    ledger.stepped(-AHEAD, T)
    _paused(ledger, T + 30, "newco")
    assert statuses.status[(ACCOUNT, REGION, "newco")].paused
    statuses.gone(ACCOUNT, REGION, {"newco"}, T + 60)
    assert KEY not in statuses.status


@pytest.mark.parametrize(("step", "gap"), [(AHEAD, 60.0), (0.5, 0.1)])
def test_a_step_ahead_leaves_what_ses_said(step: float, gap: float) -> None:
    """SES paused acme (its event, on SES's clock); the host's clock, behind, steps
    ahead an hour; SES lifts the pause a minute later: taken (the times of SES's
    words, right, did not move an hour ahead of its next ones). A step ahead of under
    a second leaves them too: no step ahead moves them, however short."""
    ledger = _ledger()
    _paused(ledger, T - gap)
    ledger.stepped(step, T)
    lifted = TenantNotice(REGION, ACCOUNT, "acme", T + gap, status="ENABLED", origin="AWS_MANAGED")
    ledger.tenant_status.apply(lifted)
    assert not ledger.tenant_status.status[KEY].paused


@pytest.mark.parametrize("ahead", [AHEAD, 2 * 86400.0], ids=["an hour", "two days"])
def test_what_ses_said_moves_back_with_a_restart_behind_the_save(ahead: float) -> None:
    """The clock steps back an hour while sesd is stopped (no process measures it: the
    state file was saved an hour ahead of the restart, and its alert times move back as
    far). What SES said of acme, polled on the clock ahead, moves back too: SES's pause
    a minute after the restart is taken. So it is when the file was saved two days
    ahead (more than a day: nothing moves, a time ahead is the restart's), not dropped
    for two days as older than the poll."""
    config = parse_config("[tenants]\nenabled = true\n")
    ledger = Ledger(core_settings(config))
    ledger.tenant_status.polled(KEY, TenantStatus(), T - 30 + ahead)
    blob = snapshot(ledger, Evaluator(config.alerts, []), T + ahead)
    fresh = Ledger(core_settings(config))
    restore(blob, fresh, Evaluator(config.alerts, []), T)
    assert not fresh.tenant_status.status[KEY].paused
    _paused(fresh, T + 60)
    assert fresh.tenant_status.status[KEY].paused


def test_an_older_word_of_ses_brought_late_after_a_step_back_stays_older() -> None:
    """SES lifted acme's pause five minutes ago (its event, dated by SES); the host's
    clock, an hour ahead, is set right; SES's pause from ten minutes ago, brought late
    by SQS, is older than the lift and dropped: the times SES dated did not move an
    hour back (acme shown paused, its alert firing, until the next poll)."""
    ledger = _ledger()
    lifted = TenantNotice(REGION, ACCOUNT, "acme", T - 300, status="ENABLED", origin="AWS_MANAGED")
    ledger.tenant_status.apply(lifted)
    ledger.stepped(-AHEAD, T)
    _paused(ledger, T - 600)
    assert not ledger.tenant_status.status[KEY].paused


def test_a_step_ahead_then_back_keeps_a_deleted_tenant_gone() -> None:
    """A list on the right clock finds acme deleted; the clock steps an hour ahead and
    back. An event of acme from before its deletion, brought late, is of one gone (the
    list's time, right, did not move an hour back: acme was kept, its pause alert
    firing, until the next list)."""
    ledger = _ledger()
    statuses = ledger.tenant_status
    statuses.polled(KEY, TenantStatus(sending="DISABLED", aws="DISABLED"), T - 200)
    statuses.gone(ACCOUNT, REGION, set(), T - 100)
    ledger.stepped(AHEAD, T + AHEAD)
    ledger.stepped(-AHEAD, T)
    _paused(ledger, T - 150)
    assert KEY not in statuses.status


def _polled(ledger: Ledger, at: float) -> tuple[str, str]:
    """A poll of the queue's (account, region) answered at ``at``, its tenant map made
    ten minutes before, CloudWatch's datapoint stamped (by AWS) twenty before."""
    target = ledger.settings.watched[0]
    status = ledger.accounts.record(target)
    status.polled_at = at
    status.answered = {"get_account": at, "get_metric_data": at}
    status.tenant_map_at = at - 600
    status.aws_at = {"bounce": T - 1200}
    return target


def _times(ledger: Ledger, target: tuple[str, str]) -> list[object]:
    status = ledger.accounts.status[target]
    return [status.polled_at, status.answered, status.tenant_map_at, status.aws_at]


_QUEUE = f'[[queues]]\nurl = "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q"\n'


def _shown(polled: float, mapped: float) -> list[object]:
    """The times :func:`_times` reads: of a poll at ``polled``, a map made at ``mapped``."""
    answered = dict.fromkeys(("get_account", "get_metric_data"), polled)
    return [polled, answered, mapped, {"bounce": T - 1200}]


@pytest.mark.parametrize("step", [AHEAD, -AHEAD], ids=["an hour ahead", "an hour back"])
def test_an_account_s_poll_times_move_with_a_clock_step(step: float) -> None:
    """An account polled a minute before the clock steps an hour (measured): when it was
    polled, answered and its tenant map made move with the clock, so the status page
    says a minute and ten (before: an hour and a minute, or an hour ahead of now,
    until the next poll; the map's until the next walk). CloudWatch's datapoint time,
    AWS's, stays."""
    ledger = Ledger(core_settings(parse_config(_QUEUE)))
    target = _polled(ledger, T - step - 60)
    ledger.stepped(step, T)
    assert _times(ledger, target) == _shown(T - 60, T - 660)


@pytest.mark.parametrize("ahead", [AHEAD, 2 * 86400.0], ids=["an hour", "two days"])
def test_an_account_s_poll_times_move_back_with_a_restart_behind_the_save(
    ahead: float,
) -> None:
    """The file saved an hour ahead of the restart's clock: the account's poll times
    move back as far, as the alert times do (before: an hour ahead of the clock until
    the next poll); saved two days ahead, each is the restart's (before: two days
    ahead, the tenant map's until a walk ends)."""
    config = parse_config(_QUEUE)
    ledger = Ledger(core_settings(config))
    target = _polled(ledger, T + ahead - 60)
    blob = snapshot(ledger, Evaluator(config.alerts, []), T + ahead)
    fresh = Ledger(core_settings(config))
    restore(blob, fresh, Evaluator(config.alerts, []), T)
    right = _shown(T - 60, T - 660) if ahead == AHEAD else _shown(T, T)
    assert _times(fresh, target) == right


@pytest.mark.parametrize(
    ("ahead", "begun", "started"),
    [(AHEAD, 23.5, T - 23.5 * 3600), (AHEAD, 24.5, None), (2 * 86400.0, 1.0, T)],
    ids=["an hour, resumed", "an hour, too old", "two days"],
)
def test_a_tenant_walk_s_start_moves_back_with_a_restart_behind_the_save(
    ahead: float, begun: float, started: float | None
) -> None:
    """A tenant walk under way, begun ``begun`` hours before the save, in a file saved
    an hour ahead of the restart's clock: its start moves back the hour, as the alert
    times do, so it has aged as it did on the clock ahead (before: an hour ahead, it
    was resumed at 24.5 hours, past the day a walk is resumed within, and aged an hour
    slower at each restart after). Saved two days ahead, it begins at the restart
    (before: two days ahead, resumed at any restart for two days more)."""
    config = parse_config(_QUEUE + "[tenants]\nenabled = true\n")
    ledger = Ledger(core_settings(config))
    target = ledger.settings.watched[0]
    ledger.tenant_walks.walks[target] = TenantWalk(T + ahead - begun * 3600, tenants=["acme"])
    blob = snapshot(ledger, Evaluator(config.alerts, []), T + ahead)
    fresh = Ledger(core_settings(config))
    restored = restore(blob, fresh, Evaluator(config.alerts, []), T)
    walk = fresh.tenant_walks.walks.get(target)
    assert (None if walk is None else walk.started) == started
    assert restored["tenant_walks_resumed"] == (started is not None)


@pytest.mark.parametrize(
    ("step", "begun", "resumed"),
    [(AHEAD, 23.5, True), (-AHEAD, 24.5, False)],
    ids=["an hour ahead, resumed", "an hour back, too old"],
)
def test_a_tenant_walk_s_start_moves_with_a_clock_step(
    step: float, begun: float, resumed: bool
) -> None:
    """A tenant walk under way, begun ``begun`` hours before the restart; the clock
    steps an hour (measured) just before the state file's save, and sesd restarts on
    that clock. Its start moves with the step, so the restart resumes the walk within
    the day it allows and starts over one older (before: left on the old clock, a step
    ahead aged it an hour, and the walk 23.5 hours old started over; a step back kept
    the one 24.5 hours old resumed)."""
    config = parse_config(_QUEUE + "[tenants]\nenabled = true\n")
    ledger = Ledger(core_settings(config))
    target = ledger.settings.watched[0]
    ledger.tenant_walks.walks[target] = TenantWalk(T - step - begun * 3600, tenants=["acme"])
    ledger.stepped(step, T)
    blob = snapshot(ledger, Evaluator(config.alerts, []), T)
    fresh = Ledger(core_settings(config))
    restored = restore(blob, fresh, Evaluator(config.alerts, []), T)
    walk = fresh.tenant_walks.walks.get(target)
    assert (None if walk is None else walk.started) == (T - begun * 3600 if resumed else None)
    assert restored["tenant_walks_resumed"] == resumed


def test_a_tenant_walk_moved_back_at_a_restart_moves_ahead_again_with_ntp_s_step() -> None:
    """A walk begun 22.5 hours before the save; the host restarts with its clock an hour
    behind (NTP not there yet), which moves the walk's start back the hour; NTP then
    steps the clock the hour ahead, and an hour later sesd restarts again. The walk,
    23.5 hours old, resumes (before: the step left it an hour back, read 24.5 hours
    old, and it started over)."""
    config = parse_config(_QUEUE + "[tenants]\nenabled = true\n")
    ledger = Ledger(core_settings(config))
    target = ledger.settings.watched[0]
    ledger.tenant_walks.walks[target] = TenantWalk(T - 22.5 * 3600, tenants=["acme"])
    booted = Ledger(core_settings(config))
    restore(snapshot(ledger, Evaluator(config.alerts, []), T), booted,
            Evaluator(config.alerts, []), T - AHEAD)  # fmt: skip
    booted.stepped(AHEAD, T)
    blob = snapshot(booted, Evaluator(config.alerts, []), T + 3600)
    fresh = Ledger(core_settings(config))
    restore(blob, fresh, Evaluator(config.alerts, []), T + 3600)
    assert fresh.tenant_walks.walks[target].started == T - 22.5 * 3600
