with

source as (

    select * from {{ cc_lake_guard(source('constant_contact', 'email_bounces')) }}

),

renamed as (

    select
        {{ cc_account() }} as account,
        cast(campaign_activity_id as {{ dbt.type_string() }}) as campaign_activity_id,
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        lower(tracking_activity_type) as tracking_activity_type,
        cast(email_address as {{ dbt.type_string() }}) as email_address,
        cast(first_name as {{ dbt.type_string() }}) as first_name,
        cast(last_name as {{ dbt.type_string() }}) as last_name,
        created_time,
        captured_at,
        cast(deleted_at as date) as deleted_at,
        upper(bounce_code) as bounce_code,
        cast(current_email_address as {{ dbt.type_string() }}) as current_email_address

    from source

)

select * from renamed
