"""PNG charts of a detected series for alerts and reports (matplotlib, headless Agg backend).

Imported lazily by the pipeline: loading this module switches matplotlib to its headless backend for the
whole process, which a notebook user of :func:`pintel.incidents.detect` must not get as a side effect.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: workers and CI have no display

import matplotlib.pyplot as plt  # after the backend choice
import pandas as pd

__all__ = ["plot_anomalies"]


def plot_anomalies(
    series: pd.Series,
    result: pd.DataFrame,
    path: str | Path,
    title: str = "Metric anomalies",
) -> Path:
    """Write a PNG of ``series`` with the detector's expected line, band and flagged points.

    ``result`` is the output of :func:`pintel.incidents.detect` on ``series`` (same index). Returns the
    path written; parent directories are created.
    """
    missing = {"expected", "lower", "upper", "is_anomaly"} - set(result.columns)
    if missing:
        raise ValueError(f"result is missing columns {sorted(missing)}")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame = result.reindex(series.index)
    flagged = frame["is_anomaly"].fillna(False).astype(bool).to_numpy()

    fig, ax = plt.subplots(figsize=(11, 3.6), dpi=110)
    try:
        ax.fill_between(series.index, frame["lower"], frame["upper"], color="tab:blue", alpha=0.15, lw=0, label="band")
        ax.plot(series.index, frame["expected"], color="tab:blue", lw=1.0, ls="--", label="expected")
        ax.plot(series.index, series.to_numpy(dtype=float), color="black", lw=0.8, label="observed")
        if flagged.any():
            ax.scatter(
                series.index[flagged],
                series.to_numpy(dtype=float)[flagged],
                color="tab:red",
                s=18,
                zorder=3,
                label=f"anomaly ({int(flagged.sum())})",
            )
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8, ncol=4)
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(out, format="png")
    finally:
        plt.close(fig)
    return out
