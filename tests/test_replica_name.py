"""Two replicas on one queue each alert on their own share of the mail: two Slack
messages for one domain, with different figures, must say they come from two
replicas. Every message names the replica that sent it, alike in each sink (Slack's
closing line, PagerDuty's ``source``, the webhook's ``host``, Alertmanager's ``host``
annotation) and as the status page names it: the host's name, bounded and styling
nothing."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import aiohttp
import pytest

from sesd.alerting.render_slack import slack_message
from sesd.alerting.sink_map import build_sinks
from sesd.config import parse_config
from sesd.core.text import slack_plain
from sesd.io.replica import MOST_NAME, name_of, replica_name
from sesd.runtime.http import StartError
from sesd.runtime.state_lock import hold, let_go
from sesd.status.sources import Sources
from tests.receivers import Receiver, WebhookReceiver
from tests.test_sinks import notification

HOST = "mail-2.example.test"


class _Alertmanager(WebhookReceiver):
    """An Alertmanager's alerts endpoint (200 on POST /api/v2/alerts)."""

    def __init__(self) -> None:
        super().__init__(path="/api/v2/alerts", status=200)
        self.url = f"http://127.0.0.1:{self.port}"


async def test_every_sink_names_the_replica_that_sent_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """One replica on host mail-2 posts a firing to Slack, PagerDuty (no ``source``
    configured), a webhook and Alertmanager: each names mail-2, the name its status
    page gives too."""
    monkeypatch.setattr(socket, "gethostname", lambda: HOST)
    async with (
        Receiver("slack") as slack,
        Receiver("pagerduty") as pd,
        WebhookReceiver() as hook,
        _Alertmanager() as am,
        aiohttp.ClientSession() as session,
    ):
        config = parse_config(
            f'[alerts.slack]\nwebhook_url = "{slack.url}"\n'
            f'[alerts.pagerduty]\nrouting_key = "R0UT1NGKEY"\nevents_url = "{pd.url}"\n'
            f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "{hook.url}"\n'
            f'[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["{am.url}"]\n'
        )
        sinks = {sink.name: sink for sink in build_sinks(config.alerts, session)}
        for name in ("slack", "pagerduty", "hook", "am"):
            await sinks[name].send(notification())
        (message,) = slack.accepted
        assert message["blocks"][-1]["elements"][0]["text"] == (
            f"sesd on {HOST} · 2027-01-15 08:00:00Z"
        )
        (event,) = pd.accepted
        assert event["payload"]["source"] == HOST
        (document,) = hook.accepted
        assert document["host"] == HOST
        ((posted,),) = am.accepted
        assert posted["annotations"]["host"] == HOST
        # Not a label: the replicas that post one alert are one alert to Alertmanager.
        assert "host" not in posted["labels"]
    # The status page's "on HOST" is the same name.
    assert Sources.__dataclass_fields__["host"].default_factory is replica_name


async def test_a_configured_pagerduty_source_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """``source`` set in the config is each event's, whatever the host."""
    monkeypatch.setattr(socket, "gethostname", lambda: HOST)
    async with Receiver("pagerduty") as pd, aiohttp.ClientSession() as session:
        config = parse_config(
            f'[alerts.pagerduty]\nrouting_key = "R0UT1NGKEY"\nevents_url = "{pd.url}"\n'
            'source = "ses-watch-eu"\n'
        )
        (sink,) = [s for s in build_sinks(config.alerts, session) if s.name == "pagerduty"]
        await sink.send(notification())
        (event,) = pd.accepted
        assert event["payload"]["source"] == "ses-watch-eu"


def test_a_host_name_is_bounded_and_shown_as_it_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A host's name is the operator's, but it goes into Slack's text and PagerDuty's
    fields: anything but letters, digits, '.', '-' and '_' becomes '-', at most
    MOST_NAME characters, and in Slack it styles nothing (a '_' pair would slant)."""
    assert name_of("sesd-7f9c-a") == "sesd-7f9c-a"
    assert name_of("a <b>&*c\n") == "a--b---c"
    assert name_of("") == name_of("---") == "sesd"
    assert len(name_of("x" * 300)) == MOST_NAME
    monkeypatch.setattr(socket, "gethostname", lambda: "mail_1_<!channel>")
    assert replica_name() == "mail_1_--channel"
    closing = slack_message(notification(), replica_name())["blocks"][-1]["elements"][0]["text"]
    assert closing.startswith(f"sesd on {slack_plain('mail_1_--channel')} · ")
    assert "_" not in closing
    assert "<" not in closing


def test_the_state_lock_names_its_holder_as_its_messages_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host named with bytes that are not UTF-8 (set by hand; Python reads them
    escaped) and with text that would style a message. sesd takes its state file's
    lock and writes who holds it under the replica's own name (before: the raw host
    name, and this one failed the start with a UnicodeEncodeError's traceback). A
    second sesd on the file is told the holder by the name its Slack messages and
    status page give, which the on-call can match."""
    monkeypatch.setattr(socket, "gethostname", lambda: "mail\udcff-1 <!channel>\n")
    path = str(tmp_path / "state.bin")
    held = hold(path)
    try:
        assert (
            Path(f"{path}.lock").read_bytes()
            == f"pid {os.getpid()} on mail--1---channel\n".encode()
        )
        with pytest.raises(StartError) as refused:
            hold(path)
    finally:
        let_go(held)
    assert f"is held by pid {os.getpid()} on {replica_name()})" in str(refused.value)
