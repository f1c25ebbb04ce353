"""``analyze_experiment``: an A/B(/n) test read the way a careful analyst would read it.

Order matters: trust first, then effect. The sample-ratio check and assignment-leak check decide
whether the comparison is valid at all; only then are lifts (fixed-horizon, CUPED-adjusted and
always-valid) worth reading. Everything lands in one ``ExperimentResult`` whose ``to_frame`` is a
warehouse-ready table (one row per variant vs control) and whose ``summary`` is one sentence a
product manager can paste into a decision doc.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pintel.experiments import cuped
from pintel.experiments.lift import Lift, absolute_lift, relative_lift
from pintel.experiments.sequential import ConfidenceSequence, confidence_sequence
from pintel.experiments.srm import normalise_split, srm_test

MAX_LEAK_SHARE = 0.01
"""Share of units seen in more than one variant beyond which assignment itself is suspect."""


@dataclass(frozen=True)
class VariantStats:
    """Units, mean outcome (the conversion rate for a 0/1 outcome) and its standard error."""

    variant: str
    units: int
    mean: float
    std: float
    std_error: float


@dataclass(frozen=True)
class Comparison:
    """One variant against control. ``cuped`` is None when CUPED was skipped."""

    variant: str
    control: str
    units: int
    control_units: int
    mean: float
    control_mean: float
    lift_abs: Lift
    lift_rel: Lift
    cuped: Lift | None
    variance_reduction: float | None
    sequential: ConfidenceSequence


@dataclass(frozen=True)
class ExperimentResult:
    """Everything ``analyze_experiment`` found; ``reasons`` explains ``trustworthy = False``."""

    experiment: str
    outcome: str
    binary_outcome: bool
    control: str
    alpha: float
    variants: list[VariantStats]
    comparisons: list[Comparison]
    srm_p_value: float
    srm_detected: bool
    observed_split: dict[str, float]
    expected_split: dict[str, float]
    cuped_theta: float | None
    trustworthy: bool
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per variant-vs-control comparison, flat columns for a warehouse table.

        ``conversion`` is the variant's mean outcome (a rate for 0/1 outcomes); ``cuped_*`` and
        ``variance_reduction`` are NaN when CUPED was skipped; ``seq_*`` are the always-valid ones.
        """
        notes = "; ".join([*self.reasons, *self.notes])
        nan = float("nan")
        rows = []
        for c in self.comparisons:
            adj = c.cuped
            rows.append(
                {
                    "experiment": self.experiment,
                    "variant": c.variant,
                    "control": c.control,
                    "outcome": self.outcome,
                    "units": c.units,
                    "control_units": c.control_units,
                    "conversion": c.mean,
                    "control_conversion": c.control_mean,
                    "lift_abs": c.lift_abs.estimate,
                    "lift_abs_ci_low": c.lift_abs.ci_low,
                    "lift_abs_ci_high": c.lift_abs.ci_high,
                    "lift_rel": c.lift_rel.estimate,
                    "lift_rel_ci_low": c.lift_rel.ci_low,
                    "lift_rel_ci_high": c.lift_rel.ci_high,
                    "p_value": c.lift_abs.p_value,
                    "cuped_lift_abs": adj.estimate if adj else nan,
                    "cuped_ci_low": adj.ci_low if adj else nan,
                    "cuped_ci_high": adj.ci_high if adj else nan,
                    "cuped_p_value": adj.p_value if adj else nan,
                    "variance_reduction": c.variance_reduction if c.variance_reduction is not None else nan,
                    "seq_ci_low": c.sequential.ci_low,
                    "seq_ci_high": c.sequential.ci_high,
                    "seq_p_value": c.sequential.p_value,
                    "srm_p_value": self.srm_p_value,
                    "srm_detected": self.srm_detected,
                    "trustworthy": self.trustworthy,
                    "notes": notes,
                }
            )
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """One plain-language sentence: effect per variant, CUPED gain, and whether to trust it."""
        parts = [self._describe(c) for c in self.comparisons]
        split = "/".join(f"{100 * self.observed_split[v.variant]:.1f}" for v in self.variants)
        if self.srm_detected:
            expected = "/".join(f"{100 * self.expected_split[v.variant]:.1f}" for v in self.variants)
            verdict = (
                f"split {split} (expected {expected}) is a sample-ratio mismatch "
                f"(p = {self.srm_p_value:.2g}): do not trust this result"
            )
        elif not self.trustworthy:
            verdict = f"split {split} looks healthy but do not trust this result: {'; '.join(self.reasons)}"
        else:
            verdict = f"split {split} looks healthy"
        return "; ".join([*parts, verdict]) + "."

    def _describe(self, c: Comparison) -> str:
        if self.binary_outcome:
            metric, unit = "conversion", " pp"

            def level_fmt(v: float) -> str:
                return f"{100 * v:.1f} %"

            def diff_fmt(v: float) -> str:
                return f"{100 * v:+.1f}"

        else:
            metric, unit = self.outcome, ""
            # two significant digits of the standard error, the same decimals everywhere
            se = c.lift_abs.std_error
            places = max(0, 1 - int(np.floor(np.log10(se)))) if se > 0 else 2

            def level_fmt(v: float) -> str:
                return f"{v:.{places}f}"

            def diff_fmt(v: float) -> str:
                return f"{v:+.{places}f}"

        lift = c.lift_abs
        p = "p < 0.001" if lift.p_value < 0.001 else f"p = {lift.p_value:.3f}"
        ci = f"{100 * (1 - self.alpha):g} % CI {diff_fmt(lift.ci_low)} to {diff_fmt(lift.ci_high)}"
        interval = f"{diff_fmt(lift.estimate)}{unit}, {ci}, {p}"
        name = c.variant[:1].upper() + c.variant[1:]
        if lift.p_value < self.alpha:
            verb = "raised" if lift.estimate > 0 else "lowered"
            text = f"{name} {verb} {metric} from {level_fmt(c.control_mean)} to {level_fmt(c.mean)} ({interval})"
        else:
            text = (
                f"{name} did not significantly change {metric} "
                f"({level_fmt(c.control_mean)} vs {level_fmt(c.mean)}; {interval})"
            )
        if c.variance_reduction is not None:
            text += f"; CUPED cut variance by {100 * max(c.variance_reduction, 0.0):.0f} %"
        return text


def _clean_assignments(
    df: pd.DataFrame, unit_col: str | None, variant_col: str, notes: list[str], reasons: list[str]
) -> pd.DataFrame:
    """Drop unassigned rows and units exposed to several variants; insist on one row per unit."""
    missing_variant = df[variant_col].isna()
    if missing_variant.any():
        notes.append(f"dropped {int(missing_variant.sum())} rows without a variant")
        df = df.loc[~missing_variant]
    df = df.assign(**{variant_col: df[variant_col].astype(str)})
    if unit_col is None:
        return df
    if df[unit_col].isna().any():
        raise ValueError(f"unit column '{unit_col}' has missing ids")
    variants_per_unit = df.groupby(unit_col, sort=False)[variant_col].nunique()
    leaked = variants_per_unit.index[variants_per_unit > 1]
    if len(leaked):
        share = len(leaked) / len(variants_per_unit)
        notes.append(f"excluded {len(leaked)} units ({share:.2%}) seen in more than one variant")
        if share > MAX_LEAK_SHARE:
            reasons.append(f"{share:.1%} of units were exposed to more than one variant (assignment leak)")
        df = df.loc[~df[unit_col].isin(leaked)]
    if df[unit_col].duplicated().any():
        raise ValueError(
            f"several rows per unit in '{unit_col}': aggregate to one row per unit before analysing "
            f"(e.g. max of a conversion flag, sum of revenue)"
        )
    return df


def _numeric(s: pd.Series, name: str) -> np.ndarray:
    s = s.infer_objects()
    if pd.api.types.is_bool_dtype(s):
        return s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    if not pd.api.types.is_numeric_dtype(s):
        raise ValueError(f"column '{name}' must be numeric or bool, got dtype {s.dtype}")
    values = s.to_numpy(dtype=float, na_value=np.nan)
    if np.isinf(values).any():
        raise ValueError(f"column '{name}' contains infinite values")
    return values


def analyze_experiment(
    df: pd.DataFrame,
    *,
    unit_col: str | None = "user_id",
    variant_col: str = "variant",
    outcome_col: str = "converted",
    pre_col: str | None = None,
    control: str = "control",
    expected_split: Mapping[str, float] | None = None,
    alpha: float = 0.05,
    srm_alpha: float = 0.001,
    experiment: str = "",
    min_units: int = 100,
    planned_units: int | None = None,
) -> ExperimentResult:
    """Analyse a randomised experiment with one row per unit.

    Args:
        unit_col: randomisation unit id (None: every row is a unit). Units seen in several variants
            are excluded (and, above 1 %, make the result untrustworthy); other duplicates raise.
        outcome_col: numeric or bool outcome; 0/1 is reported as a conversion rate in pp.
        pre_col: pre-period covariate for CUPED; skipped with a note if absent or constant.
        control: label of the control variant (compared as a string).
        expected_split: configured traffic weights per variant (default: equal). Every observed
            variant must be listed.
        srm_alpha: SRM alarm threshold, 0.001 by convention (see :mod:`pintel.experiments.srm`).
        min_units: fewer units than this in any arm makes the result untrustworthy.
        planned_units: planned total units, used to tune the always-valid interval
            (see :mod:`pintel.experiments.sequential`); default tunes it to the current size.

    Raises:
        ValueError: empty frame, missing columns, control absent, a single variant, variants not
            in ``expected_split``, non-numeric outcome, or an arm with fewer than 2 units.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise ValueError("the experiment frame is empty")
    if not 0 < alpha < 1 or not 0 < srm_alpha < 1:
        raise ValueError("alpha and srm_alpha must be in (0, 1)")
    needed = [c for c in (unit_col, variant_col, outcome_col) if c is not None]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"columns not found in the frame: {missing}")

    notes: list[str] = []
    reasons: list[str] = []
    control = str(control)
    df = _clean_assignments(df, unit_col, variant_col, notes, reasons)
    observed = sorted(df[variant_col].unique())
    if control not in observed:
        raise ValueError(f"control variant '{control}' not found; variants present: {observed}")
    if len(observed) < 2:
        raise ValueError(f"only one variant ('{control}') present: nothing to compare")
    variants = [control, *[v for v in observed if v != control]]

    split = {str(k): float(w) for k, w in (expected_split or dict.fromkeys(variants, 1.0)).items()}
    unknown = [v for v in variants if v not in split]
    if unknown:
        raise ValueError(f"variants {unknown} are not in expected_split {sorted(split)}")
    counts = df[variant_col].value_counts().to_dict()
    srm = srm_test(counts, normalise_split(split), alpha=srm_alpha)
    if srm.detected:
        reasons.append(f"sample-ratio mismatch (chi-square p = {srm.p_value:.2g} < {srm_alpha})")

    y_all = _numeric(df[outcome_col], outcome_col)
    has_y = ~np.isnan(y_all)
    if not has_y.all():
        notes.append(f"dropped {int((~has_y).sum())} units with a missing outcome")
    df, y_all = df.loc[has_y], y_all[has_y]
    binary = set(np.unique(y_all).tolist()) <= {0.0, 1.0}
    arm = df[variant_col].to_numpy()

    cuped_fit, y_adj = None, None
    if pre_col is None:
        notes.append("CUPED skipped: no pre-period covariate given")
    elif pre_col not in df.columns:
        notes.append(f"CUPED skipped: pre-period column '{pre_col}' not found")
    else:
        x = _numeric(df[pre_col], pre_col)
        cuped_fit = cuped.fit_theta(y_all, x)
        if cuped_fit is None:
            notes.append(f"CUPED skipped: pre-period column '{pre_col}' has no variance")
        else:
            y_adj = cuped.adjust(y_all, x, cuped_fit)
            if cuped_fit.n_imputed:
                notes.append(f"CUPED left {cuped_fit.n_imputed} units without a pre-period value unadjusted")

    stats_by_variant = []
    for v in variants:
        y = y_all[arm == v]
        if len(y) < 2:
            raise ValueError(f"variant '{v}' has {len(y)} units with an outcome; need at least 2")
        sd = float(y.std(ddof=1))
        stats_by_variant.append(VariantStats(v, len(y), float(y.mean()), sd, sd / np.sqrt(len(y))))
        if len(y) < min_units:
            reasons.append(f"variant '{v}' has only {len(y)} units (< {min_units})")

    y_c = y_all[arm == control]
    comparisons = []
    for v in variants[1:]:
        y_t = y_all[arm == v]
        raw = absolute_lift(y_t, y_c, alpha)
        adj, reduction = None, None
        if y_adj is not None:
            adj = absolute_lift(y_adj[arm == v], y_adj[arm == control], alpha)
            reduction = 1 - adj.std_error**2 / raw.std_error**2 if raw.std_error > 0 else None
        var = raw.std_error**2
        var_target = var * (len(y_t) + len(y_c)) / planned_units if planned_units else None
        comparisons.append(
            Comparison(
                variant=v,
                control=control,
                units=len(y_t),
                control_units=len(y_c),
                mean=float(y_t.mean()),
                control_mean=float(y_c.mean()),
                lift_abs=raw,
                lift_rel=relative_lift(y_t, y_c, alpha),
                cuped=adj,
                variance_reduction=reduction,
                sequential=confidence_sequence(raw.estimate, var, alpha, var_target),
            )
        )

    return ExperimentResult(
        experiment=experiment,
        outcome=outcome_col,
        binary_outcome=binary,
        control=control,
        alpha=alpha,
        variants=stats_by_variant,
        comparisons=comparisons,
        srm_p_value=srm.p_value,
        srm_detected=srm.detected,
        observed_split={v: srm.observed_share.get(v, 0.0) for v in variants},
        expected_split={v: srm.expected_share[v] for v in variants},
        cuped_theta=cuped_fit.theta if cuped_fit else None,
        trustworthy=not reasons,
        reasons=reasons,
        notes=notes,
    )
