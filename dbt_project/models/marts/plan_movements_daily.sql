-- Revenue movements per day: upgrades, downgrades and cancellations with their MRR change (plans seed).
with

plans as (

    select
        plan,
        plan_tier,
        monthly_price_usd
    from {{ ref('plans') }}

),

billing as (

    select
        events.event_date,
        events.user_id,
        events.event_name,
        coalesce(
            {{ json_text('events.properties', '$.from_plan') }}, {{ json_text('events.properties', '$.plan') }}
        ) as from_plan,
        {{ json_text('events.properties', '$.to_plan') }} as to_plan
    from {{ ref('fct_events') }} as events
    where events.event_name in ('plan_upgraded', 'plan_downgraded', 'subscription_cancelled')

),

priced as (

    select
        billing.event_date,
        billing.user_id,
        case
            when billing.event_name = 'subscription_cancelled' then 'cancellation'
            when billing.event_name = 'plan_upgraded' then 'upgrade'
            else 'downgrade'
        end as movement,
        coalesce(to_plans.monthly_price_usd, 0) - coalesce(from_plans.monthly_price_usd, 0) as mrr_change_usd
    from billing
    left join plans as from_plans on billing.from_plan = from_plans.plan
    left join plans as to_plans on billing.to_plan = to_plans.plan

)

select
    event_date as movement_date,
    movement,
    cast(count(distinct user_id) as bigint) as accounts,
    cast(sum(mrr_change_usd) as double) as mrr_change_usd
from priced
group by event_date, movement
