{#
    Names joined onto email_metrics/activity_device_breakdown: no count or rate is computed here.
#}
select
    metrics.campaign_activity_id,
    metrics.campaign_id,
    {{ cc_names('activities') }},
    {{ cc_columns_of('email_metrics', 'activity_device_breakdown', 'metrics', except=['campaign_activity_id', 'campaign_id', 'computed_at']) }}
from {{ ref('stg_email_metrics__activity_device_breakdown') }} as metrics
left join {{ ref('int_campaign_activities') }} as activities
    on metrics.campaign_activity_id = activities.campaign_activity_id
