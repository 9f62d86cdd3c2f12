{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='event_id',
    on_schema_change='append_new_columns',
) }}
{#
    Every tracking event (send, open, click, forward, optout, bounce), de-duplicated on its
    natural key (a contact is sent an activity once, bounces once and opts out once; opens,
    clicks and forwards are told apart by time, device and link), with its activity's campaign.
    The one table the events are written to: the contact dimension reads it.

    De-duplication is a group by on the key (a hash aggregate, cheaper than a window over 10M
    rows); the other columns of duplicates are equal, min() picks one.

    Built incrementally: a build reads only the rows captured after the newest capture the
    table holds of the same activity and report (a tracking refresh rewrites an activity's
    report whole, carried-over rows keep their capture time, new ones get the refresh's), plus
    every row of an activity whose campaign changed, and replaces the table's rows of the same
    events (delete+insert on event_id). Events that vanish from the lake stay until
    `dbt build --full-refresh`. A table built before captured_at was recorded is read whole
    once.
#}
{%- set read_new_only = is_incremental() and 'captured_at' in cc_held_columns() -%}

with

mapped as (

    select campaign_activity_id, campaign_id from {{ ref('int_campaign_activities') }}

),

{% if read_new_only %}
held as (

    select
        campaign_activity_id,
        event_type,
        max(coalesce(captured_at, {{ cc_epoch() }})) as captured_at,
        max(campaign_id) as campaign_id
    from {{ this }}
    group by campaign_activity_id, event_type

),
{% endif %}

events as (

    select events.*
    from {{ ref('int_email_events_unioned') }} as events
    {% if read_new_only %}
    left join held
        on events.campaign_activity_id = held.campaign_activity_id
        and events.event_type = held.event_type
    left join mapped
        on events.campaign_activity_id = mapped.campaign_activity_id
    where held.campaign_activity_id is null
        or coalesce(events.captured_at, {{ cc_epoch() }}) > held.captured_at
        or mapped.campaign_id is distinct from held.campaign_id
    {% endif %}

),

deduplicated as (

    select
        event_type,
        campaign_activity_id,
        contact_id,
        min(created_time) as created_time,
        device_type,
        url_id,
        min(email_address) as email_address,
        min(link_url) as link_url,
        min(bounce_code) as bounce_code,
        min(opt_out_reason) as opt_out_reason,
        max(captured_at) as captured_at
    from events
    group by
        event_type,
        campaign_activity_id,
        contact_id,
        case when event_type in ('open', 'click', 'forward') then created_time end,
        device_type,
        url_id

)

select
    {{ dbt.hash(dbt.concat([
        'events.event_type', "'|'", 'events.campaign_activity_id', "'|'", 'events.contact_id', "'|'",
        "case when events.event_type in ('open', 'click', 'forward') then cast(events.created_time as " ~ dbt.type_string() ~ ") else '' end",
        "'|'", "coalesce(events.device_type, '')", "'|'", "coalesce(events.url_id, '')"
    ])) }} as event_id,
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
    events.opt_out_reason,
    events.captured_at
from deduplicated as events
left join mapped
    on events.campaign_activity_id = mapped.campaign_activity_id
