"""The SQL models stay engine-portable: no DuckDB-only spelling outside an adapter-dispatched macro.

The same project builds on Spark (tests/test_spark.py, minutes); this is the cheap guard that runs in ``make test``.
Each rule names a DuckDB spelling that Spark does not read (or reads differently) and the macro to use instead; the
macros it points to are the project's dispatched ones (``default__x`` = DuckDB in macros/portable, ``spark__x`` in
macros/spark) or dbt's cross-database macros. Jinja, comments and string literals are blanked before matching, so a
macro call's arguments and a comment's words never count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from pintel.settings import DBT_PROJECT_DIR

MODEL_DIRS = ("staging", "intermediate", "marts")
MACROS = DBT_PROJECT_DIR / "macros"


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: str
    macros: tuple[str, ...]  # what to call instead: the project's dispatched macros, dbt's as dbt.<name>
    hint: str = ""

    def hits(self, sql: str) -> list[int]:
        """1-based line numbers of ``sql`` (already stripped) where the rule matches."""
        return [sql.count("\n", 0, m.start()) + 1 for m in re.finditer(self.pattern, sql, re.IGNORECASE)]

    @property
    def advice(self) -> str:
        return " or ".join([*self.macros, *([self.hint] if self.hint else [])])


RULES = (
    Rule("double_colon_cast", r"::", ("dbt.safe_cast",), "cast(x as type)"),
    Rule("json_arrow", r"->>?", ("json_text",)),
    Rule("json_function", r"\bjson_\w*\s*\(", ("json_text", "json_is_valid", "json_value_type")),
    Rule("time_zone_function", r"\btimezone\s*\(|\btimestamptz\b", ("utc_now", "parse_timestamp")),
    Rule("wall_clock", r"\bnow\s*\(|\bcurrent_timestamp\b|\bcurrent_date\b|\bget_current_\w+", ("utc_now",)),
    Rule("epoch_function", r"\bepoch(_ms|_us|_ns)?\s*\(", ("elapsed_seconds", "seconds_between")),
    Rule(
        "interval_constructor",
        r"\bto_(microseconds|milliseconds|seconds|minutes|hours|days|weeks|months|years)\s*\(",
        ("add_hours", "add_seconds", "add_days"),
        "interval 'N' unit",
    ),
    Rule("duckdb_quantile", r"\b(quantile_cont|quantile_disc|quantile|median|mad)\s*\(", ("quantile_interpolated",)),
    Rule(
        "duckdb_date_diff", r"\bdate_?diff\s*\(|\bdate_?sub\s*\(", ("days_between", "seconds_between", "dbt.datediff")
    ),
    Rule(
        "iso_calendar",
        r"\b(isodow|isoyear|dayname|week|yearweek)\s*\(",
        ("iso_year", "iso_week", "iso_day_of_week", "day_name"),
    ),
    Rule("series_generator", r"\b(generate_series|range|unnest)\s*\(", ("series", "join_list_elements")),
    Rule("arg_max", r"\barg_(max|min)(_null)?\s*\(", ("value_at_max", "value_at_min")),
    Rule(
        "list_function",
        r"\b(list|list_\w+|array_agg|string_agg|str_split|string_split\w*)\s*\(",
        ("sorted_distinct_list",),
    ),
    Rule("list_length", r"\b(len|array_length)\s*\(", ("list_length",), "(Spark: size)"),
    Rule("list_literal_or_index", r"\[", ("sorted_distinct_list", "join_list_elements"), "(DuckDB lists are 1-based)"),
    Rule("ignore_nulls_inside_call", r"\bignore\s+nulls\b", ("last_non_null",)),
    Rule("struct", r"\bstruct_\w+\s*\(|\{\s*'", (), "a new dispatched macro in macros/portable"),
    Rule("text_time_format", r"\b(strftime|strptime|try_strptime)\s*\(", ("parse_timestamp", "dbt.date_trunc")),
    Rule("star_modifier", r"\*\s*(exclude|replace|rename)\b|\bcolumns\s*\(", (), "name the columns"),
    Rule(
        "regexp_matches",
        r"\bregexp_(matches|full_match|extract_all)\s*\(",
        (),
        "a new dispatched macro in macros/portable",
    ),
    Rule("qualify", r"\bqualify\b", (), "a window in a CTE, then where"),
    Rule("asof_join", r"\basof\b", ("as_of_left_join",)),
)

#: Dispatched macros whose DuckDB body is plain SQL both engines read, or not SQL at all: no rule can see them.
PLAIN_DEFAULTS = {"days_between", "add_days", "incremental_materialization"}


def strip(sql: str) -> str:
    """``sql`` with Jinja, comments and string literals blanked (newlines kept, so line numbers hold)."""

    def blank(match: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    for pattern in (r"\{#.*?#\}", r"\{\{.*?\}\}", r"\{%.*?%\}", r"/\*.*?\*/", r"--[^\n]*", r"'(?:[^']|'')*'"):
        sql = re.sub(pattern, blank, sql, flags=re.DOTALL)
    return sql


def violations(sql: str) -> list[tuple[str, int]]:
    """(rule name, line) of every DuckDB-only spelling in a model's SQL."""
    text = strip(sql)
    return [(rule.name, line) for rule in RULES for line in rule.hits(text)]


def dispatched_macros() -> dict[str, str]:
    """Each macro of macros/ that dispatches by adapter, with its DuckDB (``default__``) body."""
    text = "\n".join(path.read_text() for path in sorted(MACROS.rglob("*.sql")))
    names = re.findall(r"adapter\.dispatch\('(\w+)'\)", text)
    bodies = dict(
        re.findall(r"\{%-?\s*macro\s+default__(\w+)\s*\([^)]*\)\s*-?%\}(.*?)\{%-?\s*endmacro", text, re.DOTALL)
    )
    return {name: bodies[name] for name in names}


def model_files() -> list[Path]:
    return sorted(path for d in MODEL_DIRS for path in (DBT_PROJECT_DIR / "models" / d).rglob("*.sql"))


def test_no_model_uses_duckdb_only_sql_outside_a_dispatched_macro() -> None:
    rules = {rule.name: rule for rule in RULES}
    problems = [
        f"{path.relative_to(DBT_PROJECT_DIR)}:{line}: {name} is DuckDB-only SQL; use {rules[name].advice}"
        for path in model_files()
        for name, line in violations(path.read_text())
    ]
    assert len(model_files()) > 20
    assert not problems, "\n".join(problems)


def test_every_rule_points_to_a_macro_that_exists() -> None:
    macros = dispatched_macros()
    missing = [(r.name, m) for r in RULES for m in r.macros if not m.startswith("dbt.") and m not in macros]
    assert not missing, f"rules name macros that are not dispatched macros in macros/: {missing}"


def test_the_rules_see_every_duckdb_body_the_macros_hide() -> None:
    """The inventory: each ported macro's DuckDB body is caught by some rule, so what was ported stays ported."""
    macros = dispatched_macros()
    assert {"utc_now", "elapsed_seconds", "add_hours", "quantile_interpolated", "json_text"} <= macros.keys()
    unseen = [name for name, body in macros.items() if name not in PLAIN_DEFAULTS and not violations(body)]
    assert not unseen, f"no rule catches the DuckDB body of {unseen}: add one to RULES"


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        # lines of data_freshness.sql before it was ported: each must be caught
        ("select cast(timezone('UTC', current_timestamp) as timestamp) as as_of", "time_zone_function"),
        ("select median(hourly.messages) as median_messages from hourly", "duckdb_quantile"),
        ("select quantile_cont(epoch(a - b), 0.99) from t", "epoch_function"),
        (
            "where event_at >= latest_event_at - to_hours({{ var('late_arrival_lookback_hours') }})",
            "interval_constructor",
        ),
        ("select properties ->> '$.plan' from events", "json_arrow"),
        ("select x::date from t", "double_colon_cast"),
        ("select list(distinct k order by k) from t", "list_function"),
        ("select len(feature_keys) as features_used from t", "list_length"),
        ("select now() as at", "wall_clock"),
        ("select * exclude (loaded_at) from t", "star_modifier"),
        ("from e asof left join x on e.k = x.k and e.at >= x.at", "asof_join"),
    ],
)
def test_a_duckdb_spelling_is_caught(sql: str, rule: str) -> None:
    assert rule in {name for name, _ in violations(sql)}


@pytest.mark.parametrize(
    "sql",
    [
        "select {{ utc_now() }} as as_of",
        "select {{ quantile_interpolated('hourly.messages', 0.5) }} as m  -- the median(x) of DuckDB",
        "select 'a::b -> now()' as text_, cast(x as date) - 1 as d, x + interval '1' hour as h from t",
    ],
)
def test_macros_comments_and_strings_are_not_violations(sql: str) -> None:
    assert violations(sql) == []
