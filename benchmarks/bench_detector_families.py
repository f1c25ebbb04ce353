"""Benchmark: the anomaly detector on synthetic NAB-like families, scored like the real-data benchmark.

The real-data development benchmark (``../shared/benchmarks/anomaly/``) holds one vendor's production metrics;
a detector is also judged on other kinds of series. This script writes labelled synthetic series of the kinds
the Numenta Anomaly Benchmark and real exports contain -- spikes, level shifts, trend changes, variance changes,
seasonal series with dips, flat-then-jump, sparse counts, heavy-tailed noise, latency-like lognormal series,
and series with no anomaly at all (false alarms only) -- at several sampling intervals (1 min, 5 min, hourly,
daily), in that benchmark's CSV layout (TimeStamp, Value, Label), and scores a detector on them with its
``score.py`` (same streaming protocol, windows and NAB-style score), per family.

The generators are defined from the kinds of series, never from a detector's output; the anomalies are sized
in units of the noise (3-10 sigma and up), so a perfect score is not expected.

    .venv/bin/python benchmarks/bench_detector_families.py [--detector pintel.ml.anomaly:detect]
        [--score-py ../shared/benchmarks/anomaly/score.py] [--seeds 3] [--baselines] [--json-out out.json]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
Family = Callable[[np.random.Generator], tuple[pd.Series, np.ndarray]]


def _index(n: int, step: str, start: str = "2024-03-04") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq=step)


def _daily_shape(index: pd.DatetimeIndex, amplitude: float) -> np.ndarray:
    hours = index.hour.to_numpy() + index.minute.to_numpy() / 60.0
    return amplitude * np.sin(2 * np.pi * (hours - 8) / 24.0)


def _mark(labels: np.ndarray, start: int, length: int) -> None:
    labels[start : start + length] = True


def spikes(rng: np.random.Generator, step: str = "5min", n: int = 4000) -> tuple[pd.Series, np.ndarray]:
    """Gaussian noise around a slowly drifting level, a few isolated spikes of 6-12 sigma (one up, one down)."""
    level = 50 + np.cumsum(rng.normal(0, 0.02, n))
    y = level + rng.normal(0, 1, n)
    labels = np.zeros(n, bool)
    for at, size in zip(rng.choice(np.arange(n // 4, n - 50), 3, replace=False), (8, -7, 12), strict=True):
        y[at] += size
        _mark(labels, at, 1)
    return pd.Series(y, index=_index(n, step)), labels


def level_shift(rng: np.random.Generator, step: str = "5min", n: int = 4000) -> tuple[pd.Series, np.ndarray]:
    """A level that steps up by 5 sigma and stays there (server metric after a deploy)."""
    y = 20 + rng.normal(0, 1, n)
    at = int(rng.integers(n // 3, 2 * n // 3))
    y[at:] += 5
    labels = np.zeros(n, bool)
    _mark(labels, at, 5)
    return pd.Series(y, index=_index(n, step)), labels


def trend_change(rng: np.random.Generator, step: str = "h", n: int = 3000) -> tuple[pd.Series, np.ndarray]:
    """A steady trend whose slope turns sharply (a leak starting); the anomaly is the change of slope."""
    t = np.arange(n, dtype=float)
    at = int(rng.integers(n // 2, 3 * n // 4))
    y = 100 + 0.01 * t + np.where(t > at, 0.4 * (t - at), 0.0) + rng.normal(0, 1, n)
    labels = np.zeros(n, bool)
    _mark(labels, at, 20)
    return pd.Series(y, index=_index(n, step)), labels


def variance_change(rng: np.random.Generator, step: str = "5min", n: int = 4000) -> tuple[pd.Series, np.ndarray]:
    """Noise whose standard deviation jumps fivefold for a stretch (an unstable dependency)."""
    sd = np.ones(n)
    at = int(rng.integers(n // 3, 2 * n // 3))
    sd[at : at + 200] = 5
    y = 40 + rng.normal(0, 1, n) * sd
    labels = np.zeros(n, bool)
    _mark(labels, at, 200)
    return pd.Series(y, index=_index(n, step)), labels


def seasonal_dips(rng: np.random.Generator, step: str = "5min", n: int = 4032) -> tuple[pd.Series, np.ndarray]:
    """Traffic with a daily cycle and multiplicative noise; two 1-hour drops of 40 % (a partial outage)."""
    index = _index(n, step)
    base = 200 * (1 + 0.6 * np.sin(2 * np.pi * (index.hour.to_numpy() + index.minute.to_numpy() / 60 - 8) / 24))
    y = base * np.exp(rng.normal(0, 0.05, n))
    labels = np.zeros(n, bool)
    points_per_hour = int(pd.Timedelta("1h") / pd.Timedelta(step))
    for at in rng.choice(np.arange(n // 3, n - 2 * points_per_hour), 2, replace=False):
        y[at : at + points_per_hour] *= 0.6
        _mark(labels, at, points_per_hour)
    return pd.Series(y, index=index), labels


def flat_then_jump(rng: np.random.Generator, step: str = "min", n: int = 4000) -> tuple[pd.Series, np.ndarray]:
    """A constant value (a gauge nobody touches) that jumps and becomes noisy: flagged once, not forever."""
    y = np.full(n, 12.0)
    at = int(rng.integers(n // 3, 2 * n // 3))
    y[at:] = 18 + rng.normal(0, 0.5, n - at)
    labels = np.zeros(n, bool)
    _mark(labels, at, 5)
    return pd.Series(y, index=_index(n, step)), labels


def sparse_counts(rng: np.random.Generator, step: str = "h", n: int = 2000) -> tuple[pd.Series, np.ndarray]:
    """Rare events (Poisson 0.3 an hour) with one burst of 6 an hour for 4 hours."""
    lam = np.full(n, 0.3)
    at = int(rng.integers(n // 3, 2 * n // 3))
    lam[at : at + 4] = 6
    labels = np.zeros(n, bool)
    _mark(labels, at, 4)
    return pd.Series(rng.poisson(lam).astype(float), index=_index(n, step)), labels


def heavy_tailed(rng: np.random.Generator, step: str = "5min", n: int = 4000) -> tuple[pd.Series, np.ndarray]:
    """Student-t(3) noise (frequent big wiggles, like tweet counts) with two sustained 1-hour surges of 10x."""
    y = 30 + 2 * rng.standard_t(3, n)
    labels = np.zeros(n, bool)
    points_per_hour = int(pd.Timedelta("1h") / pd.Timedelta(step))
    for at in rng.choice(np.arange(n // 3, n - points_per_hour), 2, replace=False):
        y[at : at + points_per_hour] += 20
        _mark(labels, at, points_per_hour)
    return pd.Series(y, index=_index(n, step)), labels


def latency(rng: np.random.Generator, step: str = "min", n: int = 6000) -> tuple[pd.Series, np.ndarray]:
    """Lognormal latency with a daily load cycle and occasional slow requests; one 30-minute slowdown of 3x."""
    index = _index(n, step)
    base = 80 * np.exp(0.3 * np.sin(2 * np.pi * (index.hour.to_numpy() - 9) / 24))
    y = base * np.exp(rng.normal(0, 0.15, n)) + rng.exponential(5, n) * (rng.random(n) < 0.02) * 10
    at = int(rng.integers(n // 3, n - 60))
    y[at : at + 30] *= 3
    labels = np.zeros(n, bool)
    _mark(labels, at, 30)
    return pd.Series(y, index=index), labels


def daily_business(rng: np.random.Generator, step: str = "D", n: int = 400) -> tuple[pd.Series, np.ndarray]:
    """Daily revenue with a weekly cycle, growth and lognormal noise; one day at -35 %."""
    index = _index(n, step, "2023-01-02")
    weekly = np.where(index.day_of_week.to_numpy() >= 5, 0.7, 1.0)
    y = 1000 * weekly * np.linspace(1, 1.5, n) * np.exp(rng.normal(0, 0.04, n))
    at = int(rng.integers(n // 2, n - 5))
    y[at] *= 0.65
    labels = np.zeros(n, bool)
    _mark(labels, at, 1)
    return pd.Series(y, index=index), labels


def no_anomaly_seasonal(rng: np.random.Generator, step: str = "5min", n: int = 4032) -> tuple[pd.Series, np.ndarray]:
    """A seasonal series with noise and a slow random-walk level and nothing to find: false alarms only."""
    index = _index(n, step)
    y = 100 + _daily_shape(index, 30) + np.cumsum(rng.normal(0, 0.3, n)) + rng.normal(0, 3, n)
    return pd.Series(y, index=index), np.zeros(n, bool)


def no_anomaly_noise(rng: np.random.Generator, step: str = "min", n: int = 6000) -> tuple[pd.Series, np.ndarray]:
    """Pure noise (Gaussian, or Laplace half of the time): nothing to find."""
    noise = rng.normal(0, 1, n) if rng.random() < 0.5 else rng.laplace(0, 1, n)
    return pd.Series(10 + noise, index=_index(n, step)), np.zeros(n, bool)


FAMILIES: dict[str, Family] = {
    "spikes": spikes,
    "level_shift": level_shift,
    "trend_change": trend_change,
    "variance_change": variance_change,
    "seasonal_dips": seasonal_dips,
    "flat_then_jump": flat_then_jump,
    "sparse_counts": sparse_counts,
    "heavy_tailed": heavy_tailed,
    "latency": latency,
    "daily_business": daily_business,
    "no_anomaly_seasonal": no_anomaly_seasonal,
    "no_anomaly_noise": no_anomaly_noise,
}


def write_families(out: Path, seeds: int) -> int:
    """Write ``seeds`` files per family under ``out/<family>/``; returns the number of files."""
    count = 0
    for f_index, (name, family) in enumerate(FAMILIES.items()):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for seed in range(seeds):
            series, labels = family(np.random.default_rng(1000 * f_index + seed))
            frame = pd.DataFrame(
                {"TimeStamp": series.index.strftime("%Y-%m-%dT%H:%M:%SZ"), "Value": series.to_numpy(), "Label": labels}
            )
            frame["Label"] = frame["Label"].astype(int)
            frame.to_csv(folder / f"{name}-{seed:02d}.csv", index=False)
            count += 1
    return count


def find_score_py(explicit: Path | None) -> Path:
    candidates = [explicit] if explicit else [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
    for base in candidates:
        if base is None:
            continue
        path = base if base.suffix == ".py" else base / "benchmarks" / "anomaly" / "score.py"
        if path.exists():
            return path
    raise SystemExit("score.py of the anomaly benchmark not found: pass --score-py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default="pintel.ml.anomaly:detect")
    parser.add_argument("--score-py", type=Path, help="path to ../shared/benchmarks/anomaly/score.py")
    parser.add_argument("--seeds", type=int, default=3, help="files per family")
    parser.add_argument("--baselines", action="store_true", help="also score the benchmark's baselines")
    parser.add_argument("--per-file", action="store_true")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--keep", type=Path, help="write the synthetic CSVs here (default: a temporary folder)")
    args = parser.parse_args()
    score_py = find_score_py(args.score_py)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.keep or Path(tmp)
        files = write_families(data, args.seeds)
        print(f"{files} synthetic files in {len(FAMILIES)} families under {data}")
        command = [sys.executable, str(score_py), "--detector", args.detector, "--pythonpath", str(ROOT)]
        command += ["--data-dir", str(data)]
        command += ["--baselines"] if args.baselines else []
        command += ["--per-file"] if args.per_file else []
        command += ["--json-out", str(args.json_out)] if args.json_out else []
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
