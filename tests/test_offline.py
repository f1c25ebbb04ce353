"""Nothing phones home and the reports open offline: telemetry is off in every tool's config a run reads, and
the data-quality report holds no external URL (the digest's is checked in tests/test_digest.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import yaml

from pintel.build import dbt_command
from pintel.quality.html_report import write_dq_report
from pintel.quality.results import SuiteResult
from pintel.settings import DBT_PROJECT_DIR, REPO_ROOT
from tests.support.warehouse import settings_for

#: Anything a browser would fetch from elsewhere: a scheme URL, a protocol-relative one, a link or a script src.
EXTERNAL = re.compile(r"https?://|\bsrc=[\"']//|href=[\"']//|<link\b|<script\b|@import|url\(", re.IGNORECASE)


def external_references(page: str) -> list[str]:
    return EXTERNAL.findall(page)


def test_a_runs_config_disables_telemetry(tmp_path: Path) -> None:
    dbt = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    assert dbt["flags"]["send_anonymous_usage_stats"] is False
    assert "--no-send-anonymous-usage-stats" in dbt_command(settings_for(tmp_path, tmp_path), ["build"])
    gx = yaml.safe_load((REPO_ROOT / "expectations" / "gx" / "great_expectations.yml").read_text())
    assert gx["analytics_enabled"] is False
    dagster = yaml.safe_load((REPO_ROOT / "dagster_defs" / "dagster.yaml").read_text())
    assert dagster["telemetry"]["enabled"] is False
    env = dict(line.split("=", 1) for line in (REPO_ROOT / ".env.example").read_text().splitlines() if "=" in line)
    assert env["DO_NOT_TRACK"] == "1" and env["GX_ANALYTICS_ENABLED"] == "false"
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"


def _result(suite: str, failures: list[dict], critical: bool = True) -> SuiteResult:
    return SuiteResult(
        suite=suite,
        asset=f"marts.{suite}",
        critical=critical,
        success=not failures,
        status="failed" if failures else "passed",
        evaluated=4,
        failed=len(failures),
        failures=failures,
        run_time=0.1,
        observed_row_count=1234,
        validated_at=datetime(2026, 12, 1, tzinfo=UTC),
        run_id="r1",
        description="a <b>described</b> suite, see https://example.org/rule",
    )


def test_the_data_quality_report_is_self_contained(tmp_path: Path) -> None:
    failure = {
        "expectation": "expect_column_values_to_not_be_null",
        "column": "user_id",
        "observed": {"unexpected_count": 2, "unexpected_rows": [{"user_id": None, "note": "<script>x</script>"}]},
    }
    path = write_dq_report([_result("fct_events", [failure]), _result("row_counts", [], critical=False)], tmp_path)
    page = path.read_text()
    assert path == tmp_path / "data_quality.html" and "<style>" in page
    assert "BLOCKED: a critical suite failed" in page and "expect_column_values_to_not_be_null" in page
    assert "1,234" in page and "&lt;script&gt;x&lt;/script&gt;" in page  # data is text, never markup
    # what the data says is escaped text; the page itself references nothing outside it
    assert external_references(page.replace("https://example.org/rule", "")) == []
    assert "https://example.org/rule" in page  # shown as text (from a description), not fetched
