"""How a command ends: an error becomes one line and an exit code; a run's result its code.

Shared by the Typer app (`cli.main._ErrorBoundary`) and the `run` fast path (`cli.entry`), so a
failing `headrace run` reads the same whichever path parsed its arguments. Importing this
module must stay cheap: it is on the start-up path of every command.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import NoReturn

from headrace.errors import HeadraceError

# Exit codes of `headrace run` / `runs repair` / `bundle run` by run result (in the README).
RESULT_EXIT_CODES = {
    "SUCCESS": 0,
    "FAILED": 1,
    "TIMEDOUT": 10,
    "CANCELED": 11,
    "SUCCESS_WITH_FAILURES": 12,
    "MAXIMUM_CONCURRENT_RUNS_REACHED": 13,
}
INTERRUPTED_EXIT_CODE = 130


def run_exit_code(result: str, interrupted: bool) -> int:
    """The exit code of a command that waited for a run: 130 if Ctrl-C stopped it."""
    return INTERRUPTED_EXIT_CODE if interrupted else RESULT_EXIT_CODES.get(result, 1)


class Verbosity:
    """Set once by the root `--verbose`/`-v` option: errors then print their traceback too."""

    verbose = False


def report(exc: BaseException) -> int:
    """Print the cause in one line (the traceback with --verbose); return the exit code."""
    if Verbosity.verbose:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, HeadraceError):
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    module = type(exc).__module__
    if module.startswith(("sqlalchemy", "sqlite3")):
        from headrace.store.health import problem

        broken = problem(exc)
        if broken is not None:  # a full disk, a corrupt or deleted store: say so in one line
            print(f"error: {broken}", file=sys.stderr)
            return 1
    kind = type(exc).__name__
    where = "the database" if module.startswith(("sqlalchemy", "sqlite3")) else "Headrace"
    detail = str(exc).splitlines()[0] if str(exc) else kind
    hint = "" if Verbosity.verbose else " (run with -v for the traceback)"
    print(f"error: {where} failed: {kind}: {detail}{hint}", file=sys.stderr)
    return 1


def leave(code: int) -> NoReturn:
    """Flush and exit without interpreter teardown.

    Every state change is committed by the time a command returns, so tearing down ~300
    imported modules (about 0.1 s, more than a small run takes) buys nothing.
    """
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (`headrace runs list | head`) has no reader left to flush to.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
