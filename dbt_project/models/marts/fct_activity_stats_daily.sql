{#
    Names joined onto email_metrics/activity_stats_daily: no count or rate is computed here.
    Keyed per account; the account's encoded_account_id from dim_accounts.
#}
select
    metrics.account,
    accounts.encoded_account_id,
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
    on metrics.account = activities.account
    and metrics.campaign_activity_id = activities.campaign_activity_id
left join {{ ref('dim_accounts') }} as accounts
    on metrics.account = accounts.account
