"""A delay and its Delivery both read from ahead of a clock behind SES's, at the edges
of what SES's own times tell (sesd.core.pending_ses): dated the same instant, dated as
far apart as SES tries a recipient, a Delivery held to a day ahead across a restart,
and a state file's SES times after a damaged row."""

from __future__ import annotations

from sesd.alerting.evaluator import Evaluator
from sesd.config import core_settings, parse_config
from sesd.core.events import LONGEST_DELAY
from sesd.core.pending import PendingDelays
from sesd.core.pipeline import Pipeline
from sesd.core.refusals import MOST_AHEAD
from sesd.runtime.state import restore, snapshot
from tests import factory as f

CONFIG = parse_config("")
SES = f.T0  # SES's clock
NOW = SES - 300.0  # the host's, five minutes behind
DOMAIN = "one.example"
ADDRESS = f"ann@{DOMAIN}"


def test_a_delay_ses_dated_at_its_delivery_s_very_instant_is_over() -> None:
    """SES dates a recipient's delay and its Delivery the same instant (its times are
    to the millisecond): the delay is over, timed as none, as on a clock set right. It
    does not pend its 16 h, as one SES dated after the Delivery does."""
    pending = PendingDelays(100)
    pending.resolved(1, NOW, SES + 10)
    assert pending.delayed(1, (DOMAIN,), NOW + 1, None, SES + 10) == ((DOMAIN,), 0.0)
    assert len(pending) == 0


def test_a_delay_ses_dated_the_longest_it_tries_before_its_delivery_is_over() -> None:
    """SES tries a recipient for 16 h: a delay it dated exactly that long before the
    Delivery is over, timed 16 h; one dated a second earlier still is no story SES
    tells, and pends (as test_pending_ses_ahead's Delivery a year ahead)."""
    pending = PendingDelays(100)
    pending.resolved(1, NOW, SES + LONGEST_DELAY)
    pending.resolved(2, NOW, SES + LONGEST_DELAY)
    assert pending.delayed(1, (DOMAIN,), NOW + 1, None, SES) == ((DOMAIN,), LONGEST_DELAY)
    assert pending.delayed(2, (DOMAIN,), NOW + 1, None, SES - 1) is None
    assert pending.count(DOMAIN, NOW + 2) == 1


def test_a_delivery_held_to_a_day_ahead_still_ends_its_delay_after_a_restart() -> None:
    """A Delivery SES dated two days ahead of the clock is held to a day ahead of it
    (sesd.core.refusals.MOST_AHEAD), and saved so. After a restart, its recipient's
    delay SES dated 23 h ahead is over, timed the hour left of the day, as it is
    without the restart: the time saved, a day after the Delivery's on the clock, is
    one sesd itself writes, not a damaged file's."""
    pipeline = Pipeline(core_settings(CONFIG))
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in pipeline.ledger.specs])
    pipeline.feed(f.raw(f.delivery([ADDRESS], at=NOW + 2 * MOST_AHEAD, message_id="m1")), "q", NOW)
    blob = snapshot(pipeline.ledger, evaluator, NOW + 1)
    pipeline = Pipeline(core_settings(CONFIG))
    evaluator = Evaluator(CONFIG.alerts, [s.name for s in pipeline.ledger.specs])
    restore(blob, pipeline.ledger, evaluator, NOW + 2)
    delay = f.delay([ADDRESS], at=NOW + MOST_AHEAD - 3600, message_id="m1")
    pipeline.feed(f.raw(delay), "q", NOW + 3)
    assert len(pipeline.ledger.pending) == 0
    figures = pipeline.ledger.windows[DOMAIN].figures(0, NOW + 3)
    assert figures.delay_duration.count == 1
    assert figures.delay_duration.p50 is not None
    assert abs(figures.delay_duration.p50 - 3_600_000) < 0.1 * 3_600_000


def test_a_state_file_s_ses_times_after_a_damaged_row_are_read() -> None:
    """A damaged row among a state file's SES times is left out alone: the rows after it
    are read, and the delay SES dated ten seconds before its Delivery is over."""
    pending = PendingDelays(100)
    pending.restore(
        {
            "pending": [],
            "resolved": [[1, NOW], [2, NOW]],
            "resolved_ses": [["2", SES + 10], [1, SES + 10], "damaged", [2, SES + 20]],
        }
    )
    assert pending.delayed(1, (DOMAIN,), NOW + 1, None, SES) == ((DOMAIN,), 10.0)
    assert pending.delayed(2, (DOMAIN,), NOW + 1, None, SES) == ((DOMAIN,), 20.0)


def test_a_bounce_read_on_the_clock_after_a_delivery_from_ahead_leaves_it_the_end() -> None:
    """Ann's Delivery is read from ahead of the clock; her Bounce, SES's 1,000 s later,
    comes once the clock has passed it (SQS held it a while), in a table that has
    turned a generation since other Deliveries from ahead (a table of four). Her delay,
    SES's ten seconds before the Delivery, is over at the Delivery: timed ten seconds,
    as in a table that turned none, not the 1,000 s to the Bounce."""
    pending = PendingDelays(4)
    pending.resolved(8, NOW, SES + 10)
    pending.resolved(9, NOW, SES + 10)  # the generation of two is full: it turns
    pending.resolved(1, NOW, SES + 10)  # Ann's Delivery, from ahead
    pending.resolved(1, SES + 1000, SES + 1000)  # her Bounce, on the clock
    assert pending.delayed(1, (DOMAIN,), SES, None, SES) == ((DOMAIN,), 10.0)
