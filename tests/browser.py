"""A real headless Chromium (the system's, driven by Playwright) watching what a page
does: its console, its errors, its dialogs and every request it makes.

A module of browser stories shares one Chromium (the fixture ``browser``): starting
Playwright's driver and the browser takes about two seconds, a page in a context of
its own a fraction of that. Each story still gets a fresh context (``watched``): no
cookie, storage or cache of one story reaches the next. The browser is tied to the
event loop it was started on, so such a module runs its tests on one loop for the
module (``ON_THE_MODULES_LOOP``), and its SQS client (``sqs``) is made on that loop
too."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Request,
    async_playwright,
    expect,
)

from sesd.commands.demo.localsqs import LocalSqs
from tests.conftest import aws_client, require_tool

__all__ = [
    "ON_THE_MODULES_LOOP",
    "Watched",
    "at_least",
    "chromium",
    "opened",
    "refreshed",
    "shared_browser",
    "sqs_on_the_modules_loop",
    "watched",
]

#: A module's tests on one event loop, the one its shared browser was started on.
ON_THE_MODULES_LOOP = pytest.mark.asyncio(loop_scope="module")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless (skipped without it, failed in CI: require_tool)."""
    path = require_tool("chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path)
        try:
            yield browser
        finally:
            await browser.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module", name="browser")
async def shared_browser() -> AsyncIterator[Browser]:
    """One Chromium for the module's stories (each opens its own context)."""
    async with chromium() as found:
        yield found


@pytest_asyncio.fixture(loop_scope="module", name="sqs")
async def sqs_on_the_modules_loop(local_sqs: LocalSqs) -> AsyncIterator[Any]:
    """The suite's ``sqs`` client, made on the module's loop: a client made on another
    loop would serve a test on this one with connections that loop does not own."""
    async with aws_client("sqs", local_sqs) as client:
        yield client


@dataclass
class Watched:
    """A page, and what it did."""

    page: Page
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    hosts: set[str] = field(default_factory=set)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.console.append(f"{message.type}: {message.text}")

    async def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    def _request(self, request: Request) -> None:
        self.hosts.add(urlsplit(request.url).netloc)

    def assert_clean(self, host: str) -> None:
        """No console error or warning, no uncaught error, no dialog, and no request to
        any host but ``host``."""
        assert self.console == []
        assert self.errors == []
        assert self.dialogs == []
        assert self.hosts == {host}


@asynccontextmanager
async def watched(browser: Browser) -> AsyncIterator[Watched]:
    """A fresh page whose console, errors, dialogs and requests are recorded."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    found = Watched(page)
    page.on("console", found._console)
    page.on("pageerror", lambda error: found.errors.append(str(error)))
    page.on("dialog", found._dialog)
    page.on("request", found._request)
    try:
        yield found
    finally:
        await context.close()


def at_least(n: int) -> re.Pattern[str]:
    """A whole number at least ``n`` (below a million), for an attribute that counts."""
    return re.compile("^(" + "|".join(str(i) for i in range(n, 1000)) + r"|\d{4,6})$")


async def opened(page: Page, url: str, refreshes: int) -> None:
    """Open ``url`` and wait until its script has redrawn it ``refreshes`` times (0: the
    page as the server drew it)."""
    await page.goto(url)
    await expect(page.locator("body")).to_have_attribute("data-refreshes", at_least(refreshes))


async def refreshed(page: Page, more: int) -> None:
    """Until the page's script has redrawn it ``more`` times from now."""
    body = page.locator("body")
    count = int(await body.get_attribute("data-refreshes") or 0)
    await expect(body).to_have_attribute("data-refreshes", at_least(count + more))
