"""The status page in a real headless Chromium as the on-call engineer reads it on a
phone, and as a colleague reads it with a screen reader and the keyboard: words and
times stay whole (a table scrolls in its box instead), a table scrolled sideways stays
scrolled through refreshes, a lost sesd is announced once, only what changed is
redrawn, and what changed is redrawn in place (a reader keeps their row as the table
moves around it), what starts firing is told, the refresh can be paused, the banner
leaves room for the focused link, and the trend lines are visible in the dark."""

from __future__ import annotations

import re
import socket
import time
from typing import Any

import pytest
from playwright.async_api import Browser, ViewportSize, expect

from sesd.commands.demo.localsqs import LocalSqs
from sesd.config import parse_config
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
from tests.status_world import settled
from tests.test_status_browser import config_text, fired, spiked, spiked_page

pytestmark = [pytest.mark.timeout(90), ON_THE_MODULES_LOOP, pytest.mark.usefixtures("short_polls")]
expect.set_options(timeout=15_000)

PHONE: ViewportSize = {"width": 375, "height": 667}
#: The lines an element's text takes.
LINES = """(el) => {
    const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const tops = new Set();
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
        const range = document.createRange();
        range.selectNodeContents(node);
        for (const rect of range.getClientRects()) tops.add(Math.round(rect.top));
    }
    return tops.size;
}"""
#: The domains the domains table lists, top to bottom.
DOMAINS = """() => Array.from(document.querySelectorAll("#scope-domain tbody td.name"),
    (td) => td.textContent)"""
#: What the domains table says, and how it is built: each element's tag, class, key
#: and own text.
DOMAIN_TABLE = """() => Array.from(document.querySelectorAll("#scope-domain *"), (e) =>
    [e.tagName.toLowerCase(), e.getAttribute("class"), e.getAttribute("data-key"),
     Array.from(e.childNodes, (n) => (n.nodeType === 3 ? n.data : "")).join("")].join("|"))"""


def mail(domain: str, delivered: int, delayed: int, at: float, batch: int) -> list[str]:
    """Bodies of ``delivered`` deliveries and ``delayed`` delays at ``domain`` in the
    minute before ``at``, each to its own recipient (``batch`` keeps them apart)."""
    events = [f.delivery([f"ok{batch}-{i}@{domain}"], at=at - 60 + i) for i in range(delivered)]
    events += [
        f.delay([f"late{batch}-{i}@{domain}"], at=at - 30 + i, expires=at + 3600)
        for i in range(delayed)
    ]
    return [f.raw(event) for event in events]


async def test_on_a_phone_words_and_times_stay_whole_and_a_table_keeps_its_scroll(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """At 375 px an alert's time reads on one line and its row stays short (a table
    wider than the phone scrolls in its own box, the page does not); a table swiped
    sideways, or its box holding the keyboard's focus, keeps both through refreshes."""
    async with spiked_page(local_sqs, sqs, browser) as (_, seen, host):
        page = seen.page
        await page.set_viewport_size(PHONE)
        for path, refreshes in (("/domain/outlook.com?refresh=300", 0), ("/?refresh=0.25", 1)):
            await opened(page, f"http://{host}{path}", refreshes)
            row = page.locator("#now tr.alert").first
            assert await row.locator("td.time").evaluate(LINES) == 1
            assert await row.locator("td").nth(1).evaluate(LINES) <= 2  # rule, severity
            assert (await row.bounding_box() or {"height": 1e9})["height"] < 250
            box = page.locator("#now .wide")
            assert await box.evaluate("(b) => b.scrollWidth > b.clientWidth")
            width = await page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
            assert width[0] <= width[1]

        domains = page.locator("#scope-domain .wide")
        await domains.evaluate("(b) => { b.scrollLeft = 120; }")
        await refreshed(page, 2)
        assert await domains.evaluate("(b) => b.scrollLeft") == 120
        await page.locator("#now .wide").focus()
        await refreshed(page, 2)
        assert await page.evaluate("document.activeElement.matches('#now .wide')")
        seen.assert_clean(host)


async def test_a_screen_reader_hears_a_lost_sesd_once_and_each_alert_that_starts(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """Nothing that did not change is redrawn (a reader's place stays); an alert that
    starts firing while the page is open is told in a live region; the refresh pauses
    and resumes from the footer's button (the tab says paused, not an ageing count).
    When sesd stops answering, the alert part of the banner is written once while the
    age beside it counts on."""
    url, _ = await make_queue(sqs)
    async with watched(browser) as seen:
        page = seen.page
        async with running(parse_config(config_text(local_sqs, url))) as daemon:
            host = f"127.0.0.1:{daemon.http_port}"
            await opened(page, f"http://{host}/?refresh=0.25", 1)
            await page.evaluate("window.kept = document.querySelector('#canary h2')")
            await refreshed(page, 2)
            assert await page.evaluate("window.kept.isConnected")
            await expect(page.locator("#news")).to_have_text("")

            await spiked(sqs, url)
            await fired(daemon)
            news = page.locator("#news")
            await expect(news).to_have_attribute("role", "status")
            told = re.compile(r"^Firing: .*\bdelay-ratio-high on domain outlook\.com")
            await expect(news).to_contain_text(told)

            pause = page.locator("#pause")
            await expect(page).to_have_title(re.compile(r"^\d+ firing · "))
            await pause.click()
            await expect(pause).to_have_attribute("aria-pressed", "true")
            # The tab no longer counts what fires: the count would age unseen.
            await expect(page).to_have_title(re.compile(r"^paused · sesd status"))
            body = page.locator("body")
            paused = await body.get_attribute("data-refreshes")
            ticks = int(await body.get_attribute("data-ticks") or 0)
            await expect(body).to_have_attribute("data-ticks", at_least(ticks + 4))
            assert await body.get_attribute("data-refreshes") == paused
            await pause.click()
            await refreshed(page, 1)
            await expect(page).to_have_title(re.compile(r"^\d+ firing · "))
            port = daemon.http_port
            # Counted from before the stop: the page may see it before this test would.
            await page.evaluate(
                """() => {
                    window.told = 0;
                    new MutationObserver(() => { window.told += 1; }).observe(
                        document.getElementById("stale-news"),
                        { childList: true, characterData: true, subtree: true });
                }"""
            )
        age = page.locator("#stale-age")
        await expect(age).to_contain_text("Not refreshed for")
        await expect(page.locator("#stale-news")).to_have_attribute("role", "alert")
        await expect(age).to_contain_text(re.compile(r"for [2-9]s"))
        # A stuck sesd now (another reason): the age says so, the alert is not repeated.
        with socket.socket() as stuck:
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            stuck.bind(("127.0.0.1", port))
            stuck.listen(64)
            await expect(age).to_contain_text("(no answer in 3 s)")
        assert await page.evaluate("window.told") == 1
        assert seen.errors == []


async def test_the_banner_leaves_the_focused_link_in_sight_and_dark_lines_show(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """At 200% zoom (640x450 CSS pixels) with the banner up, a link the keyboard moves
    to is scrolled below the banner, not under it; in the dark scheme the trend lines
    keep 3:1 against their panel, and in forced colours they take the text's colour."""
    url, _ = await make_queue(sqs)
    async with watched(browser) as seen:
        page = seen.page
        await page.set_viewport_size({"width": 640, "height": 450})
        async with running(parse_config(config_text(local_sqs, url))) as daemon:
            await spiked(sqs, url)
            await fired(daemon)
            await opened(page, f"http://127.0.0.1:{daemon.http_port}/?refresh=0.25", 1)
        await expect(page.locator("#stale")).to_be_visible()
        await page.locator("footer a").last.focus()
        hidden = []
        for _ in range(20):  # up the page, link by link
            await page.keyboard.press("Shift+Tab")
            hidden += await page.evaluate(
                """() => {
                    const el = document.activeElement;
                    const banner = document.getElementById("stale").getBoundingClientRect();
                    const under = el.getBoundingClientRect().bottom <= banner.bottom;
                    return under ? [el.textContent] : [];
                }"""
            )
        assert hidden == []

        await page.emulate_media(color_scheme="dark")
        ratio = await page.evaluate(
            """() => {
                const rgb = (text) => text.match(/\\d+/g).slice(0, 3).map(Number);
                const lum = (c) => {
                    const [r, g, b] = c.map((v) => {
                        v /= 255;
                        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
                    });
                    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
                };
                const line = document.querySelector("svg.spark .line");
                const panel = line.closest("table");
                const a = lum(rgb(getComputedStyle(line).stroke));
                const b = lum(rgb(getComputedStyle(panel).backgroundColor));
                return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
            }"""
        )
        assert ratio >= 3

        # Forced colours (Windows high contrast): the lines take the scheme's text
        # colour, in either scheme, like the text beside them.
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme, forced_colors="active")
            stroke, text = await page.evaluate(
                """() => {
                    const probe = document.createElement("span");
                    probe.style.color = "CanvasText";
                    document.body.append(probe);
                    const text = getComputedStyle(probe).color;
                    probe.remove();
                    const line = document.querySelector("svg.spark .line");
                    return [getComputedStyle(line).stroke, text];
                }"""
            )
            assert stroke == text, scheme
        assert seen.errors == []


async def test_a_reader_on_a_row_keeps_it_while_the_table_changes_around_it(
    local_sqs: LocalSqs, sqs: Any, browser: Browser
) -> None:
    """The domains table lists four (top=4): a, b, c and d.example by delay ratio, and a
    keyboard user is on c.example's link, row 3. Then new.example starts delaying (a
    row added at the top, d.example's row gone), c.example's delays climb above
    a.example's (its row moves up), b.example delivers more (its cells change). After
    the refreshes the same link node holds the focus and never lost it; a.example's
    row (unchanged) and b.example's (changed in place) are the nodes they were, as is
    a.example's alert row; the rows read in the order sesd ranks them, exactly as the
    server draws the table; and the live region says new.example fires."""
    url, _ = await make_queue(sqs)
    now = time.time()
    first = [
        *mail("a.example", 10, 5, now, 1),  # 33%
        *mail("b.example", 16, 4, now, 1),  # 20%
        *mail("c.example", 17, 3, now, 1),  # 15%
        *mail("d.example", 18, 2, now, 1),  # 10%
        *mail("e.example", 19, 1, now, 1),  # 5%: not listed
    ]
    async with running(parse_config(config_text(local_sqs, url))) as daemon:
        await send_bodies(sqs, url, first)
        await settled(daemon, len(first), ("delay-ratio-high", "c.example"))
        host = f"127.0.0.1:{daemon.http_port}"
        async with watched(browser) as seen:
            page = seen.page
            await opened(page, f"http://{host}/?refresh=0.25&top=4", 1)
            assert await page.evaluate(DOMAINS) == [f"{d}.example" for d in "abcd"]
            await page.locator("#scope-domain a", has_text="c.example").focus()
            await page.evaluate(
                """() => {
                    window.link = document.activeElement;
                    window.rows = {};
                    for (const td of document.querySelectorAll("#scope-domain td.name")) {
                        window.rows[td.textContent] = td.parentElement;
                    }
                    window.alertRow = Array.from(document.querySelectorAll("#now tr.alert"))
                        .find((tr) => tr.textContent.includes("domain a.example"));
                    window.focusLost = 0;
                    window.link.addEventListener("focusout", () => { window.focusLost += 1; });
                }"""
            )

            now = time.time()
            second = [
                *mail("new.example", 5, 10, now, 2),  # 67%
                *mail("c.example", 0, 10, now, 2),  # 13 of 30: 43%
                *mail("b.example", 2, 0, now, 2),  # 4 of 22: 18%
            ]
            await send_bodies(sqs, url, second)
            await settled(daemon, len(first) + len(second), ("delay-ratio-high", "new.example"))
            top = page.locator("#scope-domain tbody tr").first
            await expect(top.locator("td").first).to_have_text("new.example")
            await refreshed(page, 2)  # the second fetched after every event was counted

            order = [f"{d}.example" for d in ("new", "c", "a", "b")]
            assert await page.evaluate(DOMAINS) == order
            kept = await page.evaluate(
                """(order) => [
                    document.activeElement === window.link, window.focusLost,
                    ...["a.example", "b.example"].map((name) => window.rows[name] ===
                        document.querySelectorAll("#scope-domain tbody tr")[order.indexOf(name)]),
                    window.alertRow.isConnected,
                ]""",
                order,
            )
            assert kept == [True, 0, True, True, True]
            b = page.locator("#scope-domain tbody tr").nth(3).locator("td")
            await expect(b.nth(3)).to_have_text("18")  # delivered, redrawn in place
            await expect(page.locator("#news")).to_contain_text(
                "delay-ratio-high on domain new.example"
            )
            # The table patched in place reads, element for element, as the server
            # draws it now.
            patched = await page.evaluate(DOMAIN_TABLE)
            drawn = await page.context.new_page()
            await drawn.goto(f"http://{host}/?refresh=300&top=4")
            assert await drawn.evaluate(DOMAIN_TABLE) == patched
            await drawn.close()
            seen.assert_clean(host)
