"""``group_wait`` and a rule's ``for`` are checked at evaluation ticks, which run on
the monotonic clock, and measured on the wall clock: a wall clock that runs a little
slow against it (chrony slewing away an offset, up to 8% by default) reads a tick's
span a little short, and a page waited a whole tick more than its ``group_wait`` (or
``for``) rounded up. A real ``sesd run`` whose wall clock libfaketime runs at 98% of
the monotonic one.

Measured in evaluations, not in wall seconds between log lines: on a loaded machine a
tick may start late, which a page's wait cannot tell from the slew. Each evaluation
logs (debug level) the wall time it decided at and how many notifications it queued;
the page, or the held rule's firing, must come at the first evaluation that read its
wait passed less a tenth of a tick: two ticks on when they come on time (1.96 s on
this clock), not three (2.94 s). Ticks of a second and waits of two: the same count
of ticks as at any length, and the same 0.04 s a wait of two ticks reads short."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from tests import factory as f
from tests.conftest import make_queue, send_bodies
from tests.receivers import Receiver
from tests.sesd_process import config_file, sesd_process
from tests.test_clock_steps import _faketime_library


#: libfaketime's wall clock at 98% of the monotonic one, which it leaves alone.
def _slow_wall_clock() -> dict[str, str]:
    return {
        "LD_PRELOAD": _faketime_library(),
        "FAKETIME": "+0 x0.98",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


#: A tenth of the 1 s tick: what a wall clock slewed slow and a tick started late may
#: read a wait short by, and still have waited it.
_SHORT = 0.1


def _evaluations(records: list[dict[str, Any]], since: dict[str, Any]) -> list[dict[str, Any]]:
    """The evaluations logged after ``since`` (a line an evaluation logs comes before its
    own ``sesd.alert.evaluated``): the first is the one that logged ``since``."""
    after = records[records.index(since) :]
    return [r for r in after if r.get("event") == "sesd.alert.evaluated"]


def _first_waited(evaluations: list[dict[str, Any]], wait: float) -> int:
    """The index of the first of ``evaluations`` that read ``wait`` passed (less a tenth
    of a tick) since the first of them, on the wall clock it decides by."""
    start = evaluations[0]["at"]
    waited = (i for i, e in enumerate(evaluations) if e["at"] - start >= wait - _SHORT)
    return next(waited, len(evaluations))


@pytest.mark.timeout(120)
async def test_a_page_waits_its_group_wait_not_a_tick_more_on_a_slewing_clock(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    url, _ = await make_queue(sqs)
    async with Receiver("slack") as slack:
        config = config_file(
            tmp_path,
            f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
            f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
            '[alerts]\nevaluate_every = "1s"\ngroup_wait = "2s"\n'
            f'[alerts.slack]\nwebhook_url = "{slack.url}"\n'
            '[[alerts.rules]]\nname = "delays"\nmetric = "delay_ratio"\nseverity = "critical"\n'
            'window = "5m"\nabove = 0.5\nmin_events = 1\nsinks = ["slack"]\n',
        )
        async with sesd_process(config, env=_slow_wall_clock()) as sesd:
            await send_bodies(sqs, url, [f.raw(f.delay(["x@a.example"], at=time.time()))])
            with anyio.fail_after(30):
                fired = await sesd.wait_for_event("sesd.alert.firing")
                await sesd.wait_for(
                    lambda r: r.get("event") == "sesd.notify.sent" and r.get("sink") == "slack"
                )
    evaluations = _evaluations(sesd.records, fired)
    paged = next(i for i, e in enumerate(evaluations) if e["notifications"])
    # Ticks on time, the second after the firing (1.96 s on this clock), not the third.
    assert paged == _first_waited(evaluations, 2.0)


def _firing(rule: str) -> Any:
    return lambda r: r.get("event") == "sesd.alert.firing" and r.get("rule") == rule


@pytest.mark.timeout(120)
async def test_a_rule_fires_after_its_for_not_a_tick_more_on_a_slewing_clock(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """Two rules on the same breach, one without ``for`` and one with ``for = "2s"``,
    evaluated every second: both see the breach at the same tick, and the second fires
    two ticks after the first (2 s, 1.96 s on this wall clock), not three (2.94 s)."""
    url, _ = await make_queue(sqs)
    rule = 'metric = "delay_ratio"\nseverity = "critical"\nwindow = "5m"\nabove = 0.5\n'
    config = config_file(
        tmp_path,
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
        '[alerts]\nevaluate_every = "1s"\ngroup_wait = "0s"\n'
        f'[[alerts.rules]]\nname = "at-once"\n{rule}min_events = 1\nsinks = ["console"]\n'
        f'[[alerts.rules]]\nname = "held"\n{rule}min_events = 1\nfor = "2s"\n'
        'sinks = ["console"]\n',
    )
    async with sesd_process(config, env=_slow_wall_clock()) as sesd:
        await send_bodies(sqs, url, [f.raw(f.delay(["x@a.example"], at=time.time()))])
        with anyio.fail_after(30):
            at_once = await sesd.wait_for(_firing("at-once"))
            held = await sesd.wait_for(_firing("held"))
            await sesd.wait_for_event("sesd.alert.evaluated")
    # Both rules see the breach at the evaluation that fires "at-once", and "held" fires
    # at the first that reads its ``for`` passed.
    evaluations = _evaluations(sesd.records, at_once)
    fired = evaluations.index(_evaluations(sesd.records, held)[0])
    assert fired == _first_waited(evaluations, 2.0)
