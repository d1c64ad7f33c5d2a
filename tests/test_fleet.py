"""Fleet mode with a real Prometheus: two replicas share one queue, the rules sum them."""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import anyio.abc
import pytest
from anyio.streams.text import TextReceiveStream
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sesd.commands.demo.localsqs import LocalSqs, free_port
from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import parse_config
from sesd.core.events import EVENT_TYPE_INDEX
from sesd.runtime.daemon import Daemon
from sesd.runtime.health import Changes
from tests import factory as f
from tests.conftest import make_queue, require_tool, send_bodies
from tests.dns_server import hermetic
from tests.test_artifacts import DASHBOARD, PROMETHEUS, dashboard_queries, filled

#: The measured traffic: (domain, deliveries, delays, bounces).
TRAFFIC = [("outlook.example", 90, 10, 0), ("gmail.example", 50, 0, 0), ("yahoo.example", 36, 0, 4)]
#: A domain first seen in the measured traffic (no warm-up: a counter would be born at
#: its value, and rate() would lose it); and delays to outlook.example stamped three
#: hours ago (a backlog): counted, but in no window, so in no fleet ratio.
FRESH = ("fresh.example", 16, 4, 0)
LATE = 30
#: The account and region of the factory's events (their identity's ARN): the tenant
#: polled there owns their configuration set, so the traffic counts under it.
ACCOUNT, REGION = "123456789012", "eu-west-1"


class ScrapeWatch(Collector):
    """Counts scrapes of one replica and wakes waiters: Prometheus gives no other signal."""

    def __init__(self, changes: Changes) -> None:
        self.scrapes = 0
        self._changes = changes

    def collect(self) -> Iterator[Metric]:
        self.scrapes += 1
        self._changes.notify()
        yield GaugeMetricFamily("sesd_test_scrapes", "scrapes seen", value=self.scrapes)


def replica_config(local: LocalSqs, shared: str, private: str, tenants: LocalTenants) -> Any:
    return parse_config(
        f'[aws]\nendpoint_url = "{local.url}"\n'
        # SES's pace (one call a second) would hold the start ~3 s for the tenant map.
        f'[tenants]\nenabled = true\nendpoint_url = "{tenants.url}"\ncalls_per_second = 100\n'
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
    "sesd_ses_poll_failures_total": "no account polls here",
}


def paused_tenant() -> LocalTenants:
    """SES's tenants: acme owns the events' configuration set, and SES paused it for a
    high-impact bounce finding (the dashboard's tenant panels show it)."""
    tenants = LocalTenants(ACCOUNT, REGION)
    acme = tenants.add("acme", ("CONFIGURATION_SET", "ConfigSet"))
    tenants.pause("acme", "The bounce rate exceeded 15.0%.")
    acme.impact = "HIGH"
    acme.findings.append(("BOUNCE", "HIGH", "The bounce rate exceeded 15.0% (197 emails)"))
    return tenants


def _more_than(count: Callable[[], int], before: int) -> bool:
    return count() > before


def processed(daemons: list[Daemon], queue: str) -> int:
    return sum(d.ledger.tallies.messages.get((queue, "processed"), 0) for d in daemons)


def recipients(daemons: list[Daemon], domain: str, event_type: str) -> int:
    """The replicas' own count of ``event_type`` recipients in ``domain``."""
    index = EVENT_TYPE_INDEX[event_type]
    per_replica = (d.ledger.by_domain.recipients.get(domain) for d in daemons)
    return sum(counts[index] for counts in per_replica if counts is not None)


class Fleet:
    """Two replicas, their scrape watches, and the Prometheus that scrapes them: queries,
    and waits for what Prometheus has stored (never for time to pass)."""

    def __init__(self, replicas: list[Daemon], watches: list[ScrapeWatch], changes: Changes):
        self.replicas = replicas
        self.watches = watches
        self.changes = changes
        self.api = ""
        self.http: aiohttp.ClientSession | None = None

    async def query(self, expr: str) -> list[dict[str, Any]]:
        assert self.http is not None
        async with self.http.get(f"{self.api}/query", params={"query": expr}) as response:
            body = await response.json()
        assert body["status"] == "success", (expr, body)
        return body["data"]["result"]  # type: ignore[no-any-return]

    def scrapes(self) -> int:
        return sum(w.scrapes for w in self.watches)

    async def next_scrape(self) -> None:
        await self.changes.wait_for(partial(_more_than, self.scrapes, self.scrapes()))

    async def stored_from(self, seen: list[int]) -> None:
        """Until Prometheus has *stored* a scrape of each replica that began after
        ``seen`` (a scrape that timed out was collected, not stored)."""
        while True:
            stored = {
                r["metric"]["instance"]: float(r["value"][1])
                for r in await self.query("sesd_test_scrapes")
            }
            ports = [str(d.http_port) for d in self.replicas]
            if all(
                stored.get(f"127.0.0.1:{port}", 0) > s + 1
                for port, s in zip(ports, seen, strict=True)
            ):
                return
            await self.next_scrape()

    async def until(self, expr: str, holds: Callable[[list[dict[str, Any]]], bool]) -> Any:
        """The result of ``expr`` once ``holds`` says it is what the test asserts, asked
        again after each scrape (a scrape that times out on a busy machine marks a
        replica's series stale for a moment); the last result when time runs out."""
        found = await self.query(expr)
        with anyio.move_on_after(20):
            while not holds(found):
                await self.next_scrape()
                found = await self.query(expr)
        return found


#: The scrape interval and timeout on an idle machine: the test waits for scrapes, and
#: the dashboard's rate() panels need two samples of a series in their range.
FAST = 0.1
#: The most a scrape may be given: a render slower than this is a slow sesd, not a
#: busy machine, and the test fails waiting for what Prometheus stores.
SLOWEST = 2.0


async def _scrape_budget(fleet: Fleet, rounds: int = 5) -> float:
    """A scrape timeout (and interval) for this machine as it is now: four times the
    slowest of ``rounds`` renders of both replicas at once (as Prometheus asks for
    them), in whole tenths of a second, between FAST and SLOWEST. Both replicas share
    the test's event loop: on a saturated machine a render takes longer than FAST,
    every scrape times out, and Prometheus stores nothing the test waits for."""
    assert fleet.http is not None
    http = fleet.http

    async def render(port: int | None, took: list[float]) -> None:
        started = time.monotonic()
        async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
            assert response.status == 200
            await response.read()
        took.append(time.monotonic() - started)

    took: list[float] = []
    for _ in range(rounds):
        async with anyio.create_task_group() as tg:
            for daemon in fleet.replicas:
                tg.start_soon(render, daemon.http_port, took)
    budget = min(SLOWEST, max(FAST, math.ceil(4 * max(took) * 10) / 10))
    print(f"slowest render {max(took) * 1000:.0f} ms: scrapes every {budget:.1f} s")
    return budget


@asynccontextmanager
async def _prometheus(prometheus: str, config: Path, port: int) -> AsyncIterator[None]:
    """Prometheus with ``config`` on ``port``, its data beside its config, once it says
    it is ready for requests (its log read to the end meanwhile, so that it never
    blocks on a full pipe); terminated when the block ends."""
    process = await anyio.open_process(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={config.parent / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    ready = anyio.Event()

    async def read_log(stream: anyio.abc.ByteReceiveStream) -> None:
        async for line in TextReceiveStream(stream):
            if "Server is ready to receive web requests" in line:
                ready.set()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(read_log, process.stderr)
            with anyio.fail_after(30):
                await ready.wait()
            try:
                yield
            finally:
                process.terminate()
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.wait()
            await process.aclose()


def _prometheus_config(tmp_path: Path, replicas: list[Daemon], every: float) -> Path:
    config = tmp_path / "prometheus.yml"
    targets = ", ".join(f"'127.0.0.1:{d.http_port}'" for d in replicas)
    config.write_text(
        f"global:\n  scrape_interval: {every * 1000:.0f}ms\n"
        f"  scrape_timeout: {every * 1000:.0f}ms\n"
        "  evaluation_interval: 100ms\n"
        f"rule_files:\n  - {PROMETHEUS / 'sesd.rules.yml'}\n"
        "scrape_configs:\n  - job_name: sesd\n    static_configs:\n"
        f"      - targets: [{targets}]\n"
    )
    return config


async def _warm_up(fleet: Fleet, sqs: Any, private: list[str]) -> None:
    """Every replica sees every domain of TRAFFIC once (its own queue), so each exports
    all of a domain's series before the measured traffic starts, for the dashboard's
    rate() panels (a counter born at its value loses that value to rate()). The fleet
    ratios read windows: FRESH has no warm-up."""
    for url in private:
        await send_bodies(
            sqs, url, [f.raw(f.simple("Send", [f"w@{domain}"])) for domain, *_ in TRAFFIC]
        )
    with anyio.fail_after(30):
        await fleet.changes.wait_for(lambda: processed(fleet.replicas, "warmup") == 6)


async def _warm_samples(fleet: Fleet) -> None:
    """Until Prometheus has stored a scrape of each replica holding the warm-up's series
    at their warm-up values, the samples rate() reads the traffic's increase from. (A
    count of renders held ones Prometheus had given up on, which it never stores: on a
    busy machine, most of them.)"""
    with anyio.fail_after(30):
        await fleet.stored_from([w.scrapes for w in fleet.watches])


async def _traffic(fleet: Fleet, sqs: Any, shared: str, private: list[str]) -> list[str]:
    """The measured traffic on the shared queue, and on each replica's own queue a delay
    with its delivery (how long delays last), a recipient a suppression list holds, and
    a body that is not JSON."""
    bodies = []
    for domain, delivered, delayed, bounced in [*TRAFFIC, FRESH]:
        bodies += [f.sns(f.delivery([f"d{i}@{domain}"])) for i in range(delivered)]
        bodies += [f.sns(f.delay([f"y{i}@{domain}"])) for i in range(delayed)]
        bodies += [f.sns(f.bounce([f"b{i}@{domain}"])) for i in range(bounced)]
    old = time.time() - 3 * 3600
    bodies += [f.sns(f.delay([f"o{i}@outlook.example"], at=old)) for i in range(LATE)]
    await send_bodies(sqs, shared, bodies)
    for url in private:
        ended = [
            f.raw(f.delay(["z@ended.example"], at=f.T0 - 60, message_id="z-1")),
            f.raw(f.delivery(["z@ended.example"], at=f.T0, message_id="z-1")),
            f.raw(f.bounce(["s@ended.example"], subkind="OnAccountSuppressionList")),
            "not json",
        ]
        await send_bodies(sqs, url, ended)
    replicas = fleet.replicas
    with anyio.fail_after(30):
        await fleet.changes.wait_for(lambda: processed(replicas, "shared") >= len(bodies))
        await fleet.changes.wait_for(lambda: processed(replicas, "warmup") == 12)
        # A scrape yields to the loop between families and this watch is collected
        # last: the next scrape may hold counts from before the traffic ended; the one
        # after it holds them all. Wait until Prometheus has stored that one.
        await fleet.stored_from([w.scrapes for w in fleet.watches])
    return bodies


async def _exact_totals(fleet: Fleet, sent: int) -> dict[tuple[str, str], float]:
    """Prometheus' sums are the replicas' own counts, exactly; each is what was sent,
    give or take what SQS handed to both replicas."""
    replicas = fleet.replicas

    def exact(found: list[dict[str, Any]]) -> bool:
        return bool(found) and all(
            float(r["value"][1])
            == recipients(replicas, r["metric"]["domain"], r["metric"]["event_type"])
            for r in found
        )

    found = await fleet.until(
        "sum by (domain, event_type) (sesd_recipient_events_total"
        '{event_type=~"delivery|delivery_delay|bounce"})',
        exact,
    )
    assert exact(found)
    totals = {
        (r["metric"]["domain"], r["metric"]["event_type"]): float(r["value"][1]) for r in found
    }
    # SQS is at-least-once: a message handed to both replicas is counted by both (each
    # duplicate filter knows only its own share). moto's server does that about once
    # in 15 runs of concurrent receives: allow it.
    extra = processed(replicas, "shared") - sent
    assert extra <= 2, f"{extra} messages counted twice"
    for domain, delivered, delayed, bounced in [*TRAFFIC, FRESH]:
        late = LATE if domain == "outlook.example" else 0
        for event_type, n in (
            ("delivery", delivered),
            ("delivery_delay", delayed + late),
            ("bounce", bounced),
        ):
            assert n <= totals[(domain, event_type)] <= n + extra
    return totals


def in_window(daemons: list[Daemon], domain: str, event_type: str) -> int:
    """The replicas' own count of ``event_type`` recipients in ``domain``'s 5m window."""
    index, now = EVENT_TYPE_INDEX[event_type], time.time()
    windows = (d.ledger.by_domain.windows.get(domain) for d in daemons)
    return sum(w.counts(0, now)[index] for w in windows if w is not None)


async def _true_ratio(fleet: Fleet) -> None:
    """The recording rule, from an evaluation after the last scrape of each replica
    that holds every count. A sample is stamped when its scrape begins but stored when
    it ends, so an evaluation stamped later may still have read the scrape before: it
    is read again after each scrape until it is the true ratio (a wrong rule never
    gets there). The true ratio is the replicas' windows summed: the late delays to
    outlook.example are in no window, and fresh.example's first events are in its."""
    last_scrape = max(
        float(r["value"][1]) for r in await fleet.query("timestamp(sesd_test_scrapes)")
    )
    for domain in ("outlook.example", "fresh.example"):
        ratio = f'sesd:delay_ratio:5m{{domain="{domain}"}}'
        delays = in_window(fleet.replicas, domain, "delivery_delay")
        true = delays / (delays + in_window(fleet.replicas, domain, "delivery"))
        assert true == pytest.approx(0.1 if domain == "outlook.example" else 0.2, rel=0.05)

        def is_true(found: list[dict[str, Any]], true: float = true) -> bool:
            return bool(found) and float(found[0]["value"][1]) == pytest.approx(true)

        found = await fleet.until(f"{ratio} and timestamp({ratio}) >= {last_scrape}", is_true)
        assert found
        assert float(found[0]["value"][1]) == pytest.approx(true)
    # Asked again after each scrape as above: on a busy machine a scrape that times out
    # leaves a replica's series stale for a moment, and the ratio absent.
    gmail = await fleet.until(
        'sesd:delay_ratio:5m{domain="gmail.example"}',
        lambda found: bool(found) and float(found[0]["value"][1]) == 0.0,
    )
    assert gmail
    assert float(gmail[0]["value"][1]) == 0.0


async def _every_panel_has_data(fleet: Fleet) -> None:
    """Every panel shows data once traffic has flowed (a misspelt metric evaluates as
    successfully as a right one, to nothing); a panel with no series never finds any,
    however many scrapes it is asked after."""
    for expr in dashboard_queries():
        if any(part in expr for part in EMPTY_HERE):
            await fleet.query(expr)  # it must still evaluate
            continue
        assert await fleet.until(expr, bool), f"no series for dashboard query {expr}"


async def _configs_in_force(fleet: Fleet) -> None:
    """The dashboard's "Configs in force" counts the configs the replicas run: two
    here, as each reads a private queue of its own, each replica one digest."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    (expr,) = [
        filled(t["expr"]) for p in panels if p["title"] == "Configs in force" for t in p["targets"]
    ]
    found = await fleet.until(expr, lambda found: bool(found) and found[0]["value"][1] == "2")
    assert [float(r["value"][1]) for r in found] == [2]
    assert len(await fleet.query("sesd_config_info == 1")) == 2


async def _tenant_paused_once(fleet: Fleet) -> None:
    """The traffic counts under acme, whose configuration set it was sent with; SES
    paused acme, and the fleet alert says so once though both replicas report it."""
    assert await fleet.until('sesd:tenant_delay_ratio:15m{tenant="acme"}', bool)
    paused = 'ALERTS{alertname="SesdTenantSendingPaused",alertstate="firing"}'
    alerts = await fleet.until(paused, bool)
    assert [(a["metric"]["tenant"], a["metric"]["region"]) for a in alerts] == [("acme", REGION)]


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
    tenants = paused_tenant()
    replicas = [
        Daemon(hermetic(replica_config(local_sqs, shared, url, tenants))) for url in private
    ]
    fleet = Fleet(replicas, [ScrapeWatch(changes) for _ in replicas], changes)
    for daemon, watch in zip(replicas, fleet.watches, strict=True):
        daemon.changes = changes  # one signal for both replicas and the scrapes
        daemon.metrics.registry.register(watch)
    port = free_port()
    async with tenants, anyio.create_task_group() as tg, aiohttp.ClientSession() as fleet.http:
        for daemon in replicas:
            await tg.start(partial(daemon.run, handle_signals=False))
        try:
            # Both replicas know acme's configuration set before any event.
            with anyio.fail_after(30):
                await changes.wait_for(lambda: all(d.ledger.tenant_map.arns for d in replicas))
            await _warm_up(fleet, sqs, private)
            every = await _scrape_budget(fleet)
            fleet.api = f"http://127.0.0.1:{port}/api/v1"
            async with _prometheus(prometheus, _prometheus_config(tmp_path, replicas, every), port):
                await _warm_samples(fleet)
                bodies = await _traffic(fleet, sqs, shared, private)
                # Both replicas took part (competing consumers).
                assert all(processed([d], "shared") > 0 for d in replicas)
                await _exact_totals(fleet, len(bodies))
                await _true_ratio(fleet)
                await _every_panel_has_data(fleet)
                await _configs_in_force(fleet)
                await _tenant_paused_once(fleet)
        finally:
            for daemon in replicas:
                daemon.stop()
