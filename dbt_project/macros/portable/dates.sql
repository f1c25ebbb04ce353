{#- Date and time arithmetic the cross-database macros of dbt do not cover null-safely. Default bodies: DuckDB. -#}

{#- Whole days from start_date to end_date (dates); null when either is null. -#}
{% macro days_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('days_between')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__days_between(start_date, end_date) -%}
    ({{ end_date }} - {{ start_date }})
{%- endmacro %}

{#- Second boundaries crossed from start_at to end_at (timestamps); null when either is null. -#}
{% macro seconds_between(start_at, end_at) -%}
    {{ return(adapter.dispatch('seconds_between')(start_at, end_at)) }}
{%- endmacro %}

{% macro default__seconds_between(start_at, end_at) -%}
    date_diff('second', {{ start_at }}, {{ end_at }})
{%- endmacro %}

{#- One row per value from start to stop inclusive (a generator for a select list; step an interval or none). -#}
{% macro series(start, stop, step=none) -%}
    {{ return(adapter.dispatch('series')(start, stop, step)) }}
{%- endmacro %}

{% macro default__series(start, stop, step) -%}
    unnest(generate_series({{ start }}, {{ stop }}{% if step %}, {{ step }}{% endif %}))
{%- endmacro %}

{#- ISO 8601 calendar parts of a date: year of the ISO week, ISO week, day of week (Monday = 1), day name. -#}
{% macro iso_year(day) -%}
    {{ return(adapter.dispatch('iso_year')(day)) }}
{%- endmacro %}

{% macro default__iso_year(day) -%}
    isoyear({{ day }})
{%- endmacro %}

{% macro iso_week(day) -%}
    {{ return(adapter.dispatch('iso_week')(day)) }}
{%- endmacro %}

{% macro default__iso_week(day) -%}
    week({{ day }})
{%- endmacro %}

{% macro iso_day_of_week(day) -%}
    {{ return(adapter.dispatch('iso_day_of_week')(day)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(day) -%}
    isodow({{ day }})
{%- endmacro %}

{% macro day_name(day) -%}
    {{ return(adapter.dispatch('day_name')(day)) }}
{%- endmacro %}

{% macro default__day_name(day) -%}
    dayname({{ day }})
{%- endmacro %}
