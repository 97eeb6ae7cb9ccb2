-- Load one day of sales for a region into the embedded warehouse (DuckDB).
CREATE TABLE IF NOT EXISTS retail_sales (
    day DATE, region VARCHAR, product VARCHAR, quantity INTEGER, price DECIMAL(10, 2)
);
DELETE FROM retail_sales WHERE day = CAST(:day AS DATE) AND region = :region;
INSERT INTO retail_sales
SELECT CAST(:day AS DATE), :region, product, quantity, price
FROM (VALUES
    ('kettle', 3, 24.90), ('toaster', 2, 39.00), ('teapot', 5, 18.50),
    ('mug', 12, 6.00), ('grinder', 1, 79.00)
) AS t(product, quantity, price);
SELECT product, quantity * price AS revenue
FROM retail_sales WHERE day = CAST(:day AS DATE) AND region = :region
ORDER BY revenue DESC;
