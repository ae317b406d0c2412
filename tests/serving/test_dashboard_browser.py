"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Logs in by pasting a token, opens each of the five tabs and checks that plotly drew charts
with data points; saves a screenshot per tab under tmp_path. Nothing is installed at run time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TABS = {
    "growth": ["chart-growth-new", "chart-growth-cumulative"],
    "activity": [
        "chart-activity-types",
        "chart-activity-active",
        "chart-activity-dau",
        "chart-activity-heatmap",
    ],
    "demographics": ["chart-demo-pet_species", "chart-demo-gender", "chart-demo-country"],
    "service": ["chart-service-bookings", "chart-service-revenue"],
    "retention": ["chart-retention-cohorts", "chart-retention-monthly"],
}


@pytest.mark.slow
def test_dashboard_renders_every_tab(live_server, token, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), (
        "install Debian's chromium (apt-get install chromium); .ci/run does"
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            console_errors: list[str] = []
            page.on(
                "console", lambda m: console_errors.append(m.text) if m.type == "error" else None
            )
            page.goto(f"{live_server}/dashboard")
            # A wrong token is refused with a message.
            page.fill("#token", "not-a-token")
            page.click("#login-button")
            page.wait_for_function(
                "document.getElementById('login-error').textContent.includes('401')"
            )
            page.fill("#token", token(role="analyst", sub="browser-test"))
            page.click("#login-button")
            page.wait_for_selector("#app", state="visible")
            # Filters were filled from the publication: one year up to the high-water mark.
            page.wait_for_function("document.getElementById('f-end').value === '2024-04-10'")
            for tab, charts in TABS.items():
                page.click(f"#tabs button[data-tab='{tab}']")
                page.wait_for_selector(f"#panel-{tab}[data-rendered='true']", timeout=20000)
                for chart in charts:
                    traces = page.evaluate(
                        "(id) => { const el = document.getElementById(id);"
                        " return el.classList.contains('js-plotly-plot') ? el.data.length : -1; }",
                        chart,
                    )
                    points = int(page.get_attribute(f"#{chart}", "data-points") or 0)
                    assert traces > 0 and points > 0, (tab, chart, traces, points)
                    assert page.locator(f"#{chart} .main-svg").count() > 0, (tab, chart)
                page.screenshot(path=str(tmp_path / f"dashboard-{tab}.png"), full_page=True)
                assert (tmp_path / f"dashboard-{tab}.png").stat().st_size > 10_000
            # A demographic filter narrows the activity tab's distinct-customer line (women: 1,2,3,2).
            page.click("#tabs button[data-tab='activity']")
            page.select_option("#f-gender", ["female"])
            page.click("#apply")
            page.wait_for_function(
                "JSON.stringify(document.getElementById('chart-activity-active').data[0].y) === '[1,2,3,2]'",
                timeout=20000,
            )
            # Report files are listed with download buttons.
            assert page.locator("button.download").count() == 3
            with page.expect_download() as dl:
                page.locator("button.download").first.click()
            saved = tmp_path / dl.value.suggested_filename
            dl.value.save_as(saved)
            assert saved.read_bytes().startswith(b"period_start,new_customers")
            assert page.evaluate("sessionStorage.getItem('petpro_token')").count(".") == 2
            assert not [e for e in console_errors if "401" not in e], console_errors
        finally:
            browser.close()
