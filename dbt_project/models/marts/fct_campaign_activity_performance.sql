{#
    One row per sent activity: its counts and every Constant Contact rate (DESIGN §6), as
    percents at full precision, null when the denominator is 0. Same numbers as the
    email_metrics/activity_engagement asset.
#}
with

counts as (

    select
        aggregated.campaign_activity_id,
        mapped.campaign_id,
        mapped.role,
        cast(aggregated.sends as {{ dbt.type_bigint() }}) as sends,
        cast(aggregated.bounces as {{ dbt.type_bigint() }}) as bounces,
        cast(aggregated.sends - aggregated.bounces as {{ dbt.type_bigint() }}) as delivered,
        cast(aggregated.opens as {{ dbt.type_bigint() }}) as opens,
        cast(aggregated.opens_all as {{ dbt.type_bigint() }}) as opens_all,
        cast(aggregated.mobile_opens_all as {{ dbt.type_bigint() }}) as mobile_opens_all,
        cast(aggregated.clicks as {{ dbt.type_bigint() }}) as clicks,
        cast(aggregated.clicks_all as {{ dbt.type_bigint() }}) as clicks_all,
        cast(aggregated.mobile_clicks_all as {{ dbt.type_bigint() }}) as mobile_clicks_all,
        cast(aggregated.forwards as {{ dbt.type_bigint() }}) as forwards,
        cast(aggregated.optouts as {{ dbt.type_bigint() }}) as optouts,
        cast(
            case
                when aggregated.sends - aggregated.opens - aggregated.bounces > 0
                    then aggregated.sends - aggregated.opens - aggregated.bounces
                else 0
            end as {{ dbt.type_bigint() }}
        ) as not_opened,
        aggregated.first_send_time,
        aggregated.first_open_time,
        aggregated.last_event_time
    from {{ ref('int_campaign_activities_aggregated') }} as aggregated
    left join {{ ref('int_campaign_activities_mapped') }} as mapped
        on aggregated.campaign_activity_id = mapped.campaign_activity_id

)

select
    *,
    {{ cc_engagement_rates() }},
    {{ dbt.datediff('first_send_time', 'first_open_time', 'second') }} as seconds_to_first_open
from counts
