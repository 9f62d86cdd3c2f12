{#
    Per activity x event (open, click) x device type (missing device = 'none'): every event
    counted, the distinct contacts, and the device's share of the activity's events.
#}
with

counted as (

    select
        campaign_activity_id,
        event_type,
        device_type,
        cast(count(*) as {{ dbt.type_bigint() }}) as events,
        cast(count(distinct contact_id) as {{ dbt.type_bigint() }}) as contacts
    from {{ ref('fct_email_events') }}
    where event_type in ('open', 'click')
    group by campaign_activity_id, event_type, device_type

),

totals as (

    select
        *,
        sum(events) over (partition by campaign_activity_id, event_type) as event_type_events
    from counted

)

select
    totals.campaign_activity_id,
    mapped.campaign_id,
    totals.event_type,
    totals.device_type,
    totals.events,
    totals.contacts,
    {{ cc_percent('totals.events', 'totals.event_type_events') }} as share_percent
from totals
left join {{ ref('int_campaign_activities_mapped') }} as mapped
    on totals.campaign_activity_id = mapped.campaign_activity_id
