"""A real headless Chromium: sign in, watch a batch progress, download its output.

Needs Debian's chromium at /usr/bin/chromium: skipped locally without it, a failure in CI.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from support.batches import chat_line
from support.services import unavailable
from support.stacks import Stack
from ui.dashboard import origin, submit

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LINES = 16
ANY = re.compile(".*")
STEP = 0.3  # seconds between lines finishing: the batch runs for ~5-6 s


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        unavailable("Chromium", FileNotFoundError(CHROMIUM))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_watch_a_batch_and_download_its_output(stack: Stack, chromium: Browser) -> None:
    key = stack.new_key()
    client = stack.client(key)
    # the upstream timeout in tests is 2 s, so lines are slowed by a 429 asking for a retry after
    # a growing pause (honoured as a floor): line i finishes ~(i + 1) * STEP seconds in
    lines = [
        chat_line(
            f"w{i}",
            {"latency_ms": 300, "fail_times": 1, "status": 429, "retry_after": STEP * (i + 1)},
        )
        for i in range(LINES)
    ]
    context = chromium.new_context(viewport={"width": 1366, "height": 820}, accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(origin(stack) + "/ui")
        expect(page).to_have_url(origin(stack) + "/ui/login")
        page.fill("#api_key", key)
        page.click("button[type=submit]")
        expect(page).to_have_url(origin(stack) + "/ui")
        expect(page.locator(".empty")).to_contain_text("No batches yet")

        batch = submit(client, lines, metadata={"job": "browser-test"})
        page.reload()
        # from here on the list refreshes itself: the bar's value climbs without a reload
        page.evaluate("window.__not_reloaded = true")
        bar = page.locator(f'tr[data-batch="{batch.id}"] [role=progressbar]')
        text = page.locator(f'tr[data-batch="{batch.id}"] .ptext')
        seen: list[int] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            value = int(bar.get_attribute("aria-valuenow") or 0)
            if not seen or value != seen[-1]:
                seen.append(value)
                if 0 < value < LINES:
                    page.screenshot(path="/tmp/ui-browser-list-running.png", full_page=True)
            if value == LINES:
                break
            time.sleep(0.2)
        assert seen == sorted(seen), seen
        assert seen[-1] == LINES, seen
        assert any(0 < v < LINES for v in seen), seen  # seen part-way, then done: it moved
        expect(text).to_contain_text(f"{LINES} / {LINES}")
        assert page.evaluate("window.__not_reloaded") is True

        # the batch page, until completed, then the output file
        page.click(f'tr[data-batch="{batch.id}"] a')
        expect(page).to_have_url(origin(stack) + f"/ui/batches/{batch.id}")
        expect(page.locator(".page-head .badge")).to_have_text("completed", timeout=15_000)
        expect(page.locator("#live")).not_to_have_attribute("data-refresh", ANY)
        page.screenshot(path="/tmp/ui-browser-batch.png", full_page=True)
        with page.expect_download() as caught:
            page.click("a[data-download=output]")
        download = caught.value
        assert download.suggested_filename.endswith("_output.jsonl")
        with open(download.path(), "rb") as handle:
            assert len(handle.read().splitlines()) == LINES

        # everything shown is terminal: the list no longer refreshes
        page.click("nav.crumbs a")
        expect(page.locator(f'tr[data-batch="{batch.id}"] .badge')).to_have_text("completed")
        expect(page.locator("#live")).not_to_have_attribute("data-refresh", ANY)
    finally:
        context.close()
