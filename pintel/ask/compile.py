"""MetricFlow compiles every metric query; the SQL is cached per query shape so `pintel ask` stays fast.

A *shape* is a set of metrics grouped by ``metric_time__day`` and some dimensions, with no time constraint and no
filter values: those are bound as parameters by :mod:`pintel.ask.query` around the compiled SQL, so one compiled
statement serves every date range and every filter value, and nothing a user typed ever reaches the SQL text.

Why a cache: importing MetricFlow and building its engine takes 2-4 s, over the 1 s budget of a question asked
from the command line; compiling one shape then takes about 0.1 s. The cache is a JSON file beside the semantic
manifest, keyed by the manifest's digest (a changed metric definition invalidates everything). MetricFlow is
imported only on a cache miss; :func:`warm` compiles the common shapes ahead of time.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pintel.ask.catalog import Catalog

TIME_COLUMN = "metric_time__day"


class CompileError(RuntimeError):
    """MetricFlow could not compile a query for this shape."""


def shape_key(metrics: Sequence[str], group_by: Iterable[str]) -> str:
    return ",".join(metrics) + "|" + ",".join(sorted(set(group_by)))


class Compiler:
    """Compiled SQL per shape for one semantic manifest, from the cache or from MetricFlow."""

    def __init__(self, manifest_path: Path, catalog: Catalog, cache_path: Path | None = None) -> None:
        self.manifest_path = manifest_path
        self.catalog = catalog
        self.cache_path = cache_path or manifest_path.with_name("pintel_ask_compiled.json")
        cached = self._read_cache()
        self._shapes: dict[str, str] = dict(cached.get("shapes", {}))
        self._values: dict[str, dict] = dict(cached.get("values", {}))
        self._engine: Any = None

    def _read_cache(self) -> dict:
        try:
            cached = json.loads(self.cache_path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}
        return cached if cached.get("digest") == self.catalog.digest else {}

    def values(self, warehouse_key: str) -> dict[str, list[str]] | None:
        """Dimension values cached for this exact warehouse file (path, size and modification time)."""
        return self._values.get(warehouse_key)

    def remember_values(self, warehouse_key: str, values: dict[str, list[str]]) -> None:
        self._values = {warehouse_key: values}  # only the latest state of a warehouse is worth keeping
        self._write_cache()

    def _write_cache(self) -> None:
        """Atomic replace, so concurrent `pintel ask` processes never read half a file; unwritable is fine."""
        payload = json.dumps(
            {"digest": self.catalog.digest, "shapes": self._shapes, "values": self._values}, indent=0, sort_keys=True
        )
        try:
            fd, tmp = tempfile.mkstemp(dir=self.cache_path.parent, prefix=".pintel_ask_", suffix=".json")
            with os.fdopen(fd, "w") as handle:
                handle.write(payload)
            os.replace(tmp, self.cache_path)
        except OSError:
            pass

    def sql(self, metrics: Sequence[str], group_by: Iterable[str]) -> str:
        """The SQL computing ``metrics`` per day and per ``group_by`` (MetricFlow's group-by names)."""
        key = shape_key(metrics, group_by)
        if key not in self._shapes:
            self._shapes[key] = self._compile(metrics, sorted(set(group_by)))
            self._write_cache()
        return self._shapes[key]

    def warm(self, shapes: Iterable[tuple[Sequence[str], Iterable[str]]]) -> int:
        """Compile every shape not cached yet; returns how many were compiled."""
        todo = [(m, sorted(set(g))) for m, g in shapes if shape_key(m, g) not in self._shapes]
        for metrics, group_by in todo:
            self._shapes[shape_key(metrics, group_by)] = self._compile(metrics, group_by)
        if todo:
            self._write_cache()
        return len(todo)

    def _compile(self, metrics: Sequence[str], group_by: Sequence[str]) -> str:
        engine = self._metricflow()
        from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

        request = MetricFlowQueryRequest.create(metric_names=list(metrics), group_by_names=[TIME_COLUMN, *group_by])
        try:
            return engine.explain(request).sql_statement.sql
        except Exception as exc:  # MetricFlow raises many exception types for an impossible query
            raise CompileError(f"MetricFlow cannot compile {list(metrics)} by {list(group_by)}: {exc}") from exc

    def _metricflow(self) -> Any:
        if self._engine is None:
            self._engine = build_engine(self.manifest_path)
        return self._engine


def portable_manifest(raw: str) -> str:
    """The manifest with the database name dropped from every relation.

    dbt writes the database of the build (DuckDB names it after the file: ``pintel`` for ``pintel.duckdb``), so
    compiled SQL would only run on a file of that name. Without it, SQL reads ``schema.table`` of whichever
    warehouse the connection opened.
    """
    manifest = json.loads(raw)
    relations = [m["node_relation"] for m in manifest.get("semantic_models", [])]
    relations += [s["node_relation"] for s in manifest.get("project_configuration", {}).get("time_spines", [])]
    for table in manifest.get("project_configuration", {}).get("time_spine_table_configurations", []):
        table["location"] = ".".join(table["location"].split(".")[-2:])
    for relation in relations:
        relation["database"] = None
        relation["relation_name"] = f'"{relation["schema_name"]}"."{relation["alias"]}"'
    return json.dumps(manifest)


def build_engine(manifest_path: Path) -> Any:
    """A MetricFlow engine over the manifest, rendering DuckDB SQL (it never connects: pintel runs the SQL)."""
    try:
        from metricflow.engine.metricflow_engine import MetricFlowEngine
        from metricflow.protocols.sql_client import SqlEngine
        from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer
        from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
        from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup
    except ImportError as exc:  # pragma: no cover - dbt-metricflow is a dependency
        raise CompileError("MetricFlow is not installed: pip install 'dbt-metricflow>=0.15,<0.16'") from exc

    class _RenderOnlyClient:
        """The part of MetricFlow's SqlClient protocol that explain() uses: the dialect and its renderer."""

        sql_engine_type = SqlEngine.DUCKDB
        sql_plan_renderer = DuckDbSqlPlanRenderer()

        def query(self, *args: object, **kwargs: object) -> Any:
            raise NotImplementedError("pintel runs MetricFlow's SQL itself, on a read-only connection")

        execute = dry_run = query

        def close(self) -> None:
            return None

        def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
            return f"${bind_parameter_key}"

    manifest = parse_manifest_from_dbt_generated_manifest(portable_manifest(manifest_path.read_text()))
    return MetricFlowEngine(SemanticManifestLookup(manifest), _RenderOnlyClient())
