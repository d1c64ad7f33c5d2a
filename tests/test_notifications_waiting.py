"""How many notifications each sink's outbox holds, as a gauge read at scrape time:
``sesd run`` as a process, moto's SQS, a Slack-like receiver that stalls."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from tests import factory as f
from tests.conftest import make_queue, send_bodies
from tests.receivers import Answer, Receiver
from tests.sesd_process import SesdProcess, config_file, sesd_process


async def _waiting(sesd: SesdProcess) -> dict[str, float]:
    metrics = await sesd.metrics()
    return {
        dict(labels)["sink"]: value
        for (name, labels), value in metrics.items()
        if name == "sesd_notifications_waiting"
    }


@pytest.mark.timeout(120)
async def test_the_notifications_a_stalled_sink_holds_are_exported_until_delivered(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """Every configured sink's series is there at 0 from the start. Slack takes the
    first firing and does not answer; a second waits behind it: Slack's series reads
    2 (the one being delivered, and the one behind), the console's 0. Once Slack
    answers, both are sent and the series reads 0 again."""
    url, _ = await make_queue(sqs)
    async with Receiver("slack") as slack:
        slack.script(Answer(hang=True))
        config = config_file(
            tmp_path,
            f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
            f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 1\n'
            '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n'
            '[alerts.slack]\nwebhook_url = "env:SESD_TEST_SLACK_URL"\n'
            '[[alerts.rules]]\nname = "delays"\nmetric = "delayed_recipients"\n'
            'window = "5m"\nabove = 0\nsinks = ["slack"]\n',
        )
        async with sesd_process(config, env={"SESD_TEST_SLACK_URL": slack.url}) as sesd:
            assert await _waiting(sesd) == {"console": 0, "slack": 0}

            async def fire(domain: str) -> None:
                await send_bodies(sqs, url, [f.raw(f.delay([f"x@{domain}"], at=time.time()))])
                with anyio.fail_after(30):
                    await sesd.wait_for(
                        lambda r: (
                            r.get("event") == "sesd.alert.firing" and r.get("domain") == domain
                        )
                    )

            await fire("a.example")
            with anyio.fail_after(30):
                await slack.wait_arrived(1)
            await fire("b.example")
            assert await _waiting(sesd) == {"console": 0, "slack": 2}

            slack.close()  # the stalled request is answered
            with anyio.fail_after(30):
                await sesd.wait_for(
                    lambda _: sum(r.get("event") == "sesd.notify.sent" for r in sesd.records) == 2
                )
            assert await _waiting(sesd) == {"console": 0, "slack": 0}


async def test_a_sink_a_reload_removed_is_counted_while_its_outbox_empties() -> None:
    """A reload moves a firing rule off its sink and removes that sink and another:
    the first's outbox goes on emptying (the firing, and the resolve the change owes
    it), and its series goes on counting what it holds; the second, empty, has no
    series; the console, the rule's sink now, holds the firing."""
    import aiohttp

    from sesd.config import core_settings, parse_config
    from sesd.core.pipeline import Pipeline
    from sesd.metrics.registry import Metrics
    from tests.test_routing import RULE, alerting_for
    from tests.test_rules import feed_spike

    sinks = '[alerts.sinks.ops]\ntype = "console"\n[alerts.sinks.team]\ntype = "console"\n'
    config = parse_config('[alerts]\ngroup_wait = "0s"\n' + sinks + RULE + 'sinks = ["ops"]\n')
    pipeline = Pipeline(core_settings(config))
    now = [f.T0]
    alerting = alerting_for(config, pipeline, now)
    metrics = Metrics(pipeline.ledger, [], lambda: now[0])
    metrics.watch_outboxes(alerting.waiting)

    def waiting(sink: str) -> float | None:
        return metrics.registry.get_sample_value("sesd_notifications_waiting", {"sink": sink})

    async with aiohttp.ClientSession() as session:
        alerting.open(session)  # no delivery task runs: what is queued stays
        feed_spike(pipeline, "a.example", f.T0, 6, 4)
        alerting.evaluate()
        assert (waiting("ops"), waiting("team"), waiting("console")) == (1, 0, 0)
        alerting.reconfigure(parse_config('[alerts]\ngroup_wait = "0s"\n' + RULE))
        # ops: the firing, and the resolve the change owes it; the console the firing.
        assert (waiting("ops"), waiting("team"), waiting("console")) == (2, None, 1)
