with

source as (

    select * from {{ cc_lake_guard(source('constant_contact', 'email_campaign_stats')) }}

),

renamed as (

    select
        {{ cc_account() }} as account,
        cast(snapshot_date as date) as snapshot_date,
        captured_at,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        last_refresh_time,
        cast(em_bounces as {{ dbt.type_bigint() }}) as em_bounces,
        cast(em_clicks as {{ dbt.type_bigint() }}) as em_clicks,
        cast(em_clicks_all as {{ dbt.type_bigint() }}) as em_clicks_all,
        cast(em_clicks_all_computer as {{ dbt.type_bigint() }}) as em_clicks_all_computer,
        cast(em_clicks_all_mobile as {{ dbt.type_bigint() }}) as em_clicks_all_mobile,
        cast(em_clicks_all_tablet as {{ dbt.type_bigint() }}) as em_clicks_all_tablet,
        cast(em_clicks_all_other as {{ dbt.type_bigint() }}) as em_clicks_all_other,
        cast(em_clicks_all_none as {{ dbt.type_bigint() }}) as em_clicks_all_none,
        cast(em_forwards as {{ dbt.type_bigint() }}) as em_forwards,
        cast(em_not_opened as {{ dbt.type_bigint() }}) as em_not_opened,
        cast(em_opens as {{ dbt.type_bigint() }}) as em_opens,
        cast(em_opens_all as {{ dbt.type_bigint() }}) as em_opens_all,
        cast(em_opens_all_computer as {{ dbt.type_bigint() }}) as em_opens_all_computer,
        cast(em_opens_all_mobile as {{ dbt.type_bigint() }}) as em_opens_all_mobile,
        cast(em_opens_all_tablet as {{ dbt.type_bigint() }}) as em_opens_all_tablet,
        cast(em_opens_all_other as {{ dbt.type_bigint() }}) as em_opens_all_other,
        cast(em_opens_all_none as {{ dbt.type_bigint() }}) as em_opens_all_none,
        cast(em_optouts as {{ dbt.type_bigint() }}) as em_optouts,
        cast(em_sends as {{ dbt.type_bigint() }}) as em_sends,
        cast(percents_bounce as {{ cc_type_double() }}) as percents_bounce,
        cast(percents_click as {{ cc_type_double() }}) as percents_click,
        cast(percents_desktop_click as {{ cc_type_double() }}) as percents_desktop_click,
        cast(percents_desktop_open as {{ cc_type_double() }}) as percents_desktop_open,
        cast(percents_did_not_open as {{ cc_type_double() }}) as percents_did_not_open,
        cast(percents_mobile_click as {{ cc_type_double() }}) as percents_mobile_click,
        cast(percents_mobile_open as {{ cc_type_double() }}) as percents_mobile_open,
        cast(percents_open as {{ cc_type_double() }}) as percents_open,
        cast(percents_unsubscribe as {{ cc_type_double() }}) as percents_unsubscribe

    from source

)

select * from renamed
