"""The SQL the dbt models compile to, run directly in one DuckDB connection: the yardstick of dbt's overhead.

``dbt compile`` (on a warehouse holding only raw tables and seeds, so every ``is_incremental()`` is false and
incremental models compile to their full-refresh SQL) leaves each model's SQL in ``manifest.json``. This runs
those statements in dependency order in one connection, as the materialisation says: a view for views, a table
for tables and incremental models. No tests, no contracts, no dbt. Run as a script it prints per-model seconds
as JSON (``python benchmarks/handrun.py WAREHOUSE MANIFEST [OUT]``); :mod:`benchmarks.bench_pipeline` runs it as a
child process to measure its wall time, CPU time and peak RSS alone.
"""

from __future__ import annotations

import json
import sys
import time
from graphlib import TopologicalSorter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pintel.settings import connect


def compiled_models(manifest: dict) -> list[dict]:
    """The manifest's compiled SQL models (those dbt compiled: the selection), upstream first."""
    nodes = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node.get("language") == "sql" and node.get("compiled_code")
    }
    graph = {uid: [d for d in node["depends_on"]["nodes"] if d in nodes] for uid, node in nodes.items()}
    return [nodes[uid] for uid in TopologicalSorter(graph).static_order()]


def statement(node: dict) -> str:
    """``create or replace view|table <relation> as <compiled SQL>`` for one model."""
    kind = "view" if node["config"]["materialized"] == "view" else "table"
    return f"create or replace {kind} {node['relation_name']} as (\n{node['compiled_code']}\n)"


def run(warehouse: Path, manifest_path: Path) -> dict[str, float]:
    """Run every compiled model in ``manifest_path`` against ``warehouse``; seconds per model, upstream first."""
    models = compiled_models(json.loads(manifest_path.read_text()))
    con = connect(warehouse)
    seconds: dict[str, float] = {}
    try:
        for schema in sorted({(n["database"], n["schema"]) for n in models}):
            con.execute(f'create schema if not exists "{schema[0]}"."{schema[1]}"')
        for node in models:
            started = time.perf_counter()
            con.execute(statement(node))
            seconds[node["name"]] = time.perf_counter() - started
        con.execute("checkpoint")
    finally:
        con.close()
    return seconds


if __name__ == "__main__":
    found = json.dumps(run(Path(sys.argv[1]), Path(sys.argv[2])))
    if len(sys.argv) > 3:
        Path(sys.argv[3]).write_text(found)
    else:
        print(found)
