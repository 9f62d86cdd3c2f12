{# Generated from cc_assets/defs/metrics/tables.py (the tables' Arrow schemas and descriptions) by `python -m cc_assets.defs.analytics.sources`: edit those and run it again, never this file. #}
with

source as (

    select * from {{ cc_lake_guard(source('email_metrics', 'activity_link_clicks')) }}

),

renamed as (

    select
        {{ cc_account() }} as account,
        cast(campaign_activity_id as {{ dbt.type_string() }}) as campaign_activity_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(url_id as {{ dbt.type_string() }}) as url_id,
        cast(link_url as {{ dbt.type_string() }}) as link_url,
        cast(unique_clicks as {{ dbt.type_bigint() }}) as unique_clicks,
        cast(clicks_all as {{ dbt.type_bigint() }}) as clicks_all,
        cast(reported_unique_clicks as {{ dbt.type_bigint() }}) as reported_unique_clicks,
        computed_at

    from source

)

select * from renamed
