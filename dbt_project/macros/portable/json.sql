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

{#- One json_type call, renamed by replace: a `case json_type(..) when ..` parses the text once per branch tried.
    json_type's names are NULL, BOOLEAN, BIGINT, UBIGINT, DOUBLE, VARCHAR, ARRAY, OBJECT. -#}
{% macro default__json_value_type(column, key) -%}
    replace(replace(replace(replace(
        lower(json_type({{ column }}, '$.' || {{ key }})),
        'ubigint', 'integer'), 'bigint', 'integer'), 'double', 'number'), 'varchar', 'string')
{%- endmacro %}

{#-
    The values at several JSON paths as text (as json_text gives each), read with one parse of the text: a list, in
    the order of `paths` (a Jinja list of '$.a.b' strings); take each with list_at. Null when the text is null.
-#}
{% macro json_texts(column, paths) -%}
    {{ return(adapter.dispatch('json_texts')(column, paths)) }}
{%- endmacro %}

{% macro default__json_texts(column, paths) -%}
    json_extract_string({{ column }}, [{% for path in paths %}'{{ path }}'{% if not loop.last %}, {% endif %}{% endfor %}])
{%- endmacro %}

{#- The element at a 1-based position of a list (null past its end). -#}
{% macro list_at(list_column, position) -%}
    {{ return(adapter.dispatch('list_at')(list_column, position)) }}
{%- endmacro %}

{% macro default__list_at(list_column, position) -%}
    {{ list_column }}[{{ position }}]
{%- endmacro %}
