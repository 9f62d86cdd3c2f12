with

source as (

    select * from {{ cc_lake_guard(source('constant_contact', 'email_links')) }}

),

renamed as (

    select
        {{ cc_account() }} as account,
        cast(campaign_activity_id as {{ dbt.type_string() }}) as campaign_activity_id,
        cast(url_id as {{ dbt.type_string() }}) as url_id,
        cast(link_url as {{ dbt.type_string() }}) as link_url,
        cast(unique_clicks as {{ dbt.type_bigint() }}) as unique_clicks,
        cast(list_action as {{ dbt.type_string() }}) as list_action,
        cast(list_id as {{ dbt.type_string() }}) as list_id,
        cast(link_tag as {{ dbt.type_string() }}) as link_tag

    from source

)

select * from renamed
