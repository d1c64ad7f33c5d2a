"""``sesd send-test-alert``: one notification through one configured sink, now."""

from __future__ import annotations

import argparse
import sys
import time

import anyio
import msgspec

from sesd.alerting.alert import Alert, Notification
from sesd.alerting.alertmanager import AlertmanagerSink
from sesd.alerting.rules import Transition
from sesd.alerting.sink_map import build_sink, sink_session
from sesd.alerting.sinks import DeliveryError, PagerDutySink, RateLimited, Retryable, Sink
from sesd.commands.common import Commands, config_error, load, with_config
from sesd.commands.read_bound import Unanswered, config_within, unread
from sesd.config import AlertmanagerConfig, Config, ConfigError, read_secrets
from sesd.core.windows import Breakdown
from sesd.io.logs import configure_logging, get_logger

__all__ = ["add_parser", "send_test_alert", "test_notification"]

#: How often a sink's 429 is waited out, and the longest pause waited: a test is
#: worth a minute or two, not the hour a limit spent by a storm may ask.
_RATE_LIMITED_TRIES = 3
_LONGEST_PAUSE = 120.0
#: Said when the command stops between a firing the sink took and its resolve.
_LEFT_OPEN = "the test alert stays open: resolve it by hand"
#: Said when a firing fails in a way that does not say the sink did not take it.
_MAYBE = {
    PagerDutySink: "PagerDuty may have opened the incident all the same: its resolve is sent "
    "(same dedup key)",
    AlertmanagerSink: "Alertmanager may have taken the alert all the same: its resolve is sent",
}
_MAYBE_LEFT_OPEN = "if the sink took the test alert, it stays open: resolve it by hand"


def add_parser(commands: Commands) -> None:
    """``send-test-alert --sink NAME``."""
    test_alert = with_config(
        commands, "send-test-alert", "send one test notification through a sink"
    )
    test_alert.add_argument(
        "--sink",
        required=True,
        help="a sink's name: console, slack, pagerduty, or one of [alerts.sinks]",
    )
    test_alert.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    """0 when delivered, 1 when not (or when the config's read has not returned within
    its bound: a config on a hung mount), 2 for a bad config or an unknown sink."""
    try:
        read = config_within(lambda: _read(args), args.config, "sesd-test-alert-read")
    except Unanswered as exc:
        return unread("send the test alert", exc)
    if isinstance(read, str):
        return config_error(read)
    config = read
    # The config's level is the daemon's (often "warning" or "error" to keep its log
    # quiet); this command's lines are what a person at a terminal sees it do: a wait
    # of a minute or two behind a 429, the send, so they are shown at info at least.
    level = "debug" if config.logging.level == "debug" else "info"
    configure_logging(level, config.logging.format)
    return anyio.run(send_test_alert, config, args.sink)


def _read(args: argparse.Namespace) -> Config | str:
    """The config and the chosen sink's secrets, or why not (as config_error says it):
    all that reads the config file and the files it names, on a share that may hang."""
    try:
        config = load(args, secrets=False)
    except ConfigError as exc:
        return str(exc)
    try:
        # The chosen sink's secrets alone: an on-call testing Slack on a host where
        # PagerDuty's routing key is not set is testing Slack.
        read_secrets(config, sink=args.sink)
    except ConfigError as exc:
        return f"{args.config}: {exc}"
    return config


def test_notification(kind: Transition, now: float) -> Notification:
    """A clearly labelled test alert for domain ``example.com``."""
    alert = Alert(
        rule="sesd-test-alert",
        metric="delay_ratio",
        domain="example.com",
        kind=kind,
        severity="info",
        window="5m",
        value=0.5 if kind is not Transition.RESOLVED else 0.0,
        threshold=0.05,
        clear_threshold=0.03,
        at=now,
        since=now,
        counts={"send": 0, "delivery": 10, "delivery_delay": 10, "bounce": 0, "complaint": 0},
        breakdown=Breakdown(delay_types=[("TransientCommunicationFailure", 10)]),
        stage="test: nothing is wrong",
        regions=[],
        internal=False,
        test=True,
    )
    return Notification(
        rule=alert.rule, kind=kind, severity="info", sinks=(), alerts=(alert,), at=now
    )


async def send_test_alert(config: Config, sink_name: str) -> int:
    """Send a test alert (and, for PagerDuty, its resolve); 0 when delivered, 1 if not."""
    log = get_logger(sink=sink_name)
    async with sink_session() as session:
        named = config.alerts.named_sinks()
        configured = named.get(sink_name)
        if configured is None:
            print(
                f"sesd: no sink named {sink_name!r} {config.alerts.sink_missing(sink_name)}",
                file=sys.stderr,
            )
            return 2
        if isinstance(configured, AlertmanagerConfig) and configured.shared:
            # A shared sink leaves resolves to Alertmanager (replicas see shares); the
            # test alert is this process's alone, so its resolve is posted.
            configured = msgspec.structs.replace(configured, shared=False)
        # This sink alone: the others' secrets were not read.
        sink = build_sink(sink_name, configured, session)
        # Leave no open incident behind: these sinks are sent the test alert's resolve.
        resolves = isinstance(sink, PagerDutySink | AlertmanagerSink)
        # Once the firing is taken (or may have been) and until its resolve is, the sink
        # may show an open test alert: a stop then (a failure, Ctrl-C) says so.
        left_open: dict[str, str] = {}
        firing_failed = False
        try:
            try:
                await _send(sink, test_notification(Transition.FIRING, time.time()))
            except DeliveryError as exc:
                # A timeout or a 5xx does not say the trigger was not taken: PagerDuty may
                # have opened the incident before the answer was lost (Alertmanager, taken
                # the alert). The resolve, with the same dedup key, closes it if so and
                # is a no-op if not. A 4xx or a 429 was a refusal: nothing to close.
                firing_failed = True
                if not (resolves and isinstance(exc, Retryable)):
                    log.error("sesd.test_alert.failed", kind="firing", **exc.logged())
                    return 1
                log.error(
                    "sesd.test_alert.failed", kind="firing", error=str(exc), note=_MAYBE[type(sink)]
                )
                left_open = {"note": _MAYBE_LEFT_OPEN}
            else:
                log.info("sesd.test_alert.sent", kind="firing")
                left_open = {"note": _LEFT_OPEN}
            if not resolves:
                return 0
            try:
                await _send(sink, test_notification(Transition.RESOLVED, time.time()))
            except DeliveryError as exc:
                log.error("sesd.test_alert.failed", kind="resolved", error=str(exc), **left_open)
                return 1
            left_open = {}
            log.info("sesd.test_alert.sent", kind="resolved")
        except anyio.get_cancelled_exc_class():
            if left_open:
                log.warning("sesd.test_alert.stopped", **left_open)
            raise
    # The firing's failure is the test's: a resolve sent after it tells nothing of it.
    return 1 if firing_failed else 0


async def _send(sink: Sink, notification: Notification) -> None:
    """Send, waiting out a 429 as the daemon's outbox would, but for a person at a
    terminal: a few times, each pause at most ``_LONGEST_PAUSE`` (the outbox waits up to
    five minutes and tries until the notification's age limit). A sink under a storm's
    load is what a test is run for, and PagerDuty refusing the resolve would leave the
    test incident open."""
    for tries_left in range(_RATE_LIMITED_TRIES - 1, -1, -1):
        try:
            await sink.send(notification)
            return
        except RateLimited as exc:
            # The sink's own words say "paused", which the daemon's outbox does; here
            # nothing pauses past these, so the line says why the test ends. A 503 (one
            # that asks a pause) does not say the trigger was not taken, as a 429 does:
            # its resolve is sent all the same.
            given_up = Retryable if exc.status >= 500 else DeliveryError
            if exc.retry_after > _LONGEST_PAUSE:
                raise given_up(
                    f"HTTP {exc.status}: asks a pause of {exc.retry_after:g}s, more than the "
                    f"{_LONGEST_PAUSE:g}s a test waits; send it again later"
                ) from exc
            if not tries_left:
                raise given_up(f"HTTP {exc.status} {_RATE_LIMITED_TRIES} times in a row") from exc
            get_logger(sink=sink.name).warning(
                "sesd.test_alert.rate_limited",
                kind=notification.kind.value,
                wait=exc.retry_after,
                note=f"HTTP {exc.status}: waiting {exc.retry_after:g}s as the sink asks, then try "
                f"{_RATE_LIMITED_TRIES - tries_left + 1} of {_RATE_LIMITED_TRIES}",
            )
            await anyio.sleep(exc.retry_after)
