with

source as (

    select * from {{ cc_lake_guard(source('constant_contact', 'account_summary')) }}

),

renamed as (

    select
        {{ cc_account() }} as account,
        cast(snapshot_date as date) as snapshot_date,
        captured_at,
        cast(encoded_account_id as {{ dbt.type_string() }}) as encoded_account_id,
        cast(organization_name as {{ dbt.type_string() }}) as organization_name

    from source

)

select * from renamed
