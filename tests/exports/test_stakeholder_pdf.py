"""The stakeholder PDF: every printed figure equals its mart, pages render, bytes are reproducible.

The figures are read back from the PDF with ``pdftotext`` and compared with values the test
reads from the published DuckDB file itself (``tests/exports/pdf_oracle.py``), never with what
the report code computed; changes against the previous period and a year earlier are derived
again from those mart values. Runs on the hand-built publication (sparse data: missing
periods, ``n/a``) and on the real pipeline's publication (seeded source → ingestion → dbt).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from PIL import Image

from exports.run import export_reports
from petpro.publication import current_version
from petpro.settings import REPO_ROOT, Settings
from tests.exports import pdf_oracle as oracle
from tests.exports.publication import HWM, PUBLISHED_AT, RUN_ID
from warehouse.publish import publish

EDITIONS = ("monthly", "weekly")
GRAIN = {"monthly": "month", "weekly": "week"}


def _published_db(settings: Settings) -> Path:
    version = current_version(settings.published_dir)
    assert version is not None
    return version.database


def _tiles_of(page: str) -> dict[str, list[str]]:
    """Title → the six lines after it (period, value, two label/figure pairs)."""
    lines = [line.strip() for line in page.splitlines()]
    titles = {"New customers", "Active customers", "Bookings", "Bookings created", "Repeat rate"}
    titles.add("Retention")
    found = {}
    for i, line in enumerate(lines):
        if line in titles or re.fullmatch(r"Net revenue \([A-Z]{3}\)", line):
            found[line] = lines[i + 1 : i + 7]
    return found


def _check_figure(unit: str, printed: str, expected: object) -> None:
    if unit == "count":
        assert oracle.parse_count(printed) == (None if expected is None else int(expected))
    elif unit == "rate":
        got = oracle.parse_rate(printed)
        if expected is None:
            assert got is None
        else:
            assert got is not None and abs(got - float(expected)) <= 0.0005 + 1e-12, printed
    else:
        got = oracle.parse_money(printed)
        assert got == expected, (printed, expected)


def _check_change(unit: str, printed: str, current: object, base: object) -> None:
    if unit == "rate":
        expected, suffix = oracle.points(current, base), "pp"
    else:
        cur = current[1] if isinstance(current, tuple) else current
        bas = base[1] if isinstance(base, tuple) else base
        expected, suffix = oracle.relative(cur, bas), "%"
    got = oracle.parse_change(printed)
    if expected is None:
        assert got is None, printed
    else:
        assert got is not None and got[1] == suffix, printed
        assert abs(got[0] - expected) <= 0.05 + 1e-9, (printed, expected)


def check_edition(
    pdf: Path,
    db: Path,
    edition: str,
    hwm: datetime,
    tz: str,
    run_id: str,
    *,
    charts_have_data: bool = True,
) -> None:
    """Every figure of the cover, the tiles and the movers equals the marts of ``db``."""
    as_of = hwm.astimezone(ZoneInfo(tz)).date()
    e = oracle.edition_as_of(GRAIN[edition], as_of)
    texts = oracle.pages(pdf)
    assert len(texts) == 6
    marts = oracle.Marts(db)
    epoch_us = marts.value("select max(epoch_us(published_at)) from _publication")
    published_at = datetime.fromtimestamp(epoch_us / 1e6, UTC)
    try:
        # ---- cover: period, publication, high-water mark ------------------------------
        cover = texts[0]
        lines = [line.strip() for line in cover.splitlines()]
        local = ZoneInfo(tz)
        facts = {
            f"Period {e.long_label()}",
            f"Publication {run_id}",
            f"Data high-water mark {hwm.astimezone(local):%Y-%m-%d %H:%M:%S} {tz}",
        }
        facts.add(f"Published at {published_at.astimezone(local):%Y-%m-%d %H:%M:%S} {tz}")
        assert facts <= set(lines), sorted(facts - set(lines))
        headline = f"{edition.capitalize()} edition · {e.long_label()}"
        assert headline in lines

        # ---- KPI tiles ------------------------------------------------------------------
        expected = marts.tiles(e)
        tiles = _tiles_of(cover)
        assert set(tiles) == {t.title for t in expected}
        consumed = set()
        for t in expected:
            block = tiles[t.title]
            i = lines.index(t.title)
            consumed.update(range(i, i + 7))
            assert block[0] == t.period, (t.title, block)
            _check_figure(t.unit, block[1], t.value)
            for (label, base), (label_line, figure_line) in zip(
                t.comparisons, [block[2:4], block[4:6]], strict=True
            ):
                assert label_line == f"vs {label}", (t.title, label_line)
                match = re.fullmatch(r"(.+) \((.+)\)", figure_line)
                assert match, figure_line
                _check_figure(t.unit, match.group(1), base)
                _check_change(t.unit, match.group(2), t.value, base)

        # ---- no other number on the cover than the checked ones -----------------------
        rest = " ".join(
            line
            for i, line in enumerate(lines)
            if i not in consumed and line not in facts and line != headline
        )
        rest = re.sub(r"Page 1 of 6$", "", rest).replace(run_id, "")
        for label in (e.label(), e.label(e.previous()), e.label(e.year_earlier())):
            rest = rest.replace(label, "")
        rest = rest.replace(oracle.month_label(e.month), "")
        rest = re.sub(r"\b" + re.escape(oracle.MONTHS[e.month.month - 1]) + r" \d{4}\b", "", rest)
        assert not re.search(r"\d", rest), rest

        # ---- largest movers -------------------------------------------------------------
        changed = oracle.page_with(texts, "What changed")
        assert (
            f"The 10 series that changed most from {e.label(e.previous())} to {e.label()}, "
            f"by relative change; series below 10 in {e.label(e.previous())} are left out "
            "as noise." in " ".join(changed.splitlines())
        )
        number = r"(?:[A-Z]{3} )?-?[\d,]+(?:\.\d\d)?"
        rows = [
            m.groups()
            for m in (
                re.fullmatch(rf"(.+?) ({number}) ({number}) ([+-]\d+\.\d%)", line.strip())
                for line in changed.splitlines()
            )
            if m
        ]
        movers = marts.movers(e)
        assert [r[0] for r in rows] == [m[0] for m in movers]
        for (_label, before, after, change), (_, b, n, ccy, rel) in zip(rows, movers, strict=True):
            if ccy is None:
                assert oracle.parse_count(before) == b and oracle.parse_count(after) == n
            else:
                assert oracle.parse_money(before) == (ccy, Decimal(b))
                assert oracle.parse_money(after) == (ccy, Decimal(n))
            assert abs(float(change[:-1]) - rel) <= 0.05 + 1e-9

        # ---- charts: axis labels with units; appendix: every tile defined -----------------
        unit = GRAIN[edition]
        for needle in (
            ()
            if not charts_have_data
            else (
                f"New customers per {unit}",
                "Cumulative customers",
                "Active customers",
                "Months since signup (0 = the signup month)",
                "Signup cohort",
            )
        ):
            # Rotated axis labels come out one word a line: compare on collapsed whitespace.
            assert any(needle in " ".join(t.split()) for t in texts[1:4]), needle
        appendix = " ".join(texts[5].splitlines())
        for title in ("New customers", "Active customers", "Net revenue", "Repeat rate"):
            assert title in appendix
        assert "Retention" in appendix and "mart_retention_monthly.retention_rate" in appendix
    finally:
        marts.close()


def _render_pages(pdf: Path, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(out / "p")], check=True)
    return sorted(out.glob("p-*.png"))


def check_renders(pdf: Path, out: Path) -> None:
    """pdftoppm renders every page; each has ink, and nothing runs into the page edge."""
    pngs = _render_pages(pdf, out)
    assert len(pngs) == 6
    for png in pngs:
        image = Image.open(png).convert("L")
        w, h = image.size
        dark = sum(1 for v in image.getdata() if v < 160)
        assert dark > 200, f"{png.name} looks blank"
        edge = max(2, w // 40)  # ~5 mm of an A4 page
        for box in ((0, 0, edge, h), (w - edge, 0, w, h), (0, 0, w, edge)):
            strip = image.crop(box)
            assert min(strip.getdata()) > 200, f"{png.name}: ink at the page edge {box}"


# ---- hand-built publication --------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    from petpro.settings import get_settings
    from tests.exports.publication import build_publication

    home = tmp_path_factory.mktemp("pdf_home")
    settings = get_settings(home=home, timezone="UTC")
    build_publication(settings)
    return settings, export_reports(settings, formats=["pdf"])


@pytest.mark.parametrize("edition", EDITIONS)
def test_hand_built_pdf_numbers_equal_marts(built, edition):
    settings, result = built
    pdf = result.pdf(edition).path
    # The fixture has no weekly rows before the edition's week: its weekly charts are empty.
    check_edition(
        pdf,
        _published_db(settings),
        edition,
        HWM,
        "UTC",
        RUN_ID,
        charts_have_data=edition == "monthly",
    )
    # The sparse fixture has periods before the data began: they print n/a.
    assert "vs Feb 2023" in oracle.pages(pdf)[0] or edition == "weekly"


def test_hand_built_periods_and_manifest(built):
    _, result = built
    manifest = json.loads(result.manifest_path.read_text())
    entries = {e["edition"]: e for e in manifest["files"]}
    # As of 2024-03-20: February is the last complete month, 11–17 March the last ISO week.
    assert entries["monthly"]["period"] == {
        "grain": "month",
        "start": "2024-02-01",
        "end": "2024-02-29",
        "label": "Feb 2024",
    }
    assert entries["weekly"]["period"]["start"] == "2024-03-11"
    assert entries["weekly"]["period"]["end"] == "2024-03-17"
    for entry in entries.values():
        data = (result.folder / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data) < 2_000_000
        assert entry["format"] == "pdf" and entry["report"] == "stakeholder_report"


def test_pages_render_and_fit(built, tmp_path):
    _, result = built
    for edition in EDITIONS:
        check_renders(result.pdf(edition).path, tmp_path / edition)


def test_document_dates_are_the_publication_time(built):
    _, result = built
    info = subprocess.run(
        ["pdfinfo", "-isodates", str(result.pdf("monthly").path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    created = datetime.fromisoformat(fields["CreationDate"].strip().replace("Z", "+00:00"))
    assert created == PUBLISHED_AT
    assert "monthly edition, Feb 2024" in fields["Title"]
    assert fields["Pages"].strip() == "6"


def test_insights_absent_says_so(built):
    _, result = built
    changed = oracle.page_with(oracle.pages(result.pdf("monthly").path), "What changed")
    assert "Not in this publication: anomaly detection (mart_metric_anomalies)" in changed
    assert "Not in this publication: trend statistics (mart_metric_trends)" in changed


def test_insights_present_are_printed_from_their_marts(published, tmp_path):
    """With the insights marts in the publication, their rows of the period are printed."""
    settings = published.settings
    con = duckdb.connect(str(settings.build_db))
    try:
        con.execute(
            "create table mart_metric_anomalies (date DATE, metric VARCHAR, observed DOUBLE, "
            "expected DOUBLE, lower DOUBLE, upper DOUBLE, score DOUBLE, direction VARCHAR, "
            "is_anomaly BOOLEAN, method VARCHAR)"
        )
        con.execute(
            "insert into mart_metric_anomalies values "
            "(DATE '2024-02-10', 'dau', 41, 12.5, 4.25, 20.75, 4.1, 'up', true, 'stl_mad'),"
            "(DATE '2024-02-11', 'new_customers', 0, 3.5, 1, 6, -2.3, 'down', true, 'stl_mad'),"
            "(DATE '2024-02-12', 'dau', 11, 12, 4, 20, 0.2, null, false, 'stl_mad'),"
            "(DATE '2024-01-10', 'dau', 90, 12, 4, 20, 9.9, 'up', true, 'stl_mad')"
        )
        con.execute(
            "create table mart_metric_trends (metric VARCHAR, interval VARCHAR, "
            "period_start DATE, value DOUBLE, change_vs_previous DOUBLE, "
            "change_vs_year_earlier DOUBLE, slope DOUBLE, p_value DOUBLE, label VARCHAR)"
        )
        con.execute(
            "insert into mart_metric_trends values "
            "('new_customers', 'month', DATE '2024-02-01', 15, 0.5, null, 2.5, 0.012, 'rising'),"
            "('dau', 'week', DATE '2024-02-05', 7, 0.1, null, 0.1, 0.5, 'flat')"
        )
        con.execute("checkpoint")
    finally:
        con.close()
    publish(
        settings,
        run_id="run-with-insights",
        published_at=datetime(2024, 3, 20, 17, 0, tzinfo=UTC),
        high_water_mark=HWM,
    )
    result = export_reports(settings, formats=["pdf"], editions=["monthly"], out_dir=tmp_path / "o")
    text = " ".join(
        oracle.page_with(oracle.pages(result.pdf("monthly").path), "What changed").split()
    )
    # Anomalies of February only, largest |score| first; the January one and non-anomalies not.
    assert "2 anomalies flagged in Feb 2024; the 2 with the largest scores:" in text
    first = "2024-02-10 dau 41 12.50 4.25 to 20.75 up 4.10"
    second = "2024-02-11 new_customers 0 3.50 1 to 6 down -2.30"
    assert first in text and second in text and text.index(first) < text.index(second)
    assert "2024-01-10" not in text
    # The monthly trend row of February; the weekly one is not for this edition.
    assert "new_customers 15 +50.0% n/a 2.50 0.012 rising" in text
    assert "dau 7" not in text
    manifest = json.loads(result.manifest_path.read_text())
    assert {"mart_metric_anomalies", "mart_metric_trends"} <= set(manifest["files"][0]["sources"])


# ---- determinism -------------------------------------------------------------------------------
def test_same_publication_same_bytes_across_processes(published, tmp_path):
    """Two separate processes (different hash seeds) export byte-identical PDFs."""
    digests = []
    for seed, name in (("1", "a"), ("2", "b")):
        env = {**os.environ, "PETPRO_HOME": str(published.home), "PYTHONHASHSEED": seed}
        env.pop("PETPRO_TIMEZONE", None)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli",
                "export",
                "--format",
                "pdf",
                "--out",
                str(tmp_path / name),
            ],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        digests.append({e["file"]: e["sha256"] for e in manifest["files"]})
    assert digests[0] == digests[1]
    assert set(digests[0]) == {"stakeholder_report_monthly.pdf", "stakeholder_report_weekly.pdf"}


def test_pdf_only_export_keeps_the_folder_tables(published):
    settings = published.settings
    first = export_reports(settings, reports=["customer_growth"], formats=["csv"])
    before = (first.folder / "customer_growth.csv").read_bytes()
    second = export_reports(settings, formats=["pdf"], editions=["weekly"], keep_other_files=True)
    assert second.folder == first.folder
    assert sorted(p.name for p in second.folder.iterdir()) == [
        "customer_growth.csv",
        "manifest.json",
        "stakeholder_report_weekly.pdf",
    ]
    assert (second.folder / "customer_growth.csv").read_bytes() == before
    manifest = json.loads(second.manifest_path.read_text())
    assert [e["file"] for e in manifest["files"]] == [
        "customer_growth.csv",
        "stakeholder_report_weekly.pdf",
    ]
    assert second.kept == ["customer_growth.csv"]


# ---- listed and downloadable in the API ---------------------------------------------------------
def test_api_lists_and_serves_the_pdfs(built):
    from fastapi.testclient import TestClient

    from serving.app import create_app

    settings, result = built
    key = "analyst-key-for-pdf-tests"
    api = settings.model_copy(
        update={
            "api_keys": f"pdf-tests:analyst:{hashlib.sha256(key.encode()).hexdigest()}",
            "jwt_secret": "s" * 32,
        }
    )
    with TestClient(create_app(api)) as client:
        body = client.get("/reports", headers={"X-API-Key": key}).json()
        files = {f["file"]: f for f in body["files"]}
        for edition in EDITIONS:
            name = f"stakeholder_report_{edition}.pdf"
            assert files[name]["format"] == "pdf"
            r = client.get(files[name]["url"], headers={"X-API-Key": key})
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/pdf"
            assert hashlib.sha256(r.content).hexdigest() == result.pdf(edition).sha256
            assert (
                f"stakeholder_report_{edition}-2024-03-20.pdf" in r.headers["content-disposition"]
            )


# ---- the real pipeline's publication -----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("edition", EDITIONS)
def test_real_publication_pdf_numbers_equal_marts(pipeline, edition, tmp_path):
    settings = pipeline.settings
    folder = (settings.exports_dir / "latest").resolve()
    manifest = json.loads((folder / "manifest.json").read_text())
    record = manifest["publication"]
    pdf = folder / f"stakeholder_report_{edition}.pdf"
    hwm = datetime.fromisoformat(record["high_water_mark"])
    check_edition(pdf, _published_db(settings), edition, hwm, settings.timezone, record["run_id"])
    check_renders(pdf, tmp_path)
    assert pdf.stat().st_size < 2_000_000
    # Aggregates only: no customer id or e-mail address of the source reaches the document.
    import psycopg

    text = "\n".join(oracle.pages(pdf))
    with psycopg.connect(pipeline.source_url) as conn:
        people = conn.execute("select id::text, email from users limit 200").fetchall()
    assert people and not [v for row in people for v in row if v and v in text]
    assert not re.search(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        text.replace(record["run_id"], ""),
    )
    # The real data has every comparison period of the month before, so no n/a there.
    assert oracle.edition_as_of(GRAIN[edition], hwm.date()).start < date.fromisoformat(
        manifest["report_date"]
    )
