{# Generated from cc_assets/defs/metrics/tables.py (the tables' Arrow schemas and descriptions) by `python -m cc_assets.defs.analytics.sources`: edit those and run it again, never this file. #}
with

source as (

    select * from {{ cc_lake_guard(source('email_metrics', 'campaign_engagement')) }}

),

renamed as (

    select
        {{ cc_account() }} as account,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(activities as {{ dbt.type_bigint() }}) as activities,
        cast(sends as {{ dbt.type_bigint() }}) as sends,
        cast(bounces as {{ dbt.type_bigint() }}) as bounces,
        cast(delivered as {{ dbt.type_bigint() }}) as delivered,
        cast(opens as {{ dbt.type_bigint() }}) as opens,
        cast(opens_all as {{ dbt.type_bigint() }}) as opens_all,
        cast(mobile_opens_all as {{ dbt.type_bigint() }}) as mobile_opens_all,
        cast(clicks as {{ dbt.type_bigint() }}) as clicks,
        cast(clicks_all as {{ dbt.type_bigint() }}) as clicks_all,
        cast(mobile_clicks_all as {{ dbt.type_bigint() }}) as mobile_clicks_all,
        cast(forwards as {{ dbt.type_bigint() }}) as forwards,
        cast(optouts as {{ dbt.type_bigint() }}) as optouts,
        cast(not_opened as {{ dbt.type_bigint() }}) as not_opened,
        cast(open_rate as {{ cc_type_double() }}) as open_rate,
        cast(click_rate as {{ cc_type_double() }}) as click_rate,
        cast(click_through_rate as {{ cc_type_double() }}) as click_through_rate,
        cast(bounce_rate as {{ cc_type_double() }}) as bounce_rate,
        cast(did_not_open_rate as {{ cc_type_double() }}) as did_not_open_rate,
        cast(unsubscribe_rate as {{ cc_type_double() }}) as unsubscribe_rate,
        cast(mobile_open_share as {{ cc_type_double() }}) as mobile_open_share,
        cast(desktop_open_share as {{ cc_type_double() }}) as desktop_open_share,
        cast(mobile_click_share as {{ cc_type_double() }}) as mobile_click_share,
        cast(desktop_click_share as {{ cc_type_double() }}) as desktop_click_share,
        first_send_time,
        first_open_time,
        cast(seconds_to_first_open as {{ dbt.type_bigint() }}) as seconds_to_first_open,
        last_event_time,
        computed_at

    from source

)

select * from renamed
