-- Ten orders of three customers (a stand-in for a source table).
select id, id % 3 as customer
from (values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) as t(id)
