CREATE MATERIALIZED VIEW per_customer AS
SELECT customer, count(*) AS n
FROM raw_orders
GROUP BY customer
