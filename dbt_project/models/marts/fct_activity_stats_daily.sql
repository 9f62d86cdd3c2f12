{#
    Names joined onto email_metrics/activity_stats_daily: no count or rate is computed here.
#}
select
    metrics.snapshot_date,
    metrics.campaign_activity_id,
    metrics.campaign_id,
    {{ cc_names('activities') }},
    cast(
        {{ dbt.datediff('activities.sent_time', 'metrics.snapshot_date', 'day') }}
        as {{ dbt.type_bigint() }}
    ) as days_since_send,
    {{ cc_columns_of('email_metrics', 'activity_stats_daily', 'metrics', except=['snapshot_date', 'campaign_activity_id', 'campaign_id', 'computed_at']) }}
from {{ ref('stg_email_metrics__activity_stats_daily') }} as metrics
left join {{ ref('int_campaign_activities') }} as activities
    on metrics.campaign_activity_id = activities.campaign_activity_id
