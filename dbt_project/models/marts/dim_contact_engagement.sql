{{ config(
    materialized='cc_batched_incremental',
    incremental_strategy='delete+insert',
    unique_key='contact_id',
    on_schema_change='append_new_columns',
) }}
{#
    One row per account x contact that appears in any tracking report: how many activities
    reached, opened, clicked, bounced or were opted out of. A contact is one account's: the
    same id in two accounts is two contacts (v2's are small numbers). Rates are computed by the email_metrics
    assets only (per activity and campaign), never here.

    Built incrementally: a build recomputes (from all of their activities) the contacts that
    int_contact_activities_aggregated recomputed after this table's last build (`built_at`),
    in every account that has a contact of that id (a superset, each recomputed whole: exact).
    So the rows replaced are those of the contact ids (`unique_key`), every account's: a
    table built before it had `account` (read whole once) leaves no row behind.
    A full build groups the contacts in parts (hash buckets of the contact, `cc_hash_batches`).
#}
{%- set incremental = cc_is_incremental() and ['built_at', 'account'] | reject('in', cc_held_columns()) | list == [] -%}
{%- set batches = ['true'] if incremental
    else cc_hash_batches(ref('int_contact_activities_aggregated'), 'contact_id') -%}

{% for batch in batches %}
with

per_activity as (

    select * from {{ ref('int_contact_activities_aggregated') }}
    {% if incremental %}
    where contact_id in (
        select contact_id from {{ ref('int_contact_activities_aggregated') }}
        where built_at > (select max(built_at) from {{ this }})
    )
    {% endif %}

),

per_contact as (

    select
        account,
        contact_id,
        sum(case when event_type = 'send' then 1 else 0 end) as activities_sent,
        sum(case when event_type = 'bounce' then 1 else 0 end) as activities_bounced,
        sum(case when event_type = 'open' then 1 else 0 end) as activities_opened,
        sum(case when event_type = 'click' then 1 else 0 end) as activities_clicked,
        sum(case when event_type = 'forward' then 1 else 0 end) as activities_forwarded,
        sum(case when event_type = 'optout' then 1 else 0 end) as activities_opted_out,
        sum(case when event_type = 'open' then events else 0 end) as opens_all,
        sum(case when event_type = 'click' then events else 0 end) as clicks_all,
        min(first_time) as first_event_time,
        max(last_time) as last_event_time,
        {{ cc_latest('email_address', 'last_time') }} as email_address
    from per_activity
    where {{ batch }}
    group by account, contact_id

),

counted as (

    select
        per_contact.account,
        accounts.encoded_account_id,
        contact_id,
        email_address,
        cast(activities_sent as {{ dbt.type_bigint() }}) as activities_sent,
        cast(activities_bounced as {{ dbt.type_bigint() }}) as activities_bounced,
        cast(activities_sent - activities_bounced as {{ dbt.type_bigint() }})
            as activities_delivered,
        cast(activities_opened as {{ dbt.type_bigint() }}) as activities_opened,
        cast(activities_clicked as {{ dbt.type_bigint() }}) as activities_clicked,
        cast(activities_forwarded as {{ dbt.type_bigint() }}) as activities_forwarded,
        cast(activities_opted_out as {{ dbt.type_bigint() }}) as activities_opted_out,
        cast(opens_all as {{ dbt.type_bigint() }}) as opens_all,
        cast(clicks_all as {{ dbt.type_bigint() }}) as clicks_all,
        activities_opted_out > 0 as has_opted_out,
        first_event_time,
        last_event_time,
        {{ cc_built_at() }} as built_at
    from per_contact
    left join {{ ref('dim_accounts') }} as accounts
        on per_contact.account = accounts.account

)

select * from counted
{{ cc_next_part() if not loop.last }}
{% endfor %}
