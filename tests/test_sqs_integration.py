"""The daemon against a real local SQS server (moto's server mode)."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from functools import partial
from typing import Any

import aiohttp
import anyio
import pytest

from sesd import __version__
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import Config, parse_config
from sesd.runtime.daemon import Daemon
from tests import factory as f
from tests.conftest import make_queue, queue_counts, running, send_bodies
from tests.test_dedup import break_after_delivery


def config_for(
    local: LocalSqs, queues: list[tuple[str, str]], extra: str = "", *, wait: int = 1
) -> Config:
    """Two pollers a queue, long-polled ``wait`` seconds (0: short polls, for a test
    whose subject is not the receive, with conftest.short_polls)."""
    blocks = "".join(
        f'[[queues]]\nurl = "{url}"\nname = "{name}"\nconcurrency = 2\nwait_time_seconds = {wait}\n'
        for name, url in queues
    )
    return parse_config(
        f'[aws]\nendpoint_url = "{local.url}"\n{blocks}[http]\nlisten = "127.0.0.1:0"\n'
        f'[shutdown]\ngrace_period = "10s"\n{extra}'
    )


def handled(daemon: Daemon, queue: str | None = None) -> int:
    return sum(n for (q, _), n in daemon.ledger.tallies.messages.items() if queue in (None, q))


async def until(daemon: Daemon, predicate: Callable[[], bool], within: float = 20) -> None:
    with anyio.fail_after(within):
        await daemon.changes.wait_for(predicate)


async def test_two_queues_consumed_and_deleted(local_sqs: LocalSqs, sqs: Any) -> None:
    """Events in two queues are all processed, counted per queue and deleted."""
    url_a, _ = await make_queue(sqs)
    url_b, _ = await make_queue(sqs)
    await send_bodies(sqs, url_a, [f.sns(f.delivery([f"u{i}@one.com"])) for i in range(25)])
    await send_bodies(sqs, url_b, [f.raw(f.delay([f"u{i}@two.com"])) for i in range(15)])
    async with running(config_for(local_sqs, [("a", url_a), ("b", url_b)])) as daemon:
        await until(daemon, lambda: handled(daemon) >= 40)
        tallies = daemon.ledger.tallies
        assert tallies.messages[("a", "processed")] == 25
        assert tallies.messages[("b", "processed")] == 15
        assert daemon.ledger.by_domain.recipients["two.com"][5] == 15  # delivery_delay
        # The SDK does not rebuild its User-Agent on every call (a cost that buys
        # nothing), nor add its retry headers (sesd.io.sdk_calls), on either of the
        # pollers' clients; the calls above worked so.
        queue = daemon.config.queues[0]
        for client in (daemon.sqs(queue), daemon.sqs(queue, "receive")):
            sent: list[dict[str, Any]] = []
            client.meta.events.register(
                "before-send.sqs.GetQueueAttributes",
                lambda request, **_: sent.append(dict(request.headers)),  # noqa: B023
            )
            await client.get_queue_attributes(QueueUrl=url_a, AttributeNames=["All"])
            # sesd's own string, not the one the SDK rebuilds per call ("... ua/2.1 os/...").
            (headers,) = sent
            agent = headers["User-Agent"].decode()
            assert agent.startswith(f"sesd/{__version__}")
            assert "ua/2.1" not in agent
            assert not {"amz-sdk-invocation-id", "amz-sdk-request"} & set(headers)
    assert await queue_counts(sqs, url_a) == (0, 0)
    assert await queue_counts(sqs, url_b) == (0, 0)


async def test_duplicates_across_messages_count_once(local_sqs: LocalSqs, sqs: Any) -> None:
    """One event delivered in three SQS messages (raw, SNS, EventBridge) counts once."""
    url, _ = await make_queue(sqs)
    event = f.delivery(["a@one.com", "b@two.com"])
    await send_bodies(sqs, url, [f.raw(event), f.sns(event), f.eventbridge(event)])
    async with running(config_for(local_sqs, [("q", url)])) as daemon:
        await until(daemon, lambda: handled(daemon) >= 3)
        tallies = daemon.ledger.tallies
        assert tallies.messages.get(("q", "processed")) == 1
        assert tallies.messages.get(("q", "duplicate")) == 2
        assert daemon.ledger.by_domain.recipients["one.com"][4] == 1
    assert await queue_counts(sqs, url) == (0, 0)


async def test_invalid_message_goes_to_the_dead_letter_queue(local_sqs: LocalSqs, sqs: Any) -> None:
    """An invalid body is counted once, not deleted, and the redrive policy moves it to the DLQ
    after maxReceiveCount receives; valid messages beside it are deleted."""
    url, dlq_url = await make_queue(sqs, max_receive=2, visibility=1)
    await send_bodies(sqs, url, ["this is not an SES event", f.sns(f.delivery(["a@one.com"]))])
    async with running(config_for(local_sqs, [("q", url)])) as daemon:
        await until(daemon, lambda: handled(daemon) >= 2)
        with anyio.fail_after(30):
            moved: list[Any] = []
            while not moved:
                response = await sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=2)
                moved = response.get("Messages", [])
        assert moved[0]["Body"] == "this is not an SES event"
        tallies = daemon.ledger.tallies
        assert tallies.messages[("q", "invalid")] == 1
        assert tallies.invalid[("q", "not_json")] == 1
        assert tallies.messages[("q", "processed")] == 1


async def test_a_message_the_pipeline_failed_on_is_kept_and_counted_once(
    local_sqs: LocalSqs, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in the pipeline for one event, after it was written: the error is logged
    and counted, the message kept; SQS delivers it again (its visibility timeout over)
    and the redelivery, a duplicate, is deleted: counted once, not once a receive."""
    calls = break_after_delivery(monkeypatch)
    url, _ = await make_queue(sqs, max_receive=5, visibility=1)
    await send_bodies(sqs, url, [f.sns(f.delivery(["a@one.com"]))])
    async with running(config_for(local_sqs, [("q", url)])) as daemon:
        tallies = daemon.ledger.tallies
        await until(daemon, lambda: tallies.messages.get(("q", "duplicate"), 0) >= 1)
        assert daemon.ledger.by_domain.recipients["one.com"][4] == 1  # delivery
        assert len(calls) == 1
        errors = daemon.metrics.sqs.sqs_errors.labels("q", "default", "us-east-1", "process")
        assert errors._value.get() == 1
    assert await queue_counts(sqs, url) == (0, 0)


async def test_delete_invalid_switch(local_sqs: LocalSqs, sqs: Any) -> None:
    """With ingest.delete_invalid, invalid messages are counted and deleted."""
    url, _ = await make_queue(sqs)
    await send_bodies(sqs, url, ["{}", "[]"])
    config = config_for(local_sqs, [("q", url)], "[ingest]\ndelete_invalid = true\n")
    async with running(config) as daemon:
        await until(daemon, lambda: handled(daemon) >= 2)
    assert await queue_counts(sqs, url) == (0, 0)


async def test_a_queues_own_delete_invalid_is_taken_over_ingests(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """`delete_invalid = true` on one queue (a FIFO queue's, say) deletes its invalid
    messages; another queue's are left for its dead-letter queue, as [ingest] says."""
    deleting, _ = await make_queue(sqs)
    keeping, _ = await make_queue(sqs)
    await send_bodies(sqs, deleting, ["{}"])
    await send_bodies(sqs, keeping, ["[]"])
    blocks = (
        f'[[queues]]\nurl = "{deleting}"\nname = "a"\nwait_time_seconds = 1\n'
        "delete_invalid = true\n"
        f'[[queues]]\nurl = "{keeping}"\nname = "b"\nwait_time_seconds = 1\n'
    )
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n{blocks}[http]\nlisten = "127.0.0.1:0"\n'
    )
    async with running(config) as daemon:
        await until(daemon, lambda: handled(daemon) >= 2)
    # After the stop, which waits for a handled batch's delete (counted when handled,
    # the message is deleted a moment later).
    assert await queue_counts(sqs, deleting) == (0, 0)
    assert await queue_counts(sqs, keeping) == (0, 1)  # in flight, for its DLQ


async def test_http_endpoints(local_sqs: LocalSqs, sqs: Any) -> None:
    """/metrics holds the expected samples, /healthz answers, /readyz once queues answered."""
    url, _ = await make_queue(sqs)
    await send_bodies(sqs, url, [f.sns(f.delay(["a@one.com"], delay_type="MailboxFull"))])
    async with running(config_for(local_sqs, [("events", url)])) as daemon:
        await until(daemon, lambda: handled(daemon) >= 1)
        base = f"http://127.0.0.1:{daemon.http_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/metrics") as response:
                assert response.status == 200
                text = await response.text()
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
            async with http.get(f"{base}/readyz") as response:
                assert response.status == 200
            async with http.post(f"{base}/metrics") as response:
                assert response.status == 405
            # What Prometheus sends: the body comes gzipped, and reads the same.
            headers = {"Accept-Encoding": "gzip"}
            async with http.get(f"{base}/metrics", headers=headers, auto_decompress=False) as r:
                assert r.headers["Content-Encoding"] == "gzip"
                packed = await r.read()
            async with http.get(f"{base}/metrics", headers={"Accept-Encoding": "identity"}) as r:
                assert "Content-Encoding" not in r.headers
    assert len(packed) < len(text.encode()) / 3
    assert gzip.decompress(packed).decode().splitlines()[:50] == text.splitlines()[:50]
    assert (
        'sesd_events_total{account="default",event_type="delivery_delay",queue="events",'
        'region="us-east-1"} 1.0' in text
    )
    assert (
        'sesd_delivery_delays_total{cause="connection",delay_type="MailboxFull",domain="one.com"}'
        " 1.0" in text
    )
    assert 'sesd_window_delay_ratio{domain="one.com",window="15m"} 1.0' in text
    assert 'sesd_delayed_recipients_pending{domain="one.com"} 1.0' in text
    assert (
        'sesd_messages_total{account="default",outcome="processed",queue="events",'
        'region="us-east-1"} 1.0' in text
    )


async def test_not_ready_until_every_queue_answered(local_sqs: LocalSqs, sqs: Any) -> None:
    """A queue that does not exist keeps /readyz at 503, counts receive errors, and the
    daemon keeps running."""
    url, _ = await make_queue(sqs)
    missing = url.rsplit("/", 1)[0] + "/does-not-exist"
    config = config_for(local_sqs, [("good", url), ("missing", missing)])
    async with running(config) as daemon:
        errors = partial(
            daemon.metrics.registry.get_sample_value,
            "sesd_sqs_errors_total",
            {
                "queue": "missing",
                "account": "default",
                "region": "us-east-1",
                "operation": "receive",
            },
        )
        await until(daemon, lambda: "good" in daemon.health.last_receive and bool(errors()))
        readyz = f"http://127.0.0.1:{daemon.http_port}/readyz"
        async with aiohttp.ClientSession() as http, http.get(readyz) as response:
            assert response.status == 503
            assert "missing" in await response.text()
        # Prometheus sees which queue sesd cannot read (the fleet rule SesdQueueUnread).
        ready = partial(daemon.metrics.registry.get_sample_value, "sesd_queue_ready")
        assert (ready({"queue": "good"}), ready({"queue": "missing"})) == (1.0, 0.0)


@pytest.mark.usefixtures("short_polls")
async def test_logs_hold_no_full_address_or_body(
    local_sqs: LocalSqs, sqs: Any, json_logs: io.StringIO
) -> None:
    """An invalid message is logged once, with queue and SQS message id, never its body or a
    full recipient address, even when SQS delivers it again."""
    url, _ = await make_queue(sqs, visibility=1, max_receive=5)
    await send_bodies(sqs, url, [f.raw(f.delivery(["jane.doe@bad domain"]))])
    async with running(config_for(local_sqs, [("q", url)], wait=0)) as daemon:
        received = partial(
            daemon.metrics.registry.get_sample_value,
            "sesd_sqs_messages_received_total",
            {"queue": "q", "account": "default", "region": "us-east-1"},
        )
        await until(daemon, lambda: (received() or 0) >= 2)
        assert daemon.ledger.tallies.messages[("q", "invalid")] == 1
    text = json_logs.getvalue()
    records = [json.loads(line) for line in text.splitlines()]
    invalid = [r for r in records if r["event"] == "sesd.message.invalid"]
    assert len(invalid) == 1
    assert invalid[0]["queue"] == "q"
    assert invalid[0]["sqs_message_id"]
    assert invalid[0]["reason"] == "no_usable_domain"
    assert "jane.doe" not in text


@pytest.mark.usefixtures("short_polls")
async def test_http_answers_only_small_gets_on_its_paths(local_sqs: LocalSqs, sqs: Any) -> None:
    """Only GET and HEAD on /metrics, /healthz and /readyz: other methods
    405, other paths 404, a header over 4 KiB 400; and it listens on loopback by default."""
    url, _ = await make_queue(sqs)
    async with running(config_for(local_sqs, [("q", url)], wait=0)) as daemon:
        base = f"http://127.0.0.1:{daemon.http_port}"
        async with aiohttp.ClientSession() as http:
            async with http.head(f"{base}/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain")
                assert await response.read() == b""
            for method in ("POST", "PUT", "DELETE", "PATCH"):
                async with http.request(method, f"{base}/metrics", data=b"x" * 10) as response:
                    assert response.status == 405, method
            async with http.get(f"{base}/admin") as response:
                assert response.status == 404
            async with http.get(f"{base}/healthz", headers={"X-Big": "y" * 8000}) as response:
                assert response.status == 400
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
    assert parse_config("").http.host == "127.0.0.1"
