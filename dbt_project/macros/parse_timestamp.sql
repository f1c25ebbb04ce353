{#- An ISO 8601 text timestamp as a UTC timestamp; null when it does not parse. -#}
{% macro parse_timestamp(column) -%}
    {{ return(adapter.dispatch('parse_timestamp')(column)) }}
{%- endmacro %}

{% macro default__parse_timestamp(column) -%}
    timezone('UTC', try_cast({{ column }} as timestamptz))
{%- endmacro %}
