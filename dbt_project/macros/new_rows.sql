{#-
    Incremental filter on arrival: rows loaded after the newest load this model has already seen.
    Selecting by load time (not event time) is what makes late events of any age safe: nothing is skipped.
-#}
{% macro loaded_since_last_run(column='loaded_at') -%}
    {%- if is_incremental() -%}
        {{ column }} > (select coalesce(max(loaded_at), cast('1900-01-01' as timestamp)) from {{ this }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
