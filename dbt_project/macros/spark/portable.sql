{#- Spark SQL (dbt-spark, Spark 4) bodies of the project's dispatched macros (macros/portable/, parse_timestamp). -#}

{#- The same per-value rule as default__parse_timestamp (macros/parse_timestamp.sql): ISO 8601 text, epoch seconds or
    epoch milliseconds. With spark.sql.session.timeZone = UTC (profiles.yml), a cast reads ISO 8601 offsets and
    returns UTC. -#}
{% macro spark__parse_timestamp(column) -%}
    {%- set number = "try_cast(trim(" ~ column ~ ") as double)" -%}
    {%- set millis = var('epoch_milliseconds_above') -%}
    case
        when {{ number }} is null then try_cast({{ column }} as timestamp)
        when isnan({{ number }}) or abs({{ number }}) = cast('Infinity' as double) then null
        when abs({{ number }}) < {{ millis }} then timestamp_micros(cast({{ number }} * 1000000 as bigint))
        when abs({{ number }}) < {{ millis }} * 1000 then timestamp_micros(cast({{ number }} * 1000 as bigint))
    end
{%- endmacro %}

{% macro spark__json_is_valid(column) -%}
    case when {{ column }} is not null then try_parse_json({{ column }}) is not null end
{%- endmacro %}

{% macro spark__json_text(column, path) -%}
    get_json_object({{ column }}, '{{ path }}')
{%- endmacro %}

{% macro spark__json_texts(column, paths) -%}
    array({% for path in paths %}get_json_object({{ column }}, '{{ path }}'){% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{#- element_at is 1-based and null past the end (spark.sql.ansi.enabled = false) -- try_element_at either way. -#}
{% macro spark__list_at(list_column, position) -%}
    try_element_at({{ list_column }}, {{ position }})
{%- endmacro %}

{#- schema_of_variant names: STRING, BIGINT (and narrower ints), DECIMAL(p,s) / DOUBLE, BOOLEAN, VOID, OBJECT<..>. -#}
{% macro spark__json_value_type(column, key) -%}
    case
        when try_parse_json({{ column }}) is null then null
        when schema_of_variant(try_parse_json({{ column }})) not like 'OBJECT%' then null
        else
            case
                when element_at(cast(try_parse_json({{ column }}) as map<string, variant>), {{ key }}) is null then null
                else
                    case regexp_extract(
                        schema_of_variant(
                            element_at(cast(try_parse_json({{ column }}) as map<string, variant>), {{ key }})
                        ), '^[A-Z]+', 0
                    )
                        when 'STRING' then 'string'
                        when 'BIGINT' then 'integer'
                        when 'INT' then 'integer'
                        when 'SMALLINT' then 'integer'
                        when 'TINYINT' then 'integer'
                        when 'DECIMAL' then 'number'
                        when 'DOUBLE' then 'number'
                        when 'FLOAT' then 'number'
                        when 'BOOLEAN' then 'boolean'
                        when 'VOID' then 'null'
                        else lower(regexp_extract(
                            schema_of_variant(
                                element_at(cast(try_parse_json({{ column }}) as map<string, variant>), {{ key }})
                            ), '^[A-Z]+', 0
                        ))
                    end
            end
    end
{%- endmacro %}

{% macro spark__days_between(start_date, end_date) -%}
    datediff({{ end_date }}, {{ start_date }})
{%- endmacro %}

{#- unix_timestamp truncates to whole seconds, so the difference counts second boundaries as DuckDB does. -#}
{% macro spark__seconds_between(start_at, end_at) -%}
    (unix_timestamp({{ end_at }}) - unix_timestamp({{ start_at }}))
{%- endmacro %}

{% macro spark__series(start, stop, step) -%}
    explode(sequence({{ start }}, {{ stop }}{% if step %}, {{ step }}{% endif %}))
{%- endmacro %}

{% macro spark__iso_year(day) -%}
    extract(yearofweek from {{ day }})
{%- endmacro %}

{% macro spark__iso_week(day) -%}
    weekofyear({{ day }})
{%- endmacro %}

{% macro spark__iso_day_of_week(day) -%}
    extract(dayofweek_iso from {{ day }})
{%- endmacro %}

{% macro spark__day_name(day) -%}
    date_format({{ day }}, 'EEEE')
{%- endmacro %}

{#- max_by keeps a null value; ordering those rows by null makes it skip them, as DuckDB's arg_max does. -#}
{% macro spark__value_at_max(value, order_by) -%}
    max_by({{ value }}, case when {{ value }} is not null then {{ order_by }} end)
{%- endmacro %}

{% macro spark__value_at_min(value, order_by) -%}
    min_by({{ value }}, case when {{ value }} is not null then {{ order_by }} end)
{%- endmacro %}

{% macro spark__sorted_distinct_list(column) -%}
    array_sort(collect_set({{ column }}))
{%- endmacro %}

{% macro spark__list_length(list_column) -%}
    cast(size({{ list_column }}) as bigint)
{%- endmacro %}

{% macro spark__join_list_elements(list_column, alias, column) -%}
    lateral view outer explode({{ list_column }}) {{ alias }} as {{ column }}
{%- endmacro %}

{% macro spark__last_non_null(column) -%}
    last_value({{ column }}, true)
{%- endmacro %}

{% macro spark__incremental_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{#- With spark.sql.session.timeZone = UTC (profiles.yml) the session's timestamps are UTC already. -#}
{% macro spark__utc_now() -%}
    cast(current_timestamp() as timestamp)
{%- endmacro %}

{#- Whole microseconds apart, then seconds: the same double DuckDB's epoch(interval) gives. -#}
{% macro spark__elapsed_seconds(start_at, end_at) -%}
    (cast(unix_micros({{ end_at }}) - unix_micros({{ start_at }}) as double) / 1000000)
{%- endmacro %}

{% macro spark__add_hours(ts, hours) -%}
    timestampadd(hour, {{ hours }}, {{ ts }})
{%- endmacro %}

{% macro spark__add_seconds(ts, seconds) -%}
    timestampadd(second, {{ seconds }}, {{ ts }})
{%- endmacro %}

{% macro spark__add_days(day, days) -%}
    date_add({{ day }}, {{ days }})
{%- endmacro %}

{#- Spark's percentile is exact with linear interpolation (percentile_approx is not): DuckDB's quantile_cont. -#}
{% macro spark__quantile_interpolated(value, fraction) -%}
    percentile({{ value }}, {{ fraction }})
{%- endmacro %}

{#-
    Spark has no ASOF join: both sides in one union, ordered by time within the keys (a right row before a left row
    at the same instant), and each left row takes the latest right row before it. The right columns travel as one
    struct, so a null inside a right row is carried as it is rather than skipped.
-#}
{% macro spark__as_of_left_join(left, left_columns, right, keys, left_time, right_time, right_columns) -%}
    select
        {%- for column in left_columns %}
        {{ column }},
        {%- endfor %}
        {%- for column in right_columns %}
        as_of_latest.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from (
        select
            {%- for column in left_columns %}
            {{ column }},
            {%- endfor %}
            is_as_of_right,
            last_value(as_of_row, true) over (
                partition by {{ keys | join(', ') }}
                order by as_of_at, is_as_of_right desc
                rows between unbounded preceding and current row
            ) as as_of_latest
        from (
            select
                {%- for column in left_columns %}
                {{ column }},
                {%- endfor %}
                {{ left_time }} as as_of_at,
                false as is_as_of_right,
                null as as_of_row
            from {{ left }}
            union all
            select
                {%- for column in left_columns %}
                {% if column in keys %}{{ column }}{% else %}null{% endif %} as {{ column }},
                {%- endfor %}
                {{ right_time }} as as_of_at,
                true as is_as_of_right,
                named_struct(
                    {%- for column in right_columns %}
                    '{{ column }}', {{ column }}{{ ',' if not loop.last }}
                    {%- endfor %}
                ) as as_of_row
            from {{ right }}
        ) as as_of_sides
    ) as as_of_sequenced
    where not is_as_of_right
{%- endmacro %}
