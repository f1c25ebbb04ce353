"""The digest's charts, rendered offline to SVG with matplotlib's headless backend.

SVG because it is small, sharp at any zoom, embeds in the HTML as a data URI (the digest is one
self-contained file a browser, Slack or a mail client opens) and sits beside the Markdown as a file. Each
function takes the frames the section read and returns SVG text; none of them reads the warehouse. Charts
use the same frames as the text, so a chart can never show a number the text contradicts.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # headless: Dagster workers and CI have no display

import matplotlib.pyplot as plt  # after the backend choice
import numpy as np
import pandas as pd

plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
#: matplotlib writes the date and a random id into every SVG; fixed so the same data gives the same file.
plt.rcParams["svg.hashsalt"] = "pintel-digest"
_META = {"Date": None, "Creator": "pintel digest"}


def _svg(fig: plt.Figure) -> str:
    buffer = io.StringIO()
    try:
        fig.tight_layout()
        fig.savefig(buffer, format="svg", metadata=_META)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def kpi_trends(series: dict[str, pd.DataFrame]) -> str:
    """One panel per KPI: observed line, the detector's expected line and band, flagged days in red.

    ``series`` maps a title to a frame indexed by day with ``observed``, ``expected``, ``lower``, ``upper``
    and ``is_anomaly``.
    """
    fig, axes = plt.subplots(len(series), 1, figsize=(9, 2.4 * len(series)), squeeze=False, sharex=True)
    for ax, (title, frame) in zip(axes[:, 0], series.items(), strict=True):
        x = pd.to_datetime(frame.index)
        ax.fill_between(x, frame["lower"], frame["upper"], color="#4c78a8", alpha=0.18, lw=0, label="expected band")
        ax.plot(x, frame["expected"], color="#4c78a8", lw=1.0, ls="--", label="expected")
        ax.plot(x, frame["observed"], color="#222222", lw=1.3, label="observed")
        flagged = frame["is_anomaly"].fillna(False).astype(bool).to_numpy()
        if flagged.any():
            ax.scatter(x[flagged], frame["observed"].to_numpy()[flagged], color="#d62728", s=22, zorder=3)
        ax.set_title(title, loc="left", fontsize=10)
        ax.grid(alpha=0.25)
    axes[0, 0].legend(loc="upper left", fontsize=8, ncol=3, frameon=False)
    fig.autofmt_xdate()
    return _svg(fig)


def retention_heatmap(grid: pd.DataFrame) -> str:
    """Cohorts (rows, newest at the bottom) x weeks since signup (columns), share retained, annotated."""
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(grid) + 1.2))
    values = grid.to_numpy(dtype=float)
    image = ax.imshow(np.ma.masked_invalid(values), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), [f"W{c}" for c in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [str(i) for i in grid.index])
    ax.set_xlabel("weeks since signup")
    ax.set_ylabel("signup week")
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            color = "white" if value > 0.5 else "black"
            ax.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(image, ax=ax, fraction=0.025, pad=0.01, format=matplotlib.ticker.PercentFormatter(1.0))
    ax.spines[:].set_visible(False)
    return _svg(fig)


def risk_by_segment(frame: pd.DataFrame, label: str) -> str:
    """Horizontal bars: share of each segment's users per risk band (high / medium / low), users beside."""
    frame = frame.iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(frame) + 1.0))
    left = np.zeros(len(frame))
    for band, color in (("high", "#d62728"), ("medium", "#ff9f40"), ("low", "#9ecae1")):
        share = frame[f"{band}_share"].to_numpy(dtype=float)
        ax.barh(frame[label].astype(str), share, left=left, color=color, label=band)
        left += share
    for y, (users, mean) in enumerate(zip(frame["users"], frame["mean_probability"], strict=True)):
        ax.text(1.01, y, f"{users:,} users, mean {mean:.0%}", va="center", fontsize=8)
    ax.set_xlim(0, 1.4)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(loc="lower center", bbox_to_anchor=(0.36, 1.0), fontsize=8, frameon=False, ncol=3, title="risk band")
    return _svg(fig)


def intervals(
    frame: pd.DataFrame, label: str, estimate: str, low: str, high: str, title: str, percent: bool = False
) -> str:
    """A forest plot: one row per estimate with its interval, zero marked (experiments, action outcomes)."""
    frame = frame.iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(frame) + 1.0))
    y = np.arange(len(frame))
    est = frame[estimate].to_numpy(dtype=float)
    lo, hi = frame[low].to_numpy(dtype=float), frame[high].to_numpy(dtype=float)
    colors = np.where(lo > 0, "#2ca02c", np.where(hi < 0, "#d62728", "#7f7f7f"))
    ax.hlines(y, lo, hi, colors=colors, lw=2.2)
    ax.scatter(est, y, color=colors, zorder=3, s=26)
    ax.axvline(0, color="#222222", lw=0.8)
    ax.set_yticks(y, frame[label].astype(str))
    ax.set_title(title, loc="left", fontsize=10)
    ax.grid(axis="x", alpha=0.25)
    if percent:
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    return _svg(fig)
