{#
    Constant Contact's own activity stats as a daily time series (one row per activity per
    snapshot date, the last capture of the day): how an activity's opens and rates grew after
    the send. Rates from CC's counts with the same formulas as the event-based metrics.
#}
with

stats as (

    select
        *,
        row_number() over (
            partition by snapshot_date, campaign_activity_id
            order by captured_at desc
        ) as recency
    from {{ ref('stg_constant_contact__email_campaign_activity_stats') }}

),

daily as (

    select
        stats.snapshot_date,
        stats.campaign_activity_id,
        stats.campaign_id,
        stats.last_refresh_time,
        mapped.sent_time,
        stats.em_sends as sends,
        stats.em_bounces as bounces,
        stats.em_sends - stats.em_bounces as delivered,
        stats.em_opens as opens,
        stats.em_opens_all as opens_all,
        stats.em_opens_all_mobile + stats.em_opens_all_tablet as mobile_opens_all,
        stats.em_clicks as clicks,
        stats.em_clicks_all as clicks_all,
        stats.em_clicks_all_mobile + stats.em_clicks_all_tablet as mobile_clicks_all,
        stats.em_forwards as forwards,
        stats.em_optouts as optouts,
        stats.em_not_opened as not_opened
    from stats
    left join {{ ref('int_campaign_activities_mapped') }} as mapped
        on stats.campaign_activity_id = mapped.campaign_activity_id
    where stats.recency = 1

)

select
    {{ dbt.hash(dbt.concat(['campaign_activity_id', "'|'", 'cast(snapshot_date as ' ~ dbt.type_string() ~ ')'])) }}
        as activity_snapshot_id,
    *,
    {{ dbt.datediff('sent_time', 'snapshot_date', 'day') }} as days_since_send,
    opens - lag(opens) over (
        partition by campaign_activity_id order by snapshot_date
    ) as opens_gained,
    clicks - lag(clicks) over (
        partition by campaign_activity_id order by snapshot_date
    ) as clicks_gained,
    {{ cc_percent('opens', 'delivered') }} as open_rate,
    {{ cc_percent('clicks', 'opens') }} as click_rate,
    {{ cc_percent('clicks', 'delivered') }} as click_through_rate,
    {{ cc_percent('bounces', 'sends') }} as bounce_rate,
    {{ cc_percent('not_opened', 'delivered') }} as did_not_open_rate,
    {{ cc_percent('optouts', 'delivered') }} as unsubscribe_rate,
    {{ cc_percent('mobile_opens_all', 'opens_all') }} as mobile_open_rate,
    {{ cc_percent('mobile_clicks_all', 'clicks_all') }} as mobile_click_rate
from daily
