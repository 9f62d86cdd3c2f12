{#
    Every tracking event (send, open, click, forward, optout, bounce), de-duplicated, with
    its activity's campaign. The one table the events are written to: the device breakdown,
    the activity counts and the contact dimension all read it.
#}
select
    events.event_id,
    events.event_type,
    events.campaign_activity_id,
    mapped.campaign_id,
    events.contact_id,
    events.email_address,
    events.created_time,
    events.device_type,
    events.url_id,
    events.link_url,
    events.bounce_code,
    events.opt_out_reason
from {{ ref('int_email_events_unioned') }} as events
left join {{ ref('int_campaign_activities') }} as mapped
    on events.campaign_activity_id = mapped.campaign_activity_id
