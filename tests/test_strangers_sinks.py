"""Text written by strangers, from an SQS message to each sink: Slack, PagerDuty, the
console and the status page get it escaped, with no address and nothing that does not
print."""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp
import anyio
import pytest

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import parse_config
from tests import factory as f
from tests.conftest import log_records, make_queue, running, send_bodies, sesd_logs
from tests.receivers import Receiver
from tests.test_alerting_e2e import ROUTING_KEY, Clock, alerting_config, short_polled

#: Short polls: a stop need not wait out a long poll (conftest.short_polls).
pytestmark = pytest.mark.usefixtures("short_polls")

#: A recipient domain anyone can give a sign-up form: an IDNA label whose Unicode form
#: starts with U+2067 (right-to-left isolate), which Unicode 3.2's IDNA2003 left
#: unassigned and lets through. Shown, it turns the text after it around.
ISOLATE_DOMAIN = "xn--lapyap-ox0c.example"


async def _sent(
    local_sqs: LocalSqs, sqs: Any, monkeypatch: pytest.MonkeyPatch, domain: str, diagnostic: str
) -> dict[str, str]:
    """What Slack, PagerDuty, the console and the status page (its front page, API and
    the domain's page) get of a delay spike to ``domain`` with ``diagnostic``."""
    console = io.StringIO()
    url, _ = await make_queue(sqs)
    bodies = [
        f.sns(f.delay([f"d{i}@{domain}"], at=f.T0, expires=f.T0 + 7200, diagnostic=diagnostic))
        for i in range(6)
    ] + [f.sns(f.delivery([f"ok{i}@{domain}"], at=f.T0)) for i in range(4)]
    async with Receiver("slack") as slack, Receiver("pagerduty") as pd:
        monkeypatch.setenv("SESD_TEST_SLACK_URL", slack.url)
        monkeypatch.setenv("SESD_TEST_PD_KEY", ROUTING_KEY)
        config = short_polled(alerting_config(local_sqs, url, slack, pd), monkeypatch)
        async with running(config, clock=Clock(f.T0), console=console) as daemon:
            await send_bodies(sqs, url, bodies)
            with anyio.fail_after(20):
                await slack.wait_for(1)
                await pd.wait_for(1)
            base = f"http://127.0.0.1:{daemon.http_port}"
            async with aiohttp.ClientSession() as http:
                pages = []
                for path in (
                    "/",
                    "/api/v1/status",
                    f"/domain/{domain}",
                    f"/api/v1/domain/{domain}",
                ):
                    async with http.get(base + path) as response:
                        assert response.status == 200
                        pages.append(await response.text())
    return {
        "slack": json.dumps(slack.accepted, ensure_ascii=False),
        "pagerduty": json.dumps(pd.accepted, ensure_ascii=False),
        "console": console.getvalue(),
        "page": "".join(pages),
    }


async def test_a_domain_whose_unicode_form_does_not_print_is_named_by_its_idna_form(
    local_sqs: LocalSqs, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delay spike to a domain whose Unicode form holds a bidirectional isolate: Slack,
    PagerDuty, the console and the status page name it by its IDNA form, and the
    isolate reaches none of them."""
    sent = await _sent(local_sqs, sqs, monkeypatch, ISOLATE_DOMAIN, "smtp; 421 4.4.1 timed out")
    for sink, text in sent.items():
        assert ISOLATE_DOMAIN in text, sink
        assert "\u2067" not in text, sink


#: A receiver that writes an '@' before the address it quotes, after a space or a
#: bracket.
AT_BEFORE = "smtp; 550 5.1.1 user @{address} unknown; (@{address}) rejected"


async def test_an_address_after_an_at_sign_is_hidden_too(
    local_sqs: LocalSqs, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A diagnostic writes ``@`` right before the recipient's address: the word still
    has an '@' inside, and Slack, PagerDuty, the console and the status page get
    ``[address]`` for it, never the address."""
    diagnostic = AT_BEFORE.format(address="ann.victim@victim.example")
    sent = await _sent(local_sqs, sqs, monkeypatch, "victim.example", diagnostic)
    for sink, text in sent.items():
        assert "ann.victim" not in text, sink
    assert "@[address] unknown" not in sent["pagerduty"]
    assert "user [address] unknown; ([address]) rejected" in sent["pagerduty"]


async def test_an_address_split_by_a_character_shown_escaped_is_hidden_whole(
    local_sqs: LocalSqs, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A diagnostic puts a line break, a vertical tab or a unit separator beside the
    '@': each is shown as an escape (``ann\\u000a@victim.example``, the address still
    whole to read), so it does not end the word, and Slack, PagerDuty, the console and
    the status page get ``[address]``."""
    diagnostic = (
        "smtp; 550 5.1.1 ann.victim\n@victim.example unknown; "
        "bob.victim\x0b@victim.example and cy.victim@\x1fvictim.example too"
    )
    sent = await _sent(local_sqs, sqs, monkeypatch, "victim.example", diagnostic)
    for sink, text in sent.items():
        for local in ("ann.victim", "bob.victim", "cy.victim"):
            assert local not in text, (sink, local)
    assert "5.1.1 [address] unknown; [address] and [address] too" in sent["pagerduty"]


async def test_an_address_logged_in_full_is_escaped_and_bounded(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """With ``log_recipients``, an event whose recipients have no usable domain is logged
    with their addresses in full: one that writes escape sequences and a line break
    shows them escaped, one of 100,000 characters is cut to an address's length, and the
    log line stays one short line."""
    logs = sesd_logs("info")
    url, _ = await make_queue(sqs)
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
        '[http]\nlisten = "127.0.0.1:0"\n[logging]\nlog_recipients = true\n'
    )
    hostile = "ann\x1b[2J\x1b]0;owned\x07\n@not a domain"
    bodies = [f.raw(f.delivery([hostile])), f.raw(f.delivery(["b" * 100_000 + "@not a domain"]))]
    async with running(config) as daemon:
        await send_bodies(sqs, url, bodies)
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: sum(daemon.ledger.tallies.messages.values()) >= 2)
    lines = log_records(logs)
    details = sorted(e["detail"] for e in lines if e["event"] == "sesd.message.invalid")
    assert len(details) == 2, [e["event"] for e in lines]
    assert details[0] == (
        "no usable recipient domain: ann\\u001b[2J\\u001b]0;owned\\u0007\\u000a@not a domain"
    )
    assert details[1].startswith("no usable recipient domain: bbbb")
    assert len(details[1]) < 400
