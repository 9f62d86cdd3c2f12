{# Generated from cc_assets/defs/metrics/tables.py (the tables' Arrow schemas and descriptions) by `python -m cc_assets.defs.analytics.sources`: edit those and run it again, never this file. #}
with

source as (

    select * from {{ cc_lake_guard(source('email_metrics', 'activity_device_breakdown')) }}

),

renamed as (

    select
        {{ cc_account() }} as account,
        cast(campaign_activity_id as {{ dbt.type_string() }}) as campaign_activity_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(device_type as {{ dbt.type_string() }}) as device_type,
        cast(events as {{ dbt.type_bigint() }}) as events,
        cast(contacts as {{ dbt.type_bigint() }}) as contacts,
        cast(share_percent as {{ cc_type_double() }}) as share_percent,
        computed_at

    from source

)

select * from renamed
