{# Generated from cc_assets/defs/metrics/tables.py (the tables' Arrow schemas and descriptions) by `python -m cc_assets.defs.analytics.sources`: edit those and run it again, never this file. #}
with

source as (

    select * from {{ cc_lake_guard(source('email_metrics', 'activity_engagement_curve')) }}

),

renamed as (

    select
        {{ cc_account() }} as account,
        cast(campaign_activity_id as {{ dbt.type_string() }}) as campaign_activity_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(hours_since_send as {{ dbt.type_int() }}) as hours_since_send,
        cast(cumulative_unique_opens as {{ dbt.type_bigint() }}) as cumulative_unique_opens,
        cast(cumulative_unique_clicks as {{ dbt.type_bigint() }}) as cumulative_unique_clicks,
        computed_at

    from source

)

select * from renamed
