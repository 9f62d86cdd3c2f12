{#
    Per activity: unique counts (distinct contacts) and event counts of every report, the
    mobile (mobile + tablet) events of opens and clicks (null, unknown rather than zero, when
    none of them has a device type, as with a v2 account), and the first/last event times.
    It reads the events reduced to one row per activity x contact x event type, so each
    unique count is a plain sum (no count distinct over the events).
#}
with

per_contact as (

    select * from {{ ref('int_contact_activities_aggregated') }}

)

select
    campaign_activity_id,
    sum(case when event_type = 'send' then 1 else 0 end) as sends,
    sum(case when event_type = 'bounce' then 1 else 0 end) as bounces,
    sum(case when event_type = 'open' then 1 else 0 end) as opens,
    sum(case when event_type = 'open' then events else 0 end) as opens_all,
    {{ cc_mobile_events('open') }} as mobile_opens_all,
    sum(case when event_type = 'click' then 1 else 0 end) as clicks,
    sum(case when event_type = 'click' then events else 0 end) as clicks_all,
    {{ cc_mobile_events('click') }} as mobile_clicks_all,
    sum(case when event_type = 'forward' then 1 else 0 end) as forwards,
    sum(case when event_type = 'optout' then 1 else 0 end) as optouts,
    min(case when event_type = 'send' then first_time end) as first_send_time,
    min(case when event_type = 'open' then first_time end) as first_open_time,
    max(last_time) as last_event_time
from per_contact
group by campaign_activity_id
