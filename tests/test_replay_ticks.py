"""`sesd replay` evaluates the rules at every tick of event time the events pass, once
each, after every event before the tick and before any after it, whatever order the
events come in; the run loop asks for ticks only when an event passes the next one."""

from __future__ import annotations

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
