"""The `headrace run` fast path (issue 18) reads exactly what the Typer `run` command reads.

`cli.run_options` parses a plain `headrace run` with argparse so start-up skips Typer; these
tests fail if its options drift from the Typer command's (a name, a spelling, a type, a bound)
or if the two parsers read a command line differently. A command line the fast parser refuses
goes to Typer, so refusing is always safe; accepting one Typer reads otherwise never is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main

from headrace.cli.main import app
from headrace.cli.run_options import (
    RUN_OPTIONS,
    VERBOSE_SPELLINGS,
    RunArgs,
    parse_run_args,
)

ROOT = typer.main.get_command(app)
RUN = ROOT.commands["run"]  # type: ignore[attr-defined]

# How each kind of fast option must look in the Typer command: (annotation, flag, repeatable).
KINDS: dict[str, tuple[Any, bool, bool]] = {
    "flag": (bool, True, False),
    "text": (str, False, False),
    "texts": (list[str], False, True),
    "count": (int, False, False),
}


def _typer_options() -> dict[str, Any]:
    return {p.name: p for p in RUN.params if p.param_type_name == "option"}


def test_fast_options_are_the_typer_run_commands_options() -> None:
    typer_options = _typer_options()
    assert [o.name for o in RUN_OPTIONS] == list(typer_options)
    for option in RUN_OPTIONS:
        param = typer_options[option.name]
        annotation, is_flag, multiple = KINDS[option.kind]
        assert tuple(param.opts) == option.spellings, option.name
        assert param.secondary_opts == [], option.name  # no --no-quiet and the like
        assert param.type_descriptor.annotation == annotation, option.name
        assert (param.is_flag, param.multiple, param.nargs) == (is_flag, multiple, 1), option.name
        assert (param.min, param.max) == ((1, None) if option.kind == "count" else (None, None))
        assert (param.envvar, param.required, param.callback) == (None, False, None), option.name
        assert not param.count and param.prompt is None, option.name


def test_the_file_argument_and_the_root_options_match() -> None:
    [argument] = [p for p in RUN.params if p.param_type_name == "argument"]
    assert (argument.name, argument.required, argument.nargs) == ("file", True, 1)
    assert argument.type_descriptor.annotation is Path
    [verbose] = ROOT.params
    assert (verbose.name, tuple(verbose.opts), verbose.is_flag) == (
        "verbose",
        VERBOSE_SPELLINGS,
        True,
    )
    assert ROOT.context_settings.get("auto_envvar_prefix") is None
    fields = ["file", *(o.name for o in RUN_OPTIONS), "verbose"]
    assert list(RunArgs.__dataclass_fields__) == fields


def _typer_reads(argv: list[str]) -> dict[str, Any] | None:
    """What the Typer command makes of `run ARGV` (None: a usage error or help)."""
    try:
        with RUN.make_context("run", list(argv)) as ctx:
            params = dict(ctx.params)
    except Exception:  # click's UsageError family, or its Exit after printing help
        return None
    params["param"] = list(params["param"] or [])
    return params


def _fast_reads(argv: list[str]) -> dict[str, Any] | None:
    args = parse_run_args(["run", *argv])
    if args is None:
        return None
    read = dict(vars(args))
    assert read.pop("verbose") is False
    return read


ACCEPTED = [
    ["job.yml"],
    ["job.yml", "--quiet", "--json"],
    ["-q", "job.yml"],
    ["job.yml", "-p", "a=1", "--param", "b=2", "--param=c=3", "-pd"],
    ["job.yml", "-qp", "a=1"],
    ["job.yml", "--job", "second", "--job", "third"],
    ["job.yml", "--job=x y", "--db", "sqlite:////tmp/x.db"],
    ["job.yml", "--slots", "3", "--slots=12"],
    ["job.yml", "--param", "-1"],
    ["job.yml", "--job", "-x y"],
    ["job.yml", "--param="],
    ["job.yml", "--db="],
    ["dir/with space.yaml"],
    ["job.yml", "--json", "--json"],
]
# Typer reads these (or refuses them); the fast parser leaves them to Typer either way.
LEFT_TO_TYPER = [
    [],
    ["--help"],
    ["job.yml", "--help"],
    ["-h"],
    ["job.yml", "--slots", "0"],
    ["job.yml", "--slots", "03"],
    ["job.yml", "--slots", "3.0"],
    ["job.yml", "--slots", "3_000"],
    ["job.yml", "--slots", " 3"],
    ["job.yml", "--slots", "-1"],
    ["job.yml", "--slots", "many"],
    ["job.yml", "-p=a=b"],
    ["job.yml", "-pd=4"],
    ["job.yml", "--job", "--quiet"],
    ["job.yml", "--param"],
    ["job.yml", "--qui"],
    ["job.yml", "--quiet=yes"],
    ["job.yml", "--no-quiet"],
    ["job.yml", "other.yml"],
    ["--", "job.yml"],
    ["-5"],
    ["-"],
    ["job.yml", "-v"],
    ["job.yml", "--verbose"],
]


@pytest.mark.parametrize("argv", ACCEPTED, ids=" ".join)
def test_what_the_fast_parser_accepts_typer_reads_the_same(argv: list[str]) -> None:
    fast = _fast_reads(argv)
    assert fast is not None, "a plain run command line should take the fast path"
    assert fast == _typer_reads(argv)


@pytest.mark.parametrize("argv", LEFT_TO_TYPER, ids=" ".join)
def test_unusual_command_lines_go_to_typer(argv: list[str]) -> None:
    assert _fast_reads(argv) is None


def test_only_run_and_root_verbose_take_the_fast_path() -> None:
    assert parse_run_args(["-v", "--verbose", "run", "job.yml"]) == RunArgs(
        Path("job.yml"), verbose=True
    )
    for argv in (
        ["runs", "list"],
        ["validate", "job.yml"],
        ["bundle", "run", "key"],
        ["--help"],
        ["-q", "run", "job.yml"],
        ["RUN", "job.yml"],
        [],
    ):
        assert parse_run_args(argv) is None, argv
