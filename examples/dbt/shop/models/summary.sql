{{ config(materialized='table') }}
select count(*) as customers, sum(n) as orders
from {{ ref('per_customer') }}
