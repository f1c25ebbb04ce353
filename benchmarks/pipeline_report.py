"""The pipeline benchmark's figures: medians over runs, the markdown table, the dated BENCHMARKS.md section."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

PIPELINE = ("load", "dbt SQL layer", "GX checks", "ML layer", "decide")
"""The stages "load -> decisions" sums (issue 17: ≤ 4 minutes at 10M)."""


@dataclass(frozen=True)
class Stage:
    name: str
    wall: float
    cpu: float
    rss_gib: float


def _median(stages: list[Stage]) -> Stage:
    """Median wall and CPU seconds over runs; the largest peak RSS (the bound that matters)."""
    return Stage(
        stages[0].name,
        statistics.median(s.wall for s in stages),
        statistics.median(s.cpu for s in stages),
        max(s.rss_gib for s in stages),
    )


def _by_name(runs: list[list[Stage]]) -> list[Stage]:
    names = [s.name for s in runs[0]]
    return [_median([next(s for s in run if s.name == name) for run in runs]) for name in names]


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def median_stages(size: str, users: int, days: int, results: list[dict], resources: object) -> dict:
    """One size's report: stage medians, the ratios of issue 17, per-model seconds of the last run."""
    stages = _by_name([r["stages"] for r in results])
    last = results[-1]
    report: dict = {
        "size": size,
        "users": users,
        "days": days,
        "runs": len(results),
        "messages": last["messages"],
        "stages": stages,
        "resources": resources,
        "load_average": [r["load_average"] for r in results],
        "ml_models": last["ml_models"],
        "sql_nodes": last["sql_nodes"],
    }
    get = {s.name: s for s in stages}
    pipeline = [s for s in stages if s.name.startswith(PIPELINE)]
    summary: dict = {
        "messages": last["messages"],
        "peak_rss_gib": round(max(s.rss_gib for s in stages), 2),
        "load_to_decisions_wall_s": round(sum(s.wall for s in pipeline), 1) if len(pipeline) == 5 else None,
        "load_to_decisions_cpu_s": round(sum(s.cpu for s in pipeline), 1) if len(pipeline) == 5 else None,
    }
    if "hand" in last:
        extras = {k: _by_name([[r[k]] for r in results])[0] for k in ("compile", "hand", "dbt_run")}
        new_day = _by_name([r["new_day"] for r in results])
        report.update(
            extras,
            new_day=new_day,
            hand_models=last["hand_models"],
            new_day_files=last["new_day_files"],
            new_day_nodes=last.get("new_day_nodes", {}),
        )
        build = get["dbt SQL layer (build)"]
        full = build.wall + get["load (landing -> raw)"].wall
        summary.update(
            sql_build_s=round(build.wall, 1),
            sql_run_s=round(extras["dbt_run"].wall, 1),
            compile_s=round(extras["compile"].wall, 1),
            hand_run_s=round(extras["hand"].wall, 1),
            overhead_build=_ratio(build.wall, extras["hand"].wall),
            overhead_run=_ratio(extras["dbt_run"].wall, extras["hand"].wall),
            overhead_build_cpu=_ratio(build.cpu, extras["hand"].cpu),
            new_day_s=round(sum(s.wall for s in new_day), 1),
            new_day_ratio=_ratio(sum(s.wall for s in new_day), full),
            new_day_ratio_cpu=_ratio(sum(s.cpu for s in new_day), build.cpu + get["load (landing -> raw)"].cpu),
            backfill_age_hours=last.get("backfill_age_hours", 0),
            peak_rss_gib=round(max(summary["peak_rss_gib"], *(s.rss_gib for s in [*extras.values(), *new_day])), 2),
        )
    report["summary"] = summary
    return report


def _row(s: Stage) -> str:
    return f"| {s.name} | {s.wall:.1f} | {s.cpu:.1f} | {s.rss_gib:.2f} |"


def _top(nodes: dict[str, float], n: int = 12) -> list[tuple[str, float]]:
    return sorted(nodes.items(), key=lambda kv: -kv[1])[:n]


def markdown(report: dict) -> str:
    """The size's section: stages, ratios, the slowest SQL models (dbt and hand-run), the ML models."""
    s = report["summary"]
    lines = [
        f"### {report['size']}: {report['users']:,} users x {report['days']} days, seed 7 — "
        f"{report['messages']:,} messages loaded; {report['runs']} run(s), medians (peak RSS: the largest)",
        "",
        "| stage | wall s | CPU s | peak RSS GiB |",
        "|---|---|---|---|",
        *(_row(st) for st in report["stages"]),
    ]
    if "hand" in report:
        lines += [*(_row(report[k]) for k in ("compile", "hand", "dbt_run")), *(_row(st) for st in report["new_day"])]
    lines += ["", "| figure | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in s.items()]
    hand = report.get("hand_models", {})
    lines += ["", "Slowest SQL-layer nodes (dbt build's run_results, s; hand-run of the same model beside):", ""]
    lines += ["| node | dbt s | hand-run s |", "|---|---|---|"]
    for uid, t in _top(report["sql_nodes"]):
        name = uid.split(".")[-1] if uid.startswith("model.") else uid.removeprefix("test.pintel.")
        lines.append(f"| {name[:70]} | {t:.1f} | {hand.get(name, float('nan')):.1f} |")
    tests = sum(t for uid, t in report["sql_nodes"].items() if uid.startswith(("test.", "unit_test.")))
    lines.append(f"\nData and unit tests summed: {tests:.1f} s of {sum(report['sql_nodes'].values()):.1f} s.")
    if report.get("new_day_nodes"):
        lines += [
            "",
            "Slowest new-day nodes (run_results, s): "
            + ", ".join(f"{k.split('.')[-1][:60]} {v:.1f}" for k, v in _top(report["new_day_nodes"], 15)),
        ]
    if report["ml_models"]:
        lines += [
            "",
            "ML models (run_results, s): " + ", ".join(f"{k} {v:.1f}" for k, v in _top(report["ml_models"], 40)),
        ]
    return "\n".join(lines)


def _versions() -> str:
    names = ["duckdb", "dbt-core", "dbt-duckdb", "great-expectations"]
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        rev = "?"
    return f"Python {platform.python_version()}, " + ", ".join(f"{n} {version(n)}" for n in names) + f", pintel {rev}"


def _machine() -> str:
    try:
        mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        ram = f"{int(mem.split()[1]) / 2**20:.0f} GiB"
    except (OSError, StopIteration):
        ram = "? GiB"
    return f"{platform.machine()}, {os.cpu_count()} cores, {ram} RAM"


def append_section(path: Path, report: dict) -> None:
    """Append the dated section (machine, versions, DuckDB limits, load average) to BENCHMARKS.md."""
    res = report["resources"]
    loads = ", ".join(
        "/".join(f"{x:.1f}" for x in run[0]) + " -> " + "/".join(f"{x:.1f}" for x in run[1])
        for run in report["load_average"]
    )
    head = (
        f"\n## Pipeline at {report['size']} (`make bench`, benchmarks/bench_pipeline.py), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"{_machine()}; {_versions()}. DuckDB memory_limit {res.memory_limit}, threads {res.threads}, "
        f"temp_directory {res.temp_directory or '<warehouse>.tmp'}. Load average (1/5/15 min, start -> end of each "
        f"run): {loads}. CPU s = user + system of the stage's process tree.\n\n"
    )
    with path.open("a") as out:
        out.write(head + markdown(report) + "\n")


def as_json(report: dict) -> dict:
    """``report`` with its stages as plain dicts (for the smoke test and any JSON consumer)."""
    plain = dict(report)
    for key in ("stages", "new_day"):
        if key in plain:
            plain[key] = [asdict(s) for s in plain[key]]
    for key in ("compile", "hand", "dbt_run"):
        if key in plain:
            plain[key] = asdict(plain[key])
    plain["resources"] = str(plain["resources"])
    return plain
