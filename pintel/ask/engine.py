"""`pintel ask`: a question in, one answer out (parse -> resolve -> compiled SQL -> read-only query -> text).

Start-up is kept light on purpose (no pandas, dbt, Dagster or MetricFlow import on a cached question): the CLI
budget is one second per question including the interpreter.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pintel.ask import answer as text
from pintel.ask.answer import Answer, refused
from pintel.ask.catalog import Catalog, CatalogError, load
from pintel.ask.compile import CompileError, Compiler
from pintel.ask.parser import Parsed, parse
from pintel.ask.query import QueryError, Request, connect, data_window, dimension_values, run
from pintel.ask.safety import screen
from pintel.ask.timerange import Period
from pintel.ask.why import find_incidents
from pintel.dbt_project import DBT_PROJECT_DIR


def default_warehouse() -> Path:
    """The warehouse of :class:`pintel.settings.Settings` (which reads ``$PINTEL_WAREHOUSE`` / ``$PINTEL_HOME``)."""
    from pintel.settings import Settings

    return Settings.from_env().warehouse


def manifest_for(warehouse: Path) -> Path:
    """The semantic manifest of the build that wrote ``warehouse`` (``pintel build`` keeps dbt's target beside it),
    else ``$PINTEL_SEMANTIC_MANIFEST``, else the dbt project's own target folder."""
    candidates = [
        os.environ.get("PINTEL_SEMANTIC_MANIFEST"),
        warehouse.parent / "dbt_target" / "semantic_manifest.json",
        DBT_PROJECT_DIR / "target" / "semantic_manifest.json",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return Path(candidate)
    raise CatalogError(
        f"no semantic manifest for {warehouse}: run `pintel build` (or `dbt parse` in dbt_project/), "
        "or point $PINTEL_SEMANTIC_MANIFEST at one"
    )


def _feature_names() -> dict[str, str]:
    try:
        from pintel.catalog import load_catalog

        return {f.key: f.name for f in load_catalog().features}
    except (FileNotFoundError, ValueError):
        return {}


def _default_period(kind: str, anchor: date, first: date) -> Period:
    if kind == "latest_day":
        return Period(anchor, anchor, f"on {anchor.strftime('%A %Y-%m-%d')} (the latest complete day)", "day")
    if kind == "all":
        return Period(first, anchor, "over all the data")
    return Period(anchor - timedelta(days=6), anchor, "in the last 7 days")


def ask(
    question: str, warehouse: Path | None = None, *, manifest: Path | None = None, llm: str | None = None
) -> Answer:
    """Answer ``question`` from the warehouse (opened read-only), or refuse it with the reason."""
    question = question.strip()
    if not question:
        return refused(question, "Ask a question about a metric, e.g. 'weekly active users last week'.")
    hostile = screen(question)
    if hostile:
        return refused(question, hostile)
    warehouse = (warehouse or default_warehouse()).resolve()
    try:
        manifest = manifest or manifest_for(warehouse)
        catalog = load(manifest)
        con = connect(warehouse)
    except (CatalogError, QueryError) as exc:
        return refused(question, str(exc))
    try:
        first, last, anchor = data_window(con, catalog)
        compiler = Compiler(manifest, catalog)
        values = _values(con, catalog, compiler, warehouse)
        provider, note = _provider(llm)
        parsed = None
        if provider is not None:
            from pintel.ask.llm import LLMError, parse_with_llm

            try:
                parsed = parse_with_llm(provider, question, catalog, values, anchor, first)
            except LLMError as exc:
                note = f"LLM unavailable ({exc}); answered by the offline parser"
        if parsed is None:
            parsed = parse(question, catalog, values, anchor, first, _feature_names())
        if note:
            parsed.notes.append(note)
        if parsed.intent == "refused":
            return refused(question, parsed.refusal or "I cannot answer that.", parsed.nearest)
        if parsed.intent == "why":
            return _why(con, parsed, catalog, first, anchor)
        answer = _metric(con, parsed, catalog, compiler, values, (first, last, anchor))
        if provider is not None:
            from pintel.ask.llm import narrate

            answer = narrate(provider, answer)
        return answer
    except (QueryError, CompileError) as exc:
        return refused(question, f"The warehouse could not answer: {exc}")
    finally:
        con.close()


def _provider(llm: Any) -> tuple[Any, str | None]:
    if not llm:
        return None, None
    if not isinstance(llm, str):
        return llm, None
    from pintel.ask.llm import LLMError, provider_from_env

    try:
        return provider_from_env(llm), None
    except LLMError as exc:
        return None, f"LLM unavailable ({exc}); answered by the offline parser"


def _values(con, catalog: Catalog, compiler: Compiler, warehouse: Path) -> dict[str, set[str]]:
    """The warehouse's dimension values, read once per state of the file (its size and modification time)."""
    stat = warehouse.stat()
    key = f"{warehouse}|{stat.st_size}|{stat.st_mtime_ns}"
    cached = compiler.values(key)
    if cached is not None:
        return {dim: set(vals) for dim, vals in cached.items()}
    values = dimension_values(con, catalog)
    compiler.remember_values(key, {dim: sorted(vals) for dim, vals in values.items()})
    return values


def _clip(period: Period, first: date, last: date) -> Period | None:
    start, end = max(period.start, first), min(period.end, last)
    if start > end:
        return None
    return Period(start, end, period.label, period.kind)


def _metric(
    con,
    parsed: Parsed,
    catalog: Catalog,
    compiler: Compiler,
    values: dict[str, set[str]],
    window: tuple[date, date, date],
) -> Answer:
    first, last, anchor = window
    metric = parsed.metric
    assert metric is not None
    default = "all" if parsed.grain is not None else metric.default_range  # a series with no period: all of it
    asked = parsed.period or _default_period(default, anchor, first)
    period = _clip(asked, first, last)
    base = Answer(
        question=parsed.question,
        status="answered",
        metric=metric.name,
        group_by=[d.name for d in parsed.group_by],
        filters={d.name: v for d, v in parsed.filters},
        time_range={"start": asked.start.isoformat(), "end": asked.end.isoformat()},
    )
    if period is None:
        base.explanation = (
            f"The warehouse has no data {asked.label} ({asked.start} to {asked.end}); it covers {first} to {last}."
        )
        return base
    base.time_range = {"start": period.start.isoformat(), "end": period.end.isoformat()}
    allowed = {dim: frozenset(vals) for dim, vals in values.items()}
    request = Request(
        metric, tuple(parsed.group_by), tuple(parsed.filters), allowed, period.start, period.end, parsed.grain
    )
    result = run(con, request, compiler)
    rows = [r for r in result.rows if all(r["group"].get(d) in keep for d, keep in parsed.restrict.items())]
    if not rows and not parsed.group_by and parsed.grain is None and metric.over_time == "sum":
        rows = [{"group": {}, "period": None, "value": 0.0}]  # nothing counted is a count of zero
    if parsed.limit:
        rows = rows[: parsed.limit]
    previous = None
    if parsed.compare is not None:
        clipped = _clip(parsed.compare, first, last)
        if clipped is not None:
            prev_request = Request(
                metric, request.group_by, request.filters, allowed, clipped.start, clipped.end, parsed.grain
            )
            previous = (clipped, run(con, prev_request, compiler).rows)
    base.values = rows
    base.sql = result.sql
    base.explanation = _sentence(parsed, period, asked, rows, previous)
    if previous is not None:
        base.values = [dict(r, period=period.start) for r in rows] + [
            dict(r, period=previous[0].start)
            for r in previous[1]
            if all(r["group"].get(d) in keep for d, keep in parsed.restrict.items())
        ]
    return base


def _describe_filters(parsed: Parsed) -> str:
    parts = [f"{d.name.replace('_', ' ')} = {v}" for d, v in parsed.filters]
    return f" ({', '.join(parts)})" if parts else ""


def _sentence(parsed: Parsed, period: Period, asked: Period, rows: list[dict], previous) -> str:
    metric = parsed.metric
    assert metric is not None
    unit = metric.unit
    if period.label.startswith(("on ", "in ", "over ", "the ", "since", "last", "this", "yesterday", "today")):
        when = period.label
    else:
        when = f"on {period.label}" if period.kind == "day" else f"in {period.label}"
    span = f"{period.start}" if period.start == period.end else f"{period.start} to {period.end}"
    head = f"{metric.label}{_describe_filters(parsed)} {when} ({span})"
    if not rows:
        sentence = f"{head}: no data."
    elif parsed.group_by and parsed.grain is None:
        shown = rows if len(rows) <= 8 else rows[:8]
        listing = "; ".join(f"{', '.join(r['group'].values()) or 'none'}: {text.fmt(r['value'], unit)}" for r in shown)
        more = f" (and {len(rows) - 8} more)" if len(rows) > 8 else ""
        extreme = rows[-1] if parsed.lowest else rows[0]
        pick = "Lowest" if parsed.lowest else "Highest"
        sentence = (
            f"{head} by {', '.join(d.name for d in parsed.group_by)}: {listing}{more}. "
            f"{pick}: {', '.join(extreme['group'].values()) or 'none'}."
        )
    elif parsed.grain is not None:
        shown = rows[-12:]
        listing = "; ".join(
            f"{r['period']}{' ' + ', '.join(r['group'].values()) if r['group'] else ''}: {text.fmt(r['value'], unit)}"
            for r in shown
        )
        sentence = f"{head} per {parsed.grain}: {listing}."
    else:
        sentence = f"{head}: {text.fmt(rows[0]['value'], unit)}."
    if previous is not None and rows and not parsed.group_by and parsed.grain is None:
        before, prev_rows = previous
        prev_value = prev_rows[0]["value"] if prev_rows else None
        sentence += (
            f" {before.label.capitalize()} ({before.start} to {before.end}): {text.fmt(prev_value, unit)}; "
            f"change {text.change(rows[0]['value'], prev_value, unit)}."
        )
    elif previous is not None:
        sentence += f" Compared with {previous[0].start} to {previous[0].end} in the values (period = start date)."
    if (period.start, period.end) != (asked.start, asked.end):
        sentence += f" The data covers only {span} of {asked.start} to {asked.end}."
    definition = metric.description.split(". ")[0].rstrip(".")
    sentence += f" Definition: {definition}."
    if parsed.notes:
        sentence += " Note: " + "; ".join(parsed.notes) + "."
    return sentence


def _why(con, parsed: Parsed, catalog: Catalog, first: date, anchor: date) -> Answer:
    period = parsed.period
    result = find_incidents(
        con, period.start if period else None, period.end if period else None, parsed.mentions, parsed.direction
    )
    about = ", ".join(f"{d} = {v}" for d, v in parsed.mentions) or "the product"
    when = f" {period.label} ({period.start} to {period.end})" if period else ""
    answer = Answer(
        question=parsed.question,
        status="answered",
        filters={d: v for d, v in parsed.mentions},
        time_range={"start": period.start.isoformat(), "end": period.end.isoformat()} if period else None,
        sql=result.sql,
    )
    if result.missing_table:
        return refused(
            parsed.question,
            "Why-questions are answered from the incident detector (ml.metric_incidents_served), which has not been "
            "built in this warehouse; run the full `pintel build`.",
        )
    if not result.incidents:
        answer.explanation = (
            f"No incident was raised for {about}{when}: the anomaly detector found no "
            f"{parsed.direction or 'unusual change'} it could attribute there, so there is no cause to report."
        )
        return answer
    top = result.incidents[0]
    answer.metric = _catalog_metric(top.get("peak_metric") or "", catalog)
    answer.values = [
        {
            "group": {top["cause_dim"]: top["cause_value"]} if top.get("cause_dim") else {},
            "period": top["start"].date(),
            "value": top.get("relative_change"),
        }
    ]
    share = top.get("explained_share")
    share_text = f", carrying {100 * share:.0f} % of the total's deviation" if share is not None else ""
    summary = top["summary"].rstrip()
    summary += "" if summary.endswith(".") else "."
    answer.explanation = (
        f"{summary} Cause: {top['cause']}{share_text} ({top['severity']} {top['direction']}, "
        f"{top['start']:%Y-%m-%d %H:%M} to {top['end']:%Y-%m-%d %H:%M} UTC, incident {top['incident_id']})."
    )
    if len(result.incidents) > 1:
        answer.explanation += (
            f" {len(result.incidents) - 1} other incident(s) overlap: "
            + ", ".join(f"{r['cause']} ({r['direction']}, {r['start']:%Y-%m-%d})" for r in result.incidents[1:4])
            + "."
        )
    return answer


def _catalog_metric(name: str, catalog: Catalog) -> str | None:
    """The catalog metric an incident's metric is, when it is one (hourly active users, for one, is not DAU)."""
    return name if name in catalog.metrics else None


def warm(warehouse: Path | None = None, manifest: Path | None = None) -> int:
    """Compile every metric alone and by each of its dimensions ahead of time; returns how many shapes were new.

    A question whose shape is cached never imports MetricFlow, so after this the first question of each common
    shape is as fast as the hundredth. Shapes with two dimensions are compiled on first use.
    """
    warehouse = (warehouse or default_warehouse()).resolve()
    manifest = manifest or manifest_for(warehouse)
    catalog = load(manifest)
    shapes = []
    for metric in catalog.public_metrics:
        names = [metric.name]
        if metric.over_time == "ratio":
            names += [metric.numerator, metric.denominator]
        dims = catalog.dimensions_for(metric.name)
        shapes.append((names, []))
        shapes += [(names, [dim.qualified]) for dim in dims.values()]
    return Compiler(manifest, catalog).warm(shapes)
