{#
    One row per Constant Contact account the lake holds: its name in cc_assets and its identity
    as its newest account_summary snapshot gives it. Every mart joins its encoded_account_id
    from here, by the account name every row carries.
#}
with

ranked as (

    select
        account,
        encoded_account_id,
        organization_name,
        snapshot_date,
        row_number() over (
            partition by account
            order by snapshot_date desc, captured_at desc
        ) as recency
    from {{ ref('stg_constant_contact__account_summary') }}

)

select
    account,
    encoded_account_id,
    organization_name,
    snapshot_date as identity_snapshot_date
from ranked
where recency = 1
