"""The status page's script in a real headless Chromium, as an on-call engineer leans on
it at 3 a.m.: it redraws the text the server drew (ratios under 1%, the date of a
time that is not today), says at the top of the page and in its tab when it can no
longer refresh (sesd gone, or stuck and never answering), keeps the keyboard's place
and a selection across refreshes, and keeps long text from strangers on the screen."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from sesd.alerting.rules import AlertState
from sesd.alerting.silence_file import SilenceFile
from sesd.alerting.silences import Silence, SilenceSet
from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import parse_config
from sesd.core.decode import decode_body
from tests import factory as f
from tests.browser import (  # noqa: F401 (fixtures: browser and sqs)
    ON_THE_MODULES_LOOP,
    at_least,
    opened,
    refreshed,
    shared_browser,
    sqs_on_the_modules_loop,
    watched,
)
from tests.conftest import make_queue, running, send_bodies
from tests.proxy import PrefixProxy, Proxy
from tests.status_world import NOW, World, everything, feed, settled, spike, world
from tests.test_status_browser import artifacts, config_text, fired, spiked, spiked_page
from tests.test_status_page import serving

pytestmark = [pytest.mark.timeout(60), ON_THE_MODULES_LOOP, pytest.mark.usefixtures("short_polls")]
expect.set_options(timeout=15_000)

#: The main part's text but the queues', whose rates and "last receive" ages move
#: from one moment to the next as the header's uptime does.
MAIN_TEXT = """() => Array.from(document.querySelectorAll('#main > section:not(#queues)'),
    (section) => section.innerText).join('\\n')"""
#: Each element's own text in the main part but the queues' (as MAIN_TEXT), the
#: charts' captions too (innerText leaves out an SVG's <title>).
OWN_TEXTS = """() => Array.from(document.querySelectorAll('#main > section:not(#queues) *'),
    (e) => Array.from(e.childNodes, (n) => (n.nodeType === 3 ? n.data : '')).join(''))"""
#: How wide the page is drawn, and how wide the screen is.
WIDTHS = "() => [document.documentElement.scrollWidth, window.innerWidth]"


async def test_the_script_redraws_the_text_the_server_drew(
    local_sqs: LocalSqs, sqs: Any, browser: Browser, tmp_path: Path
) -> None:
    """One delay among 300 recipients (0.33%) and a silence ending in three days: the
    page the script redraws reads word for word as the server drew it: the ratio with
    two significant digits, the silence's end with its date."""
    url, _ = await make_queue(sqs)
    now = time.time()
    path = tmp_path / "silences.json"
    ends = now + 3 * 86400
    SilenceFile(str(path)).add(
        Silence(id="cafe0001", comment="planned", starts_at=now - 1, ends_at=ends,
                rule="delay-ratio-high", domain="outlook.com", created_by="oncall"),
        now,
    )  # fmt: skip
    config = parse_config(config_text(local_sqs, url, f'silences_path = "{path}"\n'))
    quiet = [f.delivery([f"u{i}@gmail.example"], at=now - 100 + i * 0.1) for i in range(299)]
    quiet.append(f.delay(["d@gmail.example"], at=now - 50))
    bodies = [f.raw(event) for event in spike(now) + quiet]
    async with running(config) as daemon:
        await send_bodies(sqs, url, bodies)
        await settled(daemon, len(bodies), ("delay-ratio-high", "outlook.com"))
        host = f"127.0.0.1:{daemon.http_port}"
        async with watched(browser) as seen:
            page = seen.page
            texts = []
            for refresh in (300, 0.25):
                await opened(page, f"http://{host}/?refresh={refresh}", 0 if refresh == 300 else 1)
                texts.append(await page.evaluate(MAIN_TEXT))
            assert texts[0] == texts[1]
            gmail = page.locator("#scope-domain tr").filter(has_text="gmail.example")
            await expect(gmail.locator("td").nth(1)).to_have_text("0.33%")
            day = datetime.fromtimestamp(ends, UTC).strftime("%Y-%m-%d")
            alert = page.locator("#now tr.alert").filter(has_text="domain outlook.com")
            await expect(alert.locator(".silenced")).to_contain_text(f"silenced until {day} ")
            await expect(page.locator("#silences tbody td").last).to_contain_text(f"{day} ")
            seen.assert_clean(host)


async def test_a_page_whose_sesd_is_gone_or_stuck_says_so_at_the_top_and_in_its_tab(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """While sesd answers, the tab's title says what fires and no banner shows. Once it
    is gone (the connection refused), then stuck (a listener that never answers, as a
    stopped or wedged process is), a banner at the top says since when the figures are
    and why, and the tab says the page is not refreshed; the page keeps trying."""
    url, _ = await make_queue(sqs)
    async with watched(browser) as seen:
        page = seen.page
        banner = page.locator("#stale")
        async with running(parse_config(config_text(local_sqs, url))) as daemon:
            await spiked(sqs, url)
            await fired(daemon)
            port = daemon.http_port
            await opened(page, f"http://127.0.0.1:{port}/?refresh=0.25", 1)
            await expect(page).to_have_title("2 firing · sesd status")
            await expect(banner).to_be_hidden()
        await expect(banner).to_be_visible()
        await expect(banner).to_contain_text("Not refreshed for")
        await expect(banner).to_contain_text("sesd may be down or stuck")
        await expect(page).to_have_title("not refreshed · sesd status")
        # A process that accepts connections and never answers (SIGSTOP, a wedged loop).
        with socket.socket() as stuck:
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            stuck.bind(("127.0.0.1", port))
            stuck.listen(64)
            await expect(banner).to_contain_text("(no answer in 3 s)")
            await expect(page.locator("#refresh-state")).to_have_class("bad")
        assert seen.errors == []
        assert seen.dialogs == []


async def test_a_page_whose_label_sesd_no_longer_counts_says_so_not_that_sesd_is_down(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """gmail.com's page is open when sesd evicts gmail.com (idle for a day, as its
    housekeeping does): the banner says sesd answers but no longer counts this domain,
    not that sesd may be down or stuck. The status page, whose own API answers 404 (an
    older replica behind a Service, a proxy's route gone), says HTTP 404: it is of no
    label to be no longer counted."""
    async with spiked_page(local_sqs, sqs, browser) as (daemon, seen, host):
        page = seen.page
        banner, state = page.locator("#stale"), page.locator("#refresh-state")
        await opened(page, f"http://{host}/domain/gmail.com?refresh=0.25", 1)
        assert "gmail.com" in daemon.pipeline.housekeep(time.time() + 2 * 86400)
        await expect(banner).to_contain_text("sesd answers, but no longer counts this domain")
        await expect(banner).not_to_contain_text("down or stuck")
        await expect(state).to_have_text("not refreshed: sesd no longer counts it; trying again")
        await opened(page, f"http://{host}/?refresh=0.25", 1)
        await page.route("**/api/v1/status*", lambda route: route.fulfill(status=404))
        await expect(state).to_have_text("not refreshed: HTTP 404; trying again")
        await expect(banner).to_contain_text("sesd may be down or stuck")
        assert seen.errors == []
        assert seen.dialogs == []


async def test_a_page_whose_window_a_restarted_sesd_does_not_keep_says_what_sesd_said(
    browser: Browser,
) -> None:
    """The page ranking by the 15m window is open when sesd restarts with ``[windows]
    sizes`` that no longer has it: every refresh is refused (400), sesd's line saying
    which windows it keeps. The banner said only "HTTP 400", under "sesd may be down or
    stuck"; it says sesd answers but refuses the page's address, and sesd's line."""
    before, after = world(now=NOW), world('[windows]\nsizes = ["5m", "1h"]\n', now=NOW)
    async with (
        serving(before) as (_, old),
        serving(after) as (_, new),
        PrefixProxy(int(old.rsplit(":", 1)[1]), "/sesd") as front,
        watched(browser) as seen,
    ):
        page = seen.page
        await opened(page, f"{front.url}/?window=15m&refresh=0.25", 1)
        front.upstream = int(new.rsplit(":", 1)[1])  # the restart
        await expect(page.locator("#refresh-state")).to_have_text(
            "not refreshed: HTTP 400: unknown window '15m'; sesd keeps 5m, 1h; trying again"
        )
        banner = page.locator("#stale")
        await expect(banner).to_contain_text("sesd answers, but refuses this page's address")
        await expect(banner).not_to_contain_text("down or stuck")
        assert seen.errors == []
        assert seen.dialogs == []


async def test_an_answer_slower_than_the_pages_patience_is_still_drawn(browser: Browser) -> None:
    """Every answer comes 4 s after its request (a busy sesd, a slow link): past the
    page's patience (two periods, at least 3 s) the banner says there is no answer in
    3 s, and the answer, when it comes, is drawn and drops the banner. The page used to
    abandon each request at 3 s and ask again, so that an answer taking longer was
    never drawn (and each abandoned one still cost sesd its whole document)."""
    async with serving(world(now=NOW)) as (_, base), watched(browser) as seen:
        page = seen.page
        banner = page.locator("#stale")
        async with Proxy(int(base.rsplit(":", 1)[1])) as proxy:
            await opened(page, f"{proxy.url}/?refresh=0.25", 1)
            await expect(banner).to_be_hidden()
            proxy.lag = 4.0
            await expect(banner).to_contain_text("(no answer in 3 s)")
            await refreshed(page, 1)
            # Kept late, the next refresh would say so again 3 s after this one.
            proxy.lag = 0.0
            await expect(banner).to_be_hidden()
            assert seen.console == []
            assert seen.errors == []


async def test_a_refresh_keeps_the_focused_link_and_waits_for_a_selection(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """A keyboard user on outlook.com's link keeps the focus there across refreshes;
    while text on the page is selected (a message id being copied) the page is not
    redrawn, and says so; once the selection is gone it refreshes again."""
    async with spiked_page(local_sqs, sqs, browser) as (_, seen, host):
        page = seen.page
        body, state = page.locator("body"), page.locator("#refresh-state")
        await page.goto(f"http://{host}/?refresh=0.25")
        await expect(body).to_have_attribute("data-refreshes", at_least(1))
        await page.locator("#scope-domain a", has_text="outlook.com").focus()
        await refreshed(page, 2)
        focused = "() => [document.activeElement.getAttribute('href'), document.activeElement.textContent]"  # noqa: E501
        assert await page.evaluate(focused) == ["domain/outlook.com", "outlook.com"]

        await page.evaluate(
            """() => {
                const range = document.createRange();
                range.selectNodeContents(document.querySelector("#scope-domain tbody td"));
                getSelection().removeAllRanges();
                getSelection().addRange(range);
            }"""
        )
        await expect(state).to_have_text("paused while text is selected")
        refreshes = int(await body.get_attribute("data-refreshes") or 0)
        await expect(state).to_have_text("paused while text is selected")
        assert await page.evaluate("() => getSelection().toString()") == "outlook.com"
        assert int(await body.get_attribute("data-refreshes") or 0) == refreshes
        await page.evaluate("() => getSelection().removeAllRanges()")
        await expect(body).to_have_attribute("data-refreshes", at_least(refreshes + 1))
        await expect(state).to_have_text("refreshing every 0.25 s")
        seen.assert_clean(host)


async def test_long_text_from_strangers_stays_on_the_screen(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """A diagnostic of 400 characters without a space: outlook.com's page is no wider
    than the screen, as the server draws it and as the script redraws it; on a phone,
    the front page's tables scroll in their own boxes and the page fits the screen."""
    long = "smtp; 451 4.7.650 " + "X" * 400
    async with spiked_page(local_sqs, sqs, browser, diagnostic=long) as (_, seen, host):
        page = seen.page
        for refresh, refreshes in ((300, 0), (0.25, 1)):
            await opened(page, f"http://{host}/domain/outlook.com?refresh={refresh}", refreshes)
            drawn, screen = await page.evaluate(WIDTHS)
            assert drawn <= screen
        await page.set_viewport_size({"width": 390, "height": 844})
        await opened(page, f"http://{host}/?refresh=0.25", 1)
        drawn, screen = await page.evaluate(WIDTHS)
        assert drawn <= screen
        # A state badge is one word on one line, however narrow its column.
        lines = await page.evaluate(
            "[...document.querySelectorAll('.badge')].map(b => b.getBoundingClientRect()"
            ".height / parseFloat(getComputedStyle(b).fontSize))"
        )
        assert lines
        assert max(lines) < 2  # in font sizes: one line is about 1.45
        seen.assert_clean(host)


async def test_a_silence_ending_past_the_year_9999_is_redrawn_as_the_server_drew_it(
    browser: Browser,
) -> None:
    """A silence written by hand to end past the year 9999 (``1e12``, the year 33658),
    another past any date a browser holds (``1.7e308``): the script drew the first's
    end as "01T00:46Z" (the middle of "+033658-09-27T01:46:40Z") and stopped at the
    second (no date that far), the page left as of its last good refresh. Redrawn, it
    reads as the server drew it, and the script logs no error."""
    w = world(now=NOW)
    feed(w, spike(NOW), NOW)
    w.evaluator.silences = SilenceSet(
        [Silence(id="far", comment="forever", starts_at=NOW - 9, ends_at=1e12,
                 domain="outlook.com"),
         Silence(id="farther", comment="longer", starts_at=NOW - 9, ends_at=1.7e308,
                 domain="gmail.com")]
    )  # fmt: skip
    async with serving(w) as (_, base), watched(browser) as seen:
        page = seen.page
        texts = []
        for refresh, redraws in ((300, 0), (0.25, 1)):
            await opened(page, f"{base}/?refresh={refresh}", redraws)
            texts.append(await page.evaluate(MAIN_TEXT))
        assert texts[0] == texts[1]
        await expect(page.locator("#silences tbody td.time")).to_have_text(
            ["after the year 9999"] * 2
        )
        alert = page.locator("#now tr.alert").filter(has_text="domain outlook.com")
        await expect(alert.locator(".silenced")).to_have_text("silenced until after the year 9999")
        seen.assert_clean(base.removeprefix("http://"))


async def test_a_sink_whose_posts_fail_stays_named_in_the_header_after_a_redraw(
    browser: Browser,
) -> None:
    """PagerDuty's posts are retried and one given up: the header names it as the
    server drew it and as the script redraws it."""
    w = world(now=NOW)
    w.metrics.notifications.labels("pagerduty", "retried").inc(4)
    w.metrics.notifications.labels("pagerduty", "failed").inc(1)
    said = "notifications not sent lately: pagerduty 4 retried, 1 failed"
    async with serving(w) as (_, base), watched(browser) as seen:
        page = seen.page
        for refresh, redraws in ((300, 0), (0.25, 1)):
            await opened(page, f"{base}/?refresh={refresh}", redraws)
            await expect(page.locator("#header .facts span.bad").last).to_have_text(said)
        seen.assert_clean(base.removeprefix("http://"))


async def test_a_figure_exactly_halfway_reads_as_the_server_rounded_it(browser: Browser) -> None:
    """13 of 16 recipients delayed (81.25%) and a canary's SendEmail call of 0.125 s:
    exact ties, which the server (Python) rounds to the even digit, 81.2% and 0.12s,
    and JavaScript's toFixed up, 81.3% and 0.13s. The status page and the domain's page
    read, text for text (charts' captions too), after the script's redraw as the server
    drew them: a figure does not change under a reader with nothing changed."""
    w = world('[canary]\nfrom = "canary@example.com"\nconfiguration_set = "sesd"\n', now=NOW)
    at = NOW - 30  # one instant (and a fixed clock): one sparkline bucket holds them all
    events = [f.delivery([f"ok{i}@tie.example"], at=at) for i in range(3)]
    events += [f.delay([f"late{i}@tie.example"], at=at, expires=NOW + 3600) for i in range(13)]
    feed(w, events, NOW)
    canary = w.pipeline.ledger.canary
    canary.sent("m-1", NOW - 100, 0.125)
    back = f.raw(f.delivery(["c@simulator.example"], at=NOW - 98, message_id="m-1"))
    canary.observe(decode_body(back), NOW - 97)  # type: ignore[arg-type]
    async with serving(w) as (_, base), watched(browser) as seen:
        page = seen.page
        for path, ties in (("/", ("81.2%", "API call 0.12s")), ("/domain/tie.example", ("81.2%",))):
            texts = []
            for refresh, redraws in ((300, 0), (0.25, 1)):
                await opened(page, f"{base}{path}?refresh={refresh}", redraws)
                texts.append(await page.evaluate(OWN_TEXTS))
            assert all(any(tie in text for text in texts[0]) for tie in ties), path
            assert texts[1] == texts[0], path
        seen.assert_clean(base.removeprefix("http://"))


#: A stranger's text (SES quotes a tenant's cause as given): markup, quotes, a
#: right-to-left override, a zero-width space, and a word longer than any screen.
STRANGE = "<script>window.sesdPwned = 1</script>\"'&amp; \u202eevil\u202c zero\u200bwidth "
STRANGE += "Y" * 300


def restarted_thin() -> World:
    """Every section has something (status_world.everything), as the page reads it
    after a restart while sesd reads too far behind to decide: outlook.com's alert,
    which fired at 08:00 and resolved at 8.0% at 08:59, and globex's pause, ended then
    too, have their resolves owed (a stop left them undelivered); Microsoft's alert is
    held firing by its thin window. globex's cause is a stranger's text."""
    w = everything()
    w.pipeline.ledger.tenant_status.record(("default", "eu-west-1", "globex")).aws_cause = STRANGE
    states = w.evaluator.states
    for rule, label, value in (("delay-ratio-high", "outlook.com", 0.08),
                               ("tenant-paused", "globex", 0.0)):  # fmt: skip
        owed = states[rule][label]
        owed.since, owed.resolved_at, owed.value = NOW - 3600, NOW - 60, value
    states["provider-delay-ratio-high"]["microsoft"].held = True
    return w


#: Whether a cell's table fits its box (no sideways scroll), and the cell in the table.
FITS = """(c) => { const box = c.closest(".wide");
  return [box.scrollWidth <= box.clientWidth, c.scrollWidth <= c.clientWidth]; }"""

#: The left edge of each alert's row, top to bottom: its width and colour.
EDGES = """() => Array.from(document.querySelectorAll('#now tr.alert td:first-child'),
  (c) => `${getComputedStyle(c).borderLeftWidth} ${getComputedStyle(c).borderLeftColor}`)"""

#: The alerts table's state badges, top to bottom.
BADGES = "() => Array.from(document.querySelectorAll('#now .badge'), (b) => b.textContent)"


async def test_resolves_owed_after_a_restart_are_drawn_resolved_and_listed_last(
    browser: Browser, tmp_path: Path
) -> None:
    """After a restart, two alerts whose resolves a stop left owed, one held firing by a
    thin window, two more firing and two pending: as the server draws the page and as
    the script redraws it, the heading reads "3 firing, 2 pending, 2 resolved" and the
    tab "3 firing"; the owed rows come after the pending (over, they take no place a
    pending alert needs in a cut list), badged resolved in green with white text,
    edged green (firing rows red, pending orange), since the time they resolved, at
    the figure they resolved at, with the note that their resolve is owed; the held row
    says why it is held. The stranger's cause in globex's row is text (nothing ran),
    its invisible characters shown escaped, its long word kept within the table's box,
    and so in the tenants' table. Once the resolve is made the row goes, and the
    heading with it."""
    w = restarted_thin()
    async with serving(w) as (_, base), watched(browser) as seen:
        page = seen.page
        texts = []
        for refresh, redraws in ((300, 0), (0.25, 1)):
            await opened(page, f"{base}/?refresh={refresh}", redraws)
            texts.append(await page.evaluate(OWN_TEXTS))
            await expect(page.locator("#now h2")).to_have_text(
                "Now 3 firing, 2 pending, 2 resolved"
            )
            await expect(page).to_have_title("3 firing · sesd status")
            assert (
                await page.evaluate(BADGES) == ["firing"] * 3 + ["pending"] * 2 + ["resolved"] * 2
            )
            owed = page.locator("#now tr.alert.resolved").filter(has_text="domain outlook.com")
            await expect(owed.locator("td").nth(3)).to_contain_text("delay_ratio resolved at 8.0%")
            await expect(owed.locator("td.time")).to_have_text("08:59:00Z")  # not 08:00
            await expect(owed).to_contain_text("its resolve goes out at the next evaluation")
            held = page.locator("#now tr.alert.firing").filter(has_text="provider microsoft")
            await expect(held).to_contain_text("delay_ratio 60.0%")
            await expect(held).to_contain_text("held firing: its window has too few events")
            tenant = page.locator("#now tr.alert.resolved").filter(has_text="tenant globex")
            await expect(tenant).to_contain_text("<script>window.sesdPwned = 1</script>\"'&amp;")
            await expect(tenant).to_contain_text("\\u202eevil\\u202c zero\\u200bwidth")
            badge = await tenant.locator(".badge").evaluate(
                "(b) => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]"
            )
            assert badge == ["rgb(26, 110, 52)", "rgb(255, 255, 255)"]  # --badge-ok, white
            edges = await page.evaluate(EDGES)
            red, orange, green = (
                "3px rgb(192, 38, 45)",
                "3px rgb(163, 91, 0)",
                "3px rgb(29, 122, 58)",
            )
            assert edges == [red] * 3 + [orange] * 2 + [green] * 2  # --bad, --warn, --ok
            box = await page.locator("#now .wide").evaluate("(b) => b.scrollWidth <= b.clientWidth")
            assert box
            # In what SES says of its tenants too: a column the word made wider than the
            # table's box scrolled the reason (and the findings) out of sight.
            why = page.locator("table.tenants td.text").filter(has_text="Y" * 40)
            await expect(why).to_contain_text("\\u202eevil\\u202c")
            wide = await why.evaluate(FITS)
            assert wide == [True, True], wide
            assert await page.locator("#main script").count() == 0
        assert texts[1] == texts[0]
        shot = artifacts(tmp_path) / "status-page-resolves-owed.png"
        await page.screenshot(path=str(shot), full_page=True)
        # The evaluation that makes outlook.com's resolve: its row goes.
        w.evaluator.states["delay-ratio-high"]["outlook.com"] = AlertState()
        await refreshed(page, 2)
        await expect(page.locator("#now h2")).to_have_text("Now 3 firing, 2 pending, 1 resolved")
        outlook = page.locator("#now tr.alert").filter(has_text="domain outlook.com")
        await expect(outlook.locator(".badge")).to_have_text(["pending"])  # slow-burn's
        assert await page.evaluate("() => window.sesdPwned") is None
        seen.assert_clean(base.removeprefix("http://"))
