with

source as (

    select * from {{ cc_lake_guard(source('constant_contact', 'email_campaigns')) }}

),

renamed as (

    select
        {{ cc_account() }} as account,
        cast(snapshot_date as date) as snapshot_date,
        captured_at,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(name as {{ dbt.type_string() }}) as name,
        -- the list says Done, the live API's detail DONE: one spelling, title case (one word)
        upper(substring(cast(current_status as {{ dbt.type_string() }}), 1, 1))
            || lower(substring(cast(current_status as {{ dbt.type_string() }}), 2)) as current_status,
        cast(type as {{ dbt.type_string() }}) as type,
        cast(type_code as {{ dbt.type_bigint() }}) as type_code,
        created_at,
        updated_at,
        cast(campaign_activity_id as {{ dbt.type_string() }}) as campaign_activity_id,
        cast(role as {{ dbt.type_string() }}) as role,
        cast(activity_status as {{ dbt.type_string() }}) as activity_status,
        cast(subject as {{ dbt.type_string() }}) as subject,
        cast(from_name as {{ dbt.type_string() }}) as from_name,
        cast(from_email as {{ dbt.type_string() }}) as from_email,
        cast(reply_to_email as {{ dbt.type_string() }}) as reply_to_email,
        sent_time

    from source

)

select * from renamed
