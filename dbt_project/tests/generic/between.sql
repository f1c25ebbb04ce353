{#-
    Rows whose value lies outside [min_value, max_value] (both bounds inclusive; either may be omitted).
    Nulls pass: pair with not_null where a value is required. Bounds are rendered as SQL, so they may be
    numbers, quoted literals or expressions such as {{ var('retention_max_week') }}.
-#}
{% test between(model, column_name, min_value=none, max_value=none) %}

    select {{ column_name }}
    from {{ model }}
    where
        false
        {%- if min_value is not none %}
            or {{ column_name }} < {{ min_value }}
        {%- endif %}
        {%- if max_value is not none %}
            or {{ column_name }} > {{ max_value }}
        {%- endif %}

{% endtest %}
