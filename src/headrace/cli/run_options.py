"""The arguments of `headrace run`, parsed without Typer (the start-up fast path, issue 18).

Importing typer and building the whole Typer app costs more than a small run itself, so the
console entry point (`cli.entry`) parses a plain `headrace [-v] run FILE [options]` here with
argparse. The parser accepts a strict subset of what the Typer `run` command accepts and
returns None for anything else (`--help`, a usage error, an unusual spelling): the caller then
hands the arguments to the Typer app, whose help text and error messages stay the only ones.

`RUN_OPTIONS` mirrors the Typer `run` command's options (cli/main.py);
tests/unit/cli/test_run_options.py fails if the two disagree on a name, spelling, type or
bound, and checks that both parse sample command lines to the same values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NoReturn

if TYPE_CHECKING:
    import argparse

# How an option takes its value: a flag, one string (the last one given wins), a repeatable
# string, or an integer >= 1.
OptionKind = Literal["flag", "text", "texts", "count"]


@dataclass(frozen=True)
class RunOption:
    """One option of `headrace run`: its parameter name in the Typer command and spellings."""

    name: str
    spellings: tuple[str, ...]
    kind: OptionKind


RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption("param", ("--param", "-p"), "texts"),
    RunOption("job", ("--job",), "text"),
    RunOption("as_json", ("--json",), "flag"),
    RunOption("quiet", ("--quiet", "-q"), "flag"),
    RunOption("slots", ("--slots",), "count"),
    RunOption("db", ("--db",), "text"),
)
# The root group's options that may come before `run` (everything else goes to Typer).
VERBOSE_SPELLINGS = ("--verbose", "-v")


@dataclass(frozen=True)
class RunArgs:
    """What `headrace [-v] run ...` asked for; the fields are the Typer command's parameters."""

    file: Path
    param: list[str] = field(default_factory=list)
    job: str | None = None
    as_json: bool = False
    quiet: bool = False
    slots: int | None = None
    db: str | None = None
    verbose: bool = False


class _NotPlain(Exception):
    """The command line is not a plain `run`: let the Typer app parse (and explain) it."""


def _parser() -> argparse.ArgumentParser:
    """argparse set up like the Typer command, raising instead of printing usage and exiting."""
    import argparse

    class Strict(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise _NotPlain(message)

    # No abbreviations (click has none) and no -h (help is Typer's).
    parser = Strict(prog="headrace run", add_help=False, allow_abbrev=False)
    parser.add_argument("file")
    for option in RUN_OPTIONS:
        _add(parser, option)
    return parser


def _add(parser: argparse.ArgumentParser, option: RunOption) -> None:
    if option.kind == "flag":
        parser.add_argument(*option.spellings, dest=option.name, action="store_true")
    elif option.kind == "texts":
        parser.add_argument(*option.spellings, dest=option.name, action="append", default=[])
    elif option.kind == "count":
        parser.add_argument(*option.spellings, dest=option.name, type=_count)
    else:
        parser.add_argument(*option.spellings, dest=option.name)


def _count(value: str) -> int:
    """A plain positive integer; '0', '03', '3.0' or '3_000' are Typer's to accept or refuse."""
    if not (value.isascii() and value.isdigit() and value[0] != "0"):
        raise ValueError(value)  # argparse turns this into a usage error: back to Typer
    return int(value)


def _looks_unusual(token: str) -> bool:
    """Spellings where argparse and click could read the same token differently."""
    if token in ("--", "--help"):
        return True
    # `-p=a=b`: argparse reads the value 'a=b', click reads '=a=b'.
    return token.startswith("-") and not token.startswith("--") and "=" in token


def parse_run_args(argv: list[str]) -> RunArgs | None:
    """`headrace [-v|--verbose]... run FILE [options]` as RunArgs, or None for the Typer app."""
    verbose = False
    rest = list(argv)
    while rest and rest[0] in VERBOSE_SPELLINGS:
        verbose = True
        rest.pop(0)
    if not rest or rest[0] != "run":
        return None
    rest = rest[1:]
    if any(_looks_unusual(token) for token in rest):
        return None
    try:
        parsed = _parser().parse_args(rest)
    except _NotPlain:
        return None
    if parsed.file.startswith("-"):  # click would read it as an (unknown) option
        return None
    values = {option.name: getattr(parsed, option.name) for option in RUN_OPTIONS}
    return RunArgs(file=Path(parsed.file), verbose=verbose, **values)


def parse_params(values: list[str]) -> dict[str, str]:
    """`--param NAME=VALUE` values as a dict.

    Raises:
        SpecError: naming every malformed or repeated parameter.
    """
    from headrace.errors import SpecError, SpecIssue

    out: dict[str, str] = {}
    bad = []
    for i, item in enumerate(values):
        name, sep, value = item.partition("=")
        if not sep or not name:
            bad.append(SpecIssue(f"--param[{i}]", f"expected NAME=VALUE, got {item!r}"))
        elif name in out:
            bad.append(SpecIssue(f"--param {name}", "given more than once"))
        else:
            out[name] = value
    if bad:
        raise SpecError(bad)
    return out
