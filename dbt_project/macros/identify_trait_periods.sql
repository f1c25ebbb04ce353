{#-
    identify_trait_periods(reports, trait): a trait of the identify history as validity intervals (SCD type 2), one
    row per user per period during which one value was reported. `reports` is a CTE of (user_id, identified_at,
    <trait>) with the trait not null; consecutive reports of the same value collapse into one period, and a period
    ends when the next value starts (valid_to exclusive; null for the current one). One rule for the plan and the
    seat-count histories (int_user_plans_versioned, int_user_seats_versioned). Renders two CTEs and the select, so
    it follows the caller's last CTE and a comma.
-#}
{% macro identify_trait_periods(reports, trait) -%}
changes as (

    select
        user_id,
        identified_at,
        {{ trait }},
        lag({{ trait }}) over (partition by user_id order by identified_at) as previous_{{ trait }}
    from {{ reports }}

),

periods as (

    select
        user_id,
        {{ trait }},
        identified_at as valid_from,
        lead(identified_at) over (partition by user_id order by identified_at) as valid_to
    from changes
    where previous_{{ trait }} is null or previous_{{ trait }} != {{ trait }}

)

select
    user_id,
    {{ trait }},
    valid_from,
    valid_to,
    valid_to is null as is_current
from periods
{%- endmacro %}
