with

source as (

    select * from {{ cc_lake_guard(source('constant_contact', 'email_campaign_activity_stats')) }}

),

renamed as (

    select
        {{ cc_account() }} as account,
        cast(snapshot_date as date) as snapshot_date,
        captured_at,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(campaign_activity_id as {{ dbt.type_string() }}) as campaign_activity_id,
        last_refresh_time,
        cast(campaign_activity_type as {{ dbt.type_int() }}) as campaign_activity_type,
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
        cast(em_abuse as {{ dbt.type_bigint() }}) as em_abuse,
        cast(em_bounces_blocked as {{ dbt.type_bigint() }}) as em_bounces_blocked,
        cast(em_bounces_mailbox_full as {{ dbt.type_bigint() }}) as em_bounces_mailbox_full,
        cast(em_bounces_nonexistent_address as {{ dbt.type_bigint() }}) as em_bounces_nonexistent_address,
        cast(em_bounces_other as {{ dbt.type_bigint() }}) as em_bounces_other,
        cast(em_bounces_suspended as {{ dbt.type_bigint() }}) as em_bounces_suspended,
        cast(em_bounces_undeliverable as {{ dbt.type_bigint() }}) as em_bounces_undeliverable,
        cast(em_bounces_vacation as {{ dbt.type_bigint() }}) as em_bounces_vacation

    from source

)

select * from renamed
