{#- Aggregates and list handling whose spelling differs between engines. Default bodies: DuckDB. -#}

{#- The non-null value of `value` on the row with the largest / smallest `order_by` (DuckDB's arg_max / arg_min). -#}
{% macro value_at_max(value, order_by) -%}
    {{ return(adapter.dispatch('value_at_max')(value, order_by)) }}
{%- endmacro %}

{% macro default__value_at_max(value, order_by) -%}
    arg_max({{ value }}, {{ order_by }})
{%- endmacro %}

{% macro value_at_min(value, order_by) -%}
    {{ return(adapter.dispatch('value_at_min')(value, order_by)) }}
{%- endmacro %}

{% macro default__value_at_min(value, order_by) -%}
    arg_min({{ value }}, {{ order_by }})
{%- endmacro %}

{#-
    The distinct non-null values of a group as a sorted list; an empty list when there are none.
    DuckDB: a plain list de-duplicated and sorted afterwards, not `list(distinct .. order by ..)`. DISTINCT
    aggregates keep per-group state outside the buffer manager (memory_limit does not cover it). The saving needs
    the group to hold none at all: fct_user_daily, which also takes this list's length instead of a
    count(distinct), peaked 0.28 GiB lower alone at 10M; this body next to a count(distinct) saved nothing
    (BENCHMARKS, stop 33).
-#}
{% macro sorted_distinct_list(column) -%}
    {{ return(adapter.dispatch('sorted_distinct_list')(column)) }}
{%- endmacro %}

{% macro default__sorted_distinct_list(column) -%}
    list_sort(coalesce(list_distinct(list({{ column }})), []))
{%- endmacro %}

{#- The number of elements of a list, as a bigint (a count's type on every engine). -#}
{% macro list_length(list_column) -%}
    {{ return(adapter.dispatch('list_length')(list_column)) }}
{%- endmacro %}

{% macro default__list_length(list_column) -%}
    len({{ list_column }})
{%- endmacro %}

{#-
    A lateral join that repeats each row once per element of a list column (once with null for an empty list);
    the element is `alias.column`. Placed last in a FROM clause.
-#}
{% macro join_list_elements(list_column, alias, column) -%}
    {{ return(adapter.dispatch('join_list_elements')(list_column, alias, column)) }}
{%- endmacro %}

{% macro default__join_list_elements(list_column, alias, column) -%}
    left join unnest({{ list_column }}) as {{ alias }} ({{ column }}) on true
{%- endmacro %}

{#- The last non-null value of a window frame (used as `{{ last_non_null('x') }} over (...)`). -#}
{% macro last_non_null(column) -%}
    {{ return(adapter.dispatch('last_non_null')(column)) }}
{%- endmacro %}

{% macro default__last_non_null(column) -%}
    last_value({{ column }} ignore nulls)
{%- endmacro %}

{#-
    The materialization of the incremental models on this engine. delete+insert needs row deletes; on a plain
    Parquet table format (Spark without Delta/Iceberg) those models are rebuilt whole each run instead.
-#}
{% macro incremental_materialization() -%}
    {{ return(adapter.dispatch('incremental_materialization')()) }}
{%- endmacro %}

{% macro default__incremental_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{#- The exact `fraction` quantile of a group, linearly interpolated between the two nearest values (DuckDB's
    quantile_cont; its median is this at 0.5). A double; nulls are ignored. `fraction` must be a constant. -#}
{% macro quantile_interpolated(value, fraction) -%}
    {{ return(adapter.dispatch('quantile_interpolated')(value, fraction)) }}
{%- endmacro %}

{% macro default__quantile_interpolated(value, fraction) -%}
    quantile_cont({{ value }}, {{ fraction }})
{%- endmacro %}
