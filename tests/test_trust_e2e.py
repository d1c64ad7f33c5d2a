"""Through the running daemon (moto's SQS, a Slack-like receiver): events out of order
resolve their delays, and a quantile alert resolves when its window stops breaching."""

from __future__ import annotations

import io
from typing import Any

import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import parse_config
from tests import factory as f
from tests.conftest import make_queue, running, send_bodies
from tests.receivers import Receiver
from tests.test_alerting_e2e import Clock

#: Short polls: a stop need not wait out a long poll (conftest.short_polls).
pytestmark = pytest.mark.usefixtures("short_polls")


def _config(local: LocalSqs, url: str, extra: str = "") -> Any:
    return parse_config(
        f'[aws]\nendpoint_url = "{local.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
        '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "10s"\n'
        '[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n' + extra
    )


async def test_a_delivery_received_before_its_delay_leaves_nothing_pending(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """SQS hands the daemon a recipient's Delivery (event time T0+60) before its
    DeliveryDelay (T0): the recipient is not pending, and how long the delay lasted
    (60 s) is in the window's summary. Another recipient, only delayed, is pending."""
    clock = Clock(f.T0 + 70)
    url, _ = await make_queue(sqs)
    async with running(_config(local_sqs, url), clock=clock) as daemon:
        delivery = f.raw(f.delivery(["a@one.example"], at=f.T0 + 60, message_id="m-1"))
        await send_bodies(sqs, url, [delivery])
        with anyio.fail_after(20):
            await daemon.changes.wait_for(
                lambda: daemon.ledger.tallies.messages.get(("q", "processed"), 0) == 1
            )
        delays = [
            f.raw(f.delay(["a@one.example", "b@one.example"], at=f.T0, message_id="m-1")),
        ]
        await send_bodies(sqs, url, delays)
        with anyio.fail_after(20):
            await daemon.changes.wait_for(
                lambda: daemon.ledger.tallies.messages.get(("q", "processed"), 0) == 2
            )
        registry = daemon.metrics.registry
        pending = registry.get_sample_value(
            "sesd_delayed_recipients_pending", {"domain": "one.example"}
        )
        window = {"domain": "one.example", "window": "5m"}
        lasted = registry.get_sample_value("sesd_window_delay_duration_seconds_count", window)
        p50 = registry.get_sample_value(
            "sesd_window_delay_duration_seconds", {**window, "quantile": "0.5"}
        )
    assert pending == 1  # b@ only
    assert lasted == 1
    assert p50 == pytest.approx(60, rel=0.1)


async def test_a_quantile_alert_resolves_when_its_window_stops_breaching(
    local_sqs: LocalSqs, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slow deliveries (120 s inside SES) fire processing_p95_seconds; once they have
    left the 5m window (and fast ones arrive), it resolves at once: the quantile covers
    the window, not up to twice its span."""
    clock = Clock(f.T0)
    url, _ = await make_queue(sqs)
    async with Receiver("slack") as slack:
        monkeypatch.setenv("SESD_TEST_SLACK_URL", slack.url)
        config = _config(
            local_sqs,
            url,
            '[alerts.slack]\nwebhook_url = "env:SESD_TEST_SLACK_URL"\n'
            '[[alerts.rules]]\nname = "slow-in-ses"\nmetric = "processing_p95_seconds"\n'
            'window = "5m"\nabove = 60\nmin_events = 3\nsinks = ["slack"]\n',
        )
        async with running(config, clock=clock, console=io.StringIO()):
            slow = [
                f.raw(f.delivery([f"s{i}@one.example"], at=f.T0, processing_ms=120_000))
                for i in range(3)
            ]
            await send_bodies(sqs, url, slow)
            with anyio.fail_after(20):
                await slack.wait_for(1)
            # 310 s on: the slow deliveries' bucket has left the 5m window.
            clock.now = f.T0 + 310
            fast = [
                f.raw(f.delivery([f"q{i}@one.example"], at=clock.now, processing_ms=900))
                for i in range(3)
            ]
            await send_bodies(sqs, url, fast)
            with anyio.fail_after(20):
                await slack.wait_for(2)
    firing, resolved = slack.accepted
    assert firing["text"].startswith(":rotating_light: FIRING slow-in-ses")
    assert resolved["text"].startswith(":white_check_mark: RESOLVED slow-in-ses")
