{#
    Every tracking event of every report, one row per event: the reports unioned with their
    event_type and de-duplicated on each report's natural key (a contact is sent an activity
    once, bounces once and opts out once; opens, clicks and forwards are told apart by time,
    device and link). De-duplication is a group by on the key (a hash aggregate, cheaper than
    a window over 10M rows); the other columns of duplicates are equal, min() picks one.
    unique_opens and didnotopens are derived views of the same events (a contact's latest
    open, the delivered contacts who did not open) and are not events of their own.
#}
{%- set reports = [
    ('send', 'stg_constant_contact__email_sends', false, false, false),
    ('open', 'stg_constant_contact__email_opens', true, true, false),
    ('click', 'stg_constant_contact__email_clicks', true, true, true),
    ('forward', 'stg_constant_contact__email_forwards', true, false, false),
    ('optout', 'stg_constant_contact__email_optouts', false, false, false),
    ('bounce', 'stg_constant_contact__email_bounces', false, false, false),
] -%}
{%- set null_string = 'cast(null as ' ~ dbt.type_string() ~ ')' -%}

with

{% for event_type, model, keyed_by_time, has_device, has_link in reports %}
{{ event_type }}_events as (

    select
        '{{ event_type }}' as event_type,
        campaign_activity_id,
        contact_id,
        {{ 'created_time' if keyed_by_time else 'min(created_time)' }} as created_time,
        {{ 'device_type' if has_device else null_string }} as device_type,
        {{ 'url_id' if has_link else null_string }} as url_id,
        min(email_address) as email_address,
        {{ 'min(link_url)' if has_link else null_string }} as link_url,
        {{ 'min(bounce_code)' if event_type == 'bounce' else null_string }} as bounce_code,
        {{ 'min(opt_out_reason)' if event_type == 'optout' else null_string }} as opt_out_reason
    from {{ ref(model) }}
    group by
        campaign_activity_id,
        contact_id
        {{- ', created_time' if keyed_by_time }}
        {{- ', device_type' if has_device }}
        {{- ', url_id' if has_link }}

),
{% endfor %}

unioned as (
{% for event_type, _, _, _, _ in reports %}
    select * from {{ event_type }}_events
    {{ 'union all' if not loop.last }}
{%- endfor %}

)

select
    {{ dbt.hash(dbt.concat([
        'event_type', "'|'", 'campaign_activity_id', "'|'", 'contact_id', "'|'",
        "case when event_type in ('open', 'click', 'forward') then cast(created_time as " ~ dbt.type_string() ~ ") else '' end",
        "'|'", "coalesce(device_type, '')", "'|'", "coalesce(url_id, '')"
    ])) }} as event_id,
    event_type,
    campaign_activity_id,
    contact_id,
    email_address,
    created_time,
    device_type,
    url_id,
    link_url,
    bounce_code,
    opt_out_reason
from unioned
