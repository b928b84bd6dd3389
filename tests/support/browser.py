"""A headless Chromium page for the dashboard's browser tests: Debian's ``/usr/bin/chromium``
driven by Playwright (never Playwright's own browser download), with the flags a closed
machine needs: no sandbox (root in CI), no GPU, and no background networking, which would
otherwise try to reach Google's hosts at every start."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from playwright.async_api import Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.asynccontextmanager
async def browser_page(screenshots: Path) -> AsyncIterator[Page]:
    """A fresh page; if the block fails, a screenshot of the page is written to
    ``screenshots/failure.png`` first (the failure message names it)."""
    if not os.access(CHROMIUM, os.X_OK):
        raise AssertionError(
            f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)"
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            try:
                yield page
            except BaseException:
                os.makedirs(screenshots, exist_ok=True)
                shot = screenshots / "failure.png"
                with contextlib.suppress(Exception):
                    await page.screenshot(path=str(shot), full_page=True)
                print(f"browser test failed; screenshot at {shot}")
                raise
        finally:
            await browser.close()
