"""The warehouse's one exception: what the database said and the statement it said it about."""

from __future__ import annotations

from headrace.errors import HeadraceError

# How much of a failing statement an error message quotes.
_QUOTED_STATEMENT_CHARS = 500


class WarehouseError(HeadraceError):
    """The SQL warehouse could not run the SQL."""

    def __init__(
        self,
        message: str | None = None,
        *,
        statement: str | None = None,
        index: int | None = None,
        count: int | None = None,
    ) -> None:
        self.db_message = message
        self.statement = statement
        super().__init__(_describe(message, statement, index, count))

    @property
    def summary(self) -> str:
        """The message on one line (logs and the run's `error` field show one line)."""
        return " ".join(str(self).split())


def _describe(
    message: str | None, statement: str | None, index: int | None, count: int | None
) -> str | None:
    if statement is None:
        return message
    where = "in statement" if index is None else f"in statement {index + 1}"
    if index is not None and count is not None:
        where += f" of {count}"
    quoted = " ".join(statement.split())
    if len(quoted) > _QUOTED_STATEMENT_CHARS:
        quoted = quoted[:_QUOTED_STATEMENT_CHARS] + " ..."
    return f"{message}\n{where}: {quoted}"
