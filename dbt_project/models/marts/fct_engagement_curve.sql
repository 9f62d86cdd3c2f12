{#
    Names joined onto email_metrics/activity_engagement_curve: no count or rate is computed here.
    Keyed per account; the account's encoded_account_id from dim_accounts.
#}
select
    metrics.account,
    accounts.encoded_account_id,
    metrics.campaign_activity_id,
    metrics.campaign_id,
    {{ cc_names('activities') }},
    {{ cc_columns_of('email_metrics', 'activity_engagement_curve', 'metrics', except=['campaign_activity_id', 'campaign_id', 'computed_at']) }}
from {{ ref('stg_email_metrics__activity_engagement_curve') }} as metrics
left join {{ ref('int_campaign_activities') }} as activities
    on metrics.account = activities.account
    and metrics.campaign_activity_id = activities.campaign_activity_id
left join {{ ref('dim_accounts') }} as accounts
    on metrics.account = accounts.account
