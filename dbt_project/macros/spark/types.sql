{#-
    Column types on Spark. The models' yml declares DuckDB's names (varchar, hugeint, varchar[]); dbt casts to
    them for enforced contracts (dbt.cast), so Spark reads them as their Spark equivalents here.
-#}
{% macro spark_type(type) -%}
    {%- set name = type | trim | lower -%}
    {%- if name.endswith('[]') -%}
        {{ return('array<' ~ spark_type(name[:-2]) ~ '>') }}
    {%- endif -%}
    {{ return({'varchar': 'string', 'text': 'string', 'hugeint': 'bigint', 'ubigint': 'decimal(20,0)'}.get(name, name)) }}
{%- endmacro %}

{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ spark_type(type) }})
{%- endmacro %}

{#-
    Seeds on Spark (dbt-spark's session cursor pastes bindings unescaped, so a seed text with an apostrophe
    breaks the insert): the values are written as escaped Spark string literals instead.
-#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set batch_size = get_batch_size() -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(batch_size) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                    {%- set value = row[loop.index0] -%}
                    {%- if value is none -%}
                        cast(null as {{ type }})
                    {%- else -%}
                        cast('{{ (value | string) | replace("\\", "\\\\") | replace("'", "\\'") }}' as {{ type }})
                    {%- endif -%}
                    {%- if not loop.last %},{% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.index0 == 0 -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0]) }}
{% endmacro %}
