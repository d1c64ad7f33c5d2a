"""`sesd replay` evaluates the rules once more at the last event's time: an incident in
the archive's last evaluation period (an archive cut as things went wrong, the case
someone replays) is in the report."""

from __future__ import annotations

from sesd.commands.replay.engine import Replay
from sesd.config import parse_config
from tests import factory as f
from tests.test_routing import RULE

T = f.T0


def test_an_incident_at_the_end_of_the_archive_is_reported() -> None:
    replay = Replay(parse_config(RULE))
    bodies = [f.raw(f.delivery([f"ok{i}@a.example"], at=T)).encode() for i in range(5)]
    t = T + 20  # the archive ends 20 s later, mid-incident
    bodies += [
        f.raw(f.delay([f"d{i}@a.example"], at=t, expires=t + 3600)).encode() for i in range(5)
    ]
    replay.run(bodies)
    assert [(r, d, k) for r, d, k, _ in replay.transitions] == [("delays", "a.example", "firing")]
