"""``bench_decide.py --retention``: the retention play's holdout comparison recovers the planted effect (issue 12).

Per seed, end to end through the product's own path:

1. simulate the world (``USERS`` x ``DAYS``);
2. build a warehouse on its first ``cut_days`` days (the landing is partitioned by date): the first cut at which
   the churn registry can train (three labelled weekly snapshots: a train, a calibrate and a test window) and
   whose last day is a weekly snapshot, so the list is made on the day its scores are for;
3. ``decide`` (churn source) one hour into that day: the top-risk list within the policy's capacity, with its
   salted-hash holdout, written to ``decide.decisions``;
4. write the actions file (``retention_plays``: the contacted users on the snapshot date, with the decision id)
   and replay the same seed with it (``simulate --actions``, common random numbers);
5. build the replayed world's churn labels, copy the decision in, and run ``evaluate_outcomes``: the row of
   ``decide.action_outcomes`` is the treated-minus-holdout churn difference with its Newcombe interval;
6. the planted effect, from the simulator's truth (not fitted): every contacted user has both potential
   outcomes in ``retention_play_units.parquet`` (the replay and its twin without the play, same random
   numbers), so ``mean(churned_30d_with_play - churned_30d_without_play)`` over the contacted users is the
   play's true effect on 30-day churn (the negative of the retention difference) over the outcome horizon.

The interval must contain the planted effect. The expected width is printed before anything is built: the
holdout is ``holdout_share`` of a list of about ``capacity x list_days / (1 - holdout_share)`` users (fewer
when fewer are at risk), so the half-width is about ``1.96 sqrt(p(1-p) (1/n_treated + 1/n_holdout))``.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from pintel.build import build
from pintel.dbt_project import project_var
from pintel.decide import decide, evaluate_outcomes, load_decisions
from pintel.decide.stats import two_proportions
from pintel.settings import Settings, connect
from pintel.simulate import SimConfig, load_actions, simulate

USERS, DAYS = 5000, 120
#: labelled weekly snapshots the churn registry needs before it trains (pintel.churn.split.time_split)
LABELLED_SNAPSHOTS = 3
SCORES = ["+churn_scores_v2", "+fct_churn_labels"]
LABELS = ["+fct_churn_labels"]


def _log(message: str) -> None:
    import sys

    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cut_days(start: date) -> int:
    """Days of data in the cut warehouse: through the first weekly snapshot (a Monday with a full inactivity
    window of data before it, as ``dim_dates`` says) by which ``LABELLED_SNAPSHOTS`` snapshots have their whole
    label horizon in the data."""
    inactivity, horizon = int(project_var("churn_inactivity_days")), int(project_var("churn_horizon_days"))
    first = start + timedelta(days=inactivity)
    first += timedelta(days=(7 - first.weekday()) % 7)  # the first Monday on or after it
    last_labelled = first + timedelta(weeks=LABELLED_SNAPSHOTS - 1)
    scoring = last_labelled + timedelta(days=horizon - 1)
    scoring += timedelta(days=(7 - scoring.weekday()) % 7)
    return (scoring - start).days + 1


def expected_half_width(n_treated: int, n_holdout: int, churn: float) -> float:
    """Normal-approximation half-width of the 95 % interval of a difference of two proportions."""
    return 1.96 * math.sqrt(churn * (1 - churn) * (1 / n_treated + 1 / n_holdout))


def _settings(root: Path) -> Settings:
    return Settings(
        home=root,
        landing=root / "landing",
        warehouse=root / "pintel.duckdb",
        dbt_target="duckdb",
        reports=root / "reports",
    )


def _simulated(root: Path, cfg: SimConfig, actions: Path | None = None) -> Path:
    landing = root / "landing"
    if not (landing / "ground_truth" / "manifest.json").exists():
        t = time.perf_counter()
        simulate(cfg, landing, actions=load_actions(actions, cfg) if actions else None)
        _log(f"simulated {root.name} in {time.perf_counter() - t:.0f} s")
    return landing


def _built(root: Path, select: list[str]) -> Settings:
    s = _settings(root)
    marker = root / ".built"
    if not marker.exists():
        t = time.perf_counter()
        try:
            build(s, select=select)
        except Exception as exc:  # a failing dbt test must not hide the figures; it is reported
            if "No space left" in str(exc):
                raise
            _log(f"build of {root.name} reported: {str(exc)[:300]}")
        marker.touch()
        _log(f"built {select} for {root.name} in {time.perf_counter() - t:.0f} s")
    return s


def cut_landing(full: Path, landing: Path, before: str) -> None:
    """The events and identifies partitions dated before ``before`` (YYYY-MM-DD), and the ground truth."""
    if landing.exists():
        return
    for kind in ("events", "identifies"):
        for src in sorted((full / kind).rglob("*.parquet")):
            part = next(p for p in src.relative_to(full).parts if p.startswith("date="))
            if part.removeprefix("date=") < before:
                dst = landing / src.relative_to(full)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
    shutil.copytree(full / "ground_truth", landing / "ground_truth")


def _make_list(out: Path, seed: int, cfg: SimConfig, days: int, policy, keep: bool) -> dict:
    """Steps 1-3: the list (with its decision row) from the cut warehouse; the decisions are kept as Parquet."""
    cut = out / f"r{seed}_cut{days}"
    full = out / f"r{seed}" / "landing"
    if not (cut / ".built").exists():
        full = _simulated(out / f"r{seed}", cfg)
        cut_landing(full, cut / "landing", (cfg.start + timedelta(days=days)).isoformat())
    s = _built(cut, SCORES)
    if not keep:  # a 5 000 x 120 landing is ~130 MB; the seed rebuilds it
        shutil.rmtree(cut / "landing", ignore_errors=True)
        shutil.rmtree(full.parent, ignore_errors=True)
    con = connect(s.warehouse)
    try:
        table = policy.churn.scores_table
        snapshot = con.execute(f"select max(snapshot_date) from {table}").fetchone()[0]
        if snapshot is None:
            return {"skipped": "the cut warehouse serves no churn scores"}
        at_risk, mean_p = con.execute(
            f"select count(*), avg(churn_probability) from {table} where snapshot_date = ? and churn_probability >= ?",
            [snapshot, policy.churn.min_probability],
        ).fetchone()
        decide(con, policy, pd.Timestamp(snapshot) + timedelta(hours=1), sources=["churn"])
        rows = load_decisions(con)
        con.execute(f"copy (select * from decide.decisions) to '{out / f'r{seed}_decisions.parquet'}' (format parquet)")
    finally:
        con.close()
    if not keep:
        shutil.rmtree(cut, ignore_errors=True)
    plays = rows[rows["action_type"] == "churn_retention_list"]
    if plays.empty:
        return {"snapshot": str(snapshot), "skipped": "no retention list"}
    play = plays.iloc[-1]
    payload = json.loads(play["payload"])
    return {
        "snapshot": str(snapshot),
        "users_at_risk": int(at_risk),
        "mean_probability_at_risk": float(mean_p),
        "decision_id": play["decision_id"],
        "decision": play["decision"],
        "users": payload["users"],
        "holdout": payload["holdout"],
    }


def retention_seed(out: Path, seed: int, policy, keep: bool = False) -> dict:
    cfg = SimConfig(users=USERS, days=DAYS, seed=seed)
    days = cut_days(cfg.start)
    horizon = int(project_var("churn_horizon_days"))
    if days + horizon - 1 > DAYS:
        raise ValueError(f"a {DAYS}-day world cannot observe the {horizon}-day outcome of a list made on day {days}")
    listed = out / f"r{seed}_list.json"
    if not listed.exists():
        listed.write_text(json.dumps(_make_list(out, seed, cfg, days, policy, keep)))
    made = json.loads(listed.read_text())
    if "skipped" in made:
        return {"seed": seed, "cut_days": days, **made}
    snapshot, n_t, n_h = made["snapshot"], len(made["users"]), len(made["holdout"])
    rules = policy.churn
    planned = round(rules.capacity_per_day * rules.list_days / (1 - rules.holdout_share))
    half = expected_half_width(n_t, n_h, made["mean_probability_at_risk"])
    _log(
        f"seed {seed}: snapshot {snapshot}, {made['users_at_risk']} users at risk (mean p "
        f"{made['mean_probability_at_risk']:.2f}); list of {n_t} contacted + {n_h} held out (policy size "
        f"{planned}); decision {made['decision']}; expected 95 % half-width {half:.3f}"
    )
    actions = out / f"r{seed}_actions.json"
    plays = [{"user_id": u, "date": snapshot, "decision_id": made["decision_id"]} for u in made["users"]]
    actions.write_text(json.dumps({"retention_plays": plays}, indent=1))
    replay = out / f"r{seed}_replay"
    _simulated(replay, cfg, actions)
    rs = _built(replay, LABELS)
    con = connect(rs.warehouse)
    try:
        con.execute("create schema if not exists decide")
        decisions = out / f"r{seed}_decisions.parquet"
        con.execute(f"create or replace table decide.decisions as select * from read_parquet('{decisions}')")
        con.execute("drop table if exists decide.action_outcomes")
        end = pd.Timestamp(cfg.start) + timedelta(days=DAYS) - timedelta(hours=1)
        outcome = evaluate_outcomes(con, policy, end)
        outcome = outcome[outcome["decision_id"] == made["decision_id"]] if not outcome.empty else outcome
        labels = con.execute(
            "select user_id, churned_30d from marts.fct_churn_labels where snapshot_date = ?", [snapshot]
        ).df()
    finally:
        con.close()
    truth = pd.read_parquet(replay / "landing" / "ground_truth" / "retention_play_units.parquet")
    if not keep:
        shutil.rmtree(replay, ignore_errors=True)
    seen = truth[truth["churned_30d_with_play"].notna()]
    effect = seen["churned_30d_with_play"].astype(float) - seen["churned_30d_without_play"].astype(float)
    agree = seen.merge(labels, on="user_id")
    result = {
        "seed": seed,
        "cut_days": days,
        "snapshot": snapshot,
        "users_at_risk": made["users_at_risk"],
        "decision": made["decision"],
        "listed_treated": n_t,
        "listed_holdout": n_h,
        "expected_half_width": half,
        "planted_effect": float(effect.mean()),
        "planted_users": len(seen),
        "truth_churn_with_play": float(seen["churned_30d_with_play"].astype(float).mean()),
        "truth_churn_without_play": float(seen["churned_30d_without_play"].astype(float).mean()),
        # a play lowers the hazard of quitting; a user already dormant (latently gone) at the play has none left
        "state_at_play": seen["state_at_play"].value_counts().to_dict(),
        "planted_effect_by_state": effect.groupby(seen["state_at_play"]).mean().to_dict(),
        "users_whose_outcome_the_play_changed": int((effect != 0).sum()),
        "warehouse_label_matches_truth": float(
            (agree["churned_30d"].astype(float) == agree["churned_30d_with_play"].astype(float)).mean()
        ),
    }
    if outcome.empty:
        return result | {"skipped": "evaluate_outcomes judged nothing"}
    o = outcome.iloc[0]
    return result | {
        "n_treated": int(o["n_treated"]),
        "n_holdout": int(o["n_control"]),
        "treated_churn": float(o["after_value"]),
        "holdout_churn": float(o["control_value"]),
        "estimate": float(o["effect"]),
        "ci": [float(o["ci_low"]), float(o["ci_high"])],
        "verdict": o["verdict"],
        "planted_inside_interval": bool(o["ci_low"] <= result["planted_effect"] <= o["ci_high"]),
    }


def pooled(results: list[dict]) -> dict | None:
    """All seeds' lists together: the counts summed (each seed's holdout is the same share of its list, so the
    pooled difference compares like with like), the planted effect weighted by contacted users."""
    done = [r for r in results if "estimate" in r]
    if len(done) < 2:
        return None
    k1 = sum(round(r["treated_churn"] * r["n_treated"]) for r in done)
    n1 = sum(r["n_treated"] for r in done)
    k0 = sum(round(r["holdout_churn"] * r["n_holdout"]) for r in done)
    n0 = sum(r["n_holdout"] for r in done)
    diff = two_proportions(k1, n1, k0, n0)
    planted = sum(r["planted_effect"] * r["planted_users"] for r in done) / sum(r["planted_users"] for r in done)
    return {
        "seeds": [r["seed"] for r in done],
        "n_treated": n1,
        "n_holdout": n0,
        "estimate": diff.difference,
        "ci": [diff.ci_low, diff.ci_high],
        "planted_effect": planted,
        "planted_inside_interval": bool(diff.ci_low <= planted <= diff.ci_high),
    }


def markdown(results: list[dict]) -> str:
    lines = [
        "| seed | list day (cut) | at risk | n treated / n holdout | churn treated / holdout | estimate (95 % CI) | "
        "planted (truth) | inside | expected half-width | label = truth |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "estimate" not in r:
            lines.append(f"| {r['seed']} | {r.get('snapshot')} ({r['cut_days']} d) | skipped: {r['skipped']} |")
            continue
        lines.append(
            f"| {r['seed']} | {r['snapshot']} ({r['cut_days']} d) | {r['users_at_risk']} | {r['n_treated']} / "
            f"{r['n_holdout']} | {r['treated_churn']:.1%} / {r['holdout_churn']:.1%} | {r['estimate']:+.1%} "
            f"({r['ci'][0]:+.1%} to {r['ci'][1]:+.1%}) | {r['planted_effect']:+.1%} | {r['planted_inside_interval']} "
            f"| {r['expected_half_width']:.1%} | {r['warehouse_label_matches_truth']:.1%} |"
        )
    p = pooled(results)
    if p:
        lines.append(
            f"| pooled {p['seeds']} | | | {p['n_treated']} / {p['n_holdout']} | | {p['estimate']:+.1%} "
            f"({p['ci'][0]:+.1%} to {p['ci'][1]:+.1%}) | {p['planted_effect']:+.1%} | {p['planted_inside_interval']} "
            "| | |"
        )
    return "\n".join(lines)


def run(out: Path, seeds: list[int], policy, keep: bool = False) -> list[dict]:
    """Every seed in turn; without ``keep`` each seed's landings are deleted once used (the warehouses stay)."""
    results = []
    for seed in seeds:
        results.append(retention_seed(out, seed, policy, keep))
        (out / f"bench_retention_{'_'.join(map(str, seeds))}.json").write_text(
            json.dumps({"seeds": results, "pooled": pooled(results)}, indent=2, default=str)
        )
    return results


__all__ = ["cut_days", "expected_half_width", "markdown", "pooled", "run"]
