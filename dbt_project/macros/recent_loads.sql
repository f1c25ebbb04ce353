{#-
    Data tests on the big incremental tables check the rows the last runs wrote, not all history again.
    A test configured with `where: __recent_loads__` (dbt_project.yml sets it for the intermediate and marts
    tests) reads, from an incremental model with a loaded_at column, only the rows loaded within
    var('late_arrival_lookback_hours') of its newest load: on the first build that is every row, on a daily
    run the last few loads. Older rows were tested when they were written, and the incremental strategies
    (delete+insert on the model's key) keep them as they were. Tests on any other relation read it whole;
    any other `where` is applied as dbt does.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and '__recent_loads__' in where -%}
        {%- set condition = recent_loads_condition(relation) -%}
        {%- if condition is none -%}
            {%- set where = where | replace('__recent_loads__', 'true') -%}
        {%- else -%}
            {%- set where = where | replace('__recent_loads__', condition) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where and where != 'true' -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{% macro recent_loads_condition(relation) -%}
    {#- none unless `relation` is an incremental model of this project declaring a loaded_at column -#}
    {%- if not execute or relation.identifier is none -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.alias == relation.identifier
            and node.schema == relation.schema
            and node.config.materialized == 'incremental' and 'loaded_at' in node.columns -%}
            {%- set newest = '(select max(newest.loaded_at) from ' ~ relation ~ ' as newest)' -%}
            {%- set since = dbt.dateadd('hour', -1 * var('late_arrival_lookback_hours'), newest) -%}
            {%- do return('loaded_at >= ' ~ since) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do return(none) -%}
{%- endmacro %}
