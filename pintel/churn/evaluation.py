"""Evaluation metrics and plots for churn scorers.

Everything here compares *probabilities* against realised 0/1 outcomes. The churn models are used two ways:
ranked (the CS team works the top of the list every week) and as probabilities (expected churned revenue,
thresholds in playbooks). So :func:`evaluate` reports ranking metrics (ROC-AUC, PR-AUC, top-decile
precision/recall, early flags) *and* calibration metrics (Brier, ECE) side by side; a model that wins on
AUC but is miscalibrated is not a drop-in replacement.

The label horizon is not a constant here: it is the dbt var ``churn_horizon_days``, handed in by the caller
(``ml_churn_metrics`` reads it from its yml ``meta``), so the early-flag window follows the label it judges.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from pintel.churn.columns import CHURN_DATE_COL, DATE_COL, ID_COL, EmptySnapshotError, as_binary_labels
from pintel.churn.operating import RetentionCosts, cost_summary

__all__ = [
    "EVALUATION_COLUMNS",
    "MIN_LEAD_DAYS",
    "OPERATING_COLUMNS",
    "calibration_plot",
    "early_flag_rows",
    "early_flag_share",
    "evaluate",
    "expected_calibration_error",
    "flagged_early_share",
    "top_fraction_flags",
]

#: Columns of :func:`evaluate`'s result, in order.
EVALUATION_COLUMNS = [
    "model",
    "roc_auc",
    "pr_auc",
    "brier",
    "ece",
    "precision_top10",
    "recall_top10",
    "early_flag_share",
    "early_flag_churners",
    "n",
    "positives",
    "high_risk_threshold",
    "recall_14d",
    "high_risk_precision",
    "high_risk_share",
    "expected_cost",
    "cost_flag_none",
    "cost_flag_all",
]
#: The operating-point columns (NaN when :func:`evaluate` gets no costs).
OPERATING_COLUMNS = EVALUATION_COLUMNS[EVALUATION_COLUMNS.index("high_risk_threshold") :]

#: Default notice a retention play needs: a churner counts as flagged early only at least this many days
#: before the churn date (a business choice, not a warehouse rule; ``ml_churn_metrics`` takes it from meta).
MIN_LEAD_DAYS = 14


def expected_calibration_error(y_true: np.ndarray, y_prob: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error with **equal-frequency** bins (sorted predictions split into ``n_bins``).

    ECE = sum over bins of (bin share) x |observed churn rate - mean predicted probability|.

    Equal-frequency rather than equal-width because churn probabilities are heavily skewed towards zero:
    with equal-width bins almost every user lands in [0, 0.1) and the metric says nothing about the
    high-risk tail the CS team acts on. Ties straddling a bin edge are split by sort order, which changes
    the value by at most one row's weight. scikit-learn has no ECE function; ``calibration_curve`` drops bin
    counts, hence the short implementation.
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_prob, dtype=np.float64)
    if p.size == 0:
        return math.nan
    order = np.argsort(p, kind="stable")
    bins = np.array_split(order, min(n_bins, p.size))
    return float(sum(b.size * abs(y[b].mean() - p[b].mean()) for b in bins) / p.size)


def top_fraction_flags(scores: pd.Series, groups: pd.Series | None = None, fraction: float = 0.10) -> np.ndarray:
    """Flag the ``ceil(fraction * n)`` highest scores, within each group (snapshot) when ``groups`` is given.

    Per snapshot because that is how the list is used: every week the CS team works the top decile of that
    week's scores. Pooling snapshots would let one unusually risky week take all the flags. Ties are broken
    by row order (``rank(method="first")``) so the flagged share is exactly the requested fraction.
    """
    scores = pd.Series(np.asarray(scores, dtype=np.float64))
    if groups is None:
        rank = scores.rank(method="first", ascending=False).to_numpy()
        size = np.full(len(scores), len(scores))
    else:
        keys = pd.Series(np.asarray(groups))
        rank = scores.groupby(keys).rank(method="first", ascending=False).to_numpy()
        size = keys.map(keys.value_counts()).to_numpy()
    return rank <= np.ceil(fraction * size)


def early_flag_rows(
    df: pd.DataFrame,
    *,
    horizon_days: int,
    date_col: str = DATE_COL,
    churn_date_col: str = CHURN_DATE_COL,
    min_lead_days: int = MIN_LEAD_DAYS,
) -> np.ndarray:
    """Rows whose snapshot predicted a churn early enough to act on: lead time ``churn_date - snapshot_date``
    between ``min_lead_days`` and ``horizon_days`` days (inclusive), i.e. inside the label horizon (the dbt var
    ``churn_horizon_days``) with at least ``min_lead_days`` left for an intervention. None of them when
    ``min_lead_days`` exceeds the horizon."""
    lead = (pd.to_datetime(df[churn_date_col]) - pd.to_datetime(df[date_col])).dt.days.to_numpy()
    with np.errstate(invalid="ignore"):
        return (lead >= min_lead_days) & (lead <= horizon_days)


def early_flag_share(
    df: pd.DataFrame,
    score_col: str,
    *,
    horizon_days: int,
    id_col: str = ID_COL,
    date_col: str = DATE_COL,
    churn_date_col: str = CHURN_DATE_COL,
    min_lead_days: int = MIN_LEAD_DAYS,
    fraction: float = 0.10,
) -> float:
    """Share of churners the model flagged early enough to act on.

    Definition (per scorer):

    * a row is *flagged* when its score is in the top ``fraction`` of its snapshot (:func:`top_fraction_flags`
      over all rows of ``df`` in that snapshot);
    * a user is an *eligible churner* when ``churn_date`` is not NULL and the user has at least one
      :func:`early_flag_rows` row;
    * ``early_flag_share`` = eligible churners flagged on at least one such row / eligible churners.

    Returns NaN when the churn-date or id column is absent or there are no eligible churners, so callers
    without churn dates still get the other metrics.
    """
    if churn_date_col not in df.columns or id_col not in df.columns or date_col not in df.columns:
        return math.nan
    flags = top_fraction_flags(df[score_col], df[date_col], fraction)
    return flagged_early_share(
        df,
        flags,
        horizon_days=horizon_days,
        id_col=id_col,
        date_col=date_col,
        churn_date_col=churn_date_col,
        min_lead_days=min_lead_days,
    )


def flagged_early_share(
    df: pd.DataFrame,
    flags: np.ndarray,
    *,
    horizon_days: int,
    id_col: str = ID_COL,
    date_col: str = DATE_COL,
    churn_date_col: str = CHURN_DATE_COL,
    min_lead_days: int = MIN_LEAD_DAYS,
) -> float:
    """Share of the churners with an :func:`early_flag_rows` row (churn ``min_lead_days``..``horizon_days``
    after a snapshot) that ``flags`` marks on at least one such row; NaN without such churners.

    With top-decile flags this is ``early_flag_share``; with ``p >= high_risk_threshold`` flags it is the
    seeds' success metric ``recall_14d``: the share of churners the high-risk band named at least 14 days
    before they churned.
    """
    if churn_date_col not in df.columns or id_col not in df.columns or date_col not in df.columns:
        return math.nan
    eligible_row = early_flag_rows(
        df, horizon_days=horizon_days, date_col=date_col, churn_date_col=churn_date_col, min_lead_days=min_lead_days
    )
    if not eligible_row.any():
        return math.nan
    per_user = pd.Series(np.asarray(flags)[eligible_row]).groupby(df[id_col].to_numpy()[eligible_row]).any()
    return float(per_user.mean())


def _safe(metric: Callable[[np.ndarray, np.ndarray], float], y: np.ndarray, p: np.ndarray) -> float:
    """AUC-type metrics are undefined with a single class; report NaN instead of failing the whole run."""
    if y.min() == y.max():
        return math.nan
    return float(metric(y, p))


def evaluate(
    df_test_scored: pd.DataFrame,
    label_col: str,
    score_cols: Mapping[str, str],
    *,
    horizon_days: int | None = None,
    id_col: str = ID_COL,
    date_col: str = DATE_COL,
    churn_date_col: str = CHURN_DATE_COL,
    top_fraction: float = 0.10,
    ece_bins: int = 10,
    min_lead_days: int = MIN_LEAD_DAYS,
    costs: RetentionCosts | None = None,
) -> pd.DataFrame:
    """Compare several scorers on the same labelled rows; one output row per scorer.

    ``score_cols`` maps a display name (``"v1"``, ``"v2"``, ``"baseline"``, ``"oracle"``...) to a probability
    column of ``df_test_scored``. Rows with a NULL label are ignored (outcome not observable yet).

    Columns (:data:`EVALUATION_COLUMNS`): ``model``, ``roc_auc``, ``pr_auc`` (average precision), ``brier``,
    ``ece`` (:func:`expected_calibration_error`, ``ece_bins`` equal-frequency bins), ``precision_top10`` and
    ``recall_top10`` (top ``top_fraction`` of each snapshot, :func:`top_fraction_flags`; pooled when there is
    no ``date_col``), ``early_flag_share`` (:func:`early_flag_share`, NaN without ``churn_date_col``) and
    ``early_flag_churners`` (how many churners that share is over), ``n`` and ``positives``.

    ``horizon_days`` is the label's horizon (``churn_horizon_days``); it is required when the frame has
    ``churn_date_col``, because the early-flag window is only meaningful relative to the label it judges.

    With ``costs`` (:class:`~pintel.churn.operating.RetentionCosts`) the operating point is reported too
    (:data:`OPERATING_COLUMNS`): the cost-weighted ``high_risk_threshold``; ``recall_14d``, the share of
    churners flagged high-risk at least ``min_lead_days`` before their churn date (:func:`flagged_early_share`);
    the band's precision and share of rows; and the realised cost per user-snapshot at the threshold beside
    flagging nobody and everybody (:func:`~pintel.churn.operating.cost_summary`).
    """
    if label_col not in df_test_scored.columns:
        raise ValueError(f"label column {label_col!r} not in the scored frame")
    data = df_test_scored[df_test_scored[label_col].notna()].reset_index(drop=True)
    if data.empty:
        raise EmptySnapshotError("evaluate() got no rows with an observed label")
    y = as_binary_labels(data[label_col], label_col)
    if churn_date_col in data.columns and horizon_days is None:
        raise ValueError(f"evaluate() needs horizon_days (the label horizon) to score {churn_date_col!r}")
    groups = data[date_col] if date_col in data.columns else None
    churners = math.nan  # how many users early_flag_share is a share of
    if horizon_days is not None and {id_col, date_col, churn_date_col} <= set(data.columns):
        eligible = early_flag_rows(
            data,
            horizon_days=horizon_days,
            date_col=date_col,
            churn_date_col=churn_date_col,
            min_lead_days=min_lead_days,
        )
        churners = int(data.loc[eligible, id_col].nunique())
    rows = []
    for name, col in score_cols.items():
        if col not in data.columns:
            raise ValueError(f"score column {col!r} for scorer {name!r} not in the scored frame")
        p = data[col].to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isnan(p).any():
            raise ValueError(f"score column {col!r} for scorer {name!r} has NULLs on labelled rows")
        flags = top_fraction_flags(data[col], groups, top_fraction)
        hits = int(y[flags].sum())
        rows.append(
            {
                "model": name,
                "roc_auc": _safe(roc_auc_score, y, p),
                "pr_auc": _safe(average_precision_score, y, p),
                "brier": float(brier_score_loss(y, p)),
                "ece": expected_calibration_error(y, p, ece_bins),
                "precision_top10": hits / max(int(flags.sum()), 1),
                "recall_top10": hits / y.sum() if y.sum() else math.nan,
                "early_flag_share": math.nan
                if horizon_days is None
                else early_flag_share(
                    data,
                    col,
                    horizon_days=horizon_days,
                    id_col=id_col,
                    date_col=date_col,
                    churn_date_col=churn_date_col,
                    min_lead_days=min_lead_days,
                    fraction=top_fraction,
                ),
                "early_flag_churners": churners,
                "n": len(y),
                "positives": int(y.sum()),
                **_operating_point(data, y, p, costs, horizon_days, id_col, date_col, churn_date_col, min_lead_days),
            }
        )
    return pd.DataFrame(rows, columns=EVALUATION_COLUMNS)


def _operating_point(
    data: pd.DataFrame,
    y: np.ndarray,
    p: np.ndarray,
    costs: RetentionCosts | None,
    horizon_days: int | None,
    id_col: str,
    date_col: str,
    churn_date_col: str,
    min_lead_days: int,
) -> dict[str, float]:
    if costs is None:
        return dict.fromkeys(OPERATING_COLUMNS, math.nan)
    out = cost_summary(y, p, costs)
    out["recall_14d"] = (
        math.nan
        if horizon_days is None
        else flagged_early_share(
            data,
            p >= costs.threshold,
            horizon_days=horizon_days,
            id_col=id_col,
            date_col=date_col,
            churn_date_col=churn_date_col,
            min_lead_days=min_lead_days,
        )
    )
    return {k: out[k] for k in OPERATING_COLUMNS}


def calibration_plot(
    df: pd.DataFrame,
    label_col: str,
    prob_cols: Sequence[str] | Mapping[str, str],
    path: str | Path,
    *,
    n_bins: int = 10,
) -> Path:
    """Write a PNG with a reliability curve per model (top) and the score histograms (bottom).

    Quantile bins, like :func:`expected_calibration_error`, so the points sit where the users are. Uses the
    object-oriented Agg canvas rather than ``pyplot`` so it is safe inside Dagster/dbt worker threads and
    never touches the global matplotlib backend. ``prob_cols`` is a list of columns or a ``{label: column}``
    mapping. Returns the written path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from sklearn.calibration import calibration_curve

    named = dict(prob_cols) if isinstance(prob_cols, Mapping) else {c: c for c in prob_cols}
    data = df[df[label_col].notna()]
    if data.empty:
        raise EmptySnapshotError("calibration_plot() got no rows with an observed label")
    y = as_binary_labels(data[label_col], label_col)

    fig = Figure(figsize=(7, 8), layout="constrained")
    FigureCanvasAgg(fig)
    ax_curve, ax_hist = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax_curve.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for label, col in named.items():
        p = data[col].to_numpy(dtype=np.float64)
        frac_pos, mean_pred = calibration_curve(y, p, n_bins=n_bins, strategy="quantile")
        ece = expected_calibration_error(y, p, n_bins)
        ax_curve.plot(mean_pred, frac_pos, marker="o", label=f"{label} (ECE {ece:.3f})")
        ax_hist.hist(p, bins=50, range=(0, 1), histtype="step", label=label)
    ax_curve.set_ylabel("observed churn rate")
    ax_curve.set_title(f"Reliability ({n_bins} equal-frequency bins), n={len(y)}, base rate {y.mean():.3f}")
    ax_curve.legend(loc="upper left")
    ax_hist.set_xlabel("predicted churn probability")
    ax_hist.set_ylabel("users")
    ax_hist.set_yscale("log")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out
