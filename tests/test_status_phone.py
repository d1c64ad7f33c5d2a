"""The status page in a real headless Chromium emulating a phone: laid out at the
phone's width, not at a desktop's width shrunk to fit."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.browser import (  # noqa: F401 (fixture: browser)
    ON_THE_MODULES_LOOP,
    opened,
    shared_browser,
)
from tests.test_status_page import hostile_world, serving

pytestmark = [pytest.mark.timeout(90), ON_THE_MODULES_LOOP]


async def test_a_404_page_on_a_phone_is_laid_out_at_the_phones_width(browser: Browser) -> None:
    """A link to a domain sesd does not count, opened on a 375 px phone: the 404 page is
    laid out 375 px wide, as a label's page is. Without a viewport meta a phone's
    browser lays a page out 980 px wide and shrinks it: the words of the one thing the
    page says come out a third of their size."""
    context = await browser.new_context(
        viewport={"width": 375, "height": 667}, is_mobile=True, device_scale_factor=2
    )
    try:
        page = await context.new_page()
        async with serving(hostile_world()) as (_, base):
            widths = {}
            for path in ("/domain/outlook.com?refresh=0", "/domain/nowhere.example"):
                response = await page.goto(base + path)
                assert response is not None
                widths[response.status] = await page.evaluate("window.innerWidth")
    finally:
        await context.close()
    assert widths == {200: 375, 404: 375}


async def test_a_long_setting_waiting_for_a_restart_wraps_at_a_phones_width(
    browser: Browser,
) -> None:
    """An account's name is up to 64 letters, digits, '_' and '.', none a place a line
    may break: moved to another role by a reload, it is named in the header's config
    line. On a 375 px phone the line breaks inside it, as the server draws it and as
    the script redraws it: a word wider than the screen laid the whole page out wider
    and shrank it, every figure on it smaller."""
    w = hostile_world()
    w.metrics.waiting_for_restart(["accounts." + "prod_eu_west_1.transactional_" * 2 + "x" * 6])
    context = await browser.new_context(
        viewport={"width": 375, "height": 667}, is_mobile=True, device_scale_factor=2
    )
    try:
        page = await context.new_page()
        async with serving(w) as (_, base):
            for path, refreshes in (("/?refresh=300", 0), ("/?refresh=0.25", 1)):
                await opened(page, base + path, refreshes)
                await expect(page.locator("#header .facts").first).to_contain_text("x" * 6)
                width = await page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
                assert width == [375, 375]
    finally:
        await context.close()
