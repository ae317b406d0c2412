"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Logs in by pasting a token, opens each of the six tabs and checks that plotly drew charts
with data points and no cut-off axis labels; checks the KPI tiles, the marking of the
incomplete current period and the Insights tab's anomaly; saves a screenshot per tab under
tmp_path. Nothing is installed at run time.
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
    "insights": ["chart-insights-series"],
}

# Every axis tick label of a chart lies inside the chart's box (a cut-off label does not).
LABELS_OUTSIDE = """(id) => {
  const box = document.getElementById(id).getBoundingClientRect();
  const out = [];
  for (const t of document.querySelectorAll(`#${id} .xtick text, #${id} .ytick text, #${id} .y2tick text`)) {
    const r = t.getBoundingClientRect();
    if (r.width === 0) continue;
    if (r.left < box.left - 1 || r.right > box.right + 1) out.push(t.textContent);
  }
  return out;
}"""


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
            # A script block that fails to load (two blocks declaring one name) is a page error.
            page.on("pageerror", lambda exc: console_errors.append(str(exc)))
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
                    assert page.evaluate(LABELS_OUTSIDE, chart) == [], (tab, chart)
                page.screenshot(path=str(tmp_path / f"dashboard-{tab}.png"), full_page=True)
                assert (tmp_path / f"dashboard-{tab}.png").stat().st_size > 10_000
            # KPI tiles above the tabs: the latest complete week against the previous one.
            page.wait_for_selector("#kpis .kpi")
            tile = page.locator("#kpis .kpi[data-metric='bookings_created']")
            assert "122" in tile.inner_text()  # 20 + 2 + 3 x 20 + 30 + 10 in the week of 04-01
            # The current month (April 2024, data up to 04-10) is marked incomplete, not a drop.
            page.click("#tabs button[data-tab='growth']")
            assert page.get_attribute("#chart-growth-new", "data-incomplete") == "2024-04-01"
            assert page.locator("#growth-incomplete").is_visible()
            assert "still being recorded" in page.inner_text("#growth-incomplete")
            dashed = page.evaluate(
                "document.getElementById('chart-growth-new').data"
                ".filter((t) => t.line && t.line.dash === 'dot').map((t) => t.x)"
            )
            assert dashed == [["2024-03-01", "2024-04-01"]]
            # Insights: the hand-made bookings series has its one anomaly marked.
            page.click("#tabs button[data-tab='insights']")
            page.wait_for_selector("#panel-insights[data-rendered='true']")
            assert page.input_value("#f-insight-metric") == "bookings_created"
            assert page.get_attribute("#chart-insights-series", "data-anomalies") == "1"
            anomaly_x = page.evaluate(
                "document.getElementById('chart-insights-series').data"
                ".find((t) => t.name === 'anomaly').x"
            )
            assert anomaly_x == ["2024-04-02"]
            # An alert's link opens the Insights tab on its KPI.
            page.goto(f"{live_server}/dashboard#insights?metric=new_customers&date=2024-04-02")
            page.wait_for_selector("#panel-insights[data-rendered='true']", timeout=20000)
            assert page.input_value("#f-insight-metric") == "new_customers"
            page.goto(f"{live_server}/dashboard")
            page.wait_for_selector("#panel-growth[data-rendered='true']", timeout=20000)
            # A demographic filter narrows the activity tab's distinct-customer line (women: 1,2,3,2).
            page.click("#tabs button[data-tab='activity']")
            page.select_option("#f-gender", ["female"])
            page.click("#apply")
            # Complete months solid, the incomplete April dashed from March on: [1,2,3] + [3,2].
            page.wait_for_function(
                "JSON.stringify(document.getElementById('chart-activity-active').data.map((t) => t.y))"
                " === '[[1,2,3],[3,2]]'",
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
