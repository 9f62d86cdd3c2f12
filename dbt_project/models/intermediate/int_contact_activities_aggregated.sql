{{ config(
    materialized='cc_batched_incremental',
    incremental_strategy='delete+insert',
    unique_key='campaign_activity_id',
    on_schema_change='append_new_columns',
) }}
{#
    The events reduced to one row per activity x contact x event type: how many events, the
    first and last, and the contact's address at the last. What the contact dimension is
    built from.

    Built incrementally per activity: a build recomputes the activities of which
    fct_email_events holds an event captured after the newest this table counted (every row of
    such an activity, replacing its rows), stamping them with the build's start (`built_at`)
    so that dim_contact_engagement can recompute only their contacts.

    A contact is sent an activity once, bounces once and opts out once: fct_email_events holds
    one row per activity x contact of those types (its event_id is the three of them), which is
    that row's group as it is, so only opens, clicks and forwards are grouped (in parts of
    whole activities on a full build, `cc_activity_batches`). An activity is one account's
    (its id a UUID, unique across accounts), so its rows are replaced by its id alone.
#}
{%- set incremental = cc_is_incremental() and ['built_at', 'account'] | reject('in', cc_held_columns()) | list == [] -%}
{%- set once = ["'send'", "'bounce'", "'optout'"] -%}
{%- set batches = ['true'] if incremental else cc_activity_batches([ref('fct_email_events')]) -%}

{% for batch in batches %}
with

{% if incremental %}
changed as (

    select events.campaign_activity_id
    from (
        select campaign_activity_id, max(coalesce(captured_at, {{ cc_epoch() }})) as captured_at
        from {{ ref('fct_email_events') }}
        group by campaign_activity_id
    ) as events
    left join (
        select campaign_activity_id, max(captured_at) as captured_at
        from {{ this }}
        group by campaign_activity_id
    ) as held
        on events.campaign_activity_id = held.campaign_activity_id
    where held.campaign_activity_id is null or events.captured_at > held.captured_at

),
{% endif %}

{#- read by both selects below: not materialized, each scans the table (a materialized
    copy of every changed activity's events ran out of memory at 160MB) #}
events as not materialized (

    select * from {{ ref('fct_email_events') }}
    where {{ batch }}
    {% if incremental %}
        and campaign_activity_id in (select campaign_activity_id from changed)
    {% endif %}

)

select
    account,
    campaign_activity_id,
    contact_id,
    event_type,
    count(*) as events,
    min(created_time) as first_time,
    max(created_time) as last_time,
    {{ cc_latest('email_address', 'created_time') }} as email_address,
    max(coalesce(captured_at, {{ cc_epoch() }})) as captured_at,
    {{ cc_built_at() }} as built_at
from events
where event_type not in ({{ once | join(', ') }})
group by account, campaign_activity_id, contact_id, event_type

union all

select
    account,
    campaign_activity_id,
    contact_id,
    event_type,
    cast(1 as {{ dbt.type_bigint() }}) as events,
    created_time as first_time,
    created_time as last_time,
    email_address,
    coalesce(captured_at, {{ cc_epoch() }}) as captured_at,
    {{ cc_built_at() }} as built_at
from events
where event_type in ({{ once | join(', ') }})
{{ cc_next_part() if not loop.last }}
{% endfor %}
