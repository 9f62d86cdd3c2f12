{#
    One row per campaign (its primary email and resends): the activities' counts summed and
    every rate recomputed as a ratio of the sums, as Constant Contact's campaign stats do.
    Equals the email_metrics/campaign_engagement asset.
#}
with

summed as (

    select
        campaign_id,
        count(*) as activities,
        sum(sends) as sends,
        sum(bounces) as bounces,
        sum(delivered) as delivered,
        sum(opens) as opens,
        sum(opens_all) as opens_all,
        sum(mobile_opens_all) as mobile_opens_all,
        sum(clicks) as clicks,
        sum(clicks_all) as clicks_all,
        sum(mobile_clicks_all) as mobile_clicks_all,
        sum(forwards) as forwards,
        sum(optouts) as optouts,
        min(first_send_time) as first_send_time,
        min(first_open_time) as first_open_time,
        max(last_event_time) as last_event_time
    from {{ ref('fct_campaign_activity_performance') }}
    where campaign_id is not null
    group by campaign_id

),

counts as (

    select
        campaign_id,
        cast(activities as {{ dbt.type_bigint() }}) as activities,
        cast(sends as {{ dbt.type_bigint() }}) as sends,
        cast(bounces as {{ dbt.type_bigint() }}) as bounces,
        cast(delivered as {{ dbt.type_bigint() }}) as delivered,
        cast(opens as {{ dbt.type_bigint() }}) as opens,
        cast(opens_all as {{ dbt.type_bigint() }}) as opens_all,
        cast(mobile_opens_all as {{ dbt.type_bigint() }}) as mobile_opens_all,
        cast(clicks as {{ dbt.type_bigint() }}) as clicks,
        cast(clicks_all as {{ dbt.type_bigint() }}) as clicks_all,
        cast(mobile_clicks_all as {{ dbt.type_bigint() }}) as mobile_clicks_all,
        cast(forwards as {{ dbt.type_bigint() }}) as forwards,
        cast(optouts as {{ dbt.type_bigint() }}) as optouts,
        cast(
            case when sends - opens - bounces > 0 then sends - opens - bounces else 0 end
            as {{ dbt.type_bigint() }}
        ) as not_opened,
        first_send_time,
        first_open_time,
        last_event_time
    from summed

)

select
    *,
    {{ cc_engagement_rates() }},
    {{ dbt.datediff('first_send_time', 'first_open_time', 'second') }} as seconds_to_first_open
from counts
