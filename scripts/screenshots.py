"""Take the documentation's screenshots: every dashboard tab and the Dagster asset graph.

Run after `petpro demo` (same PETPRO_HOME): `.venv/bin/python scripts/screenshots.py`. It
starts `petpro serve` and `petpro ui` on free local ports, signs in to the dashboard with a
freshly minted analyst token, opens each tab the page offers (the tab list is read from the
page, so a new tab gets its screenshot without editing this file), waits until the tab says
it has rendered, and saves `docs/dashboard-<tab>.png`; then it opens Dagster's global asset
lineage and saves `docs/dagster-asset-graph.png`. Debian's /usr/bin/chromium is driven by
Playwright (installed by `make system`); nothing is downloaded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PETPRO = Path(sys.executable).with_name("petpro")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def started(cmd: list[str], url: str, timeout: float = 180.0) -> Iterator[None]:
    """Run ``cmd`` in its own process group until ``url`` answers; stop the group after."""
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        f"{cmd[1]} did not start ({url}: {exc}); is PETPRO_HOME a demo home?"
                    ) from None
                time.sleep(1)
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def dashboard(page: Page, base: str) -> list[Path]:
    token = subprocess.run(
        [str(PETPRO), "token", "--role", "analyst", "--sub", "screenshots"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    page.goto(f"{base}/dashboard")
    page.fill("#token", token)
    page.click("#login-button")
    page.wait_for_selector("#app", state="visible")
    saved = []
    tabs = page.eval_on_selector_all("#tabs button[data-tab]", "bs => bs.map(b => b.dataset.tab)")
    for tab in tabs:
        page.click(f"#tabs button[data-tab='{tab}']")
        page.wait_for_selector(f"#panel-{tab}[data-rendered='true']", timeout=60_000)
        page.wait_for_timeout(500)  # plotly's transitions
        path = DOCS / f"dashboard-{tab}.png"
        # From the header to the end of the tab's panel (the report list below is the same
        # on every tab).
        box = page.locator(f"#panel-{tab}").bounding_box()
        height = (box["y"] + box["height"] + 16) if box else 1000
        page.screenshot(
            path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": 1400, "height": height}
        )
        saved.append(path)
    return saved


def asset_graph(page: Page, base: str) -> Path:
    page.goto(f"{base}/asset-groups", wait_until="networkidle")
    page.wait_for_timeout(5_000)  # the graph lays itself out after the data arrives
    skip = page.get_by_role("button", name="Skip")  # the UI's first-visit newsletter dialog
    if skip.count():
        skip.first.click()
        page.wait_for_timeout(1_000)
    path = DOCS / "dagster-asset-graph.png"
    page.screenshot(path=str(path))
    return path


def main() -> None:
    from playwright.sync_api import sync_playwright

    serve_port, ui_port = free_port(), free_port()
    serve = [str(PETPRO), "serve", "--port", str(serve_port), "--log-level", "warning"]
    ui = [str(PETPRO), "ui", "--port", str(ui_port)]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            with started(serve, f"http://127.0.0.1:{serve_port}/health"):
                saved = dashboard(page, f"http://127.0.0.1:{serve_port}")
            with started(ui, f"http://127.0.0.1:{ui_port}/server_info"):
                page.set_viewport_size({"width": 1800, "height": 1100})
                saved.append(asset_graph(page, f"http://127.0.0.1:{ui_port}"))
        finally:
            browser.close()
    for path in saved:
        print(path.relative_to(REPO))


if __name__ == "__main__":
    main()
