"""The status page over HTTP, without a browser: every route's headers, text from
strangers escaped in elements and attributes, no inline script or style, the JSON
API's shape, and what an unknown label or window gets."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from html.parser import HTMLParser
from typing import Any

import aiohttp
import anyio
import msgspec
import pytest

from sesd.alerting.silences import Silence, SilenceSet
from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.status_table import table
from sesd.config import HttpConfig, parse_config
from sesd.core.events import LONGEST_DELAY
from sesd.core.pending import UNKNOWN, PendingDelays
from sesd.core.refusals import BUCKET
from sesd.runtime.http import http_server
from sesd.status import routes
from sesd.status.charts import duration, sparkline_svg
from sesd.status.document import Status
from sesd.status.model import build_status, read_counters, scope_page
from sesd.status.page import status_html
from sesd.status.routes import add_status_routes
from sesd.status.scope_document import ScopeDetail
from sesd.status.scope_page import scope_html
from tests import factory as f
from tests.conftest import make_queue, running, send_bodies
from tests.status_world import (
    MANY,
    NOW,
    RULES,
    World,
    everything,
    feed,
    many_alerts,
    settled,
    spike,
    world,
)

HOSTILE = (
    "smtp; 451 4.7.650 <script>alert(1)</script> <img src=x onerror=alert(2)> "
    "\"quoted\" 'single' & more"
)


@asynccontextmanager
async def serving(w: World) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    """sesd's HTTP server with the status routes over ``w``, and a client."""
    async with (
        http_server(
            HttpConfig("127.0.0.1:0"),
            w.metrics.registry,
            w.health,
            lambda: 100.0,
            routes=partial(add_status_routes, w.sources),
        ) as port,
        aiohttp.ClientSession() as session,
    ):
        yield session, f"http://127.0.0.1:{port}"


def hostile_world() -> World:
    w = world(now=NOW)
    feed(w, spike(NOW, diagnostic=HOSTILE), NOW)
    w.evaluator.silences = SilenceSet(
        [Silence(id="s1", comment='"><script>alert(3)</script>', starts_at=NOW - 9,
                 ends_at=NOW + 60, domain="outlook.com")]
    )  # fmt: skip
    return w


async def test_every_route_forbids_inline_script_other_origins_and_sniffing() -> None:
    """The page, a label's page, the JSON, the static files and a 404 all carry a
    Content-Security-Policy of 'self' only (no inline script or style) and nosniff;
    each has its content type."""
    async with serving(hostile_world()) as (session, base):
        expected = {
            "/": "text/html; charset=utf-8",
            "/domain/outlook.com": "text/html; charset=utf-8",
            "/domain/nowhere.example": "text/html; charset=utf-8",
            "/api/v1/status": "application/json",
            "/api/v1/provider/microsoft": "application/json",
            "/static/status.css": "text/css; charset=utf-8",
            "/static/status.js": "text/javascript; charset=utf-8",
            "/static/favicon.svg": "image/svg+xml",
        }
        for path, content_type in expected.items():
            async with session.get(base + path) as response:
                await response.read()
                assert response.headers["Content-Type"] == content_type, path
                csp = response.headers["Content-Security-Policy"]
                assert "default-src 'self'" in csp
                assert "script-src 'self'" in csp
                assert "unsafe" not in csp
                assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_text_from_strangers_is_escaped_and_the_page_holds_no_inline_code() -> None:
    """A diagnostic with a script tag, an image with an onerror handler and quotes, and
    a silence comment that tries to close an attribute, and a provider name read back
    from a damaged state file, are text on every page; the pages load their one script
    from sesd and hold no inline script, style or handler."""
    w = hostile_world()
    assert w.pipeline.ledger.providers is not None
    w.pipeline.ledger.providers.remember("outlook.com", '<b id="mx">"gw"</b>', NOW + 86400)
    async with serving(w) as (session, base):
        pages = []
        for path in ("/", "/domain/outlook.com", "/provider/microsoft"):
            async with session.get(base + path) as response:
                assert response.status == 200
                pages.append(await response.text())
        async with session.get(base + "/api/v1/status") as response:
            doc = msgspec.json.decode(await response.read(), type=Status)
    detail = pages[1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt;" in detail
    assert "&quot;quoted&quot; &#x27;single&#x27; &amp; more" in detail
    assert "&quot;&gt;&lt;script&gt;alert(3)" in pages[0]
    shown = '<span class="note">provider &lt;b id=&quot;mx&quot;&gt;&quot;gw&quot;&lt;/b&gt;</span>'
    assert shown in pages[0]
    assert shown in pages[1]  # the domain's own page lists its alerts too
    (outlook,) = [a for a in doc.alerts.items if a.name == "outlook.com"]
    assert outlook.provider == '<b id="mx">"gw"</b>'  # JSON is data: the script makes it text
    # The front page's paths are relative to it, a domain's to the root above it.
    for html, root in zip(pages, ("", "../", "../"), strict=True):
        tags = _tags(html)
        assert [attrs for tag, attrs in tags if tag == "script"] == [
            {"src": f"{root}static/status.js", "defer": None}
        ]
        assert not [tag for tag, _ in tags if tag in ("img", "iframe", "object", "embed")]
        assert not [
            (t, a) for t, attrs in tags for a in attrs if a.startswith("on") or a == "style"
        ]
        assert not [tag for tag, _ in tags if tag == "style"]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every element of a page, as a browser's parser finds it, with its attributes."""
    parser = _Tags()
    parser.feed(html)
    return parser.found


async def test_the_api_answers_the_documents_the_page_shows() -> None:
    """``/api/v1/status`` decodes as the status document, bounded by ``top``; a label's
    API as its page's; a window is chosen by name and an unknown one is refused."""
    async with serving(hostile_world()) as (session, base):
        async with session.get(f"{base}/api/v1/status?top=1&window=15m") as response:
            doc = msgspec.json.decode(await response.read(), type=Status)
        assert doc.schema == "sesd.status.v1"
        assert (len(doc.scopes[0].items), doc.scopes[0].total, doc.scopes[0].window) == (
            1,
            3,
            "15m",
        )
        async with session.get(f"{base}/api/v1/domain/outlook.com") as response:
            detail = msgspec.json.decode(await response.read(), type=ScopeDetail)
        assert (detail.schema, detail.name, detail.windows[0].delayed) == (
            "sesd.scope.v1",
            "outlook.com",
            15,
        )
        async with session.get(f"{base}/?window=2d") as response:
            assert response.status == 400
            assert "unknown window '2d'; sesd keeps 5m, 15m, 1h" in await response.text()


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("top=lots", "top='lots': give a whole number from 1 to 200"),
        ("top=0", "top='0': give a whole number from 1 to 200"),
        ("top=201", "top='201': give a whole number from 1 to 200"),
        ("top=2.5", "top='2.5': give a whole number from 1 to 200"),
        ("alerts=abc", "alerts='abc': give a whole number from 1 to 1000"),
        ("alerts=1001", "alerts='1001': give a whole number from 1 to 1000"),
        ("alerts=nan", "alerts='nan': give a whole number from 1 to 1000"),
        ("alerts=" + "9" * 200, "alerts='9999999999"),
    ],
)
async def test_a_number_out_of_its_range_is_refused_naming_it(query: str, said: str) -> None:
    """``?top=abc`` or ``?alerts=5000`` was quietly read as the default (or the
    nearest bound) while ``?window=bogus`` was refused: a typo in a bookmark showed
    another list than asked, unsaid. A number that is not one, or is out of its range,
    is refused as a window is: 400, naming the parameter and its range, on the page
    and its API."""
    async with serving(hostile_world()) as (session, base):
        for path in ("/", "/api/v1/status"):
            async with session.get(f"{base}{path}?{query}") as response:
                assert response.status == 400
                assert (await response.text()).startswith(said)


async def test_a_cut_list_of_alerts_says_so_and_links_to_more() -> None:
    """With fewer alerts listed than fire (``alerts``), the page says how many it lists
    and links to the page that lists the most; the API lists as many, and counts all.
    The tab's title says how many fire."""
    async with serving(hostile_world()) as (session, base):
        async with session.get(f"{base}/api/v1/status?alerts=1") as response:
            doc = msgspec.json.decode(await response.read(), type=Status)
        assert (len(doc.alerts.items), doc.alerts.total) == (1, 2)
        async with session.get(f"{base}/?alerts=1") as response:
            page = await response.text()
        assert '<p class="more">1 of 2 listed: <a href="?alerts=1000">list more</a></p>' in page
        assert 'data-api="api/v1/status?alerts=1"' in page
        assert '<title data-name="sesd status">2 firing · sesd status</title>' in page
        async with session.get(f"{base}/?alerts=1000") as response:
            assert 'class="more"' not in await response.text()
        # The longer list is of the same page: its window, top and refresh kept (the
        # script's own link, data-more, too), not the default ones.
        async with session.get(f"{base}/?window=15m&alerts=1&top=2&refresh=30") as response:
            page = await response.text()
        more = "?window=15m&amp;top=2&amp;refresh=30&amp;alerts=1000"
        assert f'<a href="{more}">list more</a>' in page
        assert f'data-more="{more}"' in page


async def test_a_list_cut_at_the_most_a_page_lists_offers_no_longer_one() -> None:
    """Over 1,000 alerts: the page listing 1,000 of them (the most a page lists) said
    "1000 of 1001 listed: list more", a link to a page listing the same 1,000. At the
    most, it says so and where every alert is (/metrics, ``sesd_alerts_firing``), and
    its script is given no longer page (``data-more`` empty); a shorter list still
    links to the longest."""
    async with serving(many_alerts()) as (session, base):
        async with session.get(f"{base}/?alerts=1000") as response:
            page = await response.text()
        assert "list more" not in page
        assert 'data-more=""' in page
        assert (
            f'<p class="more">1000 of {MANY} listed, the most a page lists: every alert is in '
            '<a href="metrics">/metrics</a> (sesd_alerts_firing)</p>'
        ) in page
        async with session.get(f"{base}/") as response:
            assert f'50 of {MANY} listed: <a href="?alerts=1000">list more</a>' in (
                await response.text()
            )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/domain/nowhere.example", 404),
        ("/api/v1/domain/nowhere.example", 404),
        ("/tenant/acme", 404),  # tenants are not counted
        ("/static/other.js", 404),
        ("/planet/mars", 404),
        ("/domain/outlook.com?refresh=0", 200),
    ],
)
async def test_what_is_not_there_is_not_found(path: str, status: int) -> None:
    """A label sesd does not count, an axis it does not keep, a file it does not serve:
    404, said in the page's own words for a label."""
    async with serving(hostile_world()) as (session, base), session.get(base + path) as response:
        assert response.status == status
        if path.startswith("/domain/nowhere"):
            text = await response.text()
            assert "sesd counts no domain named nowhere.example." in text
            # Its stylesheet and link home relative to it, as a proxy's prefix needs.
            assert '<link rel="stylesheet" href="../static/status.css">' in text
            assert '<h1><a href="../">sesd</a></h1>' in text


async def test_a_name_from_the_link_is_shown_cleaned() -> None:
    """The name in a 404 comes from whoever wrote the link: a bidirectional override,
    CR LF or NUL in it is shown escaped (a crafted link must not read as another
    name), on the page and in the JSON."""
    async with serving(hostile_world()) as (session, base):
        for path in ("/domain/", "/api/v1/domain/"):
            async with session.get(base + path + "evil%E2%80%AEmoc.example%0D%0A%00") as response:
                assert response.status == 404
                text = await response.text()
            assert "\u202e" not in text
            assert "\r" not in text
            assert "\x00" not in text
            assert "evil" in text


def test_durations_and_an_empty_sparkline_read_plainly() -> None:
    """Durations as a person says them; a sparkline with no data says so."""
    assert [duration(v) for v in (None, 42, 312, 11040, 183600)] == [
        "-",
        "42s",
        "5m12s",
        "3h04m",
        "2d03h",
    ]
    empty = sparkline_svg([None, None], "delay ratio")
    assert 'data-points="0"' in empty
    assert "no data" in empty
    assert "<polyline" not in empty


def test_a_cut_list_of_tenants_says_how_many_it_lists() -> None:
    """A platform's SES tenants are hundreds, and the page lists as many as alerts (50
    unless asked): the table says how many of how many it lists, as the alerts do."""
    from sesd.status.document import Limits

    w = everything()
    for name in ("acme", "initech"):
        w.pipeline.ledger.tenant_status.record(("default", "eu-west-1", name))
    s = w.sources
    doc = build_status(s, NOW, read_counters(s), (s.started, {}), Limits(alerts=1))
    page = status_html(doc, 5.0)
    assert "<h2>What SES says of its tenants <small>1 of 3 listed</small></h2>" in page
    whole = build_status(s, NOW, read_counters(s), (s.started, {}))
    assert "<h2>What SES says of its tenants</h2>" in status_html(whole, 5.0)


def test_the_pending_figures_say_what_the_full_table_left_out() -> None:
    """The pending table at its bound (two rows here) refuses a third delayed recipient:
    metrics and logs say so, and each table's pending column says what it may leave
    out, on the page, in the JSON the script redraws it from and in ``sesd status``;
    none said while none was, nor once SES has given up on it (16 h after its first
    delay, and the ten minutes it is counted by): the pending figures then leave out
    nothing, though the overflow counter keeps it."""
    w = everything()
    ledger = w.pipeline.ledger
    s = w.sources
    quiet = build_status(s, NOW, read_counters(s), (s.started, {}))
    assert [t.pending_note for t in quiet.scopes] == [""] * len(quiet.scopes)
    ledger.pending = PendingDelays(2, len(ledger.scopes))
    for key in range(3):
        labels = tuple("gmail.com" if i == 0 else UNKNOWN for i in range(len(ledger.scopes)))
        ledger.pending.delayed(key, labels if key else ("other.example", *labels[1:]), NOW, None)
    doc = build_status(s, NOW, read_counters(s), (s.started, {}))
    note = (
        "pending may leave out 1 recipient first delayed in the last 16 h: the pending "
        "table ([ingest] max_pending_delays, 2, one domain three quarters of it) was full "
        "then"
    )
    assert doc.scopes[0].pending_note == note
    assert f'<p class="bad">{note}</p>' in status_html(doc, 5.0)
    assert msgspec.json.decode(msgspec.json.encode(doc))["scopes"][0]["pending_note"] == note
    assert f"  ({note})" in table(doc).splitlines()  # sesd status
    for later, said in ((LONGEST_DELAY, note), (LONGEST_DELAY + BUCKET, "")):
        doc = build_status(s, NOW + later, read_counters(s), (s.started, {}))
        assert [t.pending_note for t in doc.scopes] == [said] * len(doc.scopes)
    assert ledger.pending.overflow == 1


def test_every_section_renders_what_the_ledger_holds() -> None:
    """Alerts on a domain, a provider, an account, a tenant and the canary, firing and
    pending, each with its stage and notes; a silence until resolved; the canary's
    stacked bars; the paused account and tenant: on the page, escaped, and in the
    JSON the script redraws it from."""
    w = everything()
    counters = read_counters(w.sources)
    doc = build_status(w.sources, NOW, counters, (w.sources.started, {}))
    alerts = {(a.rule, a.scope, a.name): a for a in doc.alerts.items}
    canary = alerts[("canary-missing", "canary", "canary")]
    assert canary.stage == "API call (SendEmail failed: auth)"
    assert canary.notes[0].startswith("last canary back")
    assert canary.link is None
    account = alerts[("ses-paused", "account", "default/eu-west-1")]
    assert account.stage == "the SES account (sending status and reputation)"
    assert account.silence is not None
    assert (account.silence.ends_at, account.silence.until_resolved) == (None, True)
    tenant = alerts[("tenant-paused", "tenant", "globex")]
    assert tenant.link == "/tenant/globex"
    assert tenant.cause is None
    assert any("<b>bounces</b>" in note for note in tenant.notes)
    assert alerts[("slow-burn", "domain", "outlook.com")].state == "pending"
    assert [t.axis for t in doc.scopes] == ["domain", "provider", "tenant"]
    assert doc.scopes[2].items[0].name == "globex"
    html = status_html(doc, 5)
    assert "&lt;b&gt;bounces&lt;/b&gt;" in html
    assert "<b>" not in html
    tags = _tags(html)
    rects = [attrs["class"] for tag, attrs in tags if tag == "rect"]
    assert rects == ["stage-send", "stage-ses", "stage-pipeline"]
    assert "silenced until resolved" in html
    assert "when its alert resolves" in html
    assert "PAUSED" in html
    assert "DISABLED" in html
    assert "1 sent, 1 back, 1 missing, 1 failed to send in the last hour" in html
    detail = scope_page(w.sources, "tenant", "globex", NOW)
    assert detail is not None
    assert detail.tenants[0].cause == "<b>bounces</b>"
    page = scope_html(detail, 5)
    assert "&lt;b&gt;bounces&lt;/b&gt;" in page
    assert "<b>" not in page


# Short polls: a stop need not wait out a long poll (conftest.short_polls).
@pytest.mark.usefixtures("short_polls")
async def test_nothing_is_computed_for_the_page_between_requests(
    local_sqs: LocalSqs, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon reads a spike and evaluates its rules many times with nobody looking:
    the status document is never built, nor its counters read. One request builds it
    once."""
    calls: list[str] = []
    for name in ("build_status", "read_counters", "scope_page"):
        real = getattr(routes, name)
        monkeypatch.setattr(routes, name, partial(_counted, calls, name, real))
    url, _ = await make_queue(sqs)
    await send_bodies(sqs, url, [f.raw(event) for event in spike(time.time())])
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\n'
        f'[[queues]]\nurl = "{url}"\nname = "q"\nwait_time_seconds = 0\n'
        f'[http]\nlisten = "127.0.0.1:0"\n[alerts]\nevaluate_every = "100ms"\n{RULES}'
    )
    async with running(config) as daemon:
        await settled(daemon, len(spike(0.0)), ("delay-ratio-high", "outlook.com"))
        evaluations = daemon.alerting.evaluations
        with anyio.fail_after(20):
            await daemon.changes.wait_for(lambda: daemon.alerting.evaluations >= evaluations + 5)
        assert calls == []
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{daemon.http_port}/api/v1/status") as response,
        ):
            assert response.status == 200
        assert calls == ["read_counters", "build_status"]


def _counted(calls: list[str], name: str, real: Any, *args: Any) -> Any:
    calls.append(name)
    return real(*args)


def test_a_domain_in_idna_form_is_shown_with_its_unicode_form() -> None:
    """Labels are IDNA (xn--bcher-kva.de); the team that mails bücher.de reads it in its
    own script: the page, its alerts and `sesd status` show both, links keep IDNA."""
    from sesd.commands.status_table import table

    w = world(now=NOW)
    events = [f.delivery([f"u{i}@bücher.de"], at=NOW - 50 + i) for i in range(10)]
    events += [f.delay([f"late{i}@Bücher.de"], at=NOW - 30 + i) for i in range(5)]
    feed(w, events, NOW)
    doc = build_status(w.sources, NOW, read_counters(w.sources), (w.sources.started, {}))
    shown = "xn--bcher-kva.de (bücher.de)"
    html = status_html(doc, 5)
    assert html.count(shown) == 2  # the alert's row and the domains table
    assert 'href="domain/xn--bcher-kva.de"' in html
    detail = scope_page(w.sources, "domain", "xn--bcher-kva.de", NOW)
    assert detail is not None
    assert shown in scope_html(detail, 5)
    assert f"domain {shown} delay_ratio" in table(doc)


async def test_a_silence_ending_past_the_year_9999_is_shown_not_a_500() -> None:
    """A silence written by hand into the silences file with an end past the year 9999
    (``1e12``: the year 33658, or the largest number JSON holds) held outlook.com's
    alert back and made every page answer 500 (Python's dates end at 9999): the page
    that should show the silence was the one that could not be read. The page, its
    API and ``sesd status`` show it, its end said as a time past any date."""
    from sesd.commands.status_table import table

    w = world(now=NOW)
    feed(w, spike(NOW), NOW)
    w.evaluator.silences = SilenceSet(
        [Silence(id="far", comment="forever", starts_at=NOW - 9, ends_at=1e12,
                 domain="outlook.com"),
         Silence(id="farther", comment="longer", starts_at=NOW - 9, ends_at=1.7e308,
                 domain="gmail.com")]
    )  # fmt: skip
    async with serving(w) as (session, base):
        for path in ("/", "/domain/outlook.com", "/api/v1/status"):
            async with session.get(base + path) as response:
                assert response.status == 200, path
                text = await response.text()
        doc = msgspec.json.decode(text, type=Status)
        async with session.get(base + "/") as response:
            page = await response.text()
    assert [s.ends_at for s in doc.silences.items] == [1e12, 1.7e308]
    assert page.count('<td class="time">after the year 9999</td>') == 2
    assert "silenced until after the year 9999" in page
    assert "until after the year 9999: forever" in table(doc)


@pytest.mark.parametrize(
    "query",
    ["top=5&top=lots", "window=5m&window=bogus", "alerts=1&alerts=2", "refresh=1&refresh=2"],
)
async def test_a_parameter_given_twice_is_refused_naming_it(query: str) -> None:
    """``/?top=5&top=lots`` (a bookmark edited by appending) drew the page with the first
    value while its script and its "list more" link carried the last: the script's
    every refresh was refused (``top='lots'``) and the page stayed as first drawn,
    saying it could not refresh. Which value was meant is not for sesd to guess: 400,
    naming the parameter, on the page and its API."""
    key = query.partition("=")[0]
    async with serving(hostile_world()) as (session, base):
        for path in ("/", "/api/v1/status"):
            async with session.get(f"{base}{path}?{query}") as response:
                assert response.status == 400, path
                assert (await response.text()).startswith(f"{key} given twice:")


async def test_a_domain_in_a_group_opens_its_group_s_page() -> None:
    """outlook.com and hotmail.com count under the group ``microsoft``: the on-call
    engineer who typed /domain/outlook.com (the domain in a bounce) was told "sesd
    counts no domain named outlook.com", though it does, under the group. A member's
    address opens its group's page, on the page and in the JSON."""
    w = world('[domains]\ngroups = { microsoft = ["outlook.com", "hotmail.com"] }\n', now=NOW)
    feed(w, spike(NOW), NOW)
    async with serving(w) as (session, base):
        for member in ("outlook.com", "Hotmail.COM"):
            async with session.get(f"{base}/api/v1/domain/{member}") as response:
                assert response.status == 200, member
                doc = msgspec.json.decode(await response.read(), type=ScopeDetail)
            assert (doc.axis, doc.name) == ("domain", "microsoft")
            assert doc.windows[0].delayed == 15
            async with session.get(f"{base}/domain/{member}") as response:
                assert response.status == 200, member
                assert 'data-api="../api/v1/domain/microsoft"' in await response.text()
        async with session.get(f"{base}/domain/live.com") as response:
            assert response.status == 404


async def test_the_longest_group_name_s_page_is_reachable_from_its_link() -> None:
    """A group's name is any printable text the config gives, its page /domain/NAME
    escaped: at its longest (80 characters of four bytes each) the link still fits
    the request line sesd reads (4 KiB), on the page and in the JSON."""
    name = "\U0001f4e7" * 80
    w = world(f'[domains]\ngroups = {{ "{name}" = ["outlook.com"] }}\n', now=NOW)
    feed(w, spike(NOW), NOW)
    async with serving(w) as (session, base):
        async with session.get(f"{base}/api/v1/status") as response:
            doc = msgspec.json.decode(await response.read(), type=Status)
        (row,) = [r for r in doc.scopes[0].items if r.name == name]
        for path in (row.link, "/api/v1" + row.link):
            async with session.get(base + path) as response:
                assert response.status == 200


async def test_a_domain_past_max_tracked_is_said_to_count_under_other() -> None:
    """With ``max_tracked`` domains counted, a new one counts under ``other``: its page
    said only "sesd counts no domain named yahoo.com", as if its mail were not
    counted at all. The page and the JSON say where it may be counted."""
    w = world("[domains]\nmax_tracked = 1\n", now=NOW)
    feed(w, spike(NOW), NOW)
    assert "other" in w.pipeline.ledger.by_domain.windows
    said = (
        "sesd counts no domain named yahoo.com (past [domains] max_tracked, 1, new "
        "domains count under other)"
    )
    async with serving(w) as (session, base):
        async with session.get(f"{base}/domain/yahoo.com") as response:
            assert response.status == 404
            assert said + "." in await response.text()
        async with session.get(f"{base}/api/v1/domain/yahoo.com") as response:
            assert response.status == 404
            assert msgspec.json.decode(await response.read()) == {"error": said}
