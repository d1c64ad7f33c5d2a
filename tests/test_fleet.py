"""Fleet mode with a real Prometheus: two replicas share one queue, the rules sum them."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sesd.commands.demo.localsqs import LocalSqs, free_port
from sesd.config import parse_config
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.runtime.daemon import Daemon
from sesd.runtime.health import Changes
from tests import factory as f
from tests.conftest import make_queue, require_tool, send_bodies
from tests.dns_server import hermetic
from tests.test_artifacts import PROMETHEUS, dashboard_queries

#: The measured traffic: (domain, deliveries, delays, bounces).
TRAFFIC = [("outlook.example", 90, 10, 0), ("gmail.example", 50, 0, 0), ("yahoo.example", 36, 0, 4)]


class ScrapeWatch(Collector):
    """Counts scrapes of one replica and wakes waiters: Prometheus gives no other signal."""

    def __init__(self, changes: Changes) -> None:
        self.scrapes = 0
        self._changes = changes

    def collect(self) -> Iterator[Metric]:
        self.scrapes += 1
        self._changes.notify()
        yield GaugeMetricFamily("sesd_test_scrapes", "scrapes seen", value=self.scrapes)


def replica_config(local: LocalSqs, shared: str, private: str) -> Any:
    return parse_config(
        f'[aws]\nendpoint_url = "{local.url}"\n'
        f'[[queues]]\nurl = "{shared}"\nname = "shared"\nwait_time_seconds = 1\n'
        f'[[queues]]\nurl = "{private}"\nname = "warmup"\nwait_time_seconds = 1\n'
        '[http]\nlisten = "127.0.0.1:0"\n'
        '[alerts]\nevaluate_every = "100ms"\n'
        '[[alerts.rules]]\nname = "delay-ratio-high"\nmetric = "delay_ratio"\nwindow = "5m"\n'
        'above = 0.05\nsinks = ["console"]\n'
    )


#: Dashboard queries that have no series here, by what they contain, and why: the
#: fleet alerts need a Prometheus alert firing (two minutes of breach), the canary
#: panels a canary. Every other query must return series.
EMPTY_HERE = {
    'ALERTS{alertname=~"Sesd.*"': "no incident long enough for a Prometheus alert",
    "sesd_canary_": "no [canary] in this test",
    "sesd_ses_sending_enabled": "no account polls here (moto has no GetAccount)",
    "sesd_ses_enforcement_status": "no account polls here",
    "sesd_ses_quota_used_ratio": "no account polls here",
    "sesd_ses_poll_errors_total": "no account polls here",
}


def _more_than(count: Callable[[], int], before: int) -> bool:
    return count() > before


def processed(daemons: list[Daemon], queue: str) -> int:
    return sum(d.ledger.tallies.messages.get((queue, "processed"), 0) for d in daemons)


def recipients(daemons: list[Daemon], domain: str, event_type: str) -> int:
    """The replicas' own count of ``event_type`` recipients in ``domain``."""
    index = EVENT_TYPE_INDEX[event_type]
    per_replica = (d.ledger.by_domain.recipients.get(domain) for d in daemons)
    return sum(counts[index] for counts in per_replica if counts is not None)


@pytest.mark.timeout(120)
async def test_fleet_rules_give_the_true_ratio_across_two_replicas(
    local_sqs: LocalSqs, sqs: Any, tmp_path: Path
) -> None:
    """Two replicas consume one queue as competing consumers; Prometheus scrapes both. The
    summed counters are exact, the fleet delay ratio is the true one (not any replica's),
    and every query of the Grafana dashboard evaluates without error."""
    prometheus = require_tool("prometheus")
    shared, _ = await make_queue(sqs)
    private = [(await make_queue(sqs))[0] for _ in range(2)]
    changes = Changes()
    a = Daemon(hermetic(replica_config(local_sqs, shared, private[0])))
    b = Daemon(hermetic(replica_config(local_sqs, shared, private[1])))
    watches = []
    for daemon in (a, b):
        daemon.changes = changes  # one signal for both replicas and the scrapes
        watch = ScrapeWatch(changes)
        daemon.metrics.registry.register(watch)
        watches.append(watch)

    port = free_port()
    async with anyio.create_task_group() as tg:
        for daemon in (a, b):
            await tg.start(partial(daemon.run, handle_signals=False))
        config = tmp_path / "prometheus.yml"
        config.write_text(
            # Fast scrapes: rate() extrapolates each target's series by up to one
            # interval, so the sampled span must be long against the interval (as it
            # is in production) for the summed ratio to be the true one.
            "global:\n  scrape_interval: 100ms\n  scrape_timeout: 100ms\n"
            "  evaluation_interval: 100ms\n"
            f"rule_files:\n  - {PROMETHEUS / 'sesd.rules.yml'}\n"
            "scrape_configs:\n  - job_name: sesd\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{a.http_port}', '127.0.0.1:{b.http_port}']\n"
        )
        process = await anyio.open_process(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            api = f"http://127.0.0.1:{port}/api/v1"
            async with aiohttp.ClientSession() as http:

                async def query(expr: str) -> list[dict[str, Any]]:
                    async with http.get(f"{api}/query", params={"query": expr}) as response:
                        body = await response.json()
                    assert body["status"] == "success", (expr, body)
                    return body["data"]["result"]  # type: ignore[no-any-return]

                async def stored_from(seen: list[int]) -> None:
                    """Until Prometheus has *stored* a scrape of each replica that began
                    after ``seen`` (a scrape that timed out was collected, not stored)."""
                    while True:
                        stored = {
                            r["metric"]["instance"]: float(r["value"][1])
                            for r in await query("sesd_test_scrapes")
                        }
                        ports = [str(d.http_port) for d in (a, b)]
                        done = all(
                            stored.get(f"127.0.0.1:{port}", 0) > s + 1
                            for port, s in zip(ports, seen, strict=True)
                        )
                        if done:
                            return
                        await changes.wait_for(partial(_more_than, scrapes, scrapes()))

                def scrapes() -> int:
                    return sum(w.scrapes for w in watches)

                # Warm-up: every replica sees every domain once (its own queue), so each
                # exports all of a domain's series before the measured traffic starts.
                for url in private:
                    await send_bodies(
                        sqs,
                        url,
                        [f.raw(f.simple("Send", [f"w@{domain}"])) for domain, *_ in TRAFFIC],
                    )
                with anyio.fail_after(30):
                    await changes.wait_for(lambda: processed([a, b], "warmup") == 6)
                    # 80 samples of the zero-valued series before the traffic: the
                    # extrapolation (at most one interval) is then under 1.25% of the span.
                    seen = [w.scrapes for w in watches]
                    await changes.wait_for(
                        lambda: all(w.scrapes >= s + 80 for w, s in zip(watches, seen, strict=True))
                    )

                bodies = []
                for domain, delivered, delayed, bounced in TRAFFIC:
                    bodies += [f.sns(f.delivery([f"d{i}@{domain}"])) for i in range(delivered)]
                    bodies += [f.sns(f.delay([f"y{i}@{domain}"])) for i in range(delayed)]
                    bodies += [f.sns(f.bounce([f"b{i}@{domain}"])) for i in range(bounced)]
                await send_bodies(sqs, shared, bodies)
                # On each replica's own queue: a delay and its delivery (how long delays
                # last), and a body that is not JSON (invalid messages by reason).
                for url in private:
                    ended = [
                        f.raw(f.delay(["z@ended.example"], at=f.T0 - 60, message_id="z-1")),
                        f.raw(f.delivery(["z@ended.example"], at=f.T0, message_id="z-1")),
                        "not json",
                    ]
                    await send_bodies(sqs, url, ended)
                with anyio.fail_after(30):
                    await changes.wait_for(lambda: processed([a, b], "shared") >= len(bodies))
                    await changes.wait_for(lambda: processed([a, b], "warmup") == 10)
                    # A scrape yields to the loop between families and this watch is
                    # collected last: the next scrape may hold counts from before the
                    # traffic ended; the one after it holds them all. Wait until
                    # Prometheus has stored that one.
                    await stored_from([w.scrapes for w in watches])
                # Both replicas took part (competing consumers).
                assert processed([a], "shared") > 0
                assert processed([b], "shared") > 0

                async def next_scrape() -> None:
                    await changes.wait_for(partial(_more_than, scrapes, scrapes()))

                async def summed() -> dict[tuple[str, str], float]:
                    return {
                        (r["metric"]["domain"], r["metric"]["event_type"]): float(r["value"][1])
                        for r in await query(
                            "sum by (domain, event_type) (sesd_recipient_events_total"
                            '{event_type=~"delivery|delivery_delay|bounce"})'
                        )
                    }

                def exact(found: dict[tuple[str, str], float]) -> bool:
                    return bool(found) and all(
                        total == recipients([a, b], domain, event_type)
                        for (domain, event_type), total in found.items()
                    )

                # Prometheus' sums are the replicas' own counts, exactly. A scrape that
                # times out on a busy machine marks a replica's series stale for a
                # moment: the sums are read again after the next scrape until they hold.
                with anyio.fail_after(20):
                    totals = await summed()
                    while not exact(totals):
                        await next_scrape()
                        totals = await summed()
                # SQS is at-least-once: a message handed to both replicas is counted by
                # both (each duplicate filter knows only its own share). moto's server
                # does that about once in 15 runs of concurrent receives: allow it.
                extra = processed([a, b], "shared") - len(bodies)
                assert extra <= 2, f"{extra} messages counted twice"
                for domain, delivered, delayed, bounced in TRAFFIC:
                    for event_type, sent in (
                        ("delivery", delivered),
                        ("delivery_delay", delayed),
                        ("bounce", bounced),
                    ):
                        assert sent <= totals[(domain, event_type)] <= sent + extra

                # The recording rule, from an evaluation after the last scrape of each
                # replica that holds every count. A sample is stamped when its scrape
                # begins but stored when it ends, so an evaluation stamped later may
                # still have read the scrape before: re-read after each scrape until
                # the ratio is the true one (a wrong rule never gets there).
                last_scrape = max(
                    float(r["value"][1]) for r in await query("timestamp(sesd_test_scrapes)")
                )
                outlook = 'sesd:delay_ratio:5m{domain="outlook.example"}'

                async def ratio() -> float | None:
                    found = await query(f"{outlook} and timestamp({outlook}) >= {last_scrape}")
                    return float(found[0]["value"][1]) if found else None

                # rate() extrapolates per target by up to one scrape interval: over 80+
                # samples that keeps the ratio within 2% of the true one (10% when no
                # message reached both replicas).
                outlook_delays = totals[("outlook.example", "delivery_delay")]
                true = outlook_delays / (outlook_delays + totals[("outlook.example", "delivery")])
                with anyio.move_on_after(20):
                    value = await ratio()
                    while value is None or value != pytest.approx(true, rel=0.02):
                        await next_scrape()
                        value = await ratio()
                assert value == pytest.approx(true, rel=0.02)
                gmail = await query('sesd:delay_ratio:5m{domain="gmail.example"}')
                assert float(gmail[0]["value"][1]) == 0.0

                # Every panel shows data once traffic has flowed (a misspelt metric
                # evaluates as successfully as a right one, to nothing). A query that
                # finds nothing is asked again after the next scrape, in case the
                # last scrape timed out: a panel with no series never finds any.
                for expr in dashboard_queries():
                    if any(part in expr for part in EMPTY_HERE):
                        await query(expr)  # it must still evaluate
                        continue
                    with anyio.move_on_after(10):
                        while not await query(expr):
                            await next_scrape()
                    assert await query(expr), f"no series for dashboard query {expr}"
        finally:
            process.terminate()
            with anyio.CancelScope(shield=True):
                await process.wait()
                await process.aclose()
            a.stop()
            b.stop()
