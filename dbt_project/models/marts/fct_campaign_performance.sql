{#
    Names joined onto email_metrics/campaign_engagement: no count or rate is computed here.
    Keyed per account; the account's encoded_account_id from dim_accounts.
#}
select
    metrics.account,
    accounts.encoded_account_id,
    metrics.campaign_id,
    {{ cc_names('campaigns') }},
    {{ cc_columns_of('email_metrics', 'campaign_engagement', 'metrics', except=['campaign_id', 'computed_at']) }}
from {{ ref('stg_email_metrics__campaign_engagement') }} as metrics
left join {{ ref('int_campaigns') }} as campaigns
    on metrics.account = campaigns.account
    and metrics.campaign_id = campaigns.campaign_id
left join {{ ref('dim_accounts') }} as accounts
    on metrics.account = accounts.account
