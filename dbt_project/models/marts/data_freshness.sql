-- How fresh and how complete the data is, per source feed and per data product (one row each).
-- A feed is live while its newest message arrived soon after its newest event and was loaded soon after it
-- arrived; otherwise it is a closed export (a backfill, a historical dump): nothing more will arrive, so it is
-- complete up to its last event (its last hour and its last day with data), and never scored past it.
-- complete_until (exclusive, event time) is where the judged series must stop: for a live feed the hour that
-- arrivals have passed by the arrival lag most events take (completeness_arrival_quantile), so an unfinished
-- hour -- or the hours after arrivals stalled -- is never scored as a metric drop.
with

as_of as (

    select
        {% if var('freshness_as_of') %}
            cast('{{ var("freshness_as_of") }}' as timestamp)
        {% else %}
            {{ utc_now() }}
        {% endif %} as as_of

),

messages as (

    select
        'events' as source_table,
        coalesce(source_name, 'segment') as export_name,
        case when quarantine_reason is null then event_at end as event_at,
        coalesce(received_at, loaded_at) as arrived_at,
        loaded_at
    from {{ ref('stg_segment__tracks') }}
    union all
    select
        'identifies' as source_table,
        'segment' as export_name,
        identified_at as event_at,
        loaded_at as arrived_at,
        loaded_at
    from {{ ref('stg_segment__identifies') }}

),

scoped as (

    -- every export on its own, and all events together (the feed the metric series are built from)
    select * from messages
    union all
    select
        source_table,
        'all' as export_name,
        event_at,
        arrived_at,
        loaded_at
    from messages
    where source_table = 'events'

),

feeds as (

    select
        source_table,
        export_name,
        max(event_at) as latest_event_at,
        max(arrived_at) as latest_arrival_at,
        max(loaded_at) as latest_load_at,
        count(event_at) as valid_messages
    from scoped
    group by source_table, export_name

),

hourly as (

    select
        source_table,
        export_name,
        {{ dbt.date_trunc('hour', 'event_at') }} as hour_at,
        count(*) as messages
    from scoped
    where event_at is not null
    group by source_table, export_name, {{ dbt.date_trunc('hour', 'event_at') }}

),

typical as (

    -- the median hour with data over the feed's last 28 days of event time
    select
        hourly.source_table,
        hourly.export_name,
        {{ quantile_interpolated('hourly.messages', 0.5) }} as median_messages
    from hourly
    inner join feeds
        on hourly.source_table = feeds.source_table and hourly.export_name = feeds.export_name
    where hourly.hour_at >= {{ add_hours('feeds.latest_event_at', -28 * 24) }}
    group by hourly.source_table, hourly.export_name

),

ends as (

    -- where the data ends: the last hour carrying at least var('data_end_min_share') of a typical hour; the few
    -- events after it (devices with skewed clocks, test traffic) are a straggling tail, not hours to judge
    select
        hourly.source_table,
        hourly.export_name,
        {{ add_hours('max(hourly.hour_at)', 1) }} as data_end_at
    from hourly
    inner join typical
        on hourly.source_table = typical.source_table and hourly.export_name = typical.export_name
    where hourly.messages >= {{ var('data_end_min_share') }} * typical.median_messages
    group by hourly.source_table, hourly.export_name

),

recent_lags as (

    -- the arrival lags of the feed's last lookback window of event time
    select
        scoped.source_table,
        scoped.export_name,
        {{ quantile_interpolated(
            'least(greatest(' ~ elapsed_seconds('scoped.event_at', 'scoped.arrived_at') ~ ', 0), '
            ~ var('late_arrival_lookback_hours') ~ ' * 3600)',
            var('completeness_arrival_quantile')
        ) }} / 3600.0 as arrival_lag_hours
    from scoped
    inner join feeds
        on scoped.source_table = feeds.source_table and scoped.export_name = feeds.export_name
    where scoped.event_at >= {{ add_hours('feeds.latest_event_at', '-(' ~ var('late_arrival_lookback_hours') ~ ')') }}
    group by scoped.source_table, scoped.export_name

),

judged as (

    select
        feeds.*,
        coalesce(recent_lags.arrival_lag_hours, 0) as arrival_lag_hours,
        ends.data_end_at,
        as_of.as_of,
        feeds.latest_arrival_at > {{ add_hours('feeds.latest_event_at', var('late_arrival_lookback_hours')) }}
        or feeds.latest_load_at
        > {{ add_hours('feeds.latest_arrival_at', var('late_arrival_lookback_hours')) }} as is_closed
    from feeds
    cross join as_of
    left join recent_lags
        on feeds.source_table = recent_lags.source_table and feeds.export_name = recent_lags.export_name
    left join ends
        on feeds.source_table = ends.source_table and feeds.export_name = ends.export_name

),

sources as (

    select
        'source' as scope,
        source_table || ':' || export_name as name,  -- noqa: RF04
        source_table,
        export_name,
        latest_event_at,
        latest_arrival_at,
        latest_load_at,
        valid_messages,
        arrival_lag_hours,
        as_of,
        case when is_closed then 'closed' else 'live' end as feed_mode,
        data_end_at,
        case
            when is_closed then data_end_at
            else least(
                {{ dbt.date_trunc(
                    'hour', add_seconds('latest_arrival_at', '-cast(arrival_lag_hours * 3600 as bigint)')
                ) }},
                data_end_at
            )
        end as complete_until,
        {{ elapsed_seconds('latest_arrival_at', 'as_of') }} / 3600.0 as arrival_age_hours,
        cast({{ var('freshness_error_after_hours') }} as double) as sla_hours
    from judged
    where latest_event_at is not null

),

products as (

    select
        'data_product' as scope,
        products.data_product as name,  -- noqa: RF04
        sources.source_table,
        sources.export_name,
        sources.latest_event_at,
        sources.latest_arrival_at,
        sources.latest_load_at,
        sources.valid_messages,
        sources.arrival_lag_hours,
        sources.as_of,
        sources.feed_mode,
        sources.data_end_at,
        sources.complete_until,
        sources.arrival_age_hours,
        cast(products.sla_hours as double) as sla_hours
    from {{ ref('data_products') }} as products
    cross join sources
    where sources.name = 'events:all'

)

select
    scope,
    name,
    source_table,
    export_name,
    feed_mode,
    as_of,
    latest_event_at,
    latest_arrival_at,
    latest_load_at,
    valid_messages,
    arrival_lag_hours,
    data_end_at,
    complete_until,
    {{ add_hours('complete_until', -1) }} as last_complete_hour,
    -- a closed export will get no more data: every day it has is as complete as it will be
    case
        when feed_mode = 'closed' then cast({{ add_hours('complete_until', -1) }} as date)
        else {{ add_days('cast(complete_until as date)', -1) }}
    end as last_complete_day,
    arrival_age_hours,
    -- a source is judged by how long ago its newest message arrived, a data product by the age of its newest
    -- complete hour; a closed export has no SLA to keep (its data will not get fresher)
    case
        when scope = 'source' then arrival_age_hours
        else {{ elapsed_seconds('complete_until', 'as_of') }} / 3600.0
    end as age_hours,
    sla_hours,
    case
        when feed_mode = 'closed' then null
        when scope = 'source' then arrival_age_hours <= sla_hours
        else {{ elapsed_seconds('complete_until', 'as_of') }} / 3600.0 <= sla_hours
    end as sla_met,
    case
        when feed_mode = 'closed' then 'closed'
        when
            scope = 'data_product' and {{ elapsed_seconds('complete_until', 'as_of') }} / 3600.0 > sla_hours
            then 'stale'
        when scope = 'data_product' then 'fresh'
        when arrival_age_hours > {{ var('freshness_error_after_hours') }} then 'stale'
        when arrival_age_hours > {{ var('freshness_warn_after_hours') }} then 'late'
        else 'fresh'
    end as status
from (
    select * from sources
    union all
    select * from products
) as rows_
