"""Checking task parameters against the markers the SQL names, before anything runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from headrace.warehouse.errors import WarehouseError


def check_given(names: Iterable[str], parameters: Mapping[str, str]) -> None:
    """Raise when the SQL names a parameter the task does not give.

    Raises:
        WarehouseError: naming every missing parameter and the ones that were given.
    """
    missing = [n for n in names if n not in parameters]
    if not missing:
        return
    given = ", ".join(sorted(parameters)) or "none"
    listed = ", ".join(f":{n}" for n in missing)
    raise WarehouseError(
        f"the SQL uses parameter{'s' if len(missing) != 1 else ''} {listed} but the task "
        f"does not give {'them' if len(missing) != 1 else 'it'} (given: {given}); "
        "add it to sql_task.parameters or the job's parameters"
    )
