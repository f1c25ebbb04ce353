{#-
    Register Parquet folders as the raw source tables (`raw.<name>`), replacing earlier registrations:
    `dbt run-operation register_raw_parquet --args '{tables: {events: /path/to/events, ...}}'` (pintel.spark.raw).
    Spark reads them with its built-in Parquet reader; the files stay where the export wrote them.
-#}
{% macro register_raw_parquet(tables) -%}
    {%- set schema = source('segment', 'events').schema -%}
    {% do run_query('create database if not exists ' ~ schema) %}
    {%- for name, location in tables.items() %}
        {% do run_query('drop table if exists ' ~ schema ~ '.' ~ name) %}
        {% do run_query('create table ' ~ schema ~ '.' ~ name ~ " using parquet location '" ~ location ~ "'") %}
        {% do log('registered ' ~ schema ~ '.' ~ name ~ ' from ' ~ location, info=true) %}
    {%- endfor %}
{%- endmacro %}

{#- A no-op query: opens the target's session (pintel.spark.reader reads tables through it). -#}
{% macro spark_ready() -%}
    {% do run_query('select 1 as ready') %}
{%- endmacro %}
