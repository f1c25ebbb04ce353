{#- The segment dimensions every metric mart breaks down by: (segment_dim, column expression) pairs. The
    metric marts and the anomaly detector watch the same cuts, so a new dimension is added here once. -#}
{% macro segment_dimensions() -%}
    {{ return([
        ('all', "'all'"),
        ('plan', 'plan'),
        ('platform', 'platform'),
        ('country', 'country'),
        ('channel', 'signup_channel'),
    ]) }}
{%- endmacro %}
