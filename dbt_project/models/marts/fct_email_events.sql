{{ config(
    materialized='cc_batched_incremental',
    incremental_strategy='delete+insert',
    unique_key='event_id',
    on_schema_change='append_new_columns',
) }}
{#
    Every tracking event (send, open, click, forward, optout, bounce), de-duplicated, with its
    activity's campaign. The one table the events are written to: the contact dimension reads
    it.

    The reports are unioned with their event_type and de-duplicated on each report's natural
    key (a contact is sent an activity once, bounces once and opts out once; opens, clicks and
    forwards are told apart by time, device and link). De-duplication is a group by on the key
    per report (a hash aggregate, cheaper than a window over 10M rows); the other columns of
    duplicates are equal, min() picks one. unique_opens and didnotopens are derived views of
    the same events (a contact's latest open, the delivered contacts who did not open) and are
    not events of their own.

    Built incrementally: a build reads only the rows captured after the newest capture the
    table holds of the same activity and report (a tracking refresh rewrites an activity's
    report whole; carried-over rows keep their capture time, new ones get the refresh's), plus
    every row of an activity whose campaign changed, and replaces the table's rows of the same
    events (delete+insert on event_id). Events that vanish from the lake stay until
    `dbt build --full-refresh`. A table built before captured_at (or the account) was
    recorded is read whole once.

    Every event carries its account (from the report's scan) and the account's
    encoded_account_id as dim_accounts held it when the event was built. The event id is the
    hash of the natural key; in the per-account lake the account is part of it (a v3 activity
    id is a UUID, but a v2 campaign id is a number only its account makes unique), and the
    single account's ids stay what they were. A full build runs in parts of whole activities (`cc_activity_batches`,
    `cc_batched_incremental`).
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
{%- set read_new_only = cc_is_incremental() and ['captured_at', 'account'] | reject('in', cc_held_columns()) | list == [] -%}
{%- set batches = ['true'] -%}
{%- if not read_new_only -%}
    {%- set relations = [] -%}
    {%- for _, model, _, _, _ in reports -%}
        {%- do relations.append(ref(model)) -%}
    {%- endfor -%}
    {%- set batches = cc_activity_batches(relations) -%}
{%- endif -%}

{% for batch in batches %}
with

mapped as (

    select account, campaign_activity_id, campaign_id from {{ ref('int_campaign_activities') }}

),

{% if read_new_only %}
held as (

    select
        account,
        campaign_activity_id,
        event_type,
        max(coalesce(captured_at, {{ cc_epoch() }})) as captured_at,
        max(campaign_id) as campaign_id
    from {{ this }}
    group by account, campaign_activity_id, event_type

),
{% endif %}

{% for event_type, model, keyed_by_time, has_device, has_link in reports %}
{{ event_type }}_events as (

    select
        '{{ event_type }}' as event_type,
        report.account,
        report.campaign_activity_id,
        report.contact_id,
        {{ 'report.created_time' if keyed_by_time else 'min(report.created_time)' }} as created_time,
        {{ 'report.device_type' if has_device else null_string }} as device_type,
        {{ 'report.url_id' if has_link else null_string }} as url_id,
        min(report.email_address) as email_address,
        {{ 'min(report.link_url)' if has_link else null_string }} as link_url,
        {{ 'min(report.bounce_code)' if event_type == 'bounce' else null_string }} as bounce_code,
        {{ 'min(report.opt_out_reason)' if event_type == 'optout' else null_string }} as opt_out_reason,
        max(report.captured_at) as captured_at
    from {{ ref(model) }} as report
    {% if read_new_only %}
    left join held
        on report.account = held.account
        and report.campaign_activity_id = held.campaign_activity_id
        and held.event_type = '{{ event_type }}'
    left join mapped
        on report.account = mapped.account
        and report.campaign_activity_id = mapped.campaign_activity_id
    where held.campaign_activity_id is null
        or coalesce(report.captured_at, {{ cc_epoch() }}) > held.captured_at
        or mapped.campaign_id is distinct from held.campaign_id
    {% else %}
    where {{ batch }}
    {% endif %}
    group by
        report.account,
        report.campaign_activity_id,
        report.contact_id
        {{- ', report.created_time' if keyed_by_time }}
        {{- ', report.device_type' if has_device }}
        {{- ', report.url_id' if has_link }}

),
{% endfor %}

unioned as (
{% for event_type, _, _, _, _ in reports %}
    select * from {{ event_type }}_events
    {{ 'union all' if not loop.last }}
{%- endfor %}

)

select
    {{ dbt.hash(dbt.concat((['events.account', "'|'"] if cc_lake_accounts() else []) + [
        'events.event_type', "'|'", 'events.campaign_activity_id', "'|'", 'events.contact_id', "'|'",
        "case when events.event_type in ('open', 'click', 'forward') then cast(events.created_time as " ~ dbt.type_string() ~ ") else '' end",
        "'|'", "coalesce(events.device_type, '')", "'|'", "coalesce(events.url_id, '')"
    ])) }} as event_id,
    events.account,
    accounts.encoded_account_id,
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
from unioned as events
left join mapped
    on events.account = mapped.account
    and events.campaign_activity_id = mapped.campaign_activity_id
left join {{ ref('dim_accounts') }} as accounts
    on events.account = accounts.account
{{ cc_next_part() if not loop.last }}
{% endfor %}
