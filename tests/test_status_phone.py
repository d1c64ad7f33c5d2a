"""The status page's 404 in a real headless Chromium emulating a phone: laid out at the
phone's width, as the other pages are, not at a desktop's width shrunk to fit."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.browser import ON_THE_MODULES_LOOP, shared_browser  # noqa: F401 (fixture: browser)
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
