"""Experiment readout end to end: simulator -> warehouse -> dbt SQL + Python model -> contracted table.

The simulator runs one A/B test (flag ``pricing_page_v2``, 50/50, conversion = ``checkout_completed`` within 14
days of the first exposure) and writes both potential outcomes of every exposed user, so the true lift is
exact. Two simulations with the same seed differ only in ``srm_loss``: in the second, 10 % of the treatment
arm's exposure events are never logged -- a sample-ratio mismatch the readout must refuse to trust. Both are
session fixtures of tests/conftest.py (``demo_sim``, ``srm_sim``); the healthy one's marts are shared with the
causal tests (``demo_warehouse``).

Sample size: detecting a 10 % loss in one arm at the conventional SRM threshold (p < 0.001) needs about
4 000 exposed units on average and ~10 000 to be near-certain; 5 000 users x 90 days expose ~3 600 (the
planted SRM gives p ~ 3e-4 for this seed, the healthy run p ~ 0.7). Both runs use the demo configuration so
the only difference between them is the planted loss.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from pintel.build import production_args, run_dbt
from pintel.experiments.readout import COLUMNS, SCHEMA, experiment_results_table
from pintel.ingest.landing import load_landing
from pintel.settings import DBT_PROJECT_DIR, Settings, query
from pintel.tables import typed_relation
from tests.support.landing import manifest_of
from tests.support.warehouse import SQL_LAYER_TESTS, copy_warehouse, settings_for, without_dbt_artifacts

#: The experiment models and their ML-folder inputs (the marts come from the shared warehouse or are built here).
EXPERIMENT_MODELS = "+experiment_results_served,path:models/ml"


@pytest.fixture(scope="module")
def healthy(demo_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict]:
    """The demo world (conftest): its shared marts, copied, with the experiment models built on top."""
    settings = copy_warehouse(demo_warehouse, tmp_path_factory.mktemp("experiment_healthy"))
    with without_dbt_artifacts():
        build = ["build", *production_args(), "--select", EXPERIMENT_MODELS, "--indirect-selection", "cautious"]
        run_dbt(settings, build)
    return settings, manifest_of(settings.landing)


@pytest.fixture(scope="module")
def srm(srm_sim: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict]:
    """The same world with the planted loss: its own warehouse, the experiment lineage only."""
    settings = settings_for(tmp_path_factory.mktemp("experiment_srm"), srm_sim)
    load_landing(settings.landing, settings.warehouse)
    select = ["--select", "+experiment_results_served", "--indirect-selection", "cautious", *production_args()]
    select += ["--exclude", *SQL_LAYER_TESTS]  # the marts are lineage here
    with without_dbt_artifacts():
        run_dbt(settings, ["build", *select])
    return settings, manifest_of(settings.landing)


def _results(built: tuple[Settings, dict]) -> pd.Series:
    settings, _ = built
    table = query(settings.warehouse, "select * from ml.experiment_results_served")
    assert list(table.columns) == COLUMNS
    assert len(table) == 1
    return table.iloc[0]


# --------------------------------------------------------------------------- the real warehouse


def test_units_match_the_planted_assignment_and_conversions(healthy) -> None:
    settings, manifest = healthy
    units = query(settings.warehouse, "select * from ml.ml_experiment_units")
    planted = pd.read_parquet(settings.landing / "ground_truth" / "experiment_units.parquet")
    assert set(units["experiment"]) == {manifest["experiment"]["flag"]}  # discovered from the events
    both = planted.merge(units, on="user_id")
    assert len(both) >= 0.99 * len(planted)
    assert (both["variant_x"] == both["variant_y"]).all()
    assert (pd.to_datetime(both["exposure_date_x"]) == pd.to_datetime(both["exposure_date_y"])).all()
    assert (both["converted_x"] == both["converted_y"].astype(bool)).mean() > 0.99
    assert (units["variants_seen"] == 1).all() and units["outcome_observed"].all()


def test_healthy_experiment_covers_the_true_lift(healthy) -> None:
    _, manifest = healthy
    row = _results(healthy)
    true_lift = manifest["experiment"]["true_lift_abs"]
    assert row["experiment"] == manifest["experiment"]["flag"]
    assert row["variant"] == "treatment" and row["control"] == "control"
    assert row["lift_abs_ci_low"] <= true_lift <= row["lift_abs_ci_high"]
    assert row["cuped_ci_low"] <= true_lift <= row["cuped_ci_high"]
    assert row["seq_ci_low"] <= true_lift <= row["seq_ci_high"]
    assert row["variance_reduction"] > 0
    logged = manifest["experiment"]["logged_units"]
    assert row["units"] + row["control_units"] >= 0.99 * (logged["control"] + logged["treatment"])


def test_healthy_experiment_is_trusted(healthy) -> None:
    row = _results(healthy)
    assert not row["srm_detected"] and row["srm_p_value"] > 0.01
    assert row["trustworthy"]
    assert row["summary"].startswith("Experiment pricing_page_v2: Treatment ")
    assert "looks healthy" in row["summary"]


def test_planted_sample_ratio_mismatch_is_not_trusted(srm) -> None:
    _, manifest = srm
    assert manifest["experiment"]["srm_planted"]
    row = _results(srm)
    assert row["srm_detected"] and row["srm_p_value"] < 0.001
    assert not row["trustworthy"]
    assert "sample-ratio mismatch" in row["notes"]
    assert "do not trust this result" in row["summary"]


# --------------------------------------------------------------------------- the glue on small frames


def _experiment(name: str, n: int, lift: float, seed: int, variants=("control", "treatment")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    variant = rng.choice(list(variants), n)
    pre = rng.poisson(8, n)
    p = np.clip(0.1 + 0.02 * pre + lift * (variant != variants[0]), 0, 1)
    return pd.DataFrame(
        {
            "experiment": name,
            "user_id": [f"{name}-{i}" for i in range(n)],
            "variant": variant,
            "variants_seen": 1,
            "exposure_date": pd.Timestamp("2025-02-01") + pd.to_timedelta(rng.integers(0, 21, n), unit="D"),
            "converted": rng.random(n) < p,
            "pre_active_days": pre,
        }
    )


def test_glue_reads_each_experiment_and_counts_exclusions() -> None:
    clean = _experiment("clean", 4_000, 0.05, 1)
    leaky = _experiment("leaky", 2_000, 0.0, 2)
    leaky.loc[:39, "variants_seen"] = 2  # 2 % of units saw both variants
    leaky["converted"] = leaky["converted"].astype(object)
    leaky.loc[40:59, "converted"] = None  # conversion window still open
    table = experiment_results_table(pd.concat([clean, leaky], ignore_index=True), window_days=7)
    assert list(table.columns) == COLUMNS
    rows = table.set_index("experiment")
    assert rows.loc["clean", "trustworthy"] and rows.loc["clean", "lift_abs_ci_low"] > 0
    assert rows.loc["clean", "variance_reduction"] > 0.01  # the pre-period predicts conversion (a little)
    assert rows.loc["leaky", "excluded_multi_variant_units"] == 40
    assert rows.loc["leaky", "excluded_incomplete_units"] == 20
    assert rows.loc["leaky", "units"] + rows.loc["leaky", "control_units"] == 2_000 - 60
    assert not rows.loc["leaky", "trustworthy"]
    assert "assignment leak" in rows.loc["leaky", "notes"] and "excluded 40 units" in rows.loc["leaky", "notes"]
    assert "do not trust this result" in rows.loc["leaky", "summary"]
    assert (table["window_days"] == 7).all() and (table["conversion_event"] == "checkout_completed").all()
    assert str(rows.loc["clean", "exposure_start_date"].date()) == "2025-02-01"


def test_glue_turns_an_unanalysable_experiment_into_an_untrusted_row() -> None:
    odd = _experiment("no_control", 500, 0.0, 3, variants=("blue", "green"))
    single = _experiment("single", 300, 0.0, 4, variants=("control",))
    table = experiment_results_table(pd.concat([odd, single], ignore_index=True)).set_index("experiment")
    assert not table["trustworthy"].any()
    assert "control variant 'control' not found" in table.loc["no_control", "notes"]
    assert "only one variant" in table.loc["single", "summary"]
    assert pd.isna(table.loc["single", "lift_abs"])


def test_glue_handles_no_experiments_at_all() -> None:
    empty = _experiment("x", 10, 0.0, 5).iloc[0:0]
    table = experiment_results_table(empty)
    assert table.empty and list(table.columns) == COLUMNS
    # The dbt model returns typed_relation(session, table, SCHEMA): the contract's types, even with no rows.
    typed = typed_relation(duckdb.connect(), table, SCHEMA)
    assert dict(zip(typed.columns, map(str, typed.types), strict=True))["trustworthy"] == "BOOLEAN"
    with pytest.raises(ValueError, match="lacks columns"):
        experiment_results_table(empty.drop(columns=["pre_active_days"]))


def test_python_schema_is_the_served_contract() -> None:
    """readout.SCHEMA types the Python model; the served yml declares the contract: they must agree."""
    served = yaml.safe_load((DBT_PROJECT_DIR / "models/ml/experiment_results_served.yml").read_text())
    assert {c["name"]: c["data_type"] for c in served["models"][0]["columns"]} == SCHEMA
