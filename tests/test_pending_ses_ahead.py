"""Pending delays on a host whose clock runs behind SES's: an event from ahead of
the clock is dated on it, so which of a delay and its Delivery came first is told
by SES's own times (bounded), not by when each was read (sesd.core.pending)."""

from __future__ import annotations

import pytest

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.pending import PendingDelays
from sesd.core.pipeline import Pipeline
from sesd.core.refusals import MOST_AHEAD
from sesd.runtime.state import restore, snapshot
from tests import factory as f

CONFIG = parse_config("")
SES = f.T0  # SES's clock
BEHIND = 300.0  # how far the host's clock runs behind it
DOMAIN = "one.example"
ADDRESS = f"ann@{DOMAIN}"
OTHER = "bo@two.example"


def _feed(pipeline: Pipeline, body: dict[str, object], now: float) -> None:
    pipeline.feed(f.raw(body), "q", now)


def _timed(pipeline: Pipeline, now: float) -> tuple[int, float | None]:
    figures = pipeline.ledger.windows[DOMAIN].figures(0, now)
    return figures.delay_duration.count, figures.delay_duration.p50


def _saved(pending: PendingDelays) -> list[tuple[int, float]]:
    """SES's times of the resolutions, as the state file keeps them."""
    saved = pending.snapshot()["resolved_ses"]
    assert isinstance(saved, list)
    return saved


#: How each ends a delay: a Delivery to the one recipient (the pipeline's own path for
#: a domain seen before, nine events in ten), one to two, a Bounce.
ENDS = {
    "delivery": lambda: f.delivery([ADDRESS], at=SES + 10, message_id="m1"),
    "delivery to two": lambda: f.delivery([ADDRESS, OTHER], at=SES + 10, message_id="m1"),
    "bounce": lambda: f.bounce([ADDRESS], at=SES + 10, message_id="m1"),
}


@pytest.mark.parametrize("end", list(ENDS))
def test_a_delay_sqs_brings_after_its_delivery_on_a_clock_behind_is_over(end: str) -> None:
    """SES delays a recipient at SES, then delivers it ten seconds later; the host's
    clock runs five minutes behind. SQS brings the Delivery first (read at the clock's
    now, dated on it: it is from ahead), and the delay two seconds later by the clock,
    still from ahead of it. The delay is over: nothing pends, and it lasted ten
    seconds, as SES dated the two. Before: the delay was dated on the clock two
    seconds after the Delivery, taken as after it, and pended its 16 h, never timed.
    The same of a Bounce."""
    pipeline = Pipeline(core_settings(CONFIG))
    now = SES - BEHIND
    # The domain seen before: a Delivery to one recipient there takes the short path.
    _feed(pipeline, f.delivery([f"cy@{DOMAIN}"], at=SES - 600, message_id="m0"), now)
    _feed(pipeline, ENDS[end](), now)
    _feed(pipeline, f.delay([ADDRESS], at=SES, message_id="m1"), now + 2)
    assert pipeline.ledger.pending.count(DOMAIN, now + 3) == 0
    assert len(pipeline.ledger.pending) == 0
    count, p50 = _timed(pipeline, now + 3)
    assert count == 1
    assert p50 == pytest.approx(10_000, rel=0.1)


def test_a_delay_read_after_the_clock_passed_it_is_over_too() -> None:
    """The delay SQS brings ten minutes later, when the clock, five minutes behind, has
    passed SES's time of it (not from ahead: dated at SES's time), though not that of
    its Delivery read from ahead: still over, ten seconds long."""
    pipeline = Pipeline(core_settings(CONFIG))
    now = SES - BEHIND
    _feed(pipeline, f.delivery([ADDRESS], at=SES + 10, message_id="m1"), now)
    _feed(pipeline, f.delay([ADDRESS], at=SES, message_id="m1"), now + 600)
    assert len(pipeline.ledger.pending) == 0
    count, p50 = _timed(pipeline, now + 600)
    assert count == 1
    assert p50 == pytest.approx(10_000, rel=0.1)


def test_a_delay_read_after_a_restart_is_over() -> None:
    """The Delivery read from ahead is saved with SES's time: a restart between it and
    its delay still ends the delay and times it as SES dated them."""
    pipeline = Pipeline(core_settings(CONFIG))
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in pipeline.ledger.specs])
    now = SES - BEHIND
    _feed(pipeline, f.delivery([ADDRESS], at=SES + 10, message_id="m1"), now)
    blob = snapshot(pipeline.ledger, evaluator, now + 1)
    pipeline = Pipeline(core_settings(CONFIG))
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in pipeline.ledger.specs])
    restore(blob, pipeline.ledger, evaluator, now + 2)
    _feed(pipeline, f.delay([ADDRESS], at=SES, message_id="m1"), now + 3)
    assert len(pipeline.ledger.pending) == 0
    count, p50 = _timed(pipeline, now + 3)
    assert count == 1
    assert p50 == pytest.approx(10_000, rel=0.1)


def test_ses_s_time_is_held_to_a_day_ahead_of_the_clock() -> None:
    """A Delivery dated a year ahead of the clock is taken as a day ahead at most: a
    delay of its recipient dated 23 h ahead is over, timed the hour left of the day,
    not a year less 23 h; one SES dated two days ahead, read a second later, is not
    over (it pends, as before)."""
    year = 365 * 86_400.0
    now = SES
    pending = PendingDelays(100)
    pending.resolved(1, now, now + year)
    assert pending.delayed(1, (DOMAIN,), now, None, now + MOST_AHEAD - 3600) == (
        (DOMAIN,),
        3600,
    )
    pending.resolved(2, now, now + year)
    assert pending.delayed(2, (DOMAIN,), now + 1, None, now + 2 * MOST_AHEAD) is None
    assert pending.count(DOMAIN, now + 1) == 1


def test_a_delay_ses_dated_after_its_delivery_still_pends() -> None:
    """Both from ahead of the clock, the delay dated after the Delivery by SES (no
    delay follows a recipient's Delivery: a damaged or forged body): not ended by it,
    as on a clock set right."""
    pending = PendingDelays(100)
    now = SES - BEHIND
    pending.resolved(1, now, SES)
    assert pending.delayed(1, (DOMAIN,), now + 1, None, SES + 5) is None
    assert pending.count(DOMAIN, now + 2) == 1


@pytest.mark.parametrize("step", [BEHIND, -3600.0])
def test_a_step_of_the_clock_between_them_times_the_delay_as_ses_dated_them(
    step: float,
) -> None:
    """The Delivery read from ahead, then a step of the clock (NTP setting it right,
    or a wrong step an hour back), then its delay: over, ten seconds long, not the
    step longer or shorter. Before: timed as none after NTP's step (the Delivery
    moved to SES's time, the delay ten seconds earlier read at it), and nearly an
    hour after the step back (the delay read on the clock an hour behind)."""
    now = SES - BEHIND
    pending = PendingDelays(100)
    pending.resolved(1, now, SES + 10)
    pending.stepped(step, now + step)
    later = min(now + step + 1, SES)
    assert pending.delayed(1, (DOMAIN,), later, None, SES) == ((DOMAIN,), 10.0)
    assert len(pending) == 0


def test_ses_s_times_are_forgotten_with_their_resolutions() -> None:
    """SES's time of a Delivery read from ahead is remembered as long as the Delivery
    is (two generations of half the table): no longer, however many come."""
    pending = PendingDelays(4)
    now = SES - BEHIND
    for key in range(1, 6):
        pending.resolved(key, now, SES + 10)
    assert sorted(dict(_saved(pending))) == [3, 4, 5]
    assert pending.delayed(1, (DOMAIN,), now + 1, None, SES) is None  # forgotten: pends
    assert pending.delayed(3, (DOMAIN,), now + 1, None, SES) == ((DOMAIN,), 10.0)


def test_ses_s_time_stays_while_its_recipient_is_remembered_in_either_generation() -> None:
    """A table of four (generations of two resolutions). Ann's Delivery and Bo's are
    read from ahead; Ann's Bounce comes later, on the clock, then Cy's Delivery from
    ahead: the generation of the first two is now the older one, and goes. SES's time of
    Ann's Delivery stays with her Bounce, remembered in the newer generation: her delay
    SQS brings last is over, timed as SES dated the two. Bo's is forgotten with her
    Delivery, two generations old: her delay pends."""
    pending = PendingDelays(4)
    now = SES - BEHIND
    pending.resolved(1, now, SES + 10)  # Ann
    pending.resolved(2, now, SES + 10)  # Bo: the generation is full
    pending.resolved(1, now + 1)  # Ann's Bounce, on the clock
    pending.resolved(3, now, SES + 10)  # Cy: the generation of Ann and Bo goes
    assert sorted(dict(_saved(pending))) == [1, 3]
    assert pending.delayed(1, (DOMAIN,), now + 2, None, SES) == ((DOMAIN,), 10.0)
    assert pending.delayed(2, (DOMAIN,), now + 2, None, SES) is None
    assert len(pending) == 1


def test_ses_s_times_read_back_are_forgotten_with_their_resolutions() -> None:
    """A table of four read back from a file of three Deliveries from ahead: 1 and 2
    fill the older generation, 3 the newer. Once 4's Delivery fills the newer, the
    generation of 1 and 2 goes, and SES's times of them with it, as a live table's."""
    now = SES - BEHIND
    pending = PendingDelays(4)
    rows = [(key, now) for key in (1, 2, 3)]
    pending.restore(
        {"pending": [], "resolved": rows, "resolved_ses": [(1, SES + 10), (3, SES + 10)]}
    )
    assert sorted(dict(_saved(pending))) == [1, 3]
    pending.resolved(4, now)
    assert sorted(dict(_saved(pending))) == [3]


def test_a_state_file_s_ses_times_are_read_as_a_live_table_holds_them() -> None:
    """Of the saved SES times, one more than a day after its Delivery's time (a damaged
    file), one of no Delivery remembered and rows not of a key and a time are left
    out alone; a later build's item after them is not read."""
    now = SES - BEHIND
    pending = PendingDelays(100)
    pending.restore(
        {
            "pending": [],
            "resolved": [(1, now), (2, now), (3, now)],
            "resolved_ses": [
                (1, now + 365 * 86_400.0),
                (2, SES + 10, "a later build's"),
                (4, SES + 10),
                ("3", SES + 10),
                (3, "soon"),
                (3, float("nan")),
            ],
        }
    )
    assert _saved(pending) == [(2, SES + 10)]
    assert pending.delayed(1, (DOMAIN,), now + 1, None, SES) is None
    assert pending.delayed(2, (DOMAIN,), now + 1, None, SES) == ((DOMAIN,), 10.0)
    assert pending.delayed(3, (DOMAIN,), now + 1, None, SES) is None


@pytest.mark.parametrize("size", [100, 2], ids=["newer generation", "older generation"])
def test_a_restart_holds_ses_s_times_to_a_day_after_their_resolution(size: int) -> None:
    """A state file saved before a step of the clock back a year (a damaged save time)
    holds the Delivery to the restart's clock: SES's time of it no more than a day
    after that, whatever the file said; so too in a table of two, where the Delivery
    read back is at once the older generation's."""
    now = SES - BEHIND
    pending = PendingDelays(size)
    year = 365 * 86_400.0
    pending.restore(
        {"pending": [], "resolved": [(1, now + year)], "resolved_ses": [(1, SES + year)]}
    )
    pending.held_to(now)
    assert _saved(pending) == [(1, now + MOST_AHEAD)]


def test_a_delivery_dated_a_year_ahead_times_no_delay_longer_than_ses_tries() -> None:
    """On a clock set right, a Delivery dated a year ahead (a damaged body) and then
    its recipient's delay, dated as SES dates one, a minute later: SES tries no
    recipient longer than 16 h, so the two are no story SES tells. The delay pends, as
    before; not over and timed a day long (held to a day ahead, the Delivery's time
    still a day after the delay's), a value that set `delay_duration_p95_seconds`."""
    pipeline = Pipeline(core_settings(CONFIG))
    year = 365 * 86_400.0
    _feed(pipeline, f.delivery([ADDRESS], at=SES + year, message_id="m1"), SES)
    _feed(pipeline, f.delay([ADDRESS], at=SES + 60, message_id="m1"), SES + 61)
    assert _timed(pipeline, SES + 62) == (0, None)
    assert pipeline.ledger.pending.count(DOMAIN, SES + 62) == 1
