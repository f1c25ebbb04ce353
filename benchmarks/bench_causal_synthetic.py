"""Benchmark: effect estimators on small synthetic data with known unit-level effects, pintel beside EconML.

Cases (:mod:`pintel.causal.synthetic`), ``--reps`` replications each (a new data set per replication):

* ``linear`` / ``nonlinear``: 400 units, 10 covariates, confounded assignment;
* ``ihdp_A`` / ``ihdp_B``: Hill's (2011) response surfaces A and B over the real IHDP covariates (747 units,
  25 covariates, 139 treated) as bundled with EconML (``econml/data/ihdp/sim.csv``, processed exactly like
  ``econml.data.dgps``); without EconML installed, over IHDP-shaped simulated covariates (``ihdp_like_*``).

Estimators: the naive difference; AIPW with the true nuisances (linear and non-linear cases: the floor of any
nuisance choice); pintel's regression adjustment (plug-in g-formula) and AIPW with each fixed
outcome model (``linear`` = per-arm ridge, ``gbm``) and with the default cross-validated choice (``auto``);
EconML's ``DRLearner`` and ``LinearDRLearner`` with their default nuisance selection, 5 folds, no covariates for
heterogeneity (``X=None``: the ATE), no trimming. Each estimate is scored against the sample effect of the units
it used (pintel trims propensities outside [0.01, 0.99]; EconML uses every unit). Seconds are CPU seconds of the
process per estimate (every fit is single-threaded); pintel's RA and AIPW with the same nuisances share one
cross-fit, so the pair's time is charged to the first of them.

    .venv/bin/python benchmarks/bench_causal_synthetic.py [--reps 50] [--cases linear nonlinear ihdp_A ihdp_B]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pintel.causal import estimate_effect
from pintel.causal.synthetic import Case, ihdp_like_case, linear_case, nonlinear_case

PINTEL = [
    ("pintel RA linear", "regression", "linear"),
    ("pintel AIPW linear", "aipw", "linear"),
    ("pintel RA gbm", "regression", "gbm"),
    ("pintel AIPW gbm", "aipw", "gbm"),
    ("pintel RA auto", "regression", "auto"),
    ("pintel AIPW auto (default)", "aipw", "auto"),
]


def ihdp_covariates() -> tuple[np.ndarray, np.ndarray] | None:
    """The real IHDP covariates and treatment, processed as ``econml.data.dgps`` does; None without EconML."""
    try:
        from econml.data import dgps
    except ImportError:
        return None
    T, X = dgps._process_ihdp_sim_data()
    return X[:, 1:].astype(float), T.astype(int)  # drop EconML's intercept column


def cases(names: list[str]) -> dict[str, Callable[[int], Case]]:
    real = ihdp_covariates()
    out: dict[str, Callable[[int], Case]] = {}
    for name in names:
        if name == "linear":
            out[name] = lambda s: linear_case(400, s)
        elif name == "nonlinear":
            out[name] = lambda s: nonlinear_case(400, s)
        elif name.startswith("ihdp_"):
            surface = name[-1]
            if real is None:
                out[f"ihdp_like_{surface}"] = lambda s, surface=surface: ihdp_like_case(surface, s)
            else:
                out[name] = lambda s, surface=surface: ihdp_like_case(surface, s, *real)
        else:
            raise SystemExit(f"unknown case {name!r}")
    return out


def econml_estimates(case: Case) -> list[dict[str, object]]:
    try:
        from econml.dr import DRLearner, LinearDRLearner
    except ImportError:
        return []
    W = case.frame[case.covariates].to_numpy(float)
    T, Y = case.frame["t"].to_numpy(), case.frame["y"].to_numpy(float)
    truth = case.true_ate()
    rows = []
    for name, cls in (("EconML DRLearner", DRLearner), ("EconML LinearDRLearner", LinearDRLearner)):
        start = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = cls(cv=5, random_state=0).fit(Y, T, X=None, W=W)
            ate = float(est.ate())
            low, high = (float(v) for v in est.ate_interval(alpha=0.05))
        rows.append(_row(name, ate, low, high, truth, time.process_time() - start))
    return rows


def _row(name: str, ate: float, low: float, high: float, truth: float, seconds: float) -> dict[str, object]:
    return {
        "estimator": name,
        "error": ate - truth,
        "covered": bool(low <= truth <= high),
        "ci_width": high - low,
        "seconds": seconds,
    }


def pintel_estimates(case: Case) -> list[dict[str, object]]:
    rows = []
    for name, method, outcome in PINTEL:
        start = time.process_time()
        est = estimate_effect(case.frame, "t", "y", case.covariates, method, outcome_model=outcome, refute=False)
        seconds = time.process_time() - start
        truth = case.true_ate(_kept(case, est.diagnostics.overlap))
        rows.append(_row(name, est.estimate, est.ci_low, est.ci_high, truth, seconds))
    t, y = case.frame["t"].to_numpy(), case.frame["y"].to_numpy(float)
    naive = float(y[t == 1].mean() - y[t == 0].mean())
    rows.append(_row("naive difference", naive, np.nan, np.nan, case.true_ate(), 0.0))
    return rows + oracle_estimates(case)


def oracle_estimates(case: Case) -> list[dict[str, object]]:
    """AIPW with the *true* propensity and arm means, where the case defines them: the floor of any nuisance choice.

    What is left of its error is the correction term's noise, mean of t(y - mu1)/e - (1 - t)(y - mu0)/(1 - e),
    which no nuisance model removes; a plug-in with a correctly specified outcome model does not carry it.
    """
    if case.e is None or case.mu0 is None or case.mu1 is None:
        return []
    from pintel.causal.estimators import aipw

    t, y = case.frame["t"].to_numpy(), case.frame["y"].to_numpy(float)
    score = aipw(t, y, case.e, case.mu0, case.mu1, "ate")
    half = 1.959964 * score.std_error
    return [
        _row(
            "AIPW, true nuisances (oracle)",
            score.estimate,
            score.estimate - half,
            score.estimate + half,
            case.true_ate(),
            0.0,
        )
    ]


def _kept(case: Case, overlap) -> np.ndarray | None:
    """Units the estimate used: all, unless trimming dropped some (then recompute the mask from the fit)."""
    if overlap.n_trimmed == 0:
        return None
    from pintel.causal.data import prepare
    from pintel.causal.nuisance import cross_fit

    data = prepare(case.frame, "t", "y", case.covariates)
    e = cross_fit(data.X, data.t, data.y, binary=False, n_folds=5, seed=0, fit_outcome=False).e
    return (e >= overlap.trim_low) & (e <= overlap.trim_high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--cases", nargs="+", default=["linear", "nonlinear", "ihdp_A", "ihdp_B"])
    parser.add_argument("--no-econml", action="store_true", help="skip EconML even if installed")
    parser.add_argument("--json", type=Path, help="also write every estimate here")
    args = parser.parse_args()

    rows = []
    for case_name, make in cases(args.cases).items():
        for rep in range(args.reps):
            case = make(rep)
            found = pintel_estimates(case) + ([] if args.no_econml else econml_estimates(case))
            rows += [{"case": case_name, "rep": rep, **r} for r in found]
            print(f"{case_name} rep {rep} done", file=sys.stderr, flush=True)
            if args.json:  # after every replication, so an interrupted run keeps what it measured
                args.json.write_text(json.dumps(rows, indent=2, default=float) + "\n")
    table = pd.DataFrame(rows)
    summary = table.groupby(["case", "estimator"], sort=False).agg(
        mae=("error", lambda e: e.abs().mean()),
        rmse=("error", lambda e: float(np.sqrt((e**2).mean()))),
        bias=("error", "mean"),
        coverage=("covered", "mean"),
        ci_width=("ci_width", "mean"),
        seconds=("seconds", "mean"),
    )
    pd.set_option("display.width", 200)
    print(f"\n{args.reps} replications per case; error = estimate - sample ATE of the units used")
    print(summary.to_string(float_format="{:.3f}".format))


if __name__ == "__main__":
    main()
