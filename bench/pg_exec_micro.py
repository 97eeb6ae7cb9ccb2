"""Python CPU per SQL text statement and per transaction of a PgStore, in one process (issue 18).

A fresh PostgreSQL schema (dropped afterwards) with one table of 1,000 rows. Each turn runs
`--n` statements, 7 per `store.begin()` transaction (6 `UPDATE .. RETURNING *` of 8
parameters, read as rows, and 1 `UPDATE .. WHERE id IN :ids AND state IN :states`: two list
parameters), as a task's end does, with statements run on the connection's Runner
(store/pg_exec.py) and, for comparison, with the Runner off (the reused cursor of store/pg.py).
Then empty transactions: `store.begin()` and `store.read()` with one `SELECT 1`. Turns take
turns so both paths see the same load; medians of `--repeat`. CPU is this process's only (the
backend's is not counted).

    python bench/pg_exec_micro.py [--n 2100] [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable

PG_URL = os.environ.get("HEADRACE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

UPDATE = (
    "UPDATE probe SET state = :state, n = n + :n, v = :v, a = :a, b = :b, c = :c, d = :d"
    " WHERE id = :id RETURNING *"
)
LISTS = "UPDATE probe SET n = n + 1 WHERE id IN :ids AND state IN :states"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2100, help="statements per turn")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    import psycopg

    from headrace.store import pg_exec
    from headrace.store.pg import PgStore

    schema = f"hr_exec_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    driver = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    sep = "&" if "?" in driver else "?"
    store = PgStore(f"{driver}{sep}options=-csearch_path%3D{schema}")
    try:
        with store.begin() as tx:
            tx.execute(
                "CREATE TABLE probe (id BIGINT PRIMARY KEY, state TEXT, n INTEGER, v TEXT,"
                " a TEXT, b BIGINT, c BIGINT, d TEXT)"
            )
            tx.execute(
                "INSERT INTO probe SELECT g, 'PENDING', 0, 'x' FROM generate_series(1, 1000) g"
            )

        def statements(n: int) -> None:
            for i in range(0, n, 7):
                with store.begin() as tx:
                    for j in range(6):
                        params = {"state": "RUNNING", "n": 1, "v": "abc", "id": (i + j) % 1000 + 1}
                        params.update(a=None, b=1234567, c=12, d="zzz")
                        tx.execute(UPDATE, params).all()
                    tx.execute(LISTS, {"ids": [1, 2, 3, 4, 5], "states": ["RUNNING", "PENDING"]})

        def begins(n: int) -> None:
            for _ in range(n):
                with store.begin() as tx:
                    tx.execute("SELECT 1")

        def reads(n: int) -> None:
            for _ in range(n):
                with store.read() as tx:
                    tx.execute("SELECT 1")

        turns: dict[str, tuple[bool, Callable[[int], None]]] = {
            "statement, Runner": (True, statements),
            "statement, cursor": (False, statements),
            "begin() + SELECT 1": (True, begins),
            "read() + SELECT 1": (True, reads),
        }
        results: dict[str, list[float]] = {name: [] for name in turns}
        for _ in range(args.repeat):
            for name, (runner, turn) in turns.items():
                pg_exec.AVAILABLE = runner
                store.dispose()  # new connections: the Runner (or not) is chosen per connection
                turn(140)  # warm-up: connections, prepared statements
                cpu = time.process_time()
                turn(args.n)
                results[name].append((time.process_time() - cpu) / args.n * 1e6)
        load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"Python CPU, median of {args.repeat} turns of {args.n}, load {load}")
        for name, values in results.items():
            print(f"  {name:20s} {statistics.median(values):6.1f} us (min {min(values):.1f})")
        print("  (statements: per statement, their transactions' BEGIN and COMMIT included)")
    finally:
        pg_exec.AVAILABLE = True
        store.dispose()
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
