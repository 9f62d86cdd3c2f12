{#
    One row per campaign: its name, and the subject, role and send time of the activity that
    stands for it (its primary email; a campaign with only resends known: its first resend).
    Keyed per account.
#}
with

ranked as (

    select
        account,
        campaign_id,
        campaign_name,
        subject,
        role,
        sent_time,
        row_number() over (
            partition by account, campaign_id
            order by case when role = 'primary_email' then 0 else 1 end, sent_time, campaign_activity_id
        ) as rank_in_campaign
    from {{ ref('int_campaign_activities') }}
    where campaign_id is not null

)

select account, campaign_id, campaign_name, subject, role, sent_time
from ranked
where rank_in_campaign = 1
