"""The status page in a real headless Chromium, against a running daemon fed through
local SQS: what a person sees during a spike, that text from strangers runs nothing,
silences, a page that keeps refreshing through config reloads, one domain's page.
Every story also checks the page logged no error and asked no other host."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import pytest
from playwright.async_api import Browser, expect

from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import Config, load_config, parse_config
from sesd.runtime.daemon import Daemon
from tests import factory as f
from tests.browser import (  # noqa: F401 (fixtures: browser and sqs)
    ON_THE_MODULES_LOOP,
    Watched,
    at_least,
    opened,
    shared_browser,
    sqs_on_the_modules_loop,
    watched,
)
from tests.conftest import make_queue, running, send_bodies
from tests.dns_server import hermetic_text
from tests.proxy import PrefixProxy
from tests.status_world import MANY, MICROSOFT, NOW, RULES, many_alerts, settled, spike, world
from tests.test_status_page import serving

#: Short polls: a stop need not wait out a long poll (conftest.short_polls). The pages
#: of test_status_a11y and test_status_refresh are served from this config_text too.
pytestmark = [pytest.mark.timeout(60), ON_THE_MODULES_LOOP, pytest.mark.usefixtures("short_polls")]
expect.set_options(timeout=15_000)

#: What a stranger's MTA might write, to try the page.
MARKUP = '<script>window.sesdPwned = 1</script><img src=x onerror="window.sesdPwned = 2">'
HOSTILE = f"smtp; 451 4.7.650 {MARKUP} rate limited due to IP reputation"


#: Every element of the page's header and main part: its tag and classes.
STRUCTURE = """() => Array.from(document.querySelectorAll("#header *, #main *"))
    .map((e) => e.tagName.toLowerCase() + "." + (e.getAttribute("class") || ""))"""


#: A tenant walk as fast as the local SES answers: at SES's pace (one call a second)
#: each poll of three tenants waited seconds, and the page shows the same.
AT_ONCE = "calls_per_second = 100\n"


def config_text(local: LocalSqs, url: str, extra: str = "") -> str:
    return (
        f'[aws]\nendpoint_url = "{local.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
        '[http]\nlisten = "127.0.0.1:0"\n[shutdown]\ngrace_period = "10s"\n'
        f'[alerts]\nevaluate_every = "100ms"\ngroup_wait = "0s"\n{extra}{RULES}'
    )


async def fired(daemon: Daemon, rule: str = "delay-ratio-high", name: str = "outlook.com") -> None:
    """Until the spike is read and evaluated, and the rule fires on ``name``."""
    await settled(daemon, len(spike(0.0)), (rule, name))


def reloaded(daemon: Daemon, rules: int) -> bool:
    return len(daemon.config.alerts.rules) == rules


async def spiked(sqs: Any, url: str, **kwargs: Any) -> None:
    await send_bodies(sqs, url, [f.raw(event) for event in spike(time.time(), **kwargs)])


@asynccontextmanager
async def spiked_page(
    local_sqs: LocalSqs, sqs: Any, browser: Browser, extra: str = "", **kwargs: Any
) -> AsyncIterator[tuple[Daemon, Watched, str]]:
    """A daemon (``extra`` added to its config) whose spike (``spike``'s ``kwargs``)
    fired, and a fresh watched page in Chromium: the daemon, the page's watcher, and
    the daemon's host and port."""
    url, _ = await make_queue(sqs)
    async with running(parse_config(config_text(local_sqs, url, extra))) as daemon:
        await spiked(sqs, url, **kwargs)
        await fired(daemon)
        async with watched(browser) as seen:
            yield daemon, seen, f"127.0.0.1:{daemon.http_port}"


def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: $SESD_ARTIFACTS (CI keeps it), else the test's own tmp dir."""
    found = Path(os.environ.get("SESD_ARTIFACTS") or tmp_path)
    found.mkdir(parents=True, exist_ok=True)
    return found


async def test_under_a_spike_the_page_lists_outlook_first_with_its_alert(
    local_sqs: LocalSqs, sqs: Any, browser: Browser, tmp_path: Path
) -> None:
    """During a delay spike on outlook.com the page shows its alert firing, with its
    provider, the cause and its advice (given once, by Microsoft's alert above it), and ranks
    outlook.com first among the domains with a
    sparkline that has points; the pending table (eight rows, outlook.com six of them)
    refused nine of its delayed recipients, and the domains' table says its pending
    column leaves them out. So does the page its script redraws from the JSON. A
    screenshot of it is kept as an artifact."""
    full = "[ingest]\nmax_pending_delays = 8\n"
    async with spiked_page(local_sqs, sqs, browser, full) as (_, seen, host):
        page = seen.page
        structures = []
        for drawn_by, refresh in (("the server", 300), ("the script", 0.25)):
            await opened(page, f"http://{host}/?refresh={refresh}", 0 if refresh == 300 else 1)
            alert = page.locator("#now tr.alert").filter(has_text="outlook.com")
            await expect(alert).to_contain_text("firing")
            await expect(alert).to_contain_text("delay-ratio-high")
            await expect(alert).to_contain_text("ip_reputation (15 of 15 noted)")
            await expect(alert).to_contain_text("SES -> recipient MTA")
            # Where outlook.com's mail goes, under its name, as its alert's text says.
            await expect(alert.locator("td.name .note")).to_have_text("provider microsoft")
            # Microsoft's alert, listed above it, gives the advice; this row does
            # not repeat it.
            above = page.locator("#now tr.alert").filter(has_text="provider-delay-ratio-high")
            await expect(above).to_contain_text("slow down to Microsoft")
            await expect(alert.locator(".advice")).to_have_text("the same advice as above")
            first = page.locator("#scope-domain tbody tr").first
            await expect(first.locator("td").first).to_have_text("outlook.com")
            await expect(first).to_contain_text("delay-ratio-high")
            await expect(first.locator("svg.spark")).to_have_attribute("data-points", at_least(1))
            points = await first.locator("svg.spark polyline").get_attribute("points")
            assert points, drawn_by
            await expect(page.locator("#scope-domain p.bad")).to_contain_text(
                "pending may leave out 9 recipients first delayed in the last 16 h"
            )
            structures.append(await page.evaluate(STRUCTURE))
        # The script draws the markup the server drew, element for element.
        assert structures[0] == structures[1]
        shot = artifacts(tmp_path) / "status-page-spike.png"
        await page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        seen.assert_clean(host)


async def test_a_cause_the_texts_only_hinted_at_says_so_on_the_page(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """outlook.com's delays say only "try again later": its alert's cause reads
    greylisted, only hinted at by the text, as the server draws it and as the script
    redraws it; its figure, past the threshold, reads "above 10.0%". Deliveries then
    bring it to 8.3%, under the threshold but above where it clears: still firing, the
    row says the rule's side, "fires above 10.0%", as the alert's reminder would."""
    hint = "451 4.7.1 Please try again later"
    url, _ = await make_queue(sqs)
    async with running(parse_config(config_text(local_sqs, url))) as daemon:
        await spiked(sqs, url, diagnostic=hint, delays=5)
        events = len(spike(0.0, delays=5))
        await settled(daemon, events, ("delay-ratio-high", "outlook.com"))
        host = f"127.0.0.1:{daemon.http_port}"
        async with watched(browser) as seen:
            page = seen.page
            alert = page.locator("#now tr.alert").filter(has_text="domain outlook.com")
            side = alert.locator("td .note").filter(has_text="window")
            for refresh in (300, 0.25):
                await opened(page, f"http://{host}/?refresh={refresh}", 0 if refresh == 300 else 1)
                await expect(alert).to_contain_text("greylisted")
                await expect(alert).to_contain_text(
                    "(5 of 5 noted; 5 only hinted at by the text: read the diagnostics)"
                )
                await expect(side).to_have_text("above 10.0%, 5m window")
            now = time.time()
            more = [f.delivery([f"more{i}@outlook.com"], at=now - 5) for i in range(45)]
            await send_bodies(sqs, url, [f.raw(event) for event in more])
            await settled(daemon, events + len(more), ("delay-ratio-high", "outlook.com"))
            for refresh in (300, 0.25):
                await opened(page, f"http://{host}/?refresh={refresh}", 0 if refresh == 300 else 1)
                await expect(alert).to_contain_text("8.3%")
                await expect(side).to_have_text("fires above 10.0%, 5m window")
            seen.assert_clean(host)


async def test_an_idna_domain_keeps_its_unicode_form_when_the_script_redraws(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """The spike at bücher.de: its alert and its row name it in both forms, as the
    server draws the page and as the script redraws it from the JSON."""
    url, _ = await make_queue(sqs)
    async with running(parse_config(config_text(local_sqs, url))) as daemon:
        events = [
            json.loads(json.dumps(e).replace("outlook.com", "bücher.de"))
            for e in spike(time.time())
        ]
        await send_bodies(sqs, url, [f.raw(event) for event in events])
        await fired(daemon, name="xn--bcher-kva.de")
        host = f"127.0.0.1:{daemon.http_port}"
        async with watched(browser) as seen:
            page = seen.page
            for refresh, refreshes in ((300, 0), (0.25, 2)):
                await opened(page, f"http://{host}/?refresh={refresh}", refreshes)
                shown = "xn--bcher-kva.de (bücher.de)"
                await expect(page.locator("#now tr.alert").filter(has_text=shown)).to_have_count(1)
                await expect(page.locator("#scope-domain").get_by_text(shown)).to_be_visible()
            seen.assert_clean(host)


async def test_the_header_names_the_host_that_answered(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """Through a Service in front of replicas, each refresh may reach another: the
    header names the host that answered (a pod's name), as the server draws it and as
    the script redraws it from the JSON."""
    async with spiked_page(local_sqs, sqs, browser) as (daemon, seen, host):
        daemon.status.host = "sesd-7f9c-a"
        page = seen.page
        for refresh, refreshes in ((300, 0), (0.25, 2)):
            await opened(page, f"http://{host}/?refresh={refresh}", refreshes)
            await expect(page.locator("#header .facts").first).to_contain_text("on sesd-7f9c-a")
        seen.assert_clean(host)


async def test_a_stranger_s_markup_shows_as_text_and_runs_nothing(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """A diagnostic holding a script element and an image with an onerror handler shows
    as text on outlook.com's page, as the server drew it and as the script redraws it;
    nothing ran (no dialog, no console error, the page's variable unset, no image)."""
    async with spiked_page(local_sqs, sqs, browser, diagnostic=HOSTILE) as (_, seen, host):
        page = seen.page
        # As the server drew it (no refresh for minutes), then as the script redraws it.
        for refresh, refreshes in ((300, 0), (0.25, 2)):
            await opened(page, f"http://{host}/domain/outlook.com?refresh={refresh}", refreshes)
            await expect(page.locator("#breakdown").get_by_text(MARKUP)).to_be_visible()
            assert await page.locator("img").count() == 0
            assert await page.locator("main script").count() == 0
        assert await page.evaluate("() => window.sesdPwned") is None
        seen.assert_clean(host)


async def test_a_silenced_alert_shows_its_silence(
    local_sqs: LocalSqs, sqs: Any, browser: Browser, tmp_path: Path
) -> None:
    """A silence on outlook.com holds its alert back: the alert's row says it is silenced
    and until when, and the silences list its matchers and comment."""
    url, _ = await make_queue(sqs)
    path = tmp_path / "silences.json"
    now = time.time()
    SilenceFile(str(path)).add(
        Silence(id="f00dfeed", comment="Microsoft throttles everyone today",
                starts_at=now - 1, ends_at=now + 3600, rule="delay-ratio-high",
                domain="outlook.com", created_by="oncall"),
        now,
    )  # fmt: skip
    config = parse_config(config_text(local_sqs, url, f'silences_path = "{path}"\n'))
    async with running(config) as daemon:
        await spiked(sqs, url)
        await fired(daemon)
        host = f"127.0.0.1:{daemon.http_port}"
        async with watched(browser) as seen:
            page = seen.page
            await opened(page, f"http://{host}/?refresh=0.5", 1)
            alert = page.locator("#now tr.alert").filter(has_text="domain outlook.com")
            await expect(alert.locator(".silenced")).to_contain_text("silenced until")
            await expect(alert).to_contain_text("Microsoft throttles everyone today (f00dfeed)")
            listed = page.locator("#silences tbody tr")
            await expect(listed).to_have_count(1)
            for text in ("f00dfeed", "delay-ratio-high", "outlook.com", "Microsoft throttles"):
                await expect(listed).to_contain_text(text)
            seen.assert_clean(host)


async def test_a_silences_file_that_cannot_be_read_says_why_as_text(
    local_sqs: LocalSqs, sqs: Any, browser: Browser, tmp_path: Path
) -> None:
    """The Silences part says the file cannot be read, and why, drawn by the server and
    by the script alike; its path (the config's, which may hold anything a file name
    can) shows as text and runs nothing."""
    url, _ = await make_queue(sqs)
    folder = tmp_path / "<script>window.sesdPwned = 1<"
    folder.mkdir()
    path = folder / 'script><img src=x onerror="window.sesdPwned = 2">.json'
    path.write_text("garbage\n")
    config = parse_config(config_text(local_sqs, url, f"silences_path = '{path}'\n"))
    async with running(config) as daemon:
        with anyio.fail_after(10):
            await daemon.changes.wait_for(lambda: bool(daemon.alerting.silences.unreadable.why))
        host = f"127.0.0.1:{daemon.http_port}"
        async with watched(browser) as seen:
            page = seen.page
            for refresh, redraws in ((300, 0), (0.25, 2)):
                await opened(page, f"http://{host}/?refresh={refresh}", redraws)
                said = page.locator("#silences p.warn")
                await expect(said).to_contain_text(f"The silences file cannot be read: {path}")
                assert await page.locator("img").count() == 0
                assert await page.locator("main script").count() == 0
            assert await page.evaluate("() => window.sesdPwned") is None
            seen.assert_clean(host)


@pytest.mark.usefixtures("quick_sdk_retries")  # the page's words, not the SDK's pauses
async def test_an_account_ses_stopped_answering_shows_its_last_answer_and_failing(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """GetAccount answers, then SES throttles every call: the Accounts row's "answered"
    cell gives the time of that answer and says "(failing)", as the server draws it
    and as the script redraws it (not the time of the refused poll, as if fresh)."""
    from sesd.status.charts import when
    from tests.fake_ses import FakeSes

    url, _ = await make_queue(sqs)
    async with FakeSes() as fake:
        extra = f'[account_health]\nses_endpoint_url = "{fake.url}"\ncloudwatch = false\n'
        config = parse_config(config_text(local_sqs, url, extra))
        async with running(config) as daemon:
            poller = daemon.account_poller
            assert poller is not None
            (target,) = poller.targets
            with anyio.fail_after(20):  # the poll at start, then one of our own
                await fake.wait_for(lambda fake: fake.account_requests >= 1)
            await poller.poll_once()
            answered = daemon.ledger.accounts.status[target].answered["get_account"]
            fake.script_account(429, 429)  # both attempts of the next poll refused
            await poller.poll_once()
            assert fake.account_requests == 4
            host = f"127.0.0.1:{daemon.http_port}"
            async with watched(browser) as seen:
                page = seen.page
                for refresh, redraws in ((300, 0), (0.25, 1)):
                    await opened(page, f"http://{host}/?refresh={refresh}", redraws)
                    row = page.locator("table.accounts tbody tr").first
                    answered_cell = row.locator("td.time")  # the "answered" column
                    await expect(answered_cell).to_have_text(f"{when(answered)} (failing)")
                seen.assert_clean(host)


async def test_an_account_s_tenant_walk_shows_how_far_it_has_come(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """Two tenants; SES refuses ListTenantResources at the poll at start: the Accounts
    row's "tenant map" cell says "0 of 2 walked, no map yet", marked bad (their events
    count under no tenant), as the server draws it and as the script redraws it. Once
    SES answers, a poll walks both: "2 of 2 walked, map of" the time it completed."""
    from sesd.commands.demo.localtenants import LocalTenants
    from sesd.status.charts import when

    url, _ = await make_queue(sqs)
    async with LocalTenants("123456789012", "us-east-1") as tenants:
        tenants.add("acme", ("CONFIGURATION_SET", "acme-set"))
        tenants.add("globex", ("CONFIGURATION_SET", "globex-set"))
        tenants.denied.add("ListTenantResources")
        extra = f'[tenants]\nenabled = true\nendpoint_url = "{tenants.url}"\n{AT_ONCE}'
        config = parse_config(config_text(local_sqs, url, extra))
        async with running(config) as daemon:
            poller, accounts = daemon.tenant_poller, daemon.ledger.accounts
            assert poller is not None
            (target,) = poller.targets
            denied = (*target, "list_tenant_resources", "AccessDeniedException")
            with anyio.fail_after(20):  # the poll at start, refused its walk
                await daemon.changes.wait_for(lambda: denied in accounts.errors)
            host = f"127.0.0.1:{daemon.http_port}"
            async with watched(browser) as seen:
                page = seen.page
                cell = page.locator("table.accounts tbody tr").first.locator("td").last
                for refresh, redraws in ((300, 0), (0.25, 1)):
                    await opened(page, f"http://{host}/?refresh={refresh}", redraws)
                    await expect(cell).to_have_text("0 of 2 walked, no map yet")
                    await expect(cell).to_have_class("bad")
                tenants.denied.clear()
                await poller.poll_once()
                at = accounts.status[target].tenant_map_at
                assert at is not None
                await expect(cell).to_have_text(f"2 of 2 walked, map of {when(at)}")
                await expect(cell).not_to_have_class("bad")
                seen.assert_clean(host)


async def test_a_cut_list_of_tenants_says_how_many_it_lists_after_a_redraw(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """Three tenants SES speaks of, a page listing one (``alerts=1``): its heading says
    "1 of 3 listed", as the server draws it and as the script redraws it."""
    from sesd.commands.demo.localtenants import LocalTenants

    url, _ = await make_queue(sqs)
    async with LocalTenants("123456789012", "us-east-1") as tenants:
        for name in ("acme", "globex", "initech"):
            tenants.add(name, ("CONFIGURATION_SET", f"{name}-set"))
        extra = f'[tenants]\nenabled = true\nendpoint_url = "{tenants.url}"\n{AT_ONCE}'
        async with running(parse_config(config_text(local_sqs, url, extra))) as daemon:
            poller = daemon.tenant_poller
            assert poller is not None
            await poller.poll_once()
            assert len(daemon.ledger.tenant_status.status) == 3
            host = f"127.0.0.1:{daemon.http_port}"
            async with watched(browser) as seen:
                page = seen.page
                heading = page.locator("#accounts h2").last
                for refresh, redraws in ((300, 0), (0.25, 1)):
                    await opened(page, f"http://{host}/?alerts=1&refresh={refresh}", redraws)
                    await expect(heading).to_have_text("What SES says of its tenants 1 of 3 listed")
                seen.assert_clean(host)


async def test_the_page_keeps_refreshing_while_sesd_reloads_its_config(
    local_sqs: LocalSqs, sqs: Any, browser: Browser, tmp_path: Path
) -> None:
    """While the page refreshes four times a second, sesd reloads its config three
    times on SIGHUP (a new rule each time): the page goes on refreshing, never says a
    refresh failed, and shows the new rules' alerts."""
    url, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    path.write_text(config_text(local_sqs, url))
    config: Config = load_config(str(path))
    async with running(config, signals=True) as daemon:
        daemon.config_path = str(path)
        await spiked(sqs, url)
        await fired(daemon)
        host = f"127.0.0.1:{daemon.http_port}"
        async with watched(browser) as seen:
            page = seen.page
            await page.goto(f"http://{host}/?refresh=0.25")
            body, state = page.locator("body"), page.locator("#refresh-state")
            extra = ""
            for n in range(1, 4):
                refreshes = int(await body.get_attribute("data-refreshes") or 0)
                extra += (
                    f'[[alerts.rules]]\nname = "any-delay-{n}"\nmetric = "delayed_recipients"\n'
                    'window = "5m"\nabove = 0\n'
                )
                path.write_text(config_text(local_sqs, url) + extra)
                os.kill(os.getpid(), signal.SIGHUP)
                with anyio.fail_after(20):
                    await daemon.changes.wait_for(partial(reloaded, daemon, 2 + n))
                await fired(daemon, f"any-delay-{n}")
                await expect(body).to_have_attribute("data-refreshes", at_least(refreshes + 2))
                await expect(page.locator("#now")).to_contain_text(f"any-delay-{n}")
                await expect(state).to_have_text("refreshing every 0.25 s")
            seen.assert_clean(host)


async def test_a_domain_page_shows_its_breakdowns_and_no_address(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """outlook.com's page shows its windows side by side, the causes, SMTP status,
    diagnostic and MTA its delays came with, and example message ids; the recipient's
    address in a diagnostic shows as [address], and no address is on the page."""
    url, _ = await make_queue(sqs)
    diagnostic = MICROSOFT + " Recipient: <late4@outlook.com>"
    async with running(parse_config(config_text(local_sqs, url))) as daemon:
        await spiked(sqs, url, diagnostic=diagnostic)
        await fired(daemon)
        host = f"127.0.0.1:{daemon.http_port}"
        async with watched(browser) as seen:
            page = seen.page
            # The script redraws what the server drew, element for element.
            structures = []
            for refresh, refreshes in ((300, 0), (0.25, 1)):
                await opened(page, f"http://{host}/domain/outlook.com?refresh={refresh}", refreshes)
                structures.append(await page.evaluate(STRUCTURE))
            assert structures[0] == structures[1]
            head = page.locator("#windows thead th")
            await expect(head).to_have_text(["", "5m", "15m", "1h"])
            breakdown = page.locator("#breakdown")
            for text in ("ip_reputation", "RecipientServerError", "4.7.650",
                         "a8-70.smtp-out.amazonses.com", "Recipient: <[address]>"):  # fmt: skip
                await expect(breakdown).to_contain_text(text)
            await expect(page.locator("ul.ids li")).to_have_count(5)
            await expect(page.locator("#windows")).to_contain_text("15 recipients delayed")
            assert "@outlook.com" not in await page.content()
            assert "@gmail.com" not in await page.content()
            seen.assert_clean(host)


async def test_what_fires_comes_before_the_queues_and_a_failed_save_stays_said(
    local_sqs: LocalSqs, sqs: Any, browser: Browser, tmp_path: Path
) -> None:
    """The alerts come first in the page's main part and the queues after them (sixty
    queues above the alerts pushed them ten screens down a phone), drawn by the server
    and by the script alike; a state file save that failed is said in the header by
    both, not only until the first refresh."""
    url, _ = await make_queue(sqs)
    state = tmp_path / "state"
    state.mkdir()
    extra = f'[state]\npath = "{state / "state.bin"}"\n'
    async with running(parse_config(config_text(local_sqs, url, extra))) as daemon:
        await spiked(sqs, url)
        await fired(daemon)
        shutil.rmtree(state)
        state.write_text("a file where the state directory was")
        await daemon.saver.save()
        assert daemon.saver.failed
        host = f"127.0.0.1:{daemon.http_port}"
        async with watched(browser) as seen:
            page = seen.page
            for refresh, redraws in ((300, 0), (0.25, 2)):
                await opened(page, f"http://{host}/?refresh={refresh}", redraws)
                order = await page.evaluate(
                    "() => Array.from(document.querySelectorAll('#main > section'), (s) => s.id)"
                )
                assert order[:2] == ["now", "queues"], (refresh, order)
                await expect(page.locator("#queues h2")).to_have_text("Queues 1 of 1 ready")
                await expect(page.locator("#queues tbody tr")).to_have_count(1)
                # Not the only bad fact while the queue has not answered yet ("not
                # ready"): the one about the save is found by its words.
                facts = page.locator("#header .facts .bad").filter(has_text="state file")
                await expect(facts).to_contain_text("state file save FAILED (last saved")
            seen.assert_clean(host)


async def test_a_failed_reload_names_the_log_line_that_says_why_after_a_redraw(
    local_sqs: LocalSqs, sqs: Any, browser: Browser, tmp_path: Path
) -> None:
    """The status holds when a reload failed, not why: the header says which log line
    does, drawn by the server and by the script alike, not only until the first
    refresh."""
    url, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    path.write_text(config_text(local_sqs, url))
    async with running(load_config(str(path))) as daemon:
        daemon.config_path = str(path)
        path.write_text("[[queues]]\nurl =")  # cut short by a full disk, say
        assert not await daemon.reload()
        host = f"127.0.0.1:{daemon.http_port}"
        async with watched(browser) as seen:
            page = seen.page
            for refresh, redraws in ((300, 0), (0.25, 2)):
                await opened(page, f"http://{host}/?refresh={refresh}", redraws)
                # Not the only bad fact while the queue has not answered yet ("not
                # ready"): the one about the reload is found by its words.
                fact = page.locator("#header .facts .bad").filter(has_text="last reload")
                await expect(fact).to_contain_text(
                    "last reload FAILED (its log line sesd.config.reload_failed says why)"
                )
            seen.assert_clean(host)


async def test_settings_left_for_a_restart_stay_said_after_a_redraw(
    local_sqs: LocalSqs, sqs: Any, browser: Browser, tmp_path: Path
) -> None:
    """A reload that moved the listen address took the rest of the file: the header
    says the address waits for a restart, in the warning's colour (sesd runs well),
    drawn by the server and by the script alike, not only until the first refresh."""
    url, _ = await make_queue(sqs)
    path = tmp_path / "sesd.toml"
    text = hermetic_text(config_text(local_sqs, url))
    path.write_text(text)
    async with running(load_config(str(path)), config_path=path) as daemon:
        path.write_text(text.replace('"127.0.0.1:0"', '"127.0.0.1:9"'))
        assert await daemon.reload()
        host = f"127.0.0.1:{daemon.http_port}"
        async with watched(browser) as seen:
            page = seen.page
            for refresh, redraws in ((300, 0), (0.25, 2)):
                await opened(page, f"http://{host}/?refresh={refresh}", redraws)
                fact = page.locator("#header .facts .warn")
                await expect(fact).to_have_count(1)
                await expect(fact).to_contain_text(
                    " (except what waits for a restart: http.listen)"
                )
                color = await fact.evaluate("(e) => getComputedStyle(e).color")
                assert color == "rgb(163, 91, 0)"  # --warn, the light scheme's
            seen.assert_clean(host)


async def test_the_script_names_what_waits_for_a_restart_as_the_server_does(
    browser: Browser,
) -> None:
    """25 settings waiting, one named with markup and a line break: the script's
    redraw says the config line the server drew, word for word (the first 20, "and 5
    more"), the markup as text, not as an element."""
    w = world(now=NOW)
    w.metrics.reloaded(True, NOW - 60)
    keys = ["accounts.<b>x</b>&amp;\n", *(f"accounts.a{n:02}" for n in range(24))]
    w.metrics.waiting_for_restart(keys)
    async with serving(w) as (_, base), watched(browser) as seen:
        page = seen.page
        fact = page.locator("#header .facts .warn")
        drawn = []
        for refresh, redraws in ((300, 0), (0.25, 1)):
            await opened(page, f"{base}/?refresh={refresh}", redraws)
            await expect(fact).to_contain_text(" and 5 more)")
            assert await page.locator("#header b").count() == 0
            drawn.append(await fact.inner_text())
        assert drawn[0] == drawn[1]
        assert "accounts.<b>x</b>&amp;\\u000a, accounts.a00, " in drawn[0]
        assert "accounts.a18 and 5 more)" in drawn[0]
        seen.assert_clean(base.removeprefix("http://"))


async def test_a_replica_of_a_fleet_says_its_figures_are_its_share_after_a_redraw(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """With a shared Alertmanager sink, the header says the figures are this replica's
    share of the traffic, drawn by the server and by the script alike."""
    url, _ = await make_queue(sqs)
    extra = (
        '[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["http://127.0.0.1:9"]\nshared = true\n'
    )
    async with running(parse_config(config_text(local_sqs, url, extra))) as daemon:
        host = f"127.0.0.1:{daemon.http_port}"
        async with watched(browser) as seen:
            page = seen.page
            for refresh, redraws in ((300, 0), (0.25, 2)):
                await opened(page, f"http://{host}/?refresh={refresh}", redraws)
                await expect(page.locator("#header")).to_contain_text(
                    "one replica of several on the same queues", timeout=5_000
                )
                await expect(page.locator("#header")).to_contain_text(
                    "its alerts are those it judged on that share (Alertmanager has the fleet's)"
                )
            seen.assert_clean(host)


async def test_a_list_cut_at_the_most_a_page_lists_is_redrawn_without_a_link(
    browser: Browser,
) -> None:
    """Over 1,000 alerts, a page listing 1,000 (the most): as the server draws it and
    as the script redraws it, the list says where every alert is, not "list more" (a
    link to a page listing the same 1,000)."""
    async with serving(many_alerts()) as (_, base), watched(browser) as seen:
        page = seen.page
        more = page.locator("#main p.more")
        for refresh, redraws in ((300, 0), (0.25, 1)):
            await opened(page, f"{base}/?alerts=1000&refresh={refresh}", redraws)
            await expect(more).to_have_text(
                f"1000 of {MANY} listed, the most a page lists: every alert is in /metrics "
                "(sesd_alerts_firing)"
            )
            await expect(more.locator("a")).to_have_attribute("href", "metrics")
        seen.assert_clean(base.removeprefix("http://"))


#: Where every link, stylesheet, icon and script of a page leads, as the browser reads it.
TARGETS = """() => Array.from(document.querySelectorAll("a[href], link[href], script[src]"))
    .map((e) => e.href || e.src)"""


async def test_behind_a_proxy_s_prefix_every_page_loads_refreshes_and_links_under_it(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """Behind a reverse proxy that serves sesd under /sesd/ (nginx's proxy_pass, kubectl
    proxy), the page's stylesheet, script and JSON come through the prefix, so the script
    refreshes it; every link, as the server draws it and as the script redraws it,
    stays under the prefix: a domain's opens its page there, which refreshes too, and
    its heading leads back. Nothing is asked outside the prefix."""
    async with (
        spiked_page(local_sqs, sqs, browser) as (_, seen, host),
        PrefixProxy(int(host.rsplit(":", 1)[1]), "/sesd") as front,
    ):
        page = seen.page
        # One alert listed of two: the page links the longer list too.
        for refresh, refreshes in ((300, 0), (0.25, 1)):
            await opened(page, f"{front.url}/?alerts=1&refresh={refresh}", refreshes)
            assert all(t.startswith(f"{front.url}/") for t in await page.evaluate(TARGETS))
        await page.locator("#scope-domain tbody a").filter(has_text="outlook.com").click()
        await expect(page).to_have_url(f"{front.url}/domain/outlook.com")
        await opened(page, f"{front.url}/domain/outlook.com?refresh=0.25", 1)
        assert all(t.startswith(f"{front.url}/") for t in await page.evaluate(TARGETS))
        await page.locator("#header h1 a").click()
        await expect(page).to_have_url(f"{front.url}/")
        assert front.outside == []
        seen.assert_clean(urlsplit(front.url).netloc)
