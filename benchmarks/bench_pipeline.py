"""The whole pipeline stage by stage at 1M / 10M / 40M messages: wall time, CPU time and peak RSS per stage.

Usage: python benchmarks/bench_pipeline.py [--sizes 1M 10M 40M | 200x10] [--runs N] [--sql-only] [--no-append]
       (``make bench SIZES="1M 10M"``)

For each size it simulates one day more than the size's window (seed 7), holds that last arrival day's events
back, and runs in order, each stage as its own child process (a measuring wrapper reports the stage's
``ru_maxrss`` of its children, so each figure is that stage's alone, and user + system CPU seconds beside wall
time — the figure to compare on a shared machine): simulate, load (landing -> raw), the dbt SQL layer
(``dbt build --exclude path:models/ml``), the GX checks (``pintel dq``), the ML layer (one ``dbt build`` of
``path:models/ml``; each model's time from dbt's ``run_results.json``), decide, act (Slack dry run). Then:

- **overhead ratio**: ``dbt compile`` of the same models on a copy of the warehouse holding only raw and seeds,
  the compiled SQL run in one DuckDB connection in dependency order (:mod:`benchmarks.handrun`), against the
  SQL layer's ``dbt build`` above and a ``dbt run --full-refresh`` (no tests) of the same models;
- **incremental ratio**: the held-back day is landed, loaded and built (the same selection) against the full
  build. The landing approach is benchmarks/bench_warehouse.py's (tests.support.landing).

DuckDB's limits come from the environment as for any pintel run (PINTEL_DUCKDB_MEMORY_LIMIT, _THREADS,
_TEMP_DIRECTORY; pintel.settings.DuckDBResources). Prints markdown and JSON; appends a dated section to
BENCHMARKS.md unless ``--no-append``. The worlds live under ``--work`` (default build/bench) and are deleted
after each size unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests.support and benchmarks

from benchmarks.pipeline_report import Stage, append_section, markdown, median_stages
from pintel.build import production_args
from pintel.dbt_project import project_var
from pintel.settings import DuckDBResources
from tests.support.landing import batch_day, landing_days

REPO = Path(__file__).resolve().parents[1]
SIZES = {"1M": (2_500, 90), "10M": (12_500, 180), "40M": (50_000, 180)}
"""Named sizes: users x days (seed 7). ``UxD`` (e.g. ``200x10``) names any other."""
SQL_LAYER = ["--exclude", "path:models/ml"]
"""The SQL layer: everything but the dbt Python models and their served SQL (``--select`` narrows it)."""


def sql_build() -> list[str]:
    """The SQL layer's production ``dbt build`` (no unit tests: :func:`pintel.build.production_args`)."""
    return ["build", *production_args(), *SQL_LAYER, "--indirect-selection", "cautious"]


MEASURE = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
with open(sys.argv[2], "ab") as log:
    code = subprocess.run(sys.argv[3:], stdout=log, stderr=subprocess.STDOUT).returncode
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    json.dump({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_kb": usage.ru_maxrss, "code": code}, out)
"""

DBT = """
import json, sys
from pintel.build import run_dbt
from pintel.settings import Settings
run_dbt(Settings.from_env(sys.argv[1], sys.argv[2]), json.loads(sys.argv[3]))
"""

LOAD = """
import sys
from pintel.ingest.landing import load_landing
report = load_landing(sys.argv[1], sys.argv[2])
print("rows", report.new_rows)
"""

ACT = """
import sys
from pintel.act import deliver
from pintel.act.policy import load_delivery_policy
from pintel.decide import load_decisions
from pintel.settings import connect
con = connect(sys.argv[1])
report = deliver(con, load_decisions(con), load_delivery_policy(None))
print(report.markdown())
con.close()
"""


def parse_size(name: str) -> tuple[int, int]:
    if name in SIZES:
        return SIZES[name]
    users, _, days = name.lower().partition("x")
    if not (users.isdigit() and days.isdigit()):
        raise SystemExit(f"size {name!r}: one of {', '.join(SIZES)} or USERSxDAYS, e.g. 200x10")
    return int(users), int(days)


class World:
    """One size's folders and the stage runner (every stage a child process under the measuring wrapper)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.landing = root / "landing"
        self.held = root / "held_back"
        self.warehouse = root / "wh" / "pintel.duckdb"
        self.hand = root / "hand" / "pintel.duckdb"
        self.log = root / "stages.log"
        self.env = {
            **os.environ,
            "PINTEL_HOME": str(root),
            "PINTEL_REPORTS": str(root / "reports"),
            "PINTEL_LANDING": str(self.landing),
            "PINTEL_WAREHOUSE": str(self.warehouse),
        }
        self.env.pop("PINTEL_SLACK_BOT_TOKEN", None)  # act is a dry run: messages rendered and stored, not posted

    def stage(self, name: str, argv: list[str]) -> Stage:
        out = self.root / "measure.json"
        with self.log.open("a") as log:
            log.write(f"\n=== {name}: {' '.join(argv)[:300]}\n")
        cmd = [sys.executable, "-c", MEASURE, str(out), str(self.log), *argv]
        import subprocess

        subprocess.run(cmd, env=self.env, check=True, cwd=REPO)
        found = json.loads(out.read_text())
        if found["code"] != 0:
            tail = self.log.read_text()[-3000:]
            raise SystemExit(f"stage {name} failed (exit {found['code']}); log {self.log}:\n{tail}")
        stage = Stage(name, found["wall"], found["cpu"], found["rss_kb"] / 2**20)
        with (self.root.parent / f"{self.root.name}.stages.jsonl").open("a") as out:  # survives an interrupted run
            out.write(json.dumps(stage.__dict__) + "\n")
        return stage

    def dbt(self, name: str, args: list[str], warehouse: Path | None = None) -> Stage:
        wh = warehouse or self.warehouse
        return self.stage(name, [sys.executable, "-c", DBT, str(wh), str(self.landing), json.dumps(args)])

    def run_results(self, warehouse: Path | None = None) -> dict[str, float]:
        """Seconds per node of the last dbt invocation on ``warehouse`` (its run_results.json)."""
        path = (warehouse or self.warehouse).parent / "dbt_target" / "run_results.json"
        results = json.loads(path.read_text())["results"]
        return {r["unique_id"]: r["execution_time"] for r in results}


def hold_back(world: World, days: int) -> int:
    """Move the events that arrived on the last simulated day (and later) out of the landing; return how many files."""
    cut = landing_days(world.landing)[days]
    moved = 0
    for src in sorted((world.landing / "events").rglob("*.parquet")):
        if batch_day(src, world.landing) >= cut:
            dst = world.held / src.relative_to(world.landing)
            dst.parent.mkdir(parents=True, exist_ok=True)
            src.rename(dst)
            moved += 1
    return moved


def land_held_back(world: World) -> None:
    for src in sorted(world.held.rglob("*.parquet")):
        dst = world.landing / src.relative_to(world.held)
        dst.parent.mkdir(parents=True, exist_ok=True)
        src.rename(dst)


def settle_backfill(warehouse: Path, hours: int) -> None:
    """Date the first load ``hours`` back, as if the backfill had been loaded that long before the new day.

    The bench loads 180 days and then the next day minutes apart; a real deployment loads the next day a day
    later, and from the fourth day on the backfill is older than the late-arrival lookback. Data tests scoped to
    recent loads (macros/recent_loads.sql) then read the day's loads only, not the whole backfill again. Event
    times, arrival times and every model's own logic are untouched: only the raw load timestamps move.
    """
    from pintel.settings import connect

    con = connect(warehouse)
    try:
        for table, column in (
            ("raw.events", "_loaded_at"),
            ("raw.identifies", "_loaded_at"),
            ("raw.ingested_files", "loaded_at"),
        ):
            con.execute(f"update {table} set {column} = {column} - interval ({int(hours)}) hour")
    finally:
        con.close()


def default_backfill_age() -> int:
    """A settled deployment: the backfill loaded a day more than the late-arrival lookback before the new day."""
    return int(project_var("late_arrival_lookback_hours")) + 24


def one_run(
    root: Path, users: int, days: int, sql_only: bool, extras: bool, reuse: bool = False, backfill_age: int = 0
) -> dict:
    """Every stage once on a fresh world of ``users`` x ``days`` (+1 held-back day).

    ``reuse``: keep the landing a kept earlier run simulated (same size and seed) and skip the simulate stage.
    ``backfill_age``: hours the first load is dated back before the builds (:func:`settle_backfill`; 0 = none,
    the new day lands minutes after the backfill).
    """
    world = World(root)
    load_start = os.getloadavg()
    pintel = str(Path(sys.executable).parent / "pintel")
    stages: list[Stage] = []
    if reuse and world.landing.is_dir():  # the same seed's landing from an earlier run: only the warehouse is new
        for folder in (world.warehouse.parent, world.hand.parent, root / "reports"):
            shutil.rmtree(folder, ignore_errors=True)
        land_held_back(world)
    else:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        simulate = ["simulate", "--users", str(users), "--days", str(days + 1), "--seed", "7", "--out"]
        stages.append(world.stage("simulate", [pintel, *simulate, str(world.landing)]))
    held_files = hold_back(world, days)
    stages.append(
        world.stage("load (landing -> raw)", [sys.executable, "-c", LOAD, str(world.landing), str(world.warehouse)])
    )
    messages = _messages(world.warehouse)
    if backfill_age:
        settle_backfill(world.warehouse, backfill_age)
    if extras:  # raw and seeds only, for dbt compile and the hand-run
        world.hand.parent.mkdir(parents=True)
        shutil.copy(world.warehouse, world.hand)
    stages.append(world.dbt("dbt SQL layer (build)", sql_build()))
    sql_nodes = world.run_results()
    ml_models: dict[str, float] = {}
    if not sql_only:
        stages.append(world.stage("GX checks (pintel dq)", [pintel, "dq", "--warehouse", str(world.warehouse)]))
        stages.append(world.dbt("ML layer (dbt build)", ["build", *production_args(), "--select", "path:models/ml"]))
        ml_models = {uid.split(".")[-1]: t for uid, t in world.run_results().items() if uid.startswith("model.")}
        stages.append(world.stage("decide", [pintel, "decide", "--warehouse", str(world.warehouse)]))
        stages.append(world.stage("act (Slack dry run)", [sys.executable, "-c", ACT, str(world.warehouse)]))
    result: dict = {"messages": messages, "stages": stages, "ml_models": ml_models, "sql_nodes": sql_nodes}
    if extras:
        result.update(_overhead(world))
        land_held_back(world)
        result["new_day"] = [
            world.stage("new day: load", [sys.executable, "-c", LOAD, str(world.landing), str(world.warehouse)]),
            world.dbt("new day: dbt SQL layer (build)", sql_build()),
        ]
        result["new_day_files"] = held_files
        result["new_day_nodes"] = world.run_results()
    result["backfill_age_hours"] = backfill_age
    result["load_average"] = [load_start, os.getloadavg()]
    return result


def _overhead(world: World) -> dict:
    """dbt compile + hand-run on the raw-only copy; ``dbt run --full-refresh`` (no tests) on the warehouse."""
    world.dbt("dbt seed (hand copy, untimed)", ["seed"], world.hand)
    compile_ = world.dbt("dbt compile", ["compile", *SQL_LAYER], world.hand)
    manifest = world.hand.parent / "dbt_target" / "manifest.json"
    timings = world.root / "handrun.json"
    hand = world.stage(
        "hand-run compiled SQL (one DuckDB connection)",
        [sys.executable, str(REPO / "benchmarks" / "handrun.py"), str(world.hand), str(manifest), str(timings)],
    )
    hand_models = json.loads(timings.read_text())
    run = world.dbt("dbt run --full-refresh (no tests)", ["run", *SQL_LAYER, "--full-refresh"])
    run_nodes = world.run_results()
    shutil.rmtree(world.hand.parent, ignore_errors=True)
    return {"compile": compile_, "hand": hand, "hand_models": hand_models, "dbt_run": run, "run_nodes": run_nodes}


def _messages(warehouse: Path) -> int:
    from pintel.settings import connect

    con = connect(warehouse, read_only=True)
    try:
        return int(con.sql("select count(*) from raw.events").fetchone()[0])
    finally:
        con.close()


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1M"])
    parser.add_argument("--runs", type=int, default=None, help="runs per size (default 3 at 1M, else 1)")
    parser.add_argument("--sql-only", action="store_true", help="simulate, load and the SQL layer only")
    parser.add_argument("--select", nargs="+", help="dbt selection of the SQL layer (default: all but models/ml)")
    parser.add_argument("--no-extras", action="store_true", help="skip the overhead and incremental measurements")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "bench")
    parser.add_argument("--keep", action="store_true", help="keep the worlds (they are GBs at 10M+)")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept world's landing (no simulate stage)")
    parser.add_argument("--no-append", action="store_true", help="do not append to BENCHMARKS.md")
    parser.add_argument(
        "--backfill-age-hours",
        type=int,
        default=None,
        help="date the first load back this many hours before the new day (default: the late-arrival lookback + 24, "
        "a settled deployment; 0: the new day lands minutes after the backfill)",
    )
    parser.add_argument("--benchmarks-md", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    reports = []
    for size in args.sizes:
        users, days = parse_size(size)
        runs = args.runs or (3 if size == "1M" else 1)
        root = args.work / size
        if args.select:
            SQL_LAYER[:] = ["--select", *args.select, *SQL_LAYER]
        age = default_backfill_age() if args.backfill_age_hours is None else args.backfill_age_hours
        results = [one_run(root, users, days, args.sql_only, not args.no_extras, args.reuse, age) for _ in range(runs)]
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        report = median_stages(size, users, days, results, DuckDBResources.from_env())
        print(markdown(report))
        print(json.dumps(report["summary"], indent=2))
        if not args.no_append:
            append_section(args.benchmarks_md, report)
        reports.append(report)
    return reports


if __name__ == "__main__":
    main()
