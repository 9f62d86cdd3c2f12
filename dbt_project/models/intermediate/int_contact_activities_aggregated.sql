{{ config(materialized='table') }}
{#
    The events reduced to one row per activity x contact x event type: how many events, the
    first and last, and the contact's address at the last. What the contact dimension is
    built from.
#}
select
    campaign_activity_id,
    contact_id,
    event_type,
    count(*) as events,
    min(created_time) as first_time,
    max(created_time) as last_time,
    {{ cc_latest('email_address', 'created_time') }} as email_address
from {{ ref('fct_email_events') }}
group by campaign_activity_id, contact_id, event_type
