with

source as (

    select * from {{ cc_lake_guard(source('constant_contact', 'contact_activity_details')) }}

),

renamed as (

    select
        {{ cc_account() }} as account,
        cast(snapshot_date as date) as snapshot_date,
        captured_at,
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        cast(campaign_activity_id as {{ dbt.type_string() }}) as campaign_activity_id,
        lower(tracking_activity_type) as tracking_activity_type,
        created_time,
        cast(campaign_activity_name as {{ dbt.type_string() }}) as campaign_activity_name

    from source

)

select * from renamed
