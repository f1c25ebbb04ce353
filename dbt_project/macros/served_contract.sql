{#-
    The served, contracted form of a dbt Python model (contracts do not apply to Python models): every column the
    calling model declares in its yml, in that order, cast to its declared data_type, read from `source_model`.

    The served model's yml is the one declaration of the served schema: its data_types are what the contract
    enforces and what this macro casts to, so a column is added, retyped or dropped there only. Columns marked
    `quote: true` in the yml (reserved words such as `end`) are quoted with the adapter's quoting.

    Usage, in models/ml/<model>_served.sql:  {{ served_contract('<model>') }}
-#}
{% macro served_contract(source_model) -%}
    {%- set columns = model.columns.values() | list -%}
    {%- if execute and not columns -%}
        {{ exceptions.raise_compiler_error(
            "served_contract('" ~ source_model ~ "'): " ~ model.name ~ " declares no columns in its yml"
        ) }}
    {%- endif %}
select
    {%- for column in columns %}
        {%- if execute and not column.data_type %}
            {{ exceptions.raise_compiler_error(
                "served_contract: column " ~ column.name ~ " of " ~ model.name ~ " has no data_type in its yml"
            ) }}
        {%- endif %}
        {%- set name = adapter.quote(column.name) if column.quote else column.name %}
    cast({{ name }} as {{ column.data_type }}) as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
from {{ ref(source_model) }}
{%- endmacro %}
