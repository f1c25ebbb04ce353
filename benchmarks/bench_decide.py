"""Acceptance runs of the decision engine (issue 12) at the demo size: 5 000 users x 90 days, per seed.

Too slow for ``make test`` (each world is a simulation and a warehouse build); run it by hand:

    .venv/bin/python benchmarks/bench_decide.py --seeds 7 11 23 [--out build/bench] [--skip srm,no_incidents]
    .venv/bin/python benchmarks/bench_decide.py --retention --seeds 7 11 23

Per seed, on the default world:

* **rollback** -- the engine runs hourly (``decide(as_of=hour)``, only data received before that hour) through
  each planted rollout's guard window: the first ``rollback`` of the bad rollout (``new_editor``) must come
  within 6 h of its start, the benign one (``new_sidebar``) must get none.
* **idempotency** -- re-running the first 12 hours and the rollback hour adds no row.
* **replay** -- ``simulate --actions`` with the rollback applied (same seed, common random numbers): the bad
  rollout's errors and reports of its platform after the rollback hour against the original world and against
  the simulator's no-harm counterfactual.
* **experiment** -- the readout of the planted experiment is shipped (positive lift detected), and escalated,
  not shipped, in the same world with ``--srm-loss 0.1``.

On the first seed only (unless ``--all-extras``):

* **no_incidents** -- the ``--no-incidents`` world: hourly through every flag's guard window and daily at
  23:00 over the 90 days, with the incidents source; the count of act/rollback must be zero.

With ``--retention`` (instead of the stages above; see ``benchmarks/decide_retention.py``), per seed on a
5 000 x 120 world: a warehouse of its first days makes the churn list with its 10 % holdout, the plays are
replayed with ``--actions``, and ``decide.action_outcomes``' treated-minus-holdout churn difference and its
interval are compared with the planted effect (every contacted user's with-play minus without-play truth).

Results: ``<out>/bench_decide_<seeds>.json`` and a Markdown table on stdout (paste into BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pintel.build import build  # noqa: E402
from pintel.decide import decide, load_decisions, load_policy  # noqa: E402
from pintel.settings import Settings, connect  # noqa: E402
from pintel.simulate import SimConfig, simulate  # noqa: E402
from pintel.simulate.actions import parse_actions  # noqa: E402

USERS, DAYS = 5000, 90
FLAGS = ["+fct_flag_user_hourly"]
EXPERIMENT = ["+experiment_results_served"]
WITHIN_HOURS = 6


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def settings(root: Path, landing: Path) -> Settings:
    return Settings(
        home=root, landing=landing, warehouse=root / "pintel.duckdb", dbt_target="duckdb", reports=root / "reports"
    )


def world(root: Path, cfg: SimConfig, select: list[str], actions=None) -> tuple[Path, Settings]:
    """Simulate ``cfg`` into ``root/landing`` and build ``select`` (each step skipped when already done)."""
    landing = root / "landing"
    if not (landing / "ground_truth" / "manifest.json").exists():
        t = time.perf_counter()
        simulate(cfg, landing, actions=actions)
        log(f"simulated {root.name} in {time.perf_counter() - t:.0f} s")
    s = settings(root, landing)
    marker = root / (".built-" + "-".join(x.strip("+") for x in select))
    if select and not marker.exists():
        t = time.perf_counter()
        try:
            build(s, select=select)
        except Exception as exc:  # a failing dbt test must not hide the decision figures; it is reported
            log(f"build of {root.name} reported: {str(exc)[:300]}")
        marker.touch()
        log(f"built {select} for {root.name} in {time.perf_counter() - t:.0f} s")
    return landing, s


def manifest(landing: Path) -> dict:
    return json.loads((landing / "ground_truth" / "manifest.json").read_text())


def starts(landing: Path) -> dict[str, pd.Timestamp]:
    """Flag -> first planted step (naive UTC); a rollout not planted in this world (``--no-incidents`` drops the
    bad one) has no schedule and is left out."""
    return {
        r["flag"]: pd.Timestamp(r["planted_schedule"][0]["at"]).tz_localize(None)
        for r in manifest(landing)["rollouts"]
        if r["planted_schedule"]
    }


def bench_policy():
    """The default policy. Every run here checks the decision logic, not GX (whose suites these warehouses did not
    run), so an unrecorded validation does not block actions; a failed one still would."""
    rules = load_policy()
    dq = rules.data_quality.model_copy(update={"unknown_blocks_actions": False})
    return rules.model_copy(update={"data_quality": dq})


def hourly(con, policy, begin: pd.Timestamp, hours: int, sources: list[str]) -> tuple[list, float]:
    t = time.perf_counter()
    runs = [decide(con, policy, begin + timedelta(hours=h), sources=sources) for h in range(1, hours + 1)]
    return runs, (time.perf_counter() - t) / max(hours, 1)


def rollback_stage(root: Path, s: Settings, landing: Path, policy) -> dict:
    work = root / "work.duckdb"
    shutil.copy2(s.warehouse, work)
    con = connect(work)
    out: dict = {}
    try:
        for flag, start in starts(landing).items():
            runs, per_run = hourly(con, policy, start, policy.rollouts.guard_hours, ["rollouts"])
            rows = pd.concat([r.decisions for r in runs], ignore_index=True)
            mine = rows[rows["target"] == flag]
            rollbacks = mine[mine["decision"] == "rollback"]
            first = rollbacks["as_of"].min() if not rollbacks.empty else None
            out[flag] = {
                "start": str(start),
                "rollbacks": len(rollbacks),
                "first_rollback_as_of": str(first) if first is not None else None,
                "hours_to_rollback": (pd.Timestamp(first) - start) / timedelta(hours=1) if first is not None else None,
                "monitors": int((mine["decision"] == "monitor").sum()),
                "seconds_per_hourly_run": round(per_run, 3),
                "rationale": rollbacks.iloc[0]["rationale"] if not rollbacks.empty else None,
                "decision_id": rollbacks.iloc[0]["decision_id"] if not rollbacks.empty else None,
            }
        bad = out.get("new_editor", {})
        before = len(load_decisions(con))
        again = hourly(con, policy, starts(landing)["new_editor"], 12, ["rollouts"])[0]
        if bad.get("first_rollback_as_of"):
            again.append(decide(con, policy, pd.Timestamp(bad["first_rollback_as_of"]), sources=["rollouts"]))
        out["idempotency"] = {"rows": before, "rows_added_on_rerun": sum(r.added for r in again)}
    finally:
        con.close()
    return out


def _hourly_truth(landing: Path, flag: str) -> pd.DataFrame:
    t = pd.read_parquet(landing / "ground_truth" / "rollout_hourly.parquet")
    t = t[(t["flag"] == flag) & (t["cohort"] == "assigned")].copy()
    t["hour"] = pd.to_datetime(t["hour"]).dt.tz_localize(None)
    return t.set_index("hour")


def replay_stage(root: Path, cfg: SimConfig, landing: Path, rollback: dict) -> dict:
    at, decision_id = rollback.get("first_rollback_as_of"), rollback.get("decision_id")
    if at is None:
        return {"skipped": "no rollback to replay"}
    data = {"flags": [{"flag": "new_editor", "at": pd.Timestamp(at).isoformat() + "Z", "state": "off"}]}
    data["flags"][0]["decision_id"] = decision_id
    replay = root.parent / f"{root.name}_replay"
    world(replay, cfg, [], actions=parse_actions(data, cfg))
    orig, new = _hourly_truth(landing, "new_editor"), _hourly_truth(replay / "landing", "new_editor")
    after = pd.Timestamp(at) + timedelta(hours=1)
    window = slice(after, after + timedelta(hours=71))
    o, n = orig.loc[window], new.loc[window]
    return {
        "rollback_at": at,
        "hours_compared": len(n),
        "errors_original": int(o["error_shown"].sum()),
        "errors_replay": int(n["error_shown"].sum()),
        "errors_without_harm": int(o["error_shown_without_harm"].sum()),
        "reports_original": int(o["report_created"].sum()),
        "reports_replay": int(n["report_created"].sum()),
        "reports_without_harm": int(o["report_created_without_harm"].sum()),
        "exposed_users_after_replay": int(n["exposed_users"].sum()),
    }


def experiment_decision(s: Settings, policy) -> dict:
    con = connect(s.warehouse)
    try:
        run = decide(con, policy, dry_run=True, sources=["experiments"])
    finally:
        con.close()
    rows = run.decisions
    return {
        "decisions": [
            {k: r[k] for k in ("decision", "action_type", "target", "title")}
            | {"why": json.loads(r["evidence"])["rule"]}
            for r in rows.to_dict("records")
        ]
    }


def no_incidents_stage(out: Path, seed: int, policy) -> dict:
    root = out / f"s{seed}_quiet"
    landing, s = world(
        root, SimConfig(users=USERS, days=DAYS, seed=seed, incidents=False), [*FLAGS, "+metric_incidents_served"]
    )
    work = root / "work.duckdb"
    shutil.copy2(s.warehouse, work)
    con = connect(work)
    try:
        t = time.perf_counter()
        for start in starts(landing).values():
            hourly(con, policy, start, policy.rollouts.guard_hours, ["rollouts", "incidents"])
        begin = pd.Timestamp(manifest(landing)["window"]["start"]).tz_localize(None).normalize()
        for day in range(DAYS):
            decide(con, policy, begin + timedelta(days=day, hours=23), sources=["rollouts", "incidents"])
        rows = load_decisions(con)
        seconds = time.perf_counter() - t
        incidents = con.execute("select count(*) from ml.metric_incidents_served").fetchone()[0]
    finally:
        con.close()
    return {
        "act_or_rollback": int(rows["decision"].isin(["act", "rollback"]).sum()),
        "decisions": rows["decision"].value_counts().to_dict(),
        "incidents_raised": int(incidents),
        "seconds": round(seconds),
    }


def run_seed(out: Path, seed: int, extras: bool, skip: set[str], policy) -> dict:
    cfg = SimConfig(users=USERS, days=DAYS, seed=seed)
    root = out / f"s{seed}"
    landing, s = world(root, cfg, [*FLAGS, *EXPERIMENT])
    result: dict = {"seed": seed}
    result["rollback"] = rollback_stage(root, s, landing, policy)
    hours = {k: v["hours_to_rollback"] for k, v in result["rollback"].items() if "hours_to_rollback" in v}
    log(f"seed {seed}: hours to the first rollback {hours}")
    result["replay"] = replay_stage(root, cfg, landing, result["rollback"].get("new_editor", {}))
    result["experiment"] = experiment_decision(s, policy)
    if "srm" not in skip:
        srm_root = out / f"s{seed}_srm"
        _, srm = world(srm_root, SimConfig(users=USERS, days=DAYS, seed=seed, srm_loss=0.1), [*FLAGS, *EXPERIMENT])
        result["experiment_srm"] = experiment_decision(srm, policy)
    if extras and "no_incidents" not in skip:
        result["no_incidents"] = no_incidents_stage(out, seed, policy)
    return result


def markdown(results: list[dict]) -> str:
    lines = [
        "| seed | bad rollout: first rollback (h after start) | benign: rollbacks | re-run rows added | "
        "errors 72 h after rollback: original / replay / no-harm | experiment | with --srm-loss 0.1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rb, rp = r["rollback"], r.get("replay", {})
        exp = ", ".join(f"{d['decision']} {d['action_type']}" for d in r["experiment"]["decisions"])
        srm = (
            ", ".join(
                f"{d['decision']} {d['action_type']}" for d in r.get("experiment_srm", {"decisions": []})["decisions"]
            )
            or "not run"
        )
        lines.append(
            f"| {r['seed']} | {rb['new_editor']['hours_to_rollback']} | {rb['new_sidebar']['rollbacks']} | "
            f"{rb['idempotency']['rows_added_on_rerun']} | {rp.get('errors_original')} / {rp.get('errors_replay')} / "
            f"{rp.get('errors_without_harm')} | {exp} | {srm} |"
        )
    for r in results:
        if "no_incidents" in r:
            n = r["no_incidents"]
            lines.append(
                f"\nseed {r['seed']} --no-incidents: {n['act_or_rollback']} act/rollback, decisions {n['decisions']}, "
                f"{n['incidents_raised']} incidents raised by the detector"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--all-extras", action="store_true", help="no_incidents on every seed")
    parser.add_argument("--skip", default="", help="comma-separated stages to skip: srm,no_incidents")
    parser.add_argument(
        "--retention", action="store_true", help="only the retention play's holdout comparison (decide_retention.py)"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    policy = bench_policy()
    if args.retention:
        from benchmarks.decide_retention import markdown as retention_markdown
        from benchmarks.decide_retention import run as retention_run

        print(retention_markdown(retention_run(args.out, args.seeds, policy)))
        return
    skip = {x for x in args.skip.split(",") if x}
    results = []
    for i, seed in enumerate(args.seeds):
        results.append(run_seed(args.out, seed, args.all_extras or i == 0, skip, policy))
        (args.out / f"bench_decide_{'_'.join(map(str, args.seeds))}.json").write_text(
            json.dumps(results, indent=2, default=str)
        )
    print(markdown(results))


if __name__ == "__main__":
    main()
