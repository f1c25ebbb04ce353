"""The insight digest on a small simulated warehouse: its numbers against hand SQL over the facts, the
provenance check catching a planted wrong number, "no decisions yet", and the page rendered in headless
Chromium with every chart on screen."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pintel.digest import ProvenanceError, build_digest, metrics, render, write_digest
from pintel.digest.provenance import Evidence, check, claims
from pintel.settings import Settings, connect
from tests.support import browser
from tests.support.copilot import band, copilot_warehouse, probability


@pytest.fixture(scope="module")
def copilot(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = copilot_warehouse(small_warehouse, tmp_path_factory.mktemp("digest"))
    write_digest(settings.warehouse, settings.reports)
    return settings


def test_claims_read_numbers_as_a_reader_does() -> None:
    text = "DAU 1,234 on 2025-03-03 (v2, feature_3, W07), up 5.4%, -0.8 pp; Week-1 rate 0.031 at 14:00 UTC"
    assert [(str(c.value), c.percent) for c in claims(text)] == [
        ("1234", False),
        ("5.4", True),
        ("-0.8", True),
        ("0.031", False),
    ]


def test_check_matches_values_at_the_shown_precision() -> None:
    import pandas as pd

    evidence = Evidence()
    evidence.add("t", pd.DataFrame({"dau": [1234.4], "rate": [0.05437], "note": ["fell 31% since 06:00"]}))
    assert check("DAU 1,234, up 5.4%, fell 31%", evidence) == 3
    with pytest.raises(ProvenanceError, match="1,235"):
        check("DAU 1,235", evidence)


def test_digest_numbers_equal_hand_sql(copilot: Settings) -> None:
    md = (copilot.reports / "digest.md").read_text()
    assert (copilot.reports / "digest.html").exists()
    con = connect(copilot.warehouse, read_only=True)
    try:
        last = con.execute("select max(cast(event_at as date)) from marts.fct_events").fetchone()[0]
        dau = con.execute(
            "select count(distinct (user_id, cast(event_at as date))) / 7.0 from marts.fct_events "
            "where cast(event_at as date) > ? - 7 and cast(event_at as date) <= ?",
            [last, last],
        ).fetchone()[0]
        users = [u for (u,) in con.execute("select user_id from ml.churn_scores_v2").fetchall()]
    finally:
        con.close()
    assert f"week ending {last:%A %Y-%m-%d}" in md
    assert f"Daily active users averaged {round(dau):,} a day" in md
    high = sum(band(probability(u)) == "high" for u in users)
    assert f"{high:,} of {len(users):,} scored users" in md
    assert "2 decisions in the 7 days to 2025-03-03: 1 monitor, 1 rollback." in md
    assert "**success** — report_created per android user recovered by 27%" in md
    for chart in ("kpis", "retention", "churn", "decisions"):
        assert (copilot.reports / "digest" / f"{chart}.svg").read_text().startswith("<?xml")


def test_provenance_check_fails_on_a_planted_wrong_number(copilot: Settings, monkeypatch) -> None:
    digest = build_digest(copilot.warehouse)
    kpis = next(s for s in digest.sections if s.key == "kpis")
    true_line = kpis.lines[0]
    wrong = claims(true_line)[0]
    kpis.lines[0] = true_line.replace(wrong.text, f"{int(wrong.value) + 3:,}", 1)
    with pytest.raises(ProvenanceError) as caught:
        render(digest.sections, digest.evidence, str(copilot.warehouse))
    assert f"{int(wrong.value) + 3:,}" in str(caught.value)
    # a template that formats a number wrongly fails the build, and the last good digest stays in place
    before = (copilot.reports / "digest.html").read_bytes()
    monkeypatch.setattr(metrics, "count", lambda value: f"{round(float(value)) + 1:,}")
    with pytest.raises(ProvenanceError, match="not in the tables it read"):
        write_digest(copilot.warehouse, copilot.reports)
    assert (copilot.reports / "digest.html").read_bytes() == before


def test_no_decisions_yet_and_missing_models_are_said(small_warehouse: Settings, tmp_path: Path) -> None:
    settings = copilot_warehouse(small_warehouse, tmp_path, decisions=False)
    md = build_digest(settings.warehouse).markdown
    assert "No decisions yet" in md
    assert "The experiment readouts are not built yet." in md


@pytest.mark.skipif(browser.chromium() is None and not os.environ.get("CI"), reason="chromium is not installed")
def test_digest_renders_in_headless_chromium(copilot: Settings, tmp_path: Path) -> None:
    assert browser.chromium(), "chromium is missing: `make browser` (part of `make test`) installs Debian's chromium"
    page = tmp_path / "digest.html"
    shutil.copy2(copilot.reports / "digest.html", page)
    width, height = 1100, 6000
    probe = browser.chart_boxes(page, width, height)
    assert probe["height"] <= height
    charts = {c["chart"]: c for c in probe["charts"]}
    assert {"kpis", "retention", "churn", "decisions"} <= set(charts)
    shot = Image.open(browser.screenshot(page.as_uri(), tmp_path / "digest.png", width, height)).convert("RGB")
    for name, chart in charts.items():
        assert chart["complete"] and chart["natural"][0] > 100, f"{name} chart did not load: {chart}"
        box = chart["box"]
        assert box["width"] > 300 and box["height"] > 100, f"{name} chart is not on screen: {box}"
        crop = shot.crop((int(box["left"]), int(box["top"]), int(box["right"]), int(box["bottom"])))
        pixels = np.asarray(crop).reshape(-1, 3)
        inked = float((pixels.min(axis=1) < 200).mean())
        colours = len(np.unique(pixels, axis=0))
        assert inked > 0.02 and colours > 20, f"{name} chart area looks blank ({inked:.1%} inked, {colours} colours)"


def test_digest_says_how_fresh_and_references_nothing_outside(copilot: Settings) -> None:
    from tests.test_offline import external_references

    html = (copilot.reports / "digest.html").read_text()
    markdown = (copilot.reports / "digest.md").read_text()
    # the simulated world is a closed export (received in 2025, loaded now): complete to its last event
    assert "Data freshness" in markdown and "Events: closed export: complete to " in markdown
    assert "metric incidents: SLA 1 h, not applicable to a closed export." in markdown
    assert external_references(html) == []
