{#
    A UTC timestamp from a time column as exports send it, decided per value: ISO 8601 text (any offset, or none =
    UTC), epoch seconds, or epoch milliseconds (a number of magnitude at least var('epoch_milliseconds_above')).
    Null when the value is none of these -- including a number too large for either reading, NaN or infinity
    (staging quarantines it as unparseable_timestamp). Engines other than DuckDB add their own
    `<adapter>__parse_timestamp(column)` in a separate file.
#}
{% macro parse_timestamp(column) -%}
    {{ return(adapter.dispatch('parse_timestamp')(column)) }}
{%- endmacro %}

{% macro default__parse_timestamp(column) -%}
    {%- set number = "try_cast(trim(" ~ column ~ ") as double)" -%}
    {%- set millis = var('epoch_milliseconds_above') -%}
    {#- The first two branches only save work (each cast to double of a text time fails slowly, a timestamptz cast
        goes through ICU): text ending in Z has offset zero, which a timestamp cast reads as written; text with a
        colon is no number. Both give what the third branch gives them. -#}
    case
        when {{ column }} like '%Z' then try_cast({{ column }} as timestamp)
        when instr({{ column }}, ':') > 0 then timezone('UTC', try_cast({{ column }} as timestamptz))
        when {{ number }} is null then timezone('UTC', try_cast({{ column }} as timestamptz))
        when not isfinite({{ number }}) then null
        when abs({{ number }}) < {{ millis }} then timezone('UTC', to_timestamp({{ number }}))
        when abs({{ number }}) < {{ millis }} * 1000 then timezone('UTC', to_timestamp({{ number }} / 1000))
    end
{%- endmacro %}
