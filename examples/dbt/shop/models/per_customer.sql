select customer, count(*) as n
from {{ ref('orders') }}
group by customer
