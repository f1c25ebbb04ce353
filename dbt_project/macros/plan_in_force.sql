{#-
    join_plan_in_force(rows, at): `left join` of the plan history (int_user_plans_versioned, aliased `plans`) on
    the period in force at `rows`.`at` -- valid_from inclusive, valid_to exclusive (open periods run on). One rule
    for fct_user_daily's plan of a user-day (at its last event) and for the re-check of the rows it stored
    (macros/late_identify.sql). Select `coalesce(plans.plan, 'unknown')`: before any identify there is no period.
-#}
{% macro join_plan_in_force(rows, at) -%}
    left join {{ ref('int_user_plans_versioned') }} as plans
        on
            {{ rows }}.user_id = plans.user_id
            and {{ rows }}.{{ at }} >= plans.valid_from
            and {{ rows }}.{{ at }} < {{ period_end('plans.valid_to') }}
{%- endmacro %}
