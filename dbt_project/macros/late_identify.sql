{#-
    A late identify: an identify call is attributed by its own timestamp, not by when it arrived, so one that
    lands in a later load (a backend sync, a replayed queue) restates the plan history -- and the latest traits
    -- behind rows an incremental model has already written, rows that get no new events. The incremental marts
    that carry identify-derived columns re-check, on each run, the stored rows of the users this macro returns
    and rewrite the periods whose values the identify history no longer gives.

    reidentified_users(watermark): the users with identify calls loaded after max(`watermark`) of the model
    being built ({{ this }}), a load time the model stores. Only their plan history and traits can have
    changed since that run, so nobody else's rows need re-checking (an ordinary day costs a scan of the new
    identify calls). Call it inside `is_incremental()` only, and give the model a
    `-- depends_on: {{ ref('stg_segment__identifies') }}` line: a ref inside an is_incremental() block is not
    seen at parse time.
-#}
{% macro reidentified_users(watermark) -%}
    select distinct identifies.user_id
    from {{ ref('stg_segment__identifies') }} as identifies
    where
        identifies.loaded_at
        > (select max(existing.{{ watermark }}) as max_loaded_at from {{ this }} as existing)
{%- endmacro %}
