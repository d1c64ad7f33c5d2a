"""`sesd replay` evaluates the rules at every tick of event time the events pass, once
each, after every event before the tick and before any after it, whatever order the
events come in; the run loop asks for ticks only when an event passes the next one.
Across a gap, the ticks that could change nothing are skipped: what is reported is
what evaluating every tick reports."""

from __future__ import annotations

import math

from sesd.commands.replay.engine import Replay
from sesd.config import parse_config
from tests import factory as f
from tests.test_routing import RULE

T = f.T0 + 1.7  # between two ticks


class _Ticks(Replay):
    """A replay that notes each evaluation: its time, and how many events were applied."""

    def __init__(self, toml: str) -> None:
        super().__init__(parse_config(toml))
        self.ticks: list[tuple[float, int]] = []

    def _record(self, at: float) -> None:
        self.ticks.append((at, sum(self.ledger.tallies.messages.values())))
        super()._record(at)


def _expected(times: list[float], every: float) -> list[tuple[float, int]]:
    """The obvious model: tick x is evaluated once the first event later than x comes,
    with the events before that one applied; at the end, once more at the latest."""
    ticks = []
    x = (times[0] // every) * every
    latest = max(times)
    while x < latest:
        ticks.append((x, next(i for i, t in enumerate(times) if t > x)))
        x += every
    return [*ticks, (latest, len(times))]


def test_each_tick_is_evaluated_once_between_the_events_around_it() -> None:
    """Events close together, equal, going back in time, landing on a tick, and jumping
    several ticks: the evaluations are those of the model, in order, none twice."""
    offsets = [0, 1, 1, 0.5, 3.3, 3.31, 8.3, 12.3, 12.3, 11.0, 13.3, 18.3, 18.31, 47.2, 3.0, 48]
    times = [T + o for o in offsets]
    replay = _Ticks(RULE)
    replay.run([f.raw(f.delivery([f"u{i}@a.example"], at=t)).encode() for i, t in enumerate(times)])
    assert replay.ticks == _expected(times, replay.every)
    assert len(replay.ticks) > 10


def test_with_no_rules_nothing_is_evaluated() -> None:
    """No rule: no tick is ever run, and the replay still reaches the latest time."""
    replay = _Ticks("")
    replay.run([f.raw(f.delivery(["u@a.example"], at=T + o)).encode() for o in (0, 30, 60)])
    assert replay.ticks == []
    assert replay.now == T + 60


class _EveryTick(_Ticks):
    """A replay that evaluates every tick, gaps included: what skipping ticks must match."""

    def _quiet(self, at: float) -> float:
        return at


GAPS = """
[windows]
sizes = ["5m", "15m"]
[domains]
idle_evict = "3h"
[[alerts.rules]]
name = "delays"
metric = "delay_ratio"
window = "5m"
above = 0.2
min_events = 2
for = "1m"
[[alerts.rules]]
name = "stuck"
metric = "pending_delays"
window = "5m"
above = 1
min_events = 0
for = "2h"
[[alerts.rules]]
name = "idle"
metric = "pending_delays"
window = "5m"
below = 1
min_events = 0
"""


def _gappy(start: float = T) -> list[bytes]:
    """Delays and deliveries in bursts half a day and a day apart: alerts that fire and
    resolve at the bursts, a pending one whose ``for`` runs out inside a gap, delays
    that expire inside one, domains evicted in one (which resolves what fires on them)
    and seen again after."""
    hour, t = 3600.0, start
    # The first gap holds all it must by 8 h (the delays' expiry at 5 h, then slow's
    # eviction); the second, after a delay with no expiry, its 16 h and an eviction.
    second = t + 12 * hour
    events = [
        f.delay(["a@slow.example", "b@slow.example"], at=t, expires=t + 5 * hour),
        f.delivery(["c@slow.example"], at=t + 30),
        f.delivery(["d@fast.example"], at=t + 40),
        f.delay(["e@slow.example"], at=second, expires=second + 1800),
        f.delay(["f@slow.example"], at=second + 7),
        f.delivery(["g@fast.example"], at=second + 9),
        f.delivery(["a@slow.example"], at=second + 3 * hour + 1),
        f.delivery(["h@fast.example"], at=second + 86400 + 0.4),
    ]
    return [f.raw(event).encode() for event in events]


def test_skipped_ticks_in_gaps_change_no_alert_nor_total() -> None:
    """Over gaps of days, replay evaluates a few ticks, not every one, and reports what
    evaluating every tick reports: the same alerts at the same times, the same totals
    and windows."""
    fast, slow = _Ticks(GAPS), _EveryTick(GAPS)
    fast.run(_gappy())
    slow.run(_gappy())
    assert fast.document() == slow.document()
    kinds = [(a["rule"], a["domain"], a["state"]) for a in slow.alerts]
    assert ("stuck", "slow.example", "firing") in kinds  # its `for` ran out in a gap
    assert ("stuck", "slow.example", "resolved") in kinds  # its delays expired in one
    assert ("delays", "slow.example", "resolved") in kinds
    assert ("idle", "fast.example", "resolved") in kinds  # evicted, idle, in a gap
    assert len(slow.ticks) > 25_000
    assert len(fast.ticks) < 2_000


def test_events_on_ticks_and_a_rule_on_a_long_window_skip_nothing_that_counts() -> None:
    """The same gaps with the events from a tick on (so a domain's eviction falls on
    one: the tick it is due at is evaluated) and a rule on the 15m window (whose
    value changes until its last bucket is left): skipping ticks still reports what
    evaluating every tick reports."""
    rules = GAPS + (
        '[[alerts.rules]]\nname = "slow"\nmetric = "delay_ratio"\nwindow = "15m"\n'
        "above = 0.2\nmin_events = 2\n"
    )
    fast, slow = _Ticks(rules), _EveryTick(rules)
    fast.run(_gappy(f.T0))
    slow.run(_gappy(f.T0))
    assert fast.document() == slow.document()
    kinds = [(a["rule"], a["domain"], a["state"]) for a in slow.alerts]
    assert ("slow", "slow.example", "resolved") in kinds
    assert len(fast.ticks) < 2_000


def test_what_changes_with_time_alone_skips_no_tick() -> None:
    """An hour after a burst the ticks up to the first pending ``for`` to run out can be
    skipped; not while a queue is read behind, a silence is in force or a canary is
    in flight: what they say changes with time alone."""
    from sesd.alerting.rules import Status
    from sesd.alerting.silences import Silence
    from sesd.commands.replay.quiet import quiet_until

    replay = _Ticks(GAPS)
    replay.run(_gappy()[:3])
    ledger, evaluator, latest = replay.ledger, replay.evaluator, replay.now
    at = latest + 3600
    replay._evaluate_until(at)  # the ticks up to it
    (stuck,) = [s for s in evaluator.states["stuck"].values() if s.status is Status.PENDING]
    assert quiet_until(ledger, evaluator, latest, at) == stuck.since + 7200  # its `for`
    ledger.tallies.latest["q"] = (at, 600.0)
    assert quiet_until(ledger, evaluator, latest, at) == at
    ledger.tallies.latest.clear()
    evaluator.silences.items.append(Silence(id="s", comment="", starts_at=at, ends_at=at + 60))
    assert quiet_until(ledger, evaluator, latest, at) == at
    evaluator.silences.items.clear()
    ledger.canary.sent("m", at, 0.1)
    assert quiet_until(ledger, evaluator, latest, at) == at


def test_the_tick_after_a_gap_is_the_last_before_its_end_whatever_the_rounding() -> None:
    """Across a gap to ``before`` the next tick is the last one before it (or the one
    after ``done``), the tick times being products that round: checked against
    counting tick by tick, for ends on a tick, a hair either side and between."""
    import random

    from sesd.commands.replay.quiet import next_tick

    def counted(first: float, every: float, done: int, before: float) -> int:
        k = done + 1
        while first + (k + 1) * every < before:
            k += 1
        return k

    rng = random.Random(7)
    for first in (f.T0, f.T0 + 0.3, 0.0):
        for every in (5.0, 0.1, 1 / 3, 7.7, 0.01):
            for _ in range(300):
                done = rng.randrange(0, 50)
                ticks = done + rng.randrange(0, 400)
                on = first + ticks * every
                for before in (on, math.nextafter(on, 0), math.nextafter(on, math.inf),
                               on + every * rng.random(), first + (ticks + 1) * every):  # fmt: skip
                    expected = counted(first, every, done, before)
                    assert next_tick(first, every, done, before) == expected, (
                        first,
                        every,
                        done,
                        before,
                    )
