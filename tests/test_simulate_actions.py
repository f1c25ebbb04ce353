"""Flag rollouts, replays of pintel's actions (--actions) and planted drift, checked from the written files.

One base world (1 200 users x 63 days, seed 11: the bad rollout starts on day 57, the benign one on day 35)
and its replays, each simulated once for the module.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pintel.cli import main
from pintel.simulate import Actions, ActionsError, SimConfig, load_actions, simulate

BASE = SimConfig(users=1200, days=63, seed=11)


def _checksums(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def _events(root: Path) -> pd.DataFrame:
    """Valid track messages as the warehouse would keep them (planted defects and redeliveries removed)."""
    defects = pd.read_parquet(root / "ground_truth" / "defects.parquet")
    con = duckdb.connect()
    df = con.sql(f"select * from read_parquet('{root}/events/*/*/*.parquet') order by receivedAt, messageId").df()
    df = df.drop_duplicates("messageId")
    df = df[~df["messageId"].isin(set(defects.loc[defects.reason != "duplicate", "message_id"]))].copy()
    props = df["properties"].map(json.loads)
    df["flag"] = props.map(lambda p: p.get("flag"))
    df["variant"] = props.map(lambda p: p.get("variant"))
    df["error_code"] = props.map(lambda p: p.get("error_code"))
    df["platform"] = df["context"].map(lambda c: json.loads(c)["platform"])
    df["ts"] = pd.to_datetime(df["timestamp"], utc=True, format="ISO8601")
    return df


def _manifest(root: Path) -> dict:
    return json.loads((root / "ground_truth" / "manifest.json").read_text())


def _rollout(manifest: dict, flag: str) -> dict:
    return next(r for r in manifest["rollouts"] if r["flag"] == flag)


def _replay(tmp: Path, name: str, actions: dict) -> Path:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(actions))
    simulate(BASE, tmp / name, actions=path)
    return tmp / name


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("base")
    simulate(BASE, root)
    return root


@pytest.fixture(scope="module")
def base_events(world: Path) -> pd.DataFrame:
    return _events(world)


@pytest.fixture(scope="module")
def rollback_at(world: Path) -> pd.Timestamp:
    steps = _rollout(_manifest(world), "new_editor")["planted_schedule"]
    return pd.Timestamp(steps[1]["at"]) + pd.Timedelta(hours=3)  # three hours into the 50 % stage


@pytest.fixture(scope="module")
def rolled_back(world: Path, rollback_at: pd.Timestamp, tmp_path_factory: pytest.TempPathFactory) -> Path:
    at = rollback_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return _replay(
        tmp_path_factory.mktemp("rollback"),
        "replay",
        {"flags": [{"flag": "new_editor", "at": at, "state": "off", "decision_id": "d-7"}]},
    )


def test_rollouts_are_planted_clear_of_incidents_and_recorded(world: Path) -> None:
    manifest = _manifest(world)
    editor, sidebar = _rollout(manifest, "new_editor"), _rollout(manifest, "new_sidebar")
    assert editor["harmful"] and not sidebar["harmful"]
    assert [s["percent"] for s in editor["planted_schedule"]] == [10.0, 50.0]
    start = pd.Timestamp(editor["planted_schedule"][0]["at"])
    window_start = pd.Timestamp(manifest["window"]["start"], tz="UTC")
    assert start >= window_start + pd.Timedelta(days=BASE.days / 2) and start.day_of_week in (1, 2, 3)
    incidents = pd.DataFrame(manifest["incidents"])
    row = incidents.set_index("incident_id").loc["bad_rollout_new_editor"]
    assert (row["segment_dim"], row["segment_value"], row["flag"]) == ("platform", "web", "new_editor")
    assert pd.Timestamp(row["start"]) == start and pd.Timestamp(row["end"]) == window_start + pd.Timedelta(days=63)
    others = incidents[incidents["flag"].isna()]
    for flag in (editor, sidebar):
        first = pd.Timestamp(flag["planted_schedule"][0]["at"])
        last = pd.Timestamp(flag["planted_schedule"][-1]["at"])
        for _, inc in others.iterrows():
            assert last + pd.Timedelta(days=1) < pd.Timestamp(inc["start"]) or first > pd.Timestamp(inc["end"])


def test_exposures_follow_the_schedule_on_the_target_platform(world: Path, base_events: pd.DataFrame) -> None:
    manifest = _manifest(world)
    assignments = pd.read_parquet(world / "ground_truth" / "flag_assignments.parquet")
    exposures = base_events[base_events.event == "feature_flag_called"]
    for flag, platform in (("new_editor", "web"), ("new_sidebar", "ios")):
        mine = exposures[exposures.flag == flag].merge(
            assignments[assignments.flag == flag][["user_id", "bucket"]], left_on="userId", right_on="user_id"
        )
        assert len(mine) == (exposures.flag == flag).sum() > 100
        assert (mine.platform == platform).all()
        steps = _rollout(manifest, flag)["planted_schedule"]
        at = pd.to_datetime([s["at"] for s in steps], utc=True)
        pct = np.array([s["percent"] for s in steps])
        current = pct[at.searchsorted(pd.DatetimeIndex(mine.ts), side="right") - 1]
        assert (mine.ts >= at[0]).all()
        assert ((mine.variant == "on") == (mine.bucket * 100 < current)).all()
        # sticky: a user once on never shows off again under a ramp that only goes up
        first_on = mine[mine.variant == "on"].groupby("userId")["ts"].min()
        later_off = mine[mine.variant == "off"].merge(first_on.rename("on_at"), left_on="userId", right_index=True)
        assert (later_off.ts < later_off.on_at).all()


def test_bad_rollout_harms_exposed_users_only(world: Path, base_events: pd.DataFrame) -> None:
    manifest = _manifest(world)
    assignments = pd.read_parquet(world / "ground_truth" / "flag_assignments.parquet")
    editor = assignments[assignments.flag == "new_editor"].set_index("user_id")
    ev = base_events
    failed = ev[(ev.event == "error_shown") & (ev.error_code == "editor_save_failed")]
    on_from = failed.userId.map(editor["on_from"])
    assert len(failed) > 50 and (failed.platform == "web").all() and (failed.ts >= on_from).all()
    # among exposed users after they were switched on, the planted share of report saves fail
    reports = ev[ev.event == "report_created"]
    after = reports[reports.userId.map(editor["on_from"]) <= reports.ts]
    share = len(failed) / (len(failed) + len(after))
    planted = _rollout(manifest, "new_editor")["effect"]["failure_share"]
    n = len(failed) + len(after)
    assert abs(share - planted) < 4 * np.sqrt(planted * (1 - planted) / n), (share, n)
    assert _rollout(manifest, "new_editor")["realised"]["reports_replaced_by_errors"] == len(failed)
    # baseline errors exist everywhere, before the rollout too
    assert (ev[(ev.event == "error_shown") & (ev.error_code != "editor_save_failed")].platform.nunique()) == 3


def test_benign_rollout_changes_nothing_but_its_exposures(world: Path, tmp_path_factory) -> None:
    """The counterfactual with the benign flag never served: every other message is byte-for-byte the same."""
    manifest = _manifest(world)
    first = _rollout(manifest, "new_sidebar")["planted_schedule"][0]["at"]
    never = _replay(
        tmp_path_factory.mktemp("benign"), "off", {"flags": [{"flag": "new_sidebar", "at": first, "percent": 0}]}
    )
    con = duckdb.connect()

    def rows(root: Path, sql_filter: str) -> set:
        return set(
            con.sql(
                f"select messageId, event, userId, timestamp, receivedAt, properties, context "
                f"from read_parquet('{root}/events/*/*/*.parquet') where {sql_filter}"
            ).fetchall()
        )

    not_exposure = "event is distinct from 'feature_flag_called' or properties not like '%new_sidebar%'"
    assert rows(world, not_exposure) == rows(never, not_exposure)
    on, off = rows(world, "properties like '%new_sidebar%'"), rows(never, "properties like '%new_sidebar%'")
    # the same daily exposures; the served run adds one where a user's variant switched on, and only those
    ids_on, ids_off = {r[0] for r in on}, {r[0] for r in off}
    assert ids_off < ids_on and all('"on"' in r[5] for r in on if r[0] not in ids_off)
    assert any('"on"' in r[5] for r in on) and not any('"on"' in r[5] for r in off)


def test_rollback_changes_only_exposed_users_after_the_rollback(
    world: Path, rolled_back: Path, rollback_at: pd.Timestamp
) -> None:
    con = duckdb.connect()
    query = "select * from read_parquet('{}/events/*/*/*.parquet')"
    diff = con.sql(
        f"(select * from ({query.format(world)} except all {query.format(rolled_back)})) union all "
        f"(select * from ({query.format(rolled_back)} except all {query.format(world)}))"
    ).df()
    assignments = pd.read_parquet(world / "ground_truth" / "flag_assignments.parquet")
    editor = assignments[assignments.flag == "new_editor"].set_index("user_id")
    exposed = set(editor.index[editor.on_from.notna() & (editor.on_from < rollback_at)])
    assert len(diff) > 20
    assert diff.userId.isin(exposed).all()
    assert (pd.to_datetime(diff.timestamp, utc=True, format="ISO8601") >= rollback_at).all()
    identifies = "select * from read_parquet('{}/identifies/*/*.parquet')"
    assert (
        con.sql(
            f"select count(*) from ({identifies.format(world)} except all {identifies.format(rolled_back)})"
        ).fetchone()[0]
        == 0
    )
    manifest = _manifest(rolled_back)
    schedule = _rollout(manifest, "new_editor")["schedule"]
    assert schedule[-1] == {
        "at": rollback_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "percent": 0.0,
        "source": "action",
        "decision_id": "d-7",
    }
    inc = pd.DataFrame(manifest["incidents"]).set_index("incident_id").loc["bad_rollout_new_editor"]
    assert pd.Timestamp(inc["end"]) == rollback_at
    assert manifest["actions"]["flags"][0]["decision_id"] == "d-7"


def test_rollback_restores_the_metric_to_its_counterfactual(world, rolled_back, rollback_at) -> None:
    base = pd.read_parquet(world / "ground_truth" / "rollout_hourly.parquet")
    replay = pd.read_parquet(rolled_back / "ground_truth" / "rollout_hourly.parquet")
    key = ["flag", "hour", "cohort"]
    merged = base.merge(replay, on=key, suffixes=("_base", "_replay"))
    editor = merged[merged.flag == "new_editor"]
    after, before = editor[editor.hour >= rollback_at], editor[editor.hour < rollback_at]
    for metric in ("report_created", "error_shown"):
        # the counterfactual without harm is the same in both runs (common random numbers) ...
        assert (editor[f"{metric}_without_harm_base"] == editor[f"{metric}_without_harm_replay"]).all()
        # ... the replay equals it from the rollback on, and equals the base run before it
        assert (after[f"{metric}_replay"] == after[f"{metric}_without_harm_base"]).all()
        assert (before[f"{metric}_replay"] == before[f"{metric}_base"]).all()
    assert (after.report_created_base < after.report_created_without_harm_base).any()
    # and the written events say the same: web reports per hour after the rollback = the counterfactual
    ev = _events(rolled_back)
    web_reports = ev[(ev.event == "report_created") & (ev.platform == "web") & (ev.ts >= rollback_at)]
    counted = web_reports.groupby(web_reports.ts.dt.floor("h")).size()
    expected = after.groupby("hour")["report_created_without_harm_base"].sum()
    assert counted.reindex(expected.index, fill_value=0).tolist() == expected.tolist()


def test_empty_actions_file_gives_identical_bytes(world: Path, tmp_path: Path) -> None:
    # Three spellings of "no actions" read as the same (empty) actions, and the simulator sees only what was read,
    # so one replay of them shows all three leave every byte of the world as it was without an actions file.
    spellings = {"empty.json": "", "none.json": '{"flags": [], "retention_plays": []}', "e.yml": "{}"}
    for name, text in spellings.items():
        (tmp_path / name).write_text(text)
        assert load_actions(tmp_path / name, BASE) == Actions(), name
    simulate(BASE, tmp_path / "out", actions=tmp_path / "none.json")
    assert _checksums(tmp_path / "out") == _checksums(world)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.json", '{"flags": [{"flag": "new_editr", "at": "2025-03-01T00:00:00Z", "state": "off"}]}', "flags[0].flag"),
        ("b.json", '{"flags": [{"flag": "new_editor", "at": "soon", "state": "off"}]}', "flags[0].at"),
        ("c.json", '{"flags": [{"flag": "new_editor", "at": "2024-01-01T00:00:00Z", "state": "off"}]}', "outside"),
        ("d.json", '{"flags": [{"flag": "new_editor", "at": "2025-03-01T00:00:00Z"}]}', "exactly one of"),
        ("e.json", '{"flags": [], "plays": []}', "unknown field 'plays'"),
        (
            "f.json",
            '{"retention_plays": [{"user_id": "u0009999", "date": "2025-02-01"}]}',
            "retention_plays[0].user_id",
        ),
        ("g.json", '{"flags": [\n  {"flag": "new_editor",}\n]}', "line 2"),
        ("h.csv", "user_id,date\nu0000001,2025-02-01\nu0000002,2025-02-30\n", "h.csv line 3"),
        ("i.yml", "flags:\n  - flag: new_editor\n    at: [1\n", "line"),
    ],
)
def test_invalid_actions_file_is_refused_before_anything_is_written(tmp_path, name, text, expected) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ActionsError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        load_actions(path, BASE)
    out = tmp_path / "landing"
    result = CliRunner().invoke(
        main, ["simulate", "--users", "1200", "--days", "63", "--seed", "11", "--out", str(out), "--actions", str(path)]
    )
    assert result.exit_code == 2 and expected.split("[")[0] in result.output
    assert not out.exists()


def test_retention_plays_lower_churn_by_the_planted_amount(world: Path, tmp_path_factory) -> None:
    users = pd.read_parquet(world / "ground_truth" / "users.parquet")
    treated = users.user_id.iloc[::2].tolist()
    replay = _replay(
        tmp_path_factory.mktemp("plays"),
        "plays",
        {"retention_plays": [{"user_id": u, "date": "2025-01-21", "decision_id": "retain-1"} for u in treated]},
    )
    units = pd.read_parquet(replay / "ground_truth" / "retention_play_units.parquet")
    seen = units[units.applied & units.churned_30d_with_play.notna()]
    assert len(seen) > 300 and (seen.decision_id == "retain-1").all()
    with_p = seen.latent_churned_30d_with_play.astype(bool)
    without = seen.latent_churned_30d_without_play.astype(bool)
    assert not (with_p & ~without).any()  # common random numbers: a play never makes anyone churn
    ratio = with_p.mean() / without.mean()
    assert 0.55 <= ratio <= 0.85, ratio  # planted: hazard x 0.7 over the 30 days
    summary = _manifest(replay)["retention_plays"]
    assert summary["hazard_multiplier"] == 0.7 and summary["users_observed_30d"] == len(seen)
    assert summary["churn_30d_with_play"] <= summary["churn_30d_without_play"]
    # the untreated half's messages, users and churn snapshots are exactly those of the run without plays
    con = duckdb.connect()
    diverged = set(units.user_id[units.diverged])
    query = "select * from read_parquet('{}/events/*/*/*.parquet')"
    diff = con.sql(
        f"(select * from ({query.format(world)} except all {query.format(replay)})) union all "
        f"(select * from ({query.format(replay)} except all {query.format(world)}))"
    ).df()
    assert len(diff) > 0 and diff.userId.dropna().isin(diverged).all()
    for table in ("users", "churn_snapshots"):
        a = pd.read_parquet(world / "ground_truth" / f"{table}.parquet")
        b = pd.read_parquet(replay / "ground_truth" / f"{table}.parquet")
        untreated_a, untreated_b = a[~a.user_id.isin(treated)], b[~b.user_id.isin(treated)]
        pd.testing.assert_frame_equal(untreated_a.reset_index(drop=True), untreated_b.reset_index(drop=True))


def test_price_change_drift_doubles_free_plan_churn(tmp_path: Path) -> None:
    """84 days, so three weekly snapshots are labelled; the same world without drift is the counterfactual."""
    stationary = SimConfig(users=1200, days=84, seed=11, incidents=False)
    cfg = SimConfig(
        users=1200, days=84, seed=11, incidents=False, drift=("price_change", "persona_shift"), drift_day=12
    )
    simulate(stationary, tmp_path / "base")
    simulate(cfg, tmp_path / "drift")
    drift = _manifest(tmp_path / "drift")["drift"]
    truth = drift["price_change"]
    assert (truth["day"], truth["hazard_multiplier"], truth["plan"]) == (12, 2.0, "free")
    # realised latent churn of free users after the change against their own hazard without it
    assert 1.7 <= truth["realised_free_daily_hazard_after"] / truth["counterfactual_free_daily_hazard_after"] <= 2.3
    # realised labels of free users on snapshots whose whole label window is after the change, against the
    # same seed without the change (a label also counts users inactive by chance, so it rises by less than 2x)
    after = [s["snapshot_date"] for s in truth["free_churn_by_snapshot"] if s["label_window_days_after_change"] == 60]
    assert len(after) >= 2

    def free(root: Path) -> pd.DataFrame:
        snaps = pd.read_parquet(root / "ground_truth" / "churn_snapshots.parquet").dropna(subset=["churned_30d"])
        return snaps[(snaps.plan == "free") & snaps.snapshot_date.astype(str).isin(after)]

    drifted, base = free(tmp_path / "drift"), free(tmp_path / "base")
    y, p = drifted.churned_30d.astype(float), drifted.oracle_probability
    assert y.mean() > 1.3 * base.churned_30d.astype(float).mean()
    # the oracle's paths see the drifted hazard: its mean matches the realised rate within sampling error
    assert abs(p.mean() - y.mean()) < 3 * np.sqrt(y.mean() * (1 - y.mean()) / len(y)), (p.mean(), y.mean())
    shift = drift["persona_shift"]
    late, early = shift["realised_last_quarter"], shift["realised_first_quarter"]
    assert late["casual_viewer"] + late["drifter"] > early["casual_viewer"] + early["drifter"] + 0.05
    assert shift["mix_start"]["power_user"] == pytest.approx(0.14)
    assert shift["mix_end"]["power_user"] == pytest.approx(0.08)


def test_no_incidents_keeps_the_benign_rollout_only(tmp_path: Path) -> None:
    manifest = simulate(SimConfig(users=300, days=63, seed=11, incidents=False), tmp_path)
    assert manifest["incidents"] == []
    planted = {r["flag"]: r["planted"] for r in manifest["rollouts"]}
    assert planted == {"new_sidebar": True, "new_editor": False}
    sidebar = _rollout(manifest, "new_sidebar")
    assert sidebar["realised"]["exposures"] > 0 and _rollout(manifest, "new_editor")["realised"]["exposures"] == 0
    ev = _events(tmp_path)
    assert not (ev.error_code == "editor_save_failed").any() and (ev.flag == "new_editor").sum() == 0
