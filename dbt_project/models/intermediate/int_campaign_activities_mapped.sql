{#
    Each activity's campaign, role and last send: from its newest email_campaigns snapshot,
    else from its newest activity stats snapshot (stats carry campaign_id too). An activity
    in neither is not here (its campaign is unknown until a snapshot names it).
#}
with

campaigns as (

    select
        campaign_activity_id,
        campaign_id,
        role,
        sent_time,
        row_number() over (
            partition by campaign_activity_id
            order by snapshot_date desc, captured_at desc
        ) as recency
    from {{ ref('stg_constant_contact__email_campaigns') }}
    where campaign_activity_id is not null

),

stats as (

    select
        campaign_activity_id,
        campaign_id,
        row_number() over (
            partition by campaign_activity_id
            order by snapshot_date desc, captured_at desc
        ) as recency
    from {{ ref('stg_constant_contact__email_campaign_activity_stats') }}
    where campaign_activity_id is not null

),

activities as (

    select campaign_activity_id from campaigns
    union
    select campaign_activity_id from stats

)

select
    activities.campaign_activity_id,
    coalesce(campaigns.campaign_id, stats.campaign_id) as campaign_id,
    campaigns.role,
    campaigns.sent_time
from activities
left join campaigns
    on activities.campaign_activity_id = campaigns.campaign_activity_id
    and campaigns.recency = 1
left join stats
    on activities.campaign_activity_id = stats.campaign_activity_id
    and stats.recency = 1
