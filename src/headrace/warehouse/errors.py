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
        from headrace.samples.hint import samples_hint

        sample = samples_hint(message or "", statement or "")
        if sample and message:  # a Databricks sample table: say how to get a stand-in
            head, sep, rest = message.partition("\n")  # before DuckDB's "LINE 1:" excerpt
            message = f"{head} ({sample}){sep}{rest}"
        self.db_message = message
        self.statement = statement
        super().__init__(_describe(message, statement, index, count))

    @property
    def summary(self) -> str:
        """One line for the run's `error`: the database's message (no excerpt) and the statement."""
        if self.statement is None:
            return " ".join(str(self).split())
        lines = (self.db_message or "").splitlines()
        # "LINE 1: ..." and the caret under it repeat the statement, quoted after the message.
        cut = next((i for i, line in enumerate(lines) if line.startswith("LINE ")), len(lines))
        head = " ".join(" ".join(lines[:cut]).split())
        where = str(self).rsplit("\n", 1)[-1]
        return f"{head} -- {where}"


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
