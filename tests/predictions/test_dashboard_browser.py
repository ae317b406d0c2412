"""The dashboard's Customers tab in a real headless Chromium (Debian's, driven by Playwright),
on the real scored publication: distributions drawn, the explorer's table equal to the API's
exact counts, a three-dimension exploration, and the customer view of one customer."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving.auth import mint_token

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture
def server(predicted) -> Iterator[str]:
    import uvicorn

    from serving.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(predicted.settings), host="127.0.0.1", port=port,
                            log_level="warning")  # fmt: skip
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.mark.slow
def test_customers_tab_draws_predictions_and_the_customer_view(predicted, server, tmp_path: Path):
    from fastapi.testclient import TestClient
    from playwright.sync_api import sync_playwright

    from serving.app import create_app

    assert Path(CHROMIUM).exists(), "install Debian's chromium (apt-get install chromium)"
    token = mint_token(predicted.settings, role="analyst", sub="browser-test")
    api = TestClient(create_app(predicted.settings))
    auth = {"Authorization": f"Bearer {token}"}
    by_country = api.get("/v2/segments/explore?dims=country,churn_band&metric=customers",
                         headers=auth).json()["data"]  # fmt: skip
    someone = api.get("/v2/segments/explore?dims=rfm_segment", headers=auth).json()
    assert someone["data"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            # A script that fails to load (e.g. two tabs declaring one name) is a page error.
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{server}/dashboard")
            page.fill("#token", token)
            page.click("#login-button")
            page.wait_for_selector("#app", state="visible")
            page.click("#tabs button[data-tab='customers']")
            page.wait_for_selector("#panel-customers[data-rendered='true']", timeout=30000)
            for chart in ("chart-customers-churn", "chart-customers-clv", "chart-customers-rfm",
                          "chart-customers-explore"):  # fmt: skip
                points = int(page.get_attribute(f"#{chart}", "data-points") or 0)
                assert points > 0 and page.locator(f"#{chart} .main-svg").count() > 0, chart
            # The default exploration (country x churn band, customers) shows the API's exact counts.
            cells = page.eval_on_selector_all(
                "#explore-table tr",
                "rows => rows.slice(1).map(r => [...r.cells].map(c => c.textContent))",
            )
            assert cells == [
                [r["country"], r["churn_band"], str(r["customers"])] for r in by_country
            ]
            page.screenshot(path=str(tmp_path / "customers.png"), full_page=True)
            # Three dimensions and a per-currency metric.
            page.select_option("#x-dim1", "rfm_segment")
            page.select_option("#x-dim2", "gender")
            page.select_option("#x-dim3", "age_group")
            page.select_option("#x-metric", "avg_expected_value_365d")
            page.click("#explore")
            page.wait_for_function(
                "document.querySelector('#explore-table tr').textContent.includes('age_group')"
            )
            # The customer view of the customer with the highest 365-day expected transactions.
            top = api.get("/v2/segments/explore?dims=churn_band", headers=auth)
            assert top.status_code == 200
            activity = api.get("/activities/recent?limit=1",
                               headers={"Authorization": "Bearer " + mint_token(predicted.settings, role="admin")})  # fmt: skip
            customer = activity.json()["data"][0]["customer_id"]
            page.fill("#customer-id", customer)
            page.click("#customer-lookup")
            page.wait_for_selector("#customer-activity tr:nth-child(2)", timeout=20000)
            assert customer in page.inner_text("#customer-view")
            page.screenshot(path=str(tmp_path / "customer-view.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()
