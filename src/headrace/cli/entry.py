"""The `headrace` console entry point: a plain `headrace run` starts without Typer (issue 18).

Importing typer and building the Typer app with every command group costs ~0.13 s, more than a
small run takes, so `headrace [-v] run FILE [options]` is parsed by `cli.run_options` and run
here under the same error boundary (`cli.boundary`). Everything else — other commands,
`--help`, a usage error, an unusual spelling — goes to the Typer app in `cli.main`, whose help
text and error messages stay the only ones.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from headrace.cli.boundary import INTERRUPTED_EXIT_CODE, Verbosity, leave, report
from headrace.cli.run_options import RunArgs, parse_run_args


def main() -> NoReturn:
    """Console entry point (`headrace`, `python -m headrace`); leaves with the exit code."""
    args = parse_run_args(sys.argv[1:])
    if args is None:
        from headrace.cli.main import main as typer_main

        typer_main()
    leave(run(args))


def run(args: RunArgs) -> int:
    """`headrace run` without Typer: the exit code of the run's result, or of its error."""
    Verbosity.verbose = args.verbose
    try:
        from headrace.cli.run_command import run_file

        return run_file(args)
    except KeyboardInterrupt:  # as Typer ends it: Ctrl-C before the run's own handler is set
        return INTERRUPTED_EXIT_CODE
    except Exception as exc:
        return report(exc)
