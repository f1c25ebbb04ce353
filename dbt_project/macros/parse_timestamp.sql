{#
    A UTC timestamp from a time column as exports send it, decided per value: ISO 8601 text (any offset, or none =
    UTC), epoch seconds, or epoch milliseconds (a number of magnitude at least var('epoch_milliseconds_above')).
    Null when the value is none of these (staging quarantines it as unparseable_timestamp). Engines other than
    DuckDB add their own `<adapter>__parse_timestamp(column)` in a separate file.
#}
{% macro parse_timestamp(column) -%}
    {{ return(adapter.dispatch('parse_timestamp')(column)) }}
{%- endmacro %}

{% macro default__parse_timestamp(column) -%}
    case
        when try_cast(trim({{ column }}) as double) is null
            then timezone('UTC', try_cast({{ column }} as timestamptz))
        when abs(try_cast(trim({{ column }}) as double)) >= {{ var('epoch_milliseconds_above') }}
            then timezone('UTC', to_timestamp(try_cast(trim({{ column }}) as double) / 1000))
        else timezone('UTC', to_timestamp(try_cast(trim({{ column }}) as double)))
    end
{%- endmacro %}
