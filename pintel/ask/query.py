"""Run a resolved question on the warehouse: MetricFlow's compiled SQL, wrapped in a parameterised outer query.

The compiled SQL (see :mod:`pintel.ask.compile`) yields each metric per day and per dimension. The outer query
keeps the days of the asked range, the asked filter values, and forms one value per group and period with the
metric's declared ``over_time`` rule: ``sum`` (counts and money), ``mean`` (the average day, e.g. DAU),
``last`` (the range's last day, e.g. WAU: a Monday-Sunday week's WAU is everyone active that week) or ``ratio``
(numerator over denominator summed over the range, e.g. retention over several cohorts).

Safety: identifiers in the SQL come only from the catalog (validated names); a filter value must be one of the
values the dimension takes in the warehouse (read by :func:`dimension_values`) and is rendered as an escaped
literal of that warehouse value, never of question text; dates are rendered from ``datetime.date`` objects. The
connection is read-only. (Literals rather than bound parameters because DuckDB's Python parameter binding imports
pandas, 0.4-1.5 s, which alone would break the one-second budget of a question.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from pintel.ask.catalog import Catalog, Dimension, Metric
from pintel.ask.compile import TIME_COLUMN, Compiler
from pintel.settings import configure

GRAINS = ("day", "week", "month")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class QueryError(RuntimeError):
    """The warehouse could not answer (a missing table, a failed query)."""


@dataclass(frozen=True)
class Request:
    """A question resolved onto the catalog: everything the SQL is built from."""

    metric: Metric
    group_by: tuple[Dimension, ...]
    filters: tuple[tuple[Dimension, str], ...]
    allowed: dict[str, frozenset[str]]  # dimension -> the values it takes in the warehouse
    start: date
    end: date
    grain: str | None = None
    limit: int | None = None


@dataclass(frozen=True)
class Result:
    rows: list[dict[str, Any]]  # {"group": {...}, "period": date | None, "value": float | None}
    sql: str


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection: `pintel ask` can never change the warehouse, and never blocks a writer's lock."""
    if not warehouse.exists():
        raise QueryError(f"warehouse {warehouse} does not exist yet; run `pintel build` first")
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise QueryError(f"cannot open {warehouse} read-only: {exc}") from exc
    configure(con)
    con.execute("set enable_progress_bar = false")
    return con


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise QueryError(f"not a catalog identifier: {name!r}")
    return f'"{name}"'


def _date(day: date) -> str:
    if not isinstance(day, date):
        raise QueryError(f"not a date: {day!r}")
    return f"date '{day.isoformat()}'"


def _literal(dimension: Dimension, value: str, allowed: dict[str, frozenset[str]]) -> str:
    """A filter value as SQL: only a value the warehouse itself holds for the dimension, quotes escaped."""
    if value not in allowed.get(dimension.name, frozenset()):
        raise QueryError(f"{value!r} is not a value of {dimension.name} in this warehouse")
    return "'" + value.replace("'", "''") + "'"


def _value_expr(metric: Metric, inputs: dict[str, str]) -> str:
    column = inputs[metric.name]
    if metric.over_time == "sum":
        return f"sum({column})"
    if metric.over_time == "mean":
        return f"avg({column})"
    if metric.over_time == "last":
        return f"arg_max({column}, {TIME_COLUMN})"
    return f"sum({inputs[metric.numerator]}) / nullif(sum({inputs[metric.denominator]}), 0)"  # type: ignore[index]


def build_sql(request: Request, compiler: Compiler) -> str:
    """The full statement for ``request``."""
    metric = request.metric
    names = [metric.name]
    if metric.over_time == "ratio":
        names += [metric.numerator, metric.denominator]  # type: ignore[list-item]
    inputs = {name: _ident(name) for name in names}
    dims = [d for d in request.group_by] + [d for d, _ in request.filters if d not in request.group_by]
    compiled = compiler.sql(names, [d.qualified for d in dims])
    group_cols = [f"{_ident(d.qualified)} as {_ident(d.name)}" for d in request.group_by]
    if request.grain is None:
        period = "cast(null as date)"
    elif request.grain == "day":
        period = f"cast({TIME_COLUMN} as date)"
    elif request.grain in GRAINS:
        period = f"cast(date_trunc('{request.grain}', {TIME_COLUMN}) as date)"
    else:
        raise QueryError(f"unknown grain {request.grain!r}")
    where = [f"{TIME_COLUMN} between {_date(request.start)} and {_date(request.end)}"]
    for dim, value in request.filters:
        where.append(f"cast({_ident(dim.qualified)} as varchar) = {_literal(dim, value, request.allowed)}")
    keys = [_ident(d.name) for d in request.group_by] + ["period"]
    order = "value desc nulls last, period" if request.group_by else "period"
    sql = (
        f"with compiled as (\n{compiled}\n)\n"
        f"select {', '.join([*group_cols, f'{period} as period', f'{_value_expr(metric, inputs)} as value'])}\n"
        f"from compiled\nwhere {' and '.join(where)}\ngroup by {', '.join(keys)}\norder by {order}"
    )
    if request.limit is not None:
        sql += f"\nlimit {int(request.limit)}"
    return sql


def run(con: duckdb.DuckDBPyConnection, request: Request, compiler: Compiler) -> Result:
    sql = build_sql(request, compiler)
    try:
        cursor = con.execute(sql)
        names = [c[0] for c in cursor.description]
        records = cursor.fetchall()
    except duckdb.Error as exc:
        raise QueryError(_explain_error(exc)) from exc
    rows = []
    for record in records:
        row = dict(zip(names, record, strict=True))
        value = row.pop("value")
        period = row.pop("period")
        rows.append(
            {
                "group": {k: ("" if v is None else str(v)) for k, v in row.items()},
                "period": period,
                "value": None if value is None else float(value),
            }
        )
    return Result(rows=rows, sql=sql)


def _explain_error(exc: duckdb.Error) -> str:
    text = str(exc).splitlines()[0]
    missing = re.search(r"Table with name (\w+) does not exist", text)
    if missing:
        return f"the warehouse has no table {missing.group(1)} yet (build the model that writes it): {text}"
    return text


def dimension_values(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> dict[str, set[str]]:
    """Every value each dimension takes in the warehouse, read from the tables the semantic models name.

    Used to recognise filter values in a question ("android", "paid_social"): the value that reaches the SQL is the
    warehouse's own, bound as a parameter. Dimensions whose table is not built yet are left out.
    """
    existing = {
        f"{schema}.{name}"
        for schema, name in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    }
    parts = []
    for name, dims in sorted(catalog.dimensions.items()):
        for dim in dims:
            if dim.table in existing:
                parts.append(f"select distinct '{name}' as dim, cast({dim.expr} as varchar) as value from {dim.table}")
    if not parts:
        return {}
    values: dict[str, set[str]] = {}
    for dim, value in con.execute(" union all ".join(parts)).fetchall():
        if value is not None and value != "":
            values.setdefault(dim, set()).add(value)
    return values


def data_window(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> tuple[date, date, date]:
    """(first day, last day, latest complete day) of the warehouse.

    The last day is the last day of the time spine; it is complete once events of its final hour have arrived,
    otherwise the latest complete day is the day before. Relative dates ("yesterday", "last week") count from the
    latest complete day, so a half-loaded day is never mistaken for a drop.
    """
    table, column = catalog.time_spine
    try:
        first, last = con.execute(f"select min({column}), max({column}) from {table}").fetchone()
    except duckdb.Error as exc:
        raise QueryError(_explain_error(exc)) from exc
    if first is None:
        raise QueryError("the warehouse has no events yet: nothing to answer from")
    latest_event = None
    events = catalog.metrics.get("events")
    if events is not None and events.semantic_models:
        table = next(
            (
                d.table
                for dims in catalog.dimensions.values()
                for d in dims
                if d.semantic_model == events.semantic_models[0]
            ),
            None,
        )
        if table is not None:
            try:
                latest_event = con.execute(f"select max(event_at) from {table}").fetchone()[0]
            except duckdb.Error:
                latest_event = None
    complete = last
    if isinstance(latest_event, datetime) and latest_event < datetime.combine(last, datetime.min.time()) + timedelta(
        hours=23
    ):
        complete = last - timedelta(days=1)
    return first, last, max(first, complete)
