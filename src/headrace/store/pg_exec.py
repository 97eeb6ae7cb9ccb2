"""One SQL text statement on a psycopg connection, with the protocol steps of psycopg's
`Cursor.execute` and ~20 us less Python (issue 18: a task's end is ~7 statements and the
worker's Python is the throughput bench's largest CPU share).

What `Cursor.execute` does and this keeps: the BEGIN psycopg sends before a transaction's
first statement (not in autocommit), the conversion of `%(name)s` placeholders (psycopg's own
cached converter), the dumping of parameters (psycopg's C transformer), the connection's
prepared-statement manager (the same threshold, names, cache size and clearing after a
ROLLBACK or DDL, shared with the cursors SQLAlchemy opens on the connection), the connection
lock, `Connection.wait` (Ctrl-C cancels the query), psycopg's exceptions from a failed result.
What it skips: a cursor's state (results list, position, row maker, transformer per query),
`PostgresQuery` per statement, nested generators per statement.

It leans on psycopg internals (`_queries._query2pg`, `Connection._prepared`,
`Connection._start_query`, `errors.error_from_result`), pinned by pyproject.toml (<4):
`AVAILABLE` is False if any is missing, and store/pg.py then runs statements on a cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from psycopg import errors, pq
from psycopg.adapt import Transformer
from psycopg.generators import execute as _send_and_fetch

from headrace.store.sql import row_class

try:
    from psycopg._preparing import Prepare
    from psycopg._queries import _query2pg

    _NO, _SHOULD = Prepare.NO, Prepare.SHOULD
    AVAILABLE = hasattr(errors, "error_from_result")
except ImportError:  # another psycopg: the cursor path
    AVAILABLE = False


def usable(raw: Any) -> bool:
    """Whether a Runner can run on this psycopg connection (this psycopg's internals)."""
    return (
        AVAILABLE
        and all(hasattr(raw, name) for name in ("_prepared", "_start_query", "lock", "wait"))
        and hasattr(raw.pgconn, "_encoding")
    )


_IDLE = pq.TransactionStatus.IDLE
_TUPLES_OK = pq.ExecStatus.TUPLES_OK
_COMMAND_OK = pq.ExecStatus.COMMAND_OK
_EMPTY_QUERY = pq.ExecStatus.EMPTY_QUERY
_FATAL_ERROR = pq.ExecStatus.FATAL_ERROR
_ALLOWED = (_TUPLES_OK, _COMMAND_OK, _EMPTY_QUERY, pq.ExecStatus.COPY_BOTH)

# Row makers by the result's column names as libpq gives them (bytes): reading the names
# from the result costs ~2 us for 33 columns, psycopg's `description` builds an object per
# column. Keyed on the names, not the SQL text: one `SELECT *` may name its columns in
# another order in another database (a migrated table has its added columns last).
_ROW_MAKERS: dict[tuple[bytes, ...], Callable[[Any], Any]] = {}


def row_maker(result: Any, encoding: str) -> Callable[[Any], Any]:
    """How psycopg's C row loader makes each row: it builds a tuple and calls this, a C
    call (`tuple.__new__(RowClass, values)`), no Python frame per row."""
    fields = result.nfields
    names = tuple([result.fname(i) for i in range(fields)])
    make = _ROW_MAKERS.get(names)
    if make is None:
        make = partial(tuple.__new__, row_class(tuple(n.decode(encoding) for n in names)))
        if len(_ROW_MAKERS) < 4096:  # statements are few; a bound all the same
            _ROW_MAKERS[names] = make
    return make


class _Key:
    """What the prepared-statement manager reads of a query: its text and parameter types."""

    __slots__ = ("query", "types")

    def __init__(self) -> None:
        self.query = b""
        self.types: tuple[int, ...] = ()


class Runner:
    """Runs statements on one psycopg connection (kept in the pooled connection's `info`)."""

    __slots__ = ("_converted", "_key", "_tx", "pgconn", "raw")

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.pgconn = raw.pgconn
        self._tx = Transformer(raw)  # caches a dumper per Python type for the connection
        self._key = _Key()
        # Per SQL text (the same object each time, store/pg.py caches them): the text with
        # $n placeholders, the wanted format of each, the parameter names in $n order.
        self._converted: dict[bytes | str, tuple[bytes, list[Any], list[str] | None]] = {}

    def run(self, sql: bytes | str, params: Mapping[str, Any]) -> tuple[int, list[Any]]:
        """Run `sql` (`%(name)s` placeholders) with `params`: (row count, rows)."""
        raw, pgconn = self.raw, self.pgconn
        converted = self._converted.get(sql)
        if converted is None:
            converted = self._convert(sql)
        query, formats, order = converted
        if order:
            try:
                values = [params[name] for name in order]
            except KeyError:
                missing = ", ".join(sorted(n for n in order if n not in params))
                raise errors.ProgrammingError(f"query parameter missing: {missing}") from None
        else:
            values = None
        with raw.lock:
            if not raw.autocommit and pgconn.transaction_status == _IDLE:
                raw.wait(raw._start_query())  # BEGIN, as psycopg sends it
            tx = self._tx
            if values:
                dumped: Any = tx.dump_sequence(values, formats)
                key = self._key
                key.query, key.types = query, tx.types or ()
                types, param_formats = key.types, tx.formats
            else:
                dumped, types, param_formats = None, (), None
                key = self._key
                key.query, key.types = query, ()
            prepared = raw._prepared
            prep, name = prepared.get(key)
            if prep is _NO:
                if dumped:
                    pgconn.send_query_params(
                        query, dumped, param_formats=param_formats, param_types=types
                    )
                else:  # the simple protocol, as psycopg uses it without parameters
                    pgconn.send_query(query)
            else:
                if prep is _SHOULD:
                    pgconn.send_prepare(name, query, param_types=types)
                    for result in raw.wait(_send_and_fetch(pgconn)):
                        if result.status == _FATAL_ERROR:
                            raise errors.error_from_result(result, encoding=pgconn._encoding)
                pgconn.send_query_prepared(name, dumped, param_formats=param_formats)
            cache_key = prepared.maybe_add_to_cache(key, prep, name)
            results = raw.wait(_send_and_fetch(pgconn))
            if not results:
                raise errors.InternalError("got no result from the query")
            if cache_key is not None:
                prepared.validate(cache_key, prep, name, results)
            for result in results:
                if result.status not in _ALLOWED:
                    self._raise_for(result)
            if prepared._to_flush:  # DEALLOCATE of evicted statements, as psycopg does next
                raw.wait(prepared.maintain_gen(raw))
            result = results[0]
            if result.status != _TUPLES_OK:
                count = result.command_tuples
                return (count if count is not None else -1), []
            rows = result.ntuples
            if not result.nfields:
                return rows, []
            tx.set_pgresult(result)
            return rows, tx.load_rows(0, rows, row_maker(result, pgconn._encoding))

    def _convert(self, sql: bytes | str) -> tuple[bytes, list[Any], list[str] | None]:
        text = sql if isinstance(sql, bytes) else sql.encode(self.pgconn._encoding)
        query, formats, order, _parts = _query2pg(text, self.pgconn._encoding)
        if len(self._converted) >= 2048:  # texts are few; a bound all the same
            self._converted.clear()
        self._converted[sql] = converted = (query, formats, order)
        return converted

    def _raise_for(self, result: Any) -> None:
        """psycopg's exception for a result a statement must not give (Cursor's words)."""
        if result.status == _FATAL_ERROR:
            raise errors.error_from_result(result, encoding=self.pgconn._encoding)
        status = pq.ExecStatus(result.status).name
        if status.startswith("COPY"):
            raise errors.ProgrammingError(
                "COPY cannot be used with this method; use copy() instead"
            )
        raise errors.InternalError(f"unexpected result status from query: {status}")
