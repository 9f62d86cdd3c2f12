{{ config(materialized='table') }}
{#
    The events reduced to one row per activity x contact x event type: how many events, how
    many from a mobile or tablet device, how many with a device type at all, the first and
    last, and the contact's address at the last. Materialized once; the per-activity counts and the contact dimension both read it,
    so the events are grouped only once.
#}
select
    campaign_activity_id,
    contact_id,
    event_type,
    count(*) as events,
    sum(case when device_type in ('mobile', 'tablet') then 1 else 0 end) as mobile_events,
    sum(case when device_type <> 'none' then 1 else 0 end) as device_events,
    min(created_time) as first_time,
    max(created_time) as last_time,
    {{ cc_latest('email_address', 'created_time') }} as email_address
from {{ ref('fct_email_events') }}
group by campaign_activity_id, contact_id, event_type
