with

source as (

    select * from {{ cc_lake_guard(source('constant_contact', 'email_campaign_summaries')) }}

),

renamed as (

    select
        {{ cc_account() }} as account,
        cast(snapshot_date as date) as snapshot_date,
        captured_at,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(campaign_type as {{ dbt.type_string() }}) as campaign_type,
        last_sent_date,
        cast(sends as {{ dbt.type_bigint() }}) as sends,
        cast(opens as {{ dbt.type_bigint() }}) as opens,
        cast(clicks as {{ dbt.type_bigint() }}) as clicks,
        cast(forwards as {{ dbt.type_bigint() }}) as forwards,
        cast(optouts as {{ dbt.type_bigint() }}) as optouts,
        cast(abuse as {{ dbt.type_bigint() }}) as abuse,
        cast(bounces as {{ dbt.type_bigint() }}) as bounces,
        cast(not_opened as {{ dbt.type_bigint() }}) as not_opened,
        cast(aggregate_percents_click as {{ cc_type_double() }}) as aggregate_percents_click,
        cast(aggregate_percents_open as {{ cc_type_double() }}) as aggregate_percents_open,
        cast(aggregate_percents_did_not_open as {{ cc_type_double() }}) as aggregate_percents_did_not_open,
        cast(aggregate_percents_bounce as {{ cc_type_double() }}) as aggregate_percents_bounce,
        cast(aggregate_percents_unsubscribe as {{ cc_type_double() }}) as aggregate_percents_unsubscribe

    from source

)

select * from renamed
