"""Statistical and input-handling tests for ``pintel.experiments`` (all seeds fixed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from pintel.experiments import analyze_experiment, srm_test
from pintel.experiments.sequential import confidence_sequence

TRUE_LIFT = 0.03
FRAME_COLUMNS = {
    "experiment",
    "variant",
    "units",
    "conversion",
    "lift_abs",
    "lift_abs_ci_low",
    "lift_abs_ci_high",
    "lift_rel",
    "lift_rel_ci_low",
    "lift_rel_ci_high",
    "p_value",
    "cuped_lift_abs",
    "cuped_ci_low",
    "cuped_ci_high",
    "cuped_p_value",
    "variance_reduction",
    "seq_ci_low",
    "seq_ci_high",
    "srm_p_value",
    "srm_detected",
    "trustworthy",
    "notes",
}


def simulate(n: int, seed: int, lift: float = TRUE_LIFT, treat_loss: float = 0.0) -> pd.DataFrame:
    """A 50/50 conversion test whose pre-period activity strongly predicts conversion.

    ``treat_loss`` drops that share of treatment units after assignment (a broken logger).
    """
    rng = np.random.default_rng(seed)
    variant = rng.choice(np.array(["control", "treatment"]), size=n)
    pre = rng.gamma(2.0, 1.0, size=n)
    p = expit(-2.5 + 1.0 * pre) + lift * (variant == "treatment")
    converted = rng.binomial(1, np.clip(p, 0, 1))
    df = pd.DataFrame({"user_id": np.arange(n), "variant": variant, "converted": converted, "pre_sessions": pre})
    if treat_loss:
        lost = (df["variant"] == "treatment") & (rng.random(n) < treat_loss)
        df = df.loc[~lost]
    return df


@pytest.fixture(scope="module")
def result():
    return analyze_experiment(simulate(20_000, seed=1), pre_col="pre_sessions", experiment="checkout_v2")


def test_planted_lift_inside_ci_and_detected(result) -> None:
    (c,) = result.comparisons
    assert c.lift_abs.ci_low <= TRUE_LIFT <= c.lift_abs.ci_high
    assert c.lift_abs.p_value < 0.01
    assert c.lift_rel.ci_low < c.lift_rel.estimate < c.lift_rel.ci_high
    assert c.lift_rel.estimate == pytest.approx(c.mean / c.control_mean - 1)
    assert [v.variant for v in result.variants] == ["control", "treatment"]
    assert sum(v.units for v in result.variants) == 20_000
    assert result.trustworthy and not result.srm_detected


def test_cuped_reduces_variance_and_narrows_ci(result) -> None:
    (c,) = result.comparisons
    assert c.cuped is not None and c.variance_reduction is not None
    assert c.variance_reduction > 0.1
    assert (c.cuped.ci_high - c.cuped.ci_low) < (c.lift_abs.ci_high - c.lift_abs.ci_low)
    assert c.cuped.ci_low <= TRUE_LIFT <= c.cuped.ci_high
    assert result.cuped_theta is not None and result.cuped_theta > 0


def test_sequential_interval_is_wider_and_covers(result) -> None:
    (c,) = result.comparisons
    assert c.sequential.ci_low < c.lift_abs.ci_low and c.sequential.ci_high > c.lift_abs.ci_high
    assert c.sequential.ci_low <= TRUE_LIFT <= c.sequential.ci_high
    assert c.sequential.p_value >= c.lift_abs.p_value


def test_frame_and_summary(result) -> None:
    frame = result.to_frame()
    assert len(frame) == 1
    assert set(frame.columns) >= FRAME_COLUMNS
    row = frame.iloc[0]
    assert row["experiment"] == "checkout_v2" and row["variant"] == "treatment"
    assert bool(row["trustworthy"]) and not bool(row["srm_detected"])
    text = result.summary()
    assert text.startswith("Treatment raised conversion from ")
    assert " pp, 95 % CI " in text and "CUPED cut variance by" in text and "looks healthy" in text


def test_planted_srm_is_flagged() -> None:
    res = analyze_experiment(simulate(20_000, seed=2, treat_loss=0.10), pre_col="pre_sessions")
    assert res.srm_detected and res.srm_p_value < 1e-6
    assert not res.trustworthy
    assert any("sample-ratio mismatch" in r for r in res.reasons)
    assert "do not trust" in res.summary()
    assert not res.to_frame()["trustworthy"].iloc[0]


def test_healthy_experiments_rarely_alarm_and_cis_cover() -> None:
    """200 healthy experiments: SRM false alarms at alpha=0.001 and CI coverage at 95 %."""
    n_sims = 200
    alarms = covered = covered_cuped = covered_seq = 0
    reductions = []
    for seed in range(n_sims):
        res = analyze_experiment(simulate(2_000, seed=1_000 + seed), pre_col="pre_sessions")
        (c,) = res.comparisons
        alarms += res.srm_detected
        # the realised lift in this population is TRUE_LIFT up to the (tiny) clipping at p = 1
        covered += c.lift_abs.ci_low <= TRUE_LIFT <= c.lift_abs.ci_high
        covered_cuped += c.cuped.ci_low <= TRUE_LIFT <= c.cuped.ci_high
        covered_seq += c.sequential.ci_low <= TRUE_LIFT <= c.sequential.ci_high
        reductions.append(c.variance_reduction)
    assert alarms <= 2
    assert covered / n_sims >= 0.90
    assert covered_cuped / n_sims >= 0.90
    assert covered_seq / n_sims >= 0.95
    assert np.median(reductions) > 0.1


def test_cuped_skipped_with_note() -> None:
    df = simulate(4_000, seed=3)
    no_pre = analyze_experiment(df)
    assert no_pre.comparisons[0].cuped is None
    assert any("CUPED skipped" in n for n in no_pre.notes)
    assert np.isnan(no_pre.to_frame()["cuped_lift_abs"].iloc[0])
    flat = analyze_experiment(df.assign(pre_sessions=1.0), pre_col="pre_sessions")
    assert flat.comparisons[0].cuped is None
    assert any("no variance" in n for n in flat.notes)
    absent = analyze_experiment(df, pre_col="nope")
    assert any("not found" in n for n in absent.notes)


def test_multi_variant_expected_split_and_continuous_outcome() -> None:
    rng = np.random.default_rng(4)
    n = 6_000
    variant = rng.choice(["control", "a", "b"], size=n, p=[0.5, 0.25, 0.25])
    revenue = rng.exponential(10.0, size=n) + 1.5 * (variant == "b")
    df = pd.DataFrame({"user_id": np.arange(n), "variant": variant, "revenue": revenue})
    res = analyze_experiment(
        df, outcome_col="revenue", expected_split={"control": 50, "a": 25, "b": 25}, experiment="pricing"
    )
    assert not res.srm_detected and res.trustworthy
    assert not res.binary_outcome
    assert [c.variant for c in res.comparisons] == ["a", "b"]
    b = res.comparisons[1]
    assert b.lift_abs.ci_low <= 1.5 <= b.lift_abs.ci_high
    # the same frame read against an equal split is a glaring mismatch
    assert analyze_experiment(df, outcome_col="revenue").srm_detected


def test_assignment_leak_excluded_and_flagged() -> None:
    df = simulate(4_000, seed=5)
    leaked = df.iloc[:200].assign(variant=lambda d: np.where(d["variant"] == "control", "treatment", "control"))
    res = analyze_experiment(pd.concat([df, leaked], ignore_index=True))
    assert sum(v.units for v in res.variants) == 4_000 - 200
    assert not res.trustworthy and any("more than one variant" in r for r in res.reasons)


def test_bool_outcome_and_missing_values() -> None:
    df = simulate(4_000, seed=6)
    df["converted"] = df["converted"].astype(bool)
    df.loc[df.index[:10], "variant"] = None
    res = analyze_experiment(df)
    assert res.binary_outcome
    assert sum(v.units for v in res.variants) == 3_990
    assert any("without a variant" in n for n in res.notes)


def test_srm_test_directly() -> None:
    assert srm_test({"control": 5_000, "treatment": 5_000}, {"control": 1, "treatment": 1}).p_value == 1.0
    res = srm_test({"control": 5_000, "treatment": 4_500}, {"control": 0.5, "treatment": 0.5})
    assert res.detected and res.observed_share["control"] > 0.52
    assert srm_test({"control": 100}, {"control": 1, "treatment": 1}).detected


def test_confidence_sequence_contains_estimate_and_shrinks() -> None:
    small = confidence_sequence(0.02, 1e-4, 0.05)
    large = confidence_sequence(0.02, 1e-5, 0.05)
    assert small.ci_low < 0.02 < small.ci_high
    assert (large.ci_high - large.ci_low) < (small.ci_high - small.ci_low)


@pytest.mark.parametrize(
    ("frame", "kwargs", "match"),
    [
        (pd.DataFrame(), {}, "empty"),
        (pd.DataFrame({"user_id": [1, 2], "variant": ["control", "control"], "converted": [0, 1]}), {}, "one variant"),
        (pd.DataFrame({"user_id": [1, 2], "variant": ["a", "b"], "converted": [0, 1]}), {}, "control variant"),
        (pd.DataFrame({"user_id": [1, 2], "variant": ["control", "b"]}), {}, "not found"),
        (
            pd.DataFrame({"user_id": [1, 2, 3], "variant": ["control", "b", "c"], "converted": [0, 1, 1]}),
            {"expected_split": {"control": 0.5, "b": 0.5}},
            "not in expected_split",
        ),
        (
            pd.DataFrame({"user_id": [1, 2], "variant": ["control", "b"], "converted": ["yes", "no"]}),
            {},
            "numeric or bool",
        ),
        (
            pd.DataFrame({"user_id": [1, 1, 2], "variant": ["control", "control", "b"], "converted": [0, 1, 1]}),
            {},
            "one row per unit",
        ),
    ],
)
def test_bad_input_raises(frame: pd.DataFrame, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        analyze_experiment(frame, **kwargs)


def test_confidence_sequence_survives_peeking() -> None:
    """A/A tests read at 16 interim looks: fixed CIs cry wolf far more than alpha; the sequence does not."""
    rng = np.random.default_rng(7)
    n_sims, n_max, looks = 300, 4_000, np.arange(250, 4_001, 250)
    fixed_alarms = seq_alarms = 0
    for _ in range(n_sims):
        y_t, y_c = rng.binomial(1, 0.3, size=(2, n_max)).astype(float)
        fixed_hit = seq_hit = False
        for n in looks:
            diff = y_t[:n].mean() - y_c[:n].mean()
            var = (y_t[:n].var(ddof=1) + y_c[:n].var(ddof=1)) / n
            fixed_hit |= abs(diff) > 1.96 * np.sqrt(var)
            cs = confidence_sequence(diff, var, 0.05, var_target=var * n / n_max)
            seq_hit |= not cs.ci_low <= 0 <= cs.ci_high
        fixed_alarms += fixed_hit
        seq_alarms += seq_hit
    assert fixed_alarms / n_sims > 0.12
    assert seq_alarms / n_sims <= 0.05
