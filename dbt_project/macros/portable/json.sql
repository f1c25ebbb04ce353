{#-
    JSON access for the staging and mart models. The default bodies are DuckDB's; other engines provide
    <adapter>__<macro> (macros/spark/). JSON stays text in the warehouse; these read it where it is used.
-#}

{#- True when the text parses as JSON, null when the text is null. -#}
{% macro json_is_valid(column) -%}
    {{ return(adapter.dispatch('json_is_valid')(column)) }}
{%- endmacro %}

{% macro default__json_is_valid(column) -%}
    json_valid({{ column }})
{%- endmacro %}

{#- The value at a JSON path ('$.a.b') as text: strings unquoted, null when absent or JSON null. -#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    ({{ column }} ->> '{{ path }}')
{%- endmacro %}

{#-
    The JSON type of a top-level key (a SQL expression naming it) of a JSON object, in the catalog's words:
    string, integer, number (not integral), boolean, null (JSON null), object, array; SQL null when absent.
-#}
{% macro json_value_type(column, key) -%}
    {{ return(adapter.dispatch('json_value_type')(column, key)) }}
{%- endmacro %}

{% macro default__json_value_type(column, key) -%}
    case json_type({{ column }}, '$.' || {{ key }})
        when 'VARCHAR' then 'string'
        when 'BIGINT' then 'integer'
        when 'UBIGINT' then 'integer'
        when 'DOUBLE' then 'number'
        when 'BOOLEAN' then 'boolean'
        else lower(json_type({{ column }}, '$.' || {{ key }}))
    end
{%- endmacro %}
