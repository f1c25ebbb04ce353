"""Feature impact table: the effect of adopting each catalogued feature early on later retention.

``feature_impact_table`` turns the unit-level frame built in SQL (``ml_feature_adoption_cohort``: one row
per new user x feature) into one row per feature x horizon for the ``causal_feature_impact`` dbt model:
the naive difference next to AIPW ATE / ATT and IPW ATE, the overlap and balance diagnostics, the
refutations, a ``reliable`` flag and one plain-language sentence.

Design (and its limits, repeated in the dbt model's docs):

* treatment = first use of the feature in days [0, window) after the signup day; outcome retention_Nd =
  active in days [N, N+7) after the signup day, analysed only where that window is fully observed;
* covariates are only what is observable before adoption could matter: active days and events in
  days 0-6, plan and channel at signup, company size. The adoption window [0, 14) overlaps the covariate
  window [0, 7): for users who adopt in days 0-6 early activity is partly post-treatment (it may carry
  part of the effect, and adoption needs activity). Each affected row says what share of its adopters
  that concerns. The key feature is adopted in days 7-13, most other features earlier;
* immortal time and the landmark: adopting requires still being an active user on the adoption day, so
  users who leave early can only be non-adopters. Over the whole cohort that lowers the non-adopters'
  retention at given covariates and biases the estimate upward (key feature, 30 days, 50 000 users x 180
  days, three seeds: +2.5 to +5.2 pp against a true +5.2 pp; benchmarks/bench_causal.py). So the comparison
  is a *landmark* analysis: only units ``present_at_landmark`` (active at least once in the last days of the
  adoption window) are compared, adopters and non-adopters alike; the others are counted in
  ``left_before_landmark``. The estimand is the effect among users still around at the end of the window.
  Presence is seen through activity, which leaves two smaller opposing biases: a non-adopter active early in
  the last week who left before its end still counts (upward), and the adoption is itself activity, so
  adopters are present by construction while non-adopters must show up on their own (downward). Measured
  residual on the same data: -1.1 to +1.6 pp (about two standard errors at that size; mean +0.6 pp);
* adjustment removes only observed confounding. A feature whose adoption is driven by something not in
  the covariates (who the user is, activity after day 6) keeps a biased estimate that no diagnostic
  here can detect -- treat non-key rows as screening, not proof;
* a feature with too few adopters (or non-adopters), or a retention rate with no variation, gets a row
  with ``reliable = False``, no adjusted numbers and a note -- never a crash, never a confident number.

Runtime: one AIPW ATE with refutations is six cross-fits (main, placebo, random common cause, three
subsets); the main one fits every candidate nuisance model, the refutations only the ones it chose. ATT and
IPW ask the same question of the same data, so they reuse the main cross-fit (``pintel.causal.nuisance``
caches it) and run without refutations. Refutations can only take confidence away, so the dbt model's
default ``refute="decisive"`` runs them only on rows where they can change a decision -- still reliable after
the overlap checks and a CI that excludes 0 (:func:`refutation_needless`); the other rows say in their
warnings why none ran, and cost one cross-fit instead of six. ``"all"`` refutes every estimated row,
``"key"`` only the key feature. Measured figures: BENCHMARKS.md, "Causal feature impact: runtime".
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pintel.causal.estimate import UNRELIABLE, EffectEstimate, estimate_effect
from pintel.causal.estimators import naive
from pintel.causal.reuse import KEY as FINGERPRINT
from pintel.causal.reuse import fingerprint, previous_rows
from pintel.causal.workers import answer_all

COVARIATES = ("active_days_d0_6", "events_d0_6", "signup_plan", "signup_channel", "company_size")
"""Pre-adoption covariates (columns of ``ml_feature_adoption_cohort``)."""

LANDMARK = "present_at_landmark"
"""Boolean column of the unit frame: still present at the end of the adoption window (see the module doc)."""

HORIZONS = (30, 60)
MIN_UNITS_PER_ARM = 30
"""Fewer adopters (or non-adopters) than this with an observed outcome: no adjusted estimate at all."""

REFUTE_MODES = ("all", "decisive", "key", "none")
"""Which rows get refutations: every estimated row, only rows where they can change a decision (see
:func:`refutation_needless`), only the key feature, or none."""
SEPARATOR = " | "

SCHEMA: dict[str, str] = {
    "feature_key": "varchar",
    "feature_name": "varchar",
    "is_key_feature": "boolean",
    "horizon_days": "integer",
    "outcome": "varchar",
    "adoption_window_days": "integer",
    "cohort_units": "integer",
    "left_before_landmark": "integer",
    "adopters": "integer",
    "adoption_rate": "double",
    "adopters_by_day_6": "integer",
    "adopter_retention": "double",
    "non_adopter_retention": "double",
    "naive_estimate": "double",
    "naive_ci_low": "double",
    "naive_ci_high": "double",
    "ate_estimate": "double",
    "ate_ci_low": "double",
    "ate_ci_high": "double",
    "ate_std_error": "double",
    "ate_p_value": "double",
    "att_estimate": "double",
    "att_ci_low": "double",
    "att_ci_high": "double",
    "ipw_ate_estimate": "double",
    "ipw_ate_ci_low": "double",
    "ipw_ate_ci_high": "double",
    "n": "integer",
    "n_treated": "integer",
    "n_trimmed": "integer",
    "share_trimmed": "double",
    "ess_treated": "double",
    "ess_control": "double",
    "propensity_treated_median": "double",
    "propensity_control_median": "double",
    "max_abs_smd_before": "double",
    "max_abs_smd_after": "double",
    "worst_covariate_after": "varchar",
    "refutations_run": "boolean",
    "placebo_passed": "boolean",
    "random_common_cause_passed": "boolean",
    "data_subset_passed": "boolean",
    "refutations_passed": "boolean",
    "reliable": "boolean",
    "warnings": "varchar",
    "summary": "varchar",
    "diagnostics": "varchar",
}
"""Columns and SQL types of ``causal_feature_impact``, in order: the contract of causal_feature_impact_served.yml
(a test checks they agree). The dbt model types its result with ``typed_relation(session, frame, SCHEMA)``."""
COLUMNS = list(SCHEMA)


def feature_impact_table(
    units: pd.DataFrame,
    features: pd.DataFrame,
    horizons: Sequence[int] = HORIZONS,
    *,
    window_days: int = 14,
    covariates: Sequence[str] = COVARIATES,
    min_units_per_arm: int = MIN_UNITS_PER_ARM,
    n_folds: int = 5,
    seed: int = 0,
    refute: str = "all",
    landmark: str | None = LANDMARK,
    previous: pd.DataFrame | None = None,
    workers: int = 1,
) -> pd.DataFrame:
    """One row per feature in ``features`` x horizon (columns ``COLUMNS``).

    Args:
        units: one row per user x feature with ``feature_key``, ``adopted`` (bool), the ``covariates``,
            ``observed_{h}d`` and ``retained_{h}d`` per horizon; ``adopted_by_day_6`` is optional.
        features: the catalogue (``feature_key``, ``feature_name``, ``is_key_feature``); a feature
            absent from ``units`` still gets (unreliable) rows.
        window_days: the adoption window, only used in texts.
        refute: ``"all"`` runs refutations for every feature, ``"decisive"`` only where they can change a
            decision (an estimate still reliable whose CI excludes 0, :func:`refutation_needless`), ``"key"``
            only for the key feature, ``"none"`` never.
        landmark: boolean column restricting the comparison to units present at the end of the adoption
            window (required when given); ``None`` compares every unit (and accepts the immortal-time bias).
        previous: the last run's table; a row whose inputs, settings and code are unchanged is copied from it
            instead of re-estimated (:mod:`pintel.causal.reuse`). ``table.attrs["reused_rows"]`` counts them.
        workers: processes answering the feature x horizon questions (:mod:`pintel.causal.workers`); 1 answers
            them here, in order. The table is the same for any number.
    """
    if refute not in REFUTE_MODES:
        raise ValueError(f"refute must be one of {REFUTE_MODES}, got {refute!r}")
    needed = ["feature_key", "adopted", *covariates, *([landmark] if landmark else [])]
    for h in horizons:
        needed += [f"observed_{h}d", f"retained_{h}d"]
    missing = [c for c in needed if c not in units.columns]
    if missing:
        raise ValueError(f"units frame lacks columns {missing}")
    by_feature = dict(tuple(units.groupby("feature_key", sort=False)))
    reusable = previous_rows(previous)
    rows: list[dict[str, Any] | Question] = []
    for feature in features.sort_values("feature_key").itertuples(index=False):
        key = str(feature.feature_key)
        is_key = bool(getattr(feature, "is_key_feature", False))
        name = str(getattr(feature, "feature_name", key) or key)
        feature_units = by_feature.get(key, units.iloc[0:0])
        for h in horizons:
            observed = feature_units[f"observed_{h}d"].fillna(False).astype(bool).to_numpy()
            present = feature_units[landmark].fillna(False).astype(bool).to_numpy() if landmark else True
            rows.append(
                _impact_row(
                    feature_units.loc[observed & present],
                    left_before_landmark=int((observed & ~present).sum()),
                    key=key,
                    name=name,
                    is_key=is_key,
                    horizon=int(h),
                    window_days=int(window_days),
                    covariates=list(covariates),
                    min_units_per_arm=min_units_per_arm,
                    n_folds=n_folds,
                    seed=seed,
                    refute="decisive" if refute == "decisive" else refute == "all" or (refute == "key" and is_key),
                    reusable=reusable,
                )
            )
    pending = [i for i, r in enumerate(rows) if isinstance(r, Question)]
    questions = [rows[i] for i in pending]
    for i, done in zip(pending, answer_all(answer, questions, [q.cost for q in questions], workers), strict=True):
        rows[i] = done
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.attrs["reused_rows"] = sum(bool(r.get("_reused")) for r in rows)
    return table


def impact_status(table: pd.DataFrame) -> tuple[str, str]:
    """``(status, reason)`` of a feature-impact table for ``ml_model_status`` (:func:`pintel.status.guarded`).

    Every catalogued feature always gets its rows, with the reason when there is no estimate; the model
    counts as skipped when not one row could be estimated, and the reason quotes the key feature's row.
    """
    estimated = int(table["ate_estimate"].notna().sum()) if len(table) else 0
    counts = (
        f"{estimated} of {len(table)} feature x horizon rows estimated (need \u2265 {MIN_UNITS_PER_ARM} users per arm)"
    )
    reused = int(table.attrs.get("reused_rows", 0))
    if reused:
        counts += f"; {reused} reused from the previous run (same units, settings and code)"
    if estimated:
        return "ok", counts
    key = table[table["is_key_feature"].astype(bool)] if len(table) else table
    detail = f"; key feature: {key['summary'].iloc[0]}" if len(key) else ""
    return "skipped", counts + detail


def _impact_row(
    df: pd.DataFrame,
    *,
    left_before_landmark: int,
    key: str,
    name: str,
    is_key: bool,
    horizon: int,
    window_days: int,
    covariates: list[str],
    min_units_per_arm: int,
    n_folds: int,
    seed: int,
    refute: bool | str,
    reusable: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any] | Question:
    """The row of one feature x horizon when it needs no estimate (too few units, or reused), else its ``Question``."""
    outcome = f"retained_{horizon}d"
    df = df.loc[df["adopted"].notna() & df[outcome].notna()]
    t = df["adopted"].astype(bool).to_numpy()
    y = df[outcome].astype(float).to_numpy()
    n_units, n_adopters = len(df), int(t.sum())
    nan = float("nan")
    row: dict[str, Any] = dict.fromkeys(COLUMNS, nan)
    row.update(
        feature_key=key,
        feature_name=name,
        is_key_feature=is_key,
        horizon_days=horizon,
        outcome=f"retention_{horizon}d",
        adoption_window_days=window_days,
        cohort_units=n_units,
        left_before_landmark=left_before_landmark,
        adopters=n_adopters,
        adoption_rate=n_adopters / n_units if n_units else nan,
        adopters_by_day_6=int(df["adopted_by_day_6"].astype(bool).sum()) if "adopted_by_day_6" in df else None,
        adopter_retention=float(y[t].mean()) if t.any() else nan,
        non_adopter_retention=float(y[~t].mean()) if (~t).any() else nan,
        refutations_run=False,
        placebo_passed=None,
        random_common_cause_passed=None,
        data_subset_passed=None,
        refutations_passed=None,
        reliable=False,
        worst_covariate_after=None,
        diagnostics=None,
        n=0,
        n_treated=0,
    )
    if min(n_adopters, n_units - n_adopters) >= 2 and np.ptp(y) > 0:
        nv = naive(t.astype(int), y)
        row.update(naive_estimate=nv.estimate, naive_ci_low=nv.ci_low, naive_ci_high=nv.ci_high)

    problem = _insufficient(n_units, n_adopters, y, min_units_per_arm, horizon)
    if problem:
        row["warnings"] = f"{UNRELIABLE}: {problem}; no adjusted estimate"
        row["summary"] = _sentence_unavailable(name, window_days, horizon, problem)
        return row

    inputs = ["adopted", outcome, *covariates, *(["adopted_by_day_6"] if "adopted_by_day_6" in df else [])]
    settings = {"row": [key, name, is_key, horizon, window_days, left_before_landmark], "fit": [n_folds, seed, refute]}
    input_key = fingerprint(df, inputs, settings)
    if reusable and input_key in reusable:
        return {**reusable[input_key], "_reused": True}
    return Question(
        units=df[["adopted", outcome, *covariates]],
        row=row,
        outcome=outcome,
        covariates=covariates,
        n_folds=n_folds,
        seed=seed,
        refute=refute,
        input_key=input_key,
    )


@dataclass(frozen=True)
class Question:
    """One feature x horizon row still to estimate: everything :func:`answer` needs, and nothing else.

    The cheap part of a row (counts, naive difference, the checks that no estimate is possible, the reuse of the
    last run's row) is done in the calling process; a ``Question`` is the expensive rest. It is self-contained
    and picklable, so questions can be answered in worker processes (:mod:`pintel.causal.workers`) in any order:
    a row depends only on its own units and settings, never on which question ran before it. ATE, ATT and IPW of
    one question stay together, so they share one cross-fit (the nuisance cache of :mod:`pintel.causal.nuisance`).
    """

    units: pd.DataFrame
    """The compared units: only the columns the estimate reads (treatment, outcome, covariates)."""
    row: dict[str, Any]
    outcome: str
    covariates: list[str]
    n_folds: int
    seed: int
    refute: bool | str
    input_key: str

    @property
    def cost(self) -> int:
        """Rough relative cost, to start the largest questions first (the order never changes a result)."""
        return len(self.units) * (6 if self.refute is True else 2 if self.refute == "decisive" else 1)


def answer(question: Question) -> dict[str, Any]:
    """The row of ``question``: AIPW ATE (refuted as asked), AIPW ATT, IPW ATE and the texts."""
    df, row, outcome, covariates = question.units, dict(question.row), question.outcome, question.covariates
    refute, input_key, name = question.refute, question.input_key, row["feature_name"]
    window_days, horizon, n_adopters = row["adoption_window_days"], row["horizon_days"], row["adopters"]
    notes: list[str] = []
    early = row["adopters_by_day_6"]
    if early:
        notes.append(
            f"{early} of {n_adopters} adopters ({early / n_adopters:.0%}) adopted in days 0-6, inside the "
            "covariate window: their early activity is partly post-treatment"
        )
    fit = {"n_folds": question.n_folds, "seed": question.seed}
    ate = _try(notes, "AIPW ATE", df, outcome, covariates, "aipw", "ate", refute=refute is True, **fit)
    if refute == "decisive" and ate is not None:
        needless = refutation_needless(ate)
        if needless:
            notes.append(f"refutations not run: {needless}")
        else:  # the main cross-fit is cached (pintel.causal.nuisance): only the refutations' refits cost
            ate = _try(notes, "AIPW ATE", df, outcome, covariates, "aipw", "ate", refute=True, **fit)
    att = _try(notes, "AIPW ATT", df, outcome, covariates, "aipw", "att", refute=False, **fit)
    ipw = _try(notes, "IPW ATE", df, outcome, covariates, "ipw", "ate", refute=False, **fit)
    for label, res in (("AIPW ATT", att), ("IPW ATE", ipw)):
        if res is not None and not res.reliable:
            notes.append(f"{label} unreliable: {res.warnings[0].removeprefix(f'{UNRELIABLE}: ')}")
    if att is not None:
        row.update(att_estimate=att.estimate, att_ci_low=att.ci_low, att_ci_high=att.ci_high)
    if ipw is not None:
        row.update(ipw_ate_estimate=ipw.estimate, ipw_ate_ci_low=ipw.ci_low, ipw_ate_ci_high=ipw.ci_high)
    if ate is None:
        row["warnings"] = SEPARATOR.join([f"{UNRELIABLE}: the AIPW ATE could not be estimated", *notes])
        failure = next((n for n in notes if n.startswith("AIPW ATE failed")), "estimation failed")
        row["summary"] = _sentence_unavailable(name, window_days, horizon, failure)
        return row

    row.update(_estimate_columns(ate))
    row["diagnostics"] = json.dumps({**json.loads(row["diagnostics"]), FINGERPRINT: input_key}, sort_keys=True)
    row["warnings"] = SEPARATOR.join([*ate.warnings, *notes])
    row["summary"] = _sentence(row, name)
    return row


def refutation_needless(ate: EffectEstimate) -> str | None:
    """Why refutations of ``ate`` could change no decision (``None`` when they could).

    A refutation can only take confidence away: a failed placebo turns ``reliable`` off, the others add
    warnings and ``refutations_passed = False``. An estimate that is already unreliable, or whose 95 % CI
    includes 0, is acted on by nobody (pintel.decide and pintel.recommend need ``reliable`` and a CI above
    0), so refuting it costs five cross-fits and decides nothing.
    """
    if not ate.reliable:
        return "the estimate is already unreliable, and a refutation can only take confidence away"
    if ate.ci_low <= 0 <= ate.ci_high:
        return "its 95 % CI includes 0, so no refutation could make it actionable"
    return None


def _insufficient(n_units: int, n_adopters: int, y: np.ndarray, min_per_arm: int, horizon: int) -> str | None:
    if n_units == 0:
        return f"no new users present at the landmark with an observed {horizon}-day outcome"
    if n_adopters < min_per_arm:
        return f"only {n_adopters} of {n_units} users adopted it (need at least {min_per_arm})"
    if n_units - n_adopters < min_per_arm:
        return f"only {n_units - n_adopters} of {n_units} users did not adopt it (need at least {min_per_arm})"
    if np.ptp(y) == 0:
        return f"{horizon}-day retention is {y[0]:.0%} for every user: nothing to explain"
    return None


def _try(
    notes: list[str],
    label: str,
    df: pd.DataFrame,
    outcome: str,
    covariates: list[str],
    method: str,
    estimand: str,
    **kwargs: Any,
) -> EffectEstimate | None:
    try:
        return estimate_effect(df, "adopted", outcome, covariates, method, estimand, **kwargs)
    except ValueError as exc:
        notes.append(f"{label} failed: {exc}")
        return None


def _estimate_columns(ate: EffectEstimate) -> dict[str, Any]:
    d = ate.diagnostics
    ov, bal = d.overlap, d.balance
    passed = {r.name: bool(r.passed) for r in d.refutations}
    return {
        "ate_estimate": ate.estimate,
        "ate_ci_low": ate.ci_low,
        "ate_ci_high": ate.ci_high,
        "ate_std_error": ate.std_error,
        "ate_p_value": ate.p_value,
        "n": ate.n,
        "n_treated": ate.n_treated,
        "n_trimmed": ov.n_trimmed,
        "share_trimmed": ov.share_trimmed,
        "ess_treated": ov.ess_treated,
        "ess_control": ov.ess_control,
        "propensity_treated_median": ov.treated.quantiles["q50"],
        "propensity_control_median": ov.control.quantiles["q50"],
        "max_abs_smd_before": bal.max_abs_smd_before,
        "max_abs_smd_after": bal.max_abs_smd_after,
        "worst_covariate_after": bal.worst_after,
        "refutations_run": bool(d.refutations),
        "placebo_passed": passed.get("placebo_treatment"),
        "random_common_cause_passed": passed.get("random_common_cause"),
        "data_subset_passed": passed.get("data_subset"),
        "refutations_passed": all(passed.values()) if passed else None,
        "reliable": bool(ate.reliable),
        "diagnostics": json.dumps(d.to_dict(), sort_keys=True),
    }


def _display_name(name: str) -> str:
    """'Automations' -> 'automations'; acronyms ('SQL editor', 'AI assistant') stay as written."""
    if len(name) > 1 and name[1].isupper():
        return name
    return name[:1].lower() + name[1:]


def _pp(value: float) -> str:
    return f"{100 * value:+.1f}"


def _sentence_unavailable(name: str, window_days: int, horizon: int, reason: str) -> str:
    return (
        f"No estimate for adopting {_display_name(name)} in the first {window_days} days on {horizon}-day "
        f"retention: {reason}."
    )


def _sentence(row: dict[str, Any], name: str) -> str:
    """'Adopting X in the first 14 days raises 30-day retention by +5.1 pp (95 % CI ...); the naive ...'"""
    est, lo, hi = row["ate_estimate"], row["ate_ci_low"], row["ate_ci_high"]
    subject = f"Adopting {_display_name(name)} in the first {row['adoption_window_days']} days"
    metric = f"{row['horizon_days']}-day retention"
    if row["left_before_landmark"]:
        metric += " of users still active at the end of that window"
    ci = f"95 % CI {_pp(lo)} to {_pp(hi)}"
    if lo > 0 or hi < 0:
        verb = "raises" if est > 0 else "lowers"
        text = f"{subject} {verb} {metric} by {_pp(est)} pp ({ci})"
    else:
        text = f"{subject} has no clear effect on {metric} ({_pp(est)} pp, {ci})"
    text += _selection_clause(row["naive_estimate"], est, row["ate_std_error"])
    if not row["reliable"]:
        first = str(row["warnings"]).split(SEPARATOR)[0].removeprefix(f"{UNRELIABLE}: ")
        first = first.removesuffix("; do not act on this estimate")
        text = f"{UNRELIABLE} -- {text}; do not act on it: {first}"
    return text + "."


def _selection_clause(naive_est: float, est: float, se: float) -> str:
    if not math.isfinite(naive_est):
        return ""
    said = f"; the naive comparison says {_pp(naive_est)} pp"
    gap = naive_est - est
    if abs(gap) <= max(se, 0.2 * abs(naive_est)):
        return f"{said}, close to the adjusted figure, so little of the raw gap is selection"
    if naive_est * est >= 0 and abs(est) < abs(naive_est):
        share = gap / naive_est
        amount = "most" if share >= 0.6 else "about half" if share >= 0.4 else "part"
        return f"{said}, so {amount} of the raw gap is selection"
    if abs(est) > abs(naive_est) and naive_est * est >= 0:
        return f"{said}: selection hides part of the effect"
    return f"{said}, the opposite sign: selection dominates the raw gap"
