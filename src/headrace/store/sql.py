"""The transaction the store's query functions take (`Tx`), without importing SQLAlchemy.

A SQLite store runs its statements through the stdlib `sqlite3` module: importing SQLAlchemy
costs more than a one-task `headrace run` may take in all (issue 18). Query functions on the
hot path therefore write plain SQL strings with `:name` parameters, which SQLite and PostgreSQL
both read the same way; anything else may still pass a SQLAlchemy construct, which a SQLite
transaction hands to SQLAlchemy inside the same transaction (`store/db.py`, the bridge).

    row = tx.execute("SELECT * FROM runs WHERE run_id = :id", {"id": 7}).first()

A list or tuple parameter stands for an `IN (...)` list: `WHERE x IN :keys` becomes
`WHERE x IN (:keys_0, :keys_1)` (see `expand`). Never pass an empty one to `NOT IN`.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, Protocol

# A statement: SQL text, or (off the hot path) a SQLAlchemy construct.
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


class Tx(Protocol):
    """One store transaction: what `Store.begin()` and `Store.read()` yield."""

    info: dict[str, Any]

    def execute(self, statement: Any, params: Params = None) -> Any:
        """Run `statement` (SQL text with :name parameters, or a SQLAlchemy construct)."""
        ...


class Dialect:
    """What code asks of `conn.dialect` (its name), as SQLAlchemy's connections answer."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


SQLITE = Dialect("sqlite")


def expand(sql: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """`IN :name` with a list value -> `IN (:name__0, ...)`, parameters spread to match (an
    empty list -> `IN (NULL)`, true of no row)."""
    lists = [k for k, v in params.items() if isinstance(v, list | tuple)]
    if not lists:
        return sql, dict(params)
    flat = {k: v for k, v in params.items() if k not in lists}
    for key in lists:
        values = params[key]
        names = [f"{key}__{i}" for i in range(len(values))]
        flat.update(zip(names, values, strict=True))
        inner = ", ".join(f":{n}" for n in names) if names else "NULL"
        sql = re.sub(rf"(?<![:\w]):{key}\b", f"({inner})", sql)
    return sql, flat


def insert_sql(table: str, columns: Sequence[str], returning: str | None = None) -> str:
    """`INSERT INTO table (a, b) VALUES (:a, :b)`, columns quoted ("current" is a keyword)."""
    return _insert_sql(table, tuple(columns), returning)


@lru_cache(maxsize=256)
def _insert_sql(table: str, columns: tuple[str, ...], returning: str | None) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join(f":{c}" for c in columns)
    tail = f" RETURNING {returning}" if returning else ""
    return f"INSERT INTO {table} ({names}) VALUES ({values}){tail}"


def set_clause(values: Mapping[str, Any]) -> str:
    """`"a" = :a, "b" = :b` for an UPDATE of `values`' columns."""
    return _set_clause(tuple(values))


@lru_cache(maxsize=512)
def _set_clause(columns: tuple[str, ...]) -> str:
    return ", ".join(f'"{c}" = :{c}' for c in columns)


# --- results of the sqlite3 path -------------------------------------------------------------


class _RowBase(tuple):  # type: ignore[type-arg]
    __slots__ = ()
    _keys: tuple[str, ...] = ()

    @property
    def _mapping(self) -> dict[str, Any]:
        return dict(zip(self._keys, self, strict=True))

    def _asdict(self) -> dict[str, Any]:
        return self._mapping


@lru_cache(maxsize=512)
def row_class(names: tuple[str, ...]) -> type:
    """A tuple class with attribute access and `._mapping`, like SQLAlchemy's Row."""
    base = namedtuple("Row", names, rename=True)  # type: ignore[misc]  # "count(*)" is no name
    return type("Row", (base, _RowBase), {"__slots__": (), "_keys": names})


class Result:
    """The rows of one sqlite3 statement, with the SQLAlchemy Result methods the store uses."""

    __slots__ = ("_cls", "_cursor", "_rows", "rowcount")

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self.rowcount = cursor.rowcount
        description = cursor.description
        self._cls = row_class(tuple(d[0] for d in description)) if description else None
        self._rows: list[Any] | None = None

    def _fetch(self) -> list[Any]:
        if self._rows is None:
            if self._cls is None:
                self._rows = []
            else:
                make = self._cls._make
                self._rows = [make(r) for r in self._cursor.fetchall()]
            self._cursor.close()
        return self._rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._fetch())

    def all(self) -> list[Any]:
        return self._fetch()

    fetchall = all

    def first(self) -> Any:
        rows = self._fetch()
        return rows[0] if rows else None

    fetchone = first

    def one_or_none(self) -> Any:
        rows = self._fetch()
        if len(rows) > 1:
            raise LookupError("more than one row where one was expected")
        return rows[0] if rows else None

    def one(self) -> Any:
        row = self.one_or_none()
        if row is None:
            raise LookupError("no row where one was expected")
        return row

    def scalar(self) -> Any:
        row = self.first()
        return None if row is None else row[0]

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalars(self) -> _Listing:
        return _Listing([r[0] for r in self._fetch()])

    def mappings(self) -> _Listing:
        return _Listing([r._mapping for r in self._fetch()])


class _Listing(list):  # type: ignore[type-arg]
    """What `scalars()` and `mappings()` return: a list with `all()`, `first()`, `one()`."""

    def all(self) -> list[Any]:
        return list(self)

    def first(self) -> Any:
        return self[0] if self else None

    def one(self) -> Any:
        if len(self) != 1:
            raise LookupError(f"{len(self)} rows where one was expected")
        return self[0]

    def one_or_none(self) -> Any:
        if len(self) > 1:
            raise LookupError("more than one row where one was expected")
        return self[0] if self else None
