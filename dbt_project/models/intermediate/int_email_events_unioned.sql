{#
    Every tracking event of every report, one row per raw row: the reports unioned with their
    event_type, the columns every event type shares, and when cc_assets captured the row.
    fct_email_events de-duplicates them on each report's natural key, and reads only the rows
    captured after the ones it holds (an incremental build). unique_opens and didnotopens are
    derived views of the same events (a contact's latest open, the delivered contacts who did
    not open) and are not events of their own.
#}
{%- set reports = [
    ('send', 'stg_constant_contact__email_sends', false, false),
    ('open', 'stg_constant_contact__email_opens', true, false),
    ('click', 'stg_constant_contact__email_clicks', true, true),
    ('forward', 'stg_constant_contact__email_forwards', false, false),
    ('optout', 'stg_constant_contact__email_optouts', false, false),
    ('bounce', 'stg_constant_contact__email_bounces', false, false),
] -%}
{%- set null_string = 'cast(null as ' ~ dbt.type_string() ~ ')' -%}

{% for event_type, model, has_device, has_link in reports %}
select
    '{{ event_type }}' as event_type,
    campaign_activity_id,
    contact_id,
    created_time,
    {{ 'device_type' if has_device else null_string }} as device_type,
    {{ 'url_id' if has_link else null_string }} as url_id,
    email_address,
    {{ 'link_url' if has_link else null_string }} as link_url,
    {{ 'bounce_code' if event_type == 'bounce' else null_string }} as bounce_code,
    {{ 'opt_out_reason' if event_type == 'optout' else null_string }} as opt_out_reason,
    captured_at
from {{ ref(model) }}
{{ 'union all' if not loop.last }}
{% endfor %}
