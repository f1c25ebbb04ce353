"""Causal feature impact end to end: simulator -> warehouse -> dbt SQL + Python model -> contracted table.

The simulator plants a known effect of the key feature (automations) on 30-day retention and writes both
potential outcomes of every unit, so the true ATE is exact. Adoption is confounded by early activity, plan,
channel and company size, which makes the naive adopter comparison about three times the truth.

Adopting needs the user to still be around on the adoption day, so early leavers can only be non-adopters
(immortal time); the model compares only users present at the end of the adoption window (a landmark), and the
truth here is averaged over exactly those units, from the simulator's per-unit potential outcomes.

Sample size (the demo world, 5 000 users x 90 days, shared with the experiment tests; about 1 500 landmark units
with an observed 30-day outcome): the AIPW standard error is about 2.5 pp against a true ATE of about 5 pp, so
"within 20 % of the truth" (1 pp) cannot be asserted per run at this size; the benchmark
(benchmarks/bench_causal.py) measures it at 50 000 users. What is asserted: the truth is inside the 95 % CI, the
adjusted estimate is nearer the truth than the naive comparison, and the naive comparison over all new users is
biased by more than half the effect.

The warehouse also gets a catalogued feature nobody has used yet ("telepathy", added to the seed tables of a copy
of the shared warehouse before the causal models run): it must come out as a row with reliable = false, not a
crash and not a number.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from pintel.build import production_args, run_dbt
from pintel.causal.evaluate import planted_effect
from pintel.causal.feature_impact import COLUMNS, SCHEMA, feature_impact_table, impact_status
from pintel.causal.workers import answer_all
from pintel.settings import CAUSAL_WORKERS_CAP, DBT_PROJECT_DIR, Settings, causal_workers, query
from pintel.tables import typed_relation
from tests.support.warehouse import copy_warehouse, without_dbt_artifacts

UNUSED = "telepathy"
#: Refutations for the key feature only: the assertions below are about its row; the other 20 features' refutations
#: are the same code on other columns (and the glue tests refute with refute="key" too). It keeps the model's cost
#: at the demo world's size near what the full refutations cost at 3 000 users. Three cross-fitting folds, not the
#: default five: the wiring and the recovery asserted here do not depend on the fold count (the benchmarks and
#: tests/test_causal_selection.py measure the estimator itself), and it saves ~25 CPU s of nuisance fits.
VARS = {"causal_refute": "key", "causal_n_folds": 3}


@pytest.fixture(scope="module")
def warehouse(demo_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """The shared demo marts, copied, with an unused feature added to the catalog, then the causal models."""
    settings = copy_warehouse(demo_warehouse, tmp_path_factory.mktemp("causal_wiring")).with_vars(**VARS)
    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute(
            "insert into catalog.event_taxonomy (event_name, category, description) "
            "values ('telepathy_used', 'feature', 'A feature shipped but not used yet.')"
        )
        con.execute(
            "insert into catalog.feature_catalog "
            "(feature_key, feature_name, category, event_name, is_key_feature, is_activation) "
            f"values ('{UNUSED}', 'Telepathy', 'ai', 'telepathy_used', false, false)"
        )
    finally:
        con.close()
    # dim_features picks the new feature up; nobody has used it, so no other mart changes.
    selection = ["dim_features", "+causal_feature_impact_served,path:models/ml"]
    with without_dbt_artifacts():
        run_dbt(settings, ["build", *production_args(), "--select", *selection, "--indirect-selection", "cautious"])
    return settings, settings.landing / "ground_truth"


@pytest.fixture(scope="module")
def impact(warehouse) -> pd.DataFrame:
    settings, _ = warehouse
    return query(settings.warehouse, "select * from ml.causal_feature_impact_served")


@pytest.fixture(scope="module")
def truth(warehouse) -> dict:
    _, gt = warehouse
    return json.loads((gt / "manifest.json").read_text())["causal"]


def _key_row(impact: pd.DataFrame, horizon: int) -> pd.Series:
    rows = impact[impact["is_key_feature"] & (impact["horizon_days"] == horizon)]
    assert len(rows) == 1
    return rows.iloc[0]


# --------------------------------------------------------------------------- the real warehouse


def test_one_row_per_catalogued_feature_and_horizon(warehouse, impact: pd.DataFrame) -> None:
    settings, _ = warehouse
    features = query(settings.warehouse, "select feature_key from marts.dim_features")
    assert len(features) == 21
    assert len(impact) == 2 * len(features)
    assert set(impact["feature_key"]) == set(features["feature_key"])
    assert list(impact.columns) == COLUMNS
    assert impact["summary"].notna().all() and impact["reliable"].notna().all()


def test_unit_frame_matches_the_planted_treatment_and_outcomes(warehouse) -> None:
    settings, gt = warehouse
    units = query(
        settings.warehouse,
        "select user_id, adopted, adopted_by_day_6, observed_30d, retained_30d "
        "from ml.ml_feature_adoption_cohort where is_key_feature",
    )
    planted = pd.read_parquet(gt / "causal_units.parquet")
    both = planted.merge(units, on="user_id")
    assert len(both) >= 0.98 * len(planted)
    assert (both["treated"] == both["adopted"]).mean() > 0.99
    assert (both["observed_30d_x"] == both["observed_30d_y"]).all()
    observed = both[both["observed_30d_x"]]
    y30 = np.where(observed["treated"], observed["y30_treated"], observed["y30_control"])
    assert (y30 == observed["retained_30d"].astype(bool)).mean() > 0.99
    # The key feature is adopted in days 7-13 by design, so its covariates are all pre-treatment.
    assert not both["adopted_by_day_6"].any()


@pytest.fixture(scope="module")
def landmark(warehouse) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The warehouse's key-feature units with their landmark flag, and the simulator's potential outcomes."""
    settings, gt = warehouse
    units = query(
        settings.warehouse,
        "select user_id, present_at_landmark, adopted, observed_30d "
        "from ml.ml_feature_adoption_cohort where is_key_feature",
    )
    return units, pd.read_parquet(gt / "causal_units.parquet")


def test_landmark_keeps_every_adopter_and_drops_early_leavers(impact: pd.DataFrame, landmark) -> None:
    units, planted = landmark
    row = _key_row(impact, 30)
    observed = units[units["observed_30d"]]
    assert row["cohort_units"] == observed["present_at_landmark"].sum()
    assert row["left_before_landmark"] == (~observed["present_at_landmark"]).sum()
    # The key feature is adopted in days 7-13, which is activity there: every adopter is present.
    assert units.loc[units["adopted"], "present_at_landmark"].all()
    assert 0.05 < row["left_before_landmark"] / len(observed) < 0.5
    # Nobody absent at the end of the window had adopted by day 14 in the simulation either.
    assert planted_effect(planted, 30, observed.loc[~observed["present_at_landmark"], "user_id"]).treated == 0


def test_key_feature_ate_covers_the_truth_and_beats_the_naive_comparison(impact: pd.DataFrame, landmark) -> None:
    units, planted = landmark
    row = _key_row(impact, 30)
    truth = planted_effect(planted, 30, units.loc[units["present_at_landmark"], "user_id"])
    assert row["reliable"]
    assert row["ate_ci_low"] <= truth.true_ate <= row["ate_ci_high"]
    # Adjustment removes most of the selection: the estimate is nearer the truth than the naive gap is.
    assert abs(row["ate_estimate"] - truth.true_ate) < abs(row["naive_estimate"] - truth.true_ate)
    assert row["att_ci_low"] <= truth.true_att <= row["att_ci_high"]
    assert row["refutations_run"] and row["placebo_passed"]
    assert row["max_abs_smd_after"] < row["max_abs_smd_before"]


def test_naive_difference_is_visibly_biased_and_matches_the_simulator(
    impact: pd.DataFrame, truth: dict, landmark
) -> None:
    units, planted = landmark
    row = _key_row(impact, 30)
    everyone = truth["retention_30d"]
    # Over all new users (the simulator's manifest) the naive gap is more than 1.5x the effect.
    assert everyone["naive_difference"] - everyone["true_ate"] > 0.5 * everyone["true_ate"]
    # The warehouse's naive gap is the planted one on the same landmark units, up to a few quarantined events.
    present = planted_effect(planted, 30, units.loc[units["present_at_landmark"], "user_id"])
    assert abs(row["naive_estimate"] - present.naive_difference) < 0.01
    assert row["naive_estimate"] > row["ate_estimate"]


def test_key_feature_summary_reads_as_a_sentence(impact: pd.DataFrame) -> None:
    text = _key_row(impact, 30)["summary"]
    assert text.startswith("Adopting automations in the first 14 days ")
    assert "30-day retention of users still active at the end of that window" in text
    assert "95 % CI" in text and "naive comparison says" in text
    assert text.endswith(".")


def test_feature_nobody_adopted_is_unreliable_not_a_number(impact: pd.DataFrame) -> None:
    rows = impact[impact["feature_key"] == UNUSED]
    assert len(rows) == 2
    assert (rows["adopters"] == 0).all()
    assert not rows["reliable"].any()
    assert rows[["ate_estimate", "ate_ci_low", "att_estimate", "ipw_ate_estimate", "naive_estimate"]].isna().all().all()
    assert rows["warnings"].str.startswith("UNRELIABLE").all()
    assert rows["summary"].str.contains("only 0 of").all()


# --------------------------------------------------------------------------- the glue on small frames

COVS = ["active_days_d0_6", "events_d0_6", "signup_plan", "signup_channel", "company_size"]


def _units(n: int = 1_200, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Users x 4 features: 'boost' (confounded, true ATE known), 'none' (no adopters), 'few' (5), 'all' (everyone)."""
    rng = np.random.default_rng(seed)
    active = rng.integers(0, 8, n)
    plan = rng.choice(["free", "pro"], n, p=[0.7, 0.3])
    base = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "active_days_d0_6": active,
            "events_d0_6": active * 5 + rng.integers(0, 5, n),
            "signup_plan": plan,
            "signup_channel": rng.choice(["organic", "paid"], n),
            "company_size": rng.choice(["1-10", "11-50"], n),
            "observed_30d": True,
            "observed_60d": rng.random(n) < 0.5,
        }
    )
    # Immortal time: a fifth of the users leave before the adoption day, never adopt and never come back.
    leaver = rng.random(n) < 0.2
    base["present_at_landmark"] = ~leaver
    lin = -1.5 + 0.35 * (active - 3.5) + 0.5 * (plan == "pro")
    p_t = 1 / (1 + np.exp(-lin))
    t = (rng.random(n) < p_t) & ~leaver
    p0 = 1 / (1 + np.exp(-(0.4 * (active - 3.5))))
    p1 = np.minimum(p0 + 0.10, 1.0)
    u = rng.random(n)
    y0, y1 = (u < p0) & ~leaver, (u < p1) & ~leaver
    frames = []
    for key, adopted in (
        ("boost", t),
        ("none", np.zeros(n, bool)),
        ("few", np.arange(n) < 5),
        ("all", np.ones(n, bool)),
    ):
        y = np.where(adopted, y1, y0) if key == "boost" else y0
        frames.append(
            base.assign(
                feature_key=key,
                adopted=adopted,
                adopted_by_day_6=False,
                retained_30d=y,
                retained_60d=np.where(base["observed_60d"], y, None),
            )
        )
    features = pd.DataFrame(
        {
            "feature_key": ["boost", "none", "few", "all", "ghost"],
            "feature_name": ["Boost", "None", "Few", "All", "Ghost"],
            "is_key_feature": [True, False, False, False, False],
        }
    )
    effect = y1.astype(float) - y0
    return pd.concat(frames, ignore_index=True), features, float(effect[~leaver].mean())


@pytest.fixture(scope="module")
def glue_table() -> tuple[pd.DataFrame, float]:
    units, features, true_ate = _units()
    return feature_impact_table(units, features, n_folds=3, refute="key"), true_ate


def test_glue_recovers_a_confounded_effect(glue_table) -> None:
    table, true_ate = glue_table
    row = table[(table["feature_key"] == "boost") & (table["horizon_days"] == 30)].iloc[0]
    assert row["reliable"]
    assert row["ate_ci_low"] <= true_ate <= row["ate_ci_high"]
    assert row["naive_estimate"] > row["ate_estimate"]  # adoption favours the already-active
    assert row["refutations_run"] and pd.notna(row["refutations_passed"])


def test_glue_compares_only_users_present_at_the_landmark(glue_table) -> None:
    table, _ = glue_table
    row = table[(table["feature_key"] == "boost") & (table["horizon_days"] == 30)].iloc[0]
    units, features, _ = _units()
    leavers = int((~units.loc[units["feature_key"] == "boost", "present_at_landmark"]).sum())
    assert row["left_before_landmark"] == leavers and row["cohort_units"] == 1_200 - leavers
    # Without the landmark the leavers sit among the non-adopters with zero retention: the effect looks larger.
    unrestricted = feature_impact_table(units, features, n_folds=3, refute="none", landmark=None)
    other = unrestricted[(unrestricted["feature_key"] == "boost") & (unrestricted["horizon_days"] == 30)].iloc[0]
    assert other["left_before_landmark"] == 0 and other["ate_estimate"] > row["ate_estimate"] + 0.01
    with pytest.raises(ValueError, match="present_at_landmark"):
        feature_impact_table(units.drop(columns="present_at_landmark"), features, refute="none")


def test_glue_gives_every_feature_a_row_and_never_a_confident_number_without_data(glue_table) -> None:
    table, _ = glue_table
    assert len(table) == 5 * 2
    assert table.groupby("feature_key").size().eq(2).all()
    bad = table[table["feature_key"].isin(["none", "few", "all", "ghost"])]
    assert not bad["reliable"].any()
    assert bad["ate_estimate"].isna().all()
    assert bad["warnings"].str.startswith("UNRELIABLE").all()
    by_key = bad.set_index(["feature_key", "horizon_days"])["summary"]
    assert "only 0 of" in by_key["none", 30]
    assert "only 5 of" in by_key["few", 30]
    assert "did not adopt" in by_key["all", 30]
    assert "no new users" in by_key["ghost", 30]


def test_glue_refutes_only_the_key_feature_when_asked(glue_table) -> None:
    table, _ = glue_table
    estimated = table[table["ate_estimate"].notna()]
    assert set(estimated.loc[estimated["refutations_run"], "feature_key"]) == {"boost"}


def test_glue_refutes_only_where_a_refutation_can_change_a_decision() -> None:
    """``refute="decisive"``: refutations for reliable rows whose CI excludes 0, a note saying why elsewhere."""
    units = _units()[0]
    boost = units[units["feature_key"] == "boost"]
    rng = np.random.default_rng(3)
    # The same adoption with an outcome shuffled across users: no effect, a CI that includes 0.
    shuffled = boost.assign(feature_key="shuffled", retained_30d=rng.permutation(boost["retained_30d"].to_numpy()))
    catalogue = pd.DataFrame({"feature_key": ["boost", "shuffled"], "feature_name": ["Boost", "Shuffled"]})
    table = feature_impact_table(pd.concat([boost, shuffled]), catalogue, horizons=(30,), n_folds=3, refute="decisive")
    decisive = table["reliable"] & ((table["ate_ci_low"] > 0) | (table["ate_ci_high"] < 0))
    assert decisive.any() and not decisive.all()
    assert (table["refutations_run"] == decisive).all()
    assert table.loc[decisive, "placebo_passed"].notna().all()
    assert table.loc[~decisive, "warnings"].str.contains("refutations not run: its 95 % CI includes 0").all()
    assert table.loc[~decisive, "refutations_passed"].isna().all()
    # Skipping them changes nothing else: the estimate is the one refute="none" gives.
    plain = feature_impact_table(pd.concat([boost, shuffled]), catalogue, horizons=(30,), n_folds=3, refute="none")
    pd.testing.assert_series_equal(table["ate_ci_low"], plain["ate_ci_low"])


def test_glue_reuses_the_previous_rows_whose_inputs_did_not_change() -> None:
    units = _units(n=600, seed=2)[0]
    boost = units[units["feature_key"] == "boost"].reset_index(drop=True)
    catalogue = pd.DataFrame({"feature_key": ["boost"], "feature_name": ["Boost"], "is_key_feature": [True]})
    first = feature_impact_table(boost, catalogue, n_folds=2, refute="none")
    assert first["ate_estimate"].notna().all() and first.attrs["reused_rows"] == 0
    again = feature_impact_table(boost, catalogue, n_folds=2, refute="none", previous=first)
    assert again.attrs["reused_rows"] == 2
    pd.testing.assert_frame_equal(again, first, check_dtype=False)
    # One 60-day outcome changes: the 30-day row is copied, the 60-day row is estimated again.
    changed = boost.copy()
    user = changed.index[changed["observed_60d"]][0]
    changed.loc[user, "retained_60d"] = not changed.loc[user, "retained_60d"]
    moved = feature_impact_table(changed, catalogue, n_folds=2, refute="none", previous=first)
    assert moved.attrs["reused_rows"] == 1
    assert moved["diagnostics"].iloc[0] == first["diagnostics"].iloc[0]
    assert moved["diagnostics"].iloc[1] != first["diagnostics"].iloc[1]
    # Other settings are other inputs: nothing is reused.
    assert feature_impact_table(boost, catalogue, n_folds=3, refute="none", previous=first).attrs["reused_rows"] == 0
    assert "2 reused from the previous run" in impact_status(again)[1]


def test_glue_table_is_the_same_whatever_the_number_of_workers() -> None:
    """Questions answered in worker processes give the serial table bit for bit, rows in the same order.

    Four questions (two confounded features x two horizons, one refuted, decisive mode) in two workers: a
    result gathered by completion instead of by position, or a worker computing differently (threads, hash
    seed, a cache shared across questions), would show up as a difference.
    """
    units, features, _ = _units(n=800, seed=5)
    boost = units[units["feature_key"] == "boost"]
    other = boost.assign(feature_key="other", adopted=np.random.default_rng(3).permutation(boost["adopted"]))
    units = pd.concat([units, other], ignore_index=True)
    other_row = pd.DataFrame({"feature_key": ["other"], "feature_name": ["Other"], "is_key_feature": [False]})
    features = pd.concat([features, other_row], ignore_index=True)
    serial = feature_impact_table(units, features, n_folds=2, refute="decisive")
    assert serial["ate_estimate"].notna().sum() == 4
    parallel = feature_impact_table(units, features, n_folds=2, refute="decisive", workers=2)
    pd.testing.assert_frame_equal(parallel, serial, check_exact=True)


def test_workers_answer_in_the_callers_order_in_single_threaded_processes(monkeypatch) -> None:
    # Built-ins as the work (a test module's function would be unpickled by importing this module, dbt and all).
    assert answer_all(abs, [-3, 1, -4, 1, -5, 9], costs=[1, 5, 2, 6, 3, 4], workers=2) == [3, 1, 4, 1, 5, 9]
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    assert answer_all(os.getenv, ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"], costs=[1, 1], workers=2) == ["1", "1"]
    assert answer_all(os.getenv, ["OMP_NUM_THREADS"], costs=[1], workers=2) == ["8"]  # one question: no pool


def test_worker_count_comes_from_the_environment() -> None:
    assert causal_workers({"PINTEL_CAUSAL_WORKERS": "3"}) == 3
    assert 1 <= causal_workers({}) <= CAUSAL_WORKERS_CAP
    assert causal_workers({"PINTEL_CAUSAL_WORKERS": ""}) == causal_workers({})  # empty = unset
    usable = os.sched_getaffinity(0)
    try:  # the default follows the cores this process may use, not the machine's count
        os.sched_setaffinity(0, {min(usable)})
        assert causal_workers({}) == 1
    finally:
        os.sched_setaffinity(0, usable)
    for bad in ("0", "-2", "two"):
        with pytest.raises(ValueError, match=r"PINTEL_CAUSAL_WORKERS=.* is not a whole number >= 1"):
            causal_workers({"PINTEL_CAUSAL_WORKERS": bad})


def test_glue_output_types_are_stable_when_nothing_is_estimable() -> None:
    units, features, _ = _units(n=200)
    empty = units.iloc[0:0]
    table = feature_impact_table(empty, features, n_folds=2, refute="none")
    assert len(table) == 10 and not table["reliable"].any()
    # The dbt model returns typed_relation(session, table, SCHEMA): the contract's types, whatever the data.
    typed = typed_relation(duckdb.connect(), table, SCHEMA)
    types = dict(zip(typed.columns, map(str, typed.types), strict=True))
    assert types["ate_estimate"] == "DOUBLE"
    assert types["reliable"] == "BOOLEAN"
    assert types["summary"] == "VARCHAR"
    assert typed.filter("ate_estimate is not null").count("*").fetchone() == (0,)  # NaN became NULL


def test_python_schema_is_the_served_contract() -> None:
    """feature_impact.SCHEMA types the Python model; the served yml declares the contract: they must agree."""
    served = yaml.safe_load((DBT_PROJECT_DIR / "models/ml/causal_feature_impact_served.yml").read_text())
    assert {c["name"]: c["data_type"] for c in served["models"][0]["columns"]} == SCHEMA
    assert list(SCHEMA) == COLUMNS


def test_glue_rejects_a_frame_without_the_covariates() -> None:
    units, features, _ = _units(n=200)
    with pytest.raises(ValueError, match="lacks columns"):
        feature_impact_table(units.drop(columns=["signup_plan"]), features)
    with pytest.raises(ValueError, match="refute"):
        feature_impact_table(units, features, refute="sometimes")


def test_glue_flags_early_adoption_as_a_limitation() -> None:
    units, features, _ = _units(n=800, seed=3)
    units = units.assign(adopted_by_day_6=units["adopted"])
    table = feature_impact_table(units, features.iloc[:1], horizons=(30,), n_folds=2, refute="none")
    row = table.iloc[0]
    assert row["adopters_by_day_6"] == row["adopters"]
    assert "partly post-treatment" in row["warnings"]


def test_glue_marks_an_estimate_without_overlap_unreliable_in_words() -> None:
    units, features, _ = _units(n=1_500, seed=4)
    boost = units[units["feature_key"] == "boost"].copy()
    flip = np.random.default_rng(1).random(len(boost)) < 0.01
    boost["adopted"] = (boost["active_days_d0_6"] >= 5) ^ flip  # adoption almost decided by early activity
    row = feature_impact_table(boost, features.iloc[:1], horizons=(30,), n_folds=3, refute="none").iloc[0]
    assert not row["reliable"] and pd.notna(row["ate_estimate"])
    assert row["share_trimmed"] > 0.5
    assert row["summary"].startswith("UNRELIABLE -- Adopting boost in the first 14 days ")
    assert "; do not act on it: " in row["summary"]
    assert row["summary"].endswith("% of units fall outside the propensity bounds.")
