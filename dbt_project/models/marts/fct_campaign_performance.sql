{#
    Names joined onto email_metrics/campaign_engagement: no count or rate is computed here.
#}
select
    metrics.campaign_id,
    {{ cc_names('campaigns') }},
    {{ cc_columns_of('email_metrics', 'campaign_engagement', 'metrics', except=['campaign_id', 'computed_at']) }}
from {{ ref('stg_email_metrics__campaign_engagement') }} as metrics
left join {{ ref('int_campaigns') }} as campaigns
    on metrics.campaign_id = campaigns.campaign_id
