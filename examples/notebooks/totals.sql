-- Per-region totals of one day (the `day` parameter is bound, never formatted in).
CREATE OR REPLACE TABLE daily_totals AS
  SELECT region, count(*) AS orders, sum(amount) AS amount
  FROM orders
  WHERE day = CAST(:day AS DATE)
  GROUP BY region;
SELECT * FROM daily_totals ORDER BY region;
