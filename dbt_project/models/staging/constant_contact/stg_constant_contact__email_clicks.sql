with

source as (

    select * from {{ cc_lake_guard(source('constant_contact', 'email_clicks')) }}

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
        cast(url_id as {{ dbt.type_string() }}) as url_id,
        cast(link_url as {{ dbt.type_string() }}) as link_url,
        coalesce(lower(device_type), 'none') as device_type

    from source

)

select * from renamed
