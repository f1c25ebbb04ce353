"""The simulator's truths are real: determinism, exact defect counts, a calibrated oracle, planted confounding."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pintel.catalog import load_catalog
from pintel.cli import main
from pintel.simulate import DEFECT_REASONS, SimConfig, simulate
from pintel.simulate.stream import release


def _checksums(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _messages(root: Path) -> pd.DataFrame:
    con = duckdb.connect()
    return con.sql(f"select *, filename as file from read_parquet('{root}/events/*/*/*.parquet', filename=true)").df()


def _classify(df: pd.DataFrame) -> pd.Series:
    """An independent reading of each message's defect, written from the spec rather than the simulator."""
    catalog = load_catalog()
    reasons = []
    for row in df.itertuples():
        try:
            props = json.loads(row.properties)
        except ValueError:
            reasons.append("invalid_json")
            continue
        if len(row.properties.encode()) + len(row.context.encode()) > 32768:
            reasons.append("oversized_payload")
        elif pd.isna(row.userId):
            reasons.append("missing_user_id")
        elif _parse(row.timestamp) is None:
            reasons.append("unparseable_timestamp")
        elif _parse(row.timestamp) > _parse(row.receivedAt) + pd.Timedelta(hours=1):
            reasons.append("future_timestamp")
        elif row.event not in catalog.events:
            reasons.append("unknown_event")
        elif any(
            kind in ("integer", "number") and not isinstance(props.get(name, 0), int | float)
            for name, kind in catalog.event_properties.get(row.event, {}).items()
        ):
            reasons.append("wrong_property_type")
        else:
            reasons.append("valid")
    return pd.Series(reasons, index=df.index)


def _parse(text: str) -> pd.Timestamp | None:
    try:
        return pd.Timestamp(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    cfg = SimConfig(users=150, days=20, seed=3)
    simulate(cfg, tmp_path / "a")
    simulate(cfg, tmp_path / "b")
    a, b = _checksums(tmp_path / "a"), _checksums(tmp_path / "b")
    assert a and a == b
    simulate(SimConfig(users=150, days=20, seed=4), tmp_path / "c")
    assert _checksums(tmp_path / "c") != a


@pytest.fixture(scope="module")
def messages(small_sim: Path) -> pd.DataFrame:
    """Every message the small world landed, with the file it is in (read once for this module)."""
    return _messages(small_sim)


@pytest.fixture(scope="module")
def first_copies(messages: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The first-received copy of each message and its independently classified defect (the slow part: once)."""
    first = messages.sort_values(["receivedAt", "file"]).drop_duplicates("messageId")
    return first, _classify(first)


def test_defects_in_files_equal_the_manifest(
    small_sim: Path, small_manifest: dict, messages: pd.DataFrame, first_copies: tuple[pd.DataFrame, pd.Series]
) -> None:
    duplicates = int(messages.duplicated("messageId").sum())
    first, reasons = first_copies
    found = reasons.value_counts()
    counts = small_manifest["counts"]
    assert duplicates == counts["duplicates"] > 0
    for reason in DEFECT_REASONS:
        assert found.get(reason, 0) == counts["quarantined_by_reason"][reason] > 0, reason
    assert found["valid"] == counts["valid_events"]
    truth = pd.read_parquet(small_sim / "ground_truth" / "defects.parquet")
    assert set(truth.loc[truth.reason == "missing_user_id", "message_id"]) == set(
        first.loc[first.userId.isna(), "messageId"]
    )


def test_batches_are_by_arrival_hour_and_late_events_exist(messages: pd.DataFrame) -> None:
    df = messages
    received = pd.to_datetime(df["receivedAt"].str.replace("Z", ""), format="ISO8601")
    folder = df["file"].str.extract(r"date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})")
    batch = pd.to_datetime(folder[0] + " " + folder[1] + ":00")
    assert (received.dt.floor("h") == batch).all()
    ts = pd.to_datetime(df["timestamp"].str.replace("Z", ""), format="ISO8601", errors="coerce")
    late = (received - ts) > pd.Timedelta(hours=1)
    assert 0.002 < late.mean() < 0.1


def test_daily_truth_matches_valid_events(
    small_sim: Path, small_manifest: dict, first_copies: tuple[pd.DataFrame, pd.Series]
) -> None:
    df, reasons = first_copies
    valid = df[reasons == "valid"].copy()
    valid["date"] = pd.to_datetime(valid["timestamp"].str.slice(0, 10)).dt.date
    got = valid.groupby("date").agg(valid_events=("messageId", "size"), dau=("userId", "nunique"))
    signups = valid[valid.event == "signed_up"].groupby("date")["userId"].nunique()
    truth = pd.read_parquet(small_sim / "ground_truth" / "daily_metrics.parquet").set_index("date")
    assert (got["valid_events"] == truth["valid_events"]).all()
    assert (got["dau"] == truth["dau"]).all()
    assert (signups.reindex(truth.index, fill_value=0) == truth["signups"]).all()


def test_oracle_is_calibrated_against_realised_churn(small_sim: Path, small_manifest: dict) -> None:
    snaps = pd.read_parquet(small_sim / "ground_truth" / "churn_snapshots.parquet").dropna(subset=["churned_30d"])
    assert len(snaps) > 2000
    bucket = pd.qcut(snaps["oracle_probability"], 10, duplicates="drop")
    table = snaps.groupby(bucket, observed=True).agg(p=("oracle_probability", "mean"), y=("churned_30d", "mean"))
    weights = snaps.groupby(bucket, observed=True).size() / len(snaps)
    ece = float((weights * (table["p"] - table["y"]).abs()).sum())
    assert ece < 0.03, table
    assert (table["y"].diff().dropna() > -0.05).all(), "realised churn must rise with the oracle"
    assert 0.75 <= small_manifest["realised"]["oracle_auc_30d"] <= 0.95


def test_confounding_is_present_and_truth_is_from_potential_outcomes(small_sim: Path, small_manifest: dict) -> None:
    units = pd.read_parquet(small_sim / "ground_truth" / "causal_units.parquet")
    seen = units[units.observed_30d]
    ate = (seen.y30_treated.astype(float) - seen.y30_control).mean()
    assert ate == pytest.approx(small_manifest["causal"]["retention_30d"]["true_ate"])
    assert ate > 0
    observed = np.where(seen.treated, seen.y30_treated, seen.y30_control)
    naive = observed[seen.treated].mean() - observed[~seen.treated].mean()
    assert naive - ate > 0.5 * ate
    # Adoption is driven by observables: the true propensity is higher for treated units.
    assert units.loc[units.treated, "true_propensity"].mean() > units.loc[~units.treated, "true_propensity"].mean()


def test_incidents_are_labelled(small_manifest: dict) -> None:
    shapes = {i["segment_dim"]: i for i in small_manifest["incidents"]}
    assert {"platform", "channel", "event_name"} <= set(shapes)
    assert all(i["start"] < i["end"] for i in small_manifest["incidents"])
    assert shapes["platform"]["events_dropped"] > 0


def test_sample_ratio_mismatch_can_be_planted(tmp_path: Path) -> None:
    manifest = simulate(SimConfig(users=600, days=40, seed=2, srm_loss=0.2, incidents=False), tmp_path)
    logged = manifest["experiment"]["logged_units"]
    assert manifest["experiment"]["srm_planted"]
    assert logged["treatment"] < 0.9 * logged["control"]


def test_stream_releases_hour_by_hour(tmp_path: Path) -> None:
    simulate(SimConfig(users=100, days=15, seed=1, incidents=False), tmp_path / "staging")
    seen: list[str] = []
    released = release(tmp_path / "staging", tmp_path / "landing", speed=0, on_batch=seen.append, sleep=lambda _: None)
    assert released == len(seen) > 24 and seen == sorted(seen)
    assert list((tmp_path / "landing" / "events").glob("date=*/hour=*/*.parquet"))
    assert not (tmp_path / "staging").exists()


def test_cli_rejects_bad_input_and_refuses_to_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["simulate", "--users", "10", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "at least 50" in bad.output
    ok = runner.invoke(main, ["simulate", "--users", "60", "--days", "14", "--out", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(main, ["simulate", "--users", "60", "--days", "14", "--out", str(tmp_path)])
    assert again.exit_code == 1 and "--overwrite" in again.output


def test_jsonl_format_writes_segment_lines(tmp_path: Path) -> None:
    simulate(SimConfig(users=120, days=14, seed=9, fmt="jsonl", defect_rate=0.05, incidents=False), tmp_path)
    lines = [line for p in (tmp_path / "events").rglob("*.jsonl") for line in p.read_text().splitlines()]
    parsed, broken = [], 0
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            broken += 1
    manifest = json.loads((tmp_path / "ground_truth" / "manifest.json").read_text())
    assert broken == manifest["counts"]["quarantined_by_reason"]["invalid_json"] > 0
    assert {
        "messageId",
        "type",
        "event",
        "userId",
        "timestamp",
        "receivedAt",
        "properties",
        "context",
    } <= set(parsed[0])
