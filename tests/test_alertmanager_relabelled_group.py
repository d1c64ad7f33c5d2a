"""A reload that changes a rule's severity (or labels) while its firing waits its
``group_wait``: Alertmanager tells alerts apart by their labels, so the reload owes it
the old alert's resolve and the new one's firing, and the group goes out holding both
firings, the old alert's resolve queued behind. What the outbox leaves out of a firing
for Alertmanager when a resolve waits behind it must be that alert's alone: the new
one, another alert there, was left out with it, and Alertmanager had no page for the
incident until the next resend."""

from __future__ import annotations

import aiohttp
import anyio
import pytest

from sesd.config import parse_config
from sesd.core.timestamps import iso
from tests.test_alertmanager_members import _Member
from tests.test_routing import RULE, T, _alerting
from tests.test_rules import feed_spike

pytestmark = pytest.mark.timeout(30)


async def test_a_new_severity_s_firing_grouped_with_the_old_one_s_is_posted() -> None:
    """a.example fires under ``warning`` and waits its 10 s group_wait; a reload makes
    the rule ``critical``. Alertmanager gets a.example's critical firing and the
    warning one's resolve, two alerts there, in either order (sesd sends the resolve
    first, as the reload queued them); the warning firing, over, is left out."""
    async with _Member() as member, aiohttp.ClientSession() as session:
        text = (
            '[alerts]\ngroup_wait = "10s"\n[alerts.sinks.am]\ntype = "alertmanager"\n'
            f'urls = ["{member.url}"]\n' + RULE + 'sinks = ["am"]\nseverity = "warning"\n'
        )
        alerting, pipeline, now = _alerting(text)
        alerting.open(session)
        feed_spike(pipeline, "a.example", T, 5, 5)
        alerting.evaluate()
        alerting.reconfigure(parse_config(text.replace('"warning"', '"critical"')))
        now[0] = T + 11
        alerting.evaluate()
        outbox = alerting.outboxes["am"]
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(outbox.run)
                await outbox.wait_empty()
                tg.cancel_scope.cancel()
    ended = iso(T)  # the resolve's endsAt: the reload's time
    posted = [
        [(doc["labels"]["domain"], doc["labels"]["severity"], doc["endsAt"] == ended)
         for doc in body]
        for body in member.bodies
    ]  # fmt: skip
    assert sorted(sorted(body) for body in posted) == [
        [("a.example", "critical", False)],
        [("a.example", "warning", True)],
    ]
