{#
    Every activity a snapshot names, with what a person calls it: its campaign's id and name,
    subject, role and last send, from its newest email_campaigns snapshot; else (campaign id
    only) from its newest activity stats snapshot. The one place names are joined from, so
    every mart names activities the same way. Keyed per account: an id is the account's.
#}
with

campaigns as (

    select
        account,
        campaign_activity_id,
        campaign_id,
        name as campaign_name,
        subject,
        role,
        sent_time,
        row_number() over (
            partition by account, campaign_activity_id
            order by snapshot_date desc, captured_at desc
        ) as recency
    from {{ ref('stg_constant_contact__email_campaigns') }}
    where campaign_activity_id is not null

),

stats as (

    select
        account,
        campaign_activity_id,
        campaign_id,
        row_number() over (
            partition by account, campaign_activity_id
            order by snapshot_date desc, captured_at desc
        ) as recency
    from {{ ref('stg_constant_contact__email_campaign_activity_stats') }}
    where campaign_activity_id is not null

),

activities as (

    select account, campaign_activity_id from campaigns
    union
    select account, campaign_activity_id from stats

)

select
    activities.account,
    activities.campaign_activity_id,
    coalesce(campaigns.campaign_id, stats.campaign_id) as campaign_id,
    campaigns.campaign_name,
    campaigns.subject,
    campaigns.role,
    campaigns.sent_time
from activities
left join campaigns
    on activities.account = campaigns.account
    and activities.campaign_activity_id = campaigns.campaign_activity_id
    and campaigns.recency = 1
left join stats
    on activities.account = stats.account
    and activities.campaign_activity_id = stats.campaign_activity_id
    and stats.recency = 1
