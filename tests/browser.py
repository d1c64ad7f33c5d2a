"""A real headless Chromium (the system's, driven by Playwright) watching what a page
does: its console, its errors, its dialogs and every request it makes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Request,
    async_playwright,
    expect,
)

from tests.conftest import require_tool

__all__ = ["Watched", "at_least", "chromium", "opened", "refreshed", "watched"]


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
