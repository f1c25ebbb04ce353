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

{#- The segment dimensions whose value can differ between one user's events in one hour (a user on web and on
    ios in the same hour). Every other dimension above is a property of the user-day (the plan of the day, the
    user's country and channel), so the hourly marts count its distinct users from one row per user-hour instead
    of de-duplicating users per segment value. A new event-level dimension must be listed here: the singular
    test assert_hourly_segment_users_add_up fails if one is missing. -#}
{% macro event_level_segment_dimensions() -%}
    {{ return(['platform']) }}
{%- endmacro %}
