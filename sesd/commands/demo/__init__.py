"""``sesd demo``: the whole pipeline with no AWS account.

moto's SQS server runs in-process on loopback; a generator publishes realistic
SES events for fifteen domains into a queue (with a dead-letter queue), with a
delay spike on one domain every three minutes; the real daemon consumes them,
serves its status page and metrics (the page's address is the first line the
demo prints), and a per-domain summary is printed every few seconds. A
small DNS server on loopback gives the demo's company domains their MX, for
the providers. The
canary sends through moto's SES; moto publishes no events, so a stand-in for
the mailbox simulator publishes each canary's Send and Delivery events.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import sys
import tempfile
import time
from functools import partial
from typing import Any, Final

import anyio
from aiobotocore.session import get_session

from sesd.commands.common import (
    Commands,
    command,
    listen_address,
    listen_remedied,
    start_failed,
)
from sesd.commands.demo.localdns import local_dns
from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.demo.localtenants import LocalTenants
from sesd.commands.demo.resources import (
    create_resources,
    keep_to_loopback,
    reserve,
    write_config,
)
from sesd.commands.demo.summary import page_url, summary
from sesd.commands.demo.traffic import (
    SPIKE_DOMAIN,
    TENANTS,
    Traffic,
    canary_events,
    tenant_status_event,
)
from sesd.core.canary import CANARY_TAG
from sesd.io.logs import (
    buffer_output,
    configure_logging,
    flush_logs,
    get_logger,
    print_line,
)
from sesd.io.replica import own_command
from sesd.runtime.daemon import Daemon, StartError
from sesd.runtime.signals import at_forced_exit

__all__ = ["run_demo"]

#: How the demo is given another address than one taken.
_ANOTHER_ADDRESS = (
    "give the demo another address with --listen (127.0.0.1:0: any free port; "
    "make demo ARGS='--listen 127.0.0.1:0')"
)

#: The tenant SES pauses, and why.
_PAUSED = "globex"
_PAUSE_CAUSE = "The bounce rate exceeded 15.0% based on a representative volume of 480 emails."


def _positive(text: str, zero: bool = False) -> float:
    """A number above 0 (a rate, a period; with ``zero``, 0 too), else a usage error."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value >= 0 if zero else value > 0) or value == math.inf:
        least = "of 0 or more" if zero else "above 0"
        raise argparse.ArgumentTypeError(f"{text!r}: give a number {least}")
    return value


#: The most messages a second the demo sends: its local SQS takes a few hundred, and
#: each half second's bodies are built at once (a billion a second held the loop
#: while it filled the memory, so neither --duration nor a signal stopped it).
MAX_RATE: Final = 1000.0


#: The fewest messages a second: the first is sent 1/rate seconds in, 10 s at this
#: rate; at 1e-300 none ever was, the demo showing nothing at all.
MIN_RATE: Final = 0.1


def _rate(text: str) -> float:
    """Messages a second, from :data:`MIN_RATE` to :data:`MAX_RATE`, else a usage error."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not MIN_RATE <= value <= MAX_RATE:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a number from {MIN_RATE:g} to {MAX_RATE:g}"
        )
    return value


#: The shortest --every: a summary is several lines, and a faster one scrolls each away
#: unread (at 0 or a microsecond, it starved the demo it reports on). As fast as
#: `sesd status --watch` redraws.
FASTEST_SUMMARY: Final = 0.2


def _summary_every(text: str) -> float:
    """Seconds between summaries, at least :data:`FASTEST_SUMMARY`, else a usage error."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= FASTEST_SUMMARY):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a number of seconds, at least {FASTEST_SUMMARY:g}"
        )
    return value


def _from_start(text: str) -> float:
    """Seconds after the start (0 or more), else a usage error. -0 is 0: the demo's
    line said the spike "starts -0 s in"."""
    return _positive(text, zero=True) + 0.0


async def _publish(
    endpoint: str, queue_url: str, rate: float, started: float, spike_after: float
) -> None:
    traffic = Traffic(random.Random(7), spike_start=spike_after)
    log = get_logger(component="demo.traffic")
    async with get_session().create_client(
        "sqs", region_name="us-east-1", endpoint_url=endpoint
    ) as sqs:
        tick, was_spiking, sent = 0.5, False, 0
        next_at = anyio.current_time()
        while True:
            now = time.time()
            elapsed = now - started
            spiking = traffic.phase(elapsed).spiking
            if spiking != was_spiking:
                log.info(
                    "sesd.demo.spike_started" if spiking else "sesd.demo.spike_ended",
                    domain=SPIKE_DOMAIN,
                )
                was_spiking = spiking
            # What the rate owes by now, so the time the sends take is not lost from it.
            due = int(rate * elapsed) - sent
            if due > 0:
                bodies = traffic.bodies(now, elapsed, due)
                sent += due
                for i in range(0, len(bodies), 10):
                    batch = enumerate(bodies[i : i + 10])
                    entries: Any = [{"Id": str(j), "MessageBody": body} for j, body in batch]
                    await sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            next_at += tick
            await anyio.sleep_until(next_at)


async def _mailbox_simulator(daemon: Daemon, endpoint: str, queue_url: str) -> None:
    """Publishes each canary's events about a second after it was sent, as SES would."""
    published: set[str] = set()
    canary = daemon.config.canary
    assert canary is not None
    async with get_session().create_client(
        "sqs", region_name="us-east-1", endpoint_url=endpoint
    ) as sqs:
        while True:
            now = time.time()
            for sent in list(daemon.ledger.canary.canaries):
                if not sent.message_id or sent.message_id in published or now - sent.sent_at < 1:
                    continue
                published.add(sent.message_id)
                tags = {CANARY_TAG: ["demo"], "ses:configuration-set": [canary.configuration_set]}
                bodies = canary_events(sent.message_id, canary.to, sent.sent_at, now, tags)
                entries: Any = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
                await sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            await anyio.sleep(0.25)


async def _pause_tenant(tenants: LocalTenants, endpoint: str, queue_url: str, at: float) -> None:
    """SES pauses a tenant for its bounce rate (at ``at``, on anyio's clock): its status
    changes (the next poll sees it) and SES publishes the change, which reaches sesd's
    queue at once."""
    await anyio.sleep_until(at)
    tenants.pause(_PAUSED, _PAUSE_CAUSE)
    paused = tenants.tenants[_PAUSED]
    paused.impact = "HIGH"
    paused.findings.append(("BOUNCE", "HIGH", _PAUSE_CAUSE))
    get_logger(component="demo.traffic").info("sesd.demo.tenant_paused", tenant=_PAUSED)
    body = tenant_status_event(_PAUSED, "DISABLED", _PAUSE_CAUSE, time.time())
    async with get_session().create_client(
        "sqs", region_name="us-east-1", endpoint_url=endpoint
    ) as sqs:
        await sqs.send_message(QueueUrl=queue_url, MessageBody=body)


def plan(spike_after: float, pause_after: float, duration: float | None) -> str:
    """What the demo will show and when it stops. A ``--duration`` that ends it before
    the spike or the pause says so: "starts 30 s in" and "Ctrl-C stops" over a run of
    8 s promised what never came, and a stop the user need not make."""
    shows = [
        (
            spike_after,
            f"a delay spike on {SPIKE_DOMAIN} starts",
            f"the delay spike on {SPIKE_DOMAIN}",
        ),
        (pause_after, f"SES pauses tenant {_PAUSED}", f"the pause of tenant {_PAUSED}"),
    ]
    seen = [f"{what} {at:g} s in" for at, what, _ in shows if duration is None or at < duration]
    text = "; ".join(seen) + ". " if seen else ""
    if duration is None:
        text += "Ctrl-C stops."
    else:
        missed = [f"{name} ({at:g} s in)" for at, _, name in shows if at >= duration]
        text += f"It stops {duration:g} s in (or at Ctrl-C)"
        if missed:
            text += ", before " + " and ".join(missed) + ": a longer --duration shows "
            text += "them" if len(missed) > 1 else "it"
        text += "."
    # Sentences, each from its capital: the line puts them after one of its own.
    return text[:1].upper() + text[1:]


async def run_demo(
    *,
    listen: str,
    duration: float | None,
    rate: float,
    spike_after: float = 30.0,
    every: float = 5.0,
    pause_after: float = 45.0,
) -> int:
    """Run the demo until Ctrl-C, or for ``duration`` seconds."""
    local = LocalSqs()  # without moto, the one line that says so, before anything
    http = reserve(listen)
    page = page_url(http, http.port)
    # The page first, before the daemon's first log line: it shows the spike and its
    # alerts as they happen. Through the daemon's buffer (sesd.io.logs.print_line), as
    # the console sink's alerts: a paused `sesd demo | less` holds no task, nor the
    # exit (nor the start, more than the buffer's wait: nothing runs yet).
    print_line(f"sesd demo: the status page is at {page}")
    flush_logs()
    # The config and the silences file it names: gone with the demo, as its queue is,
    # a second Ctrl-C's exit too (it runs no ``with`` block's end).
    with (
        local as sqs,
        tempfile.TemporaryDirectory(prefix="sesd-demo-") as here,
        at_forced_exit(partial(shutil.rmtree, here, ignore_errors=True)),
    ):
        queue_url = await create_resources(sqs.url)
        async with (
            local_dns() as nameserver,
            LocalTenants() as tenants,
            anyio.create_task_group() as tg,
        ):
            for name in TENANTS:
                tenants.add(name)
            path, config = write_config(
                here, sqs.url, queue_url, http.listen, nameserver, tenants.url
            )
            # The mute line names the program as `sesd run`'s does: `make demo`'s is
            # the venv's, on no PATH.
            daemon = Daemon(config, config_path=path, program=own_command(sys.argv[0]))
            # The spike and the pause count from here: the daemon's start takes a while.
            started, begun = time.time(), anyio.current_time()
            await tg.start(daemon.run)
            # Two threads write the log and the output: the daemon's start, logged, is
            # on the terminal before this line only when it was written first. In a
            # thread: a stalled standard error holds no task meanwhile.
            await anyio.to_thread.run_sync(flush_logs)
            print_line(
                f"sesd demo: local SQS at {sqs.url}, metrics at {page}metrics. "
                + plan(spike_after, pause_after, duration)
            )

            async def report() -> None:
                while True:
                    await anyio.sleep(every)
                    print_line(summary(daemon))

            async with anyio.create_task_group() as side:
                side.start_soon(_publish, sqs.url, queue_url, rate, started, spike_after)
                side.start_soon(report)
                side.start_soon(_mailbox_simulator, daemon, sqs.url, queue_url)
                side.start_soon(_pause_tenant, tenants, sqs.url, queue_url, begun + pause_after)
                if duration is not None:
                    with anyio.move_on_after(duration):
                        await daemon.stopping.wait()
                    daemon.stop()
                await daemon.stopping.wait()
                # The generator and the report stop; the daemon drains on its own.
                side.cancel_scope.cancel()
    print_line(summary(daemon, last=True))
    return 0


def add_parser(commands: Commands) -> None:
    """``demo [--listen] [--duration] [--rate] [--spike-after] [--every]``."""
    demo = command(
        commands, "demo", "local SQS, synthetic traffic, a delay spike: no AWS account needed"
    )
    demo.add_argument(
        "--listen",
        type=listen_address,
        default="127.0.0.1:9585",
        help="HOST:PORT of the status page and /metrics (127.0.0.1:0: any free port)",
    )
    demo.add_argument(
        "--duration",
        type=_positive,
        default=None,
        help="stop after N seconds (without it: run until Ctrl-C)",
    )
    demo.add_argument(
        "--rate",
        type=_rate,
        default=60.0,
        help=f"messages per second ({MIN_RATE:g} to {MAX_RATE:g})",
    )
    demo.add_argument(
        "--spike-after", type=_from_start, default=30.0, help="seconds before the delay spike"
    )
    demo.add_argument(
        "--every",
        type=_summary_every,
        default=5.0,
        help=f"seconds between summaries (at least {FASTEST_SUMMARY:g})",
    )
    demo.add_argument(
        "--pause-after", type=_from_start, default=45.0, help="seconds before SES pauses a tenant"
    )
    demo.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    """Run the demo; 0 when it ends, 2 when it cannot start (a taken port)."""
    configure_logging("info", "auto", daemon=True)
    buffer_output()
    keep_to_loopback()
    try:
        return anyio.run(
            lambda: run_demo(
                listen=args.listen,
                duration=args.duration,
                rate=args.rate,
                spike_after=args.spike_after,
                every=args.every,
                pause_after=args.pause_after,
            )
        )
    except KeyboardInterrupt:
        return 0
    except (StartError, BaseExceptionGroup) as exc:
        # 9585 is a common choice: a newcomer ran ``make demo`` and knows neither the
        # flag nor how make passes it.
        return start_failed(listen_remedied(exc, _ANOTHER_ADDRESS))
