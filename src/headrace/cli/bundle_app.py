"""`headrace bundle validate | deploy | destroy | summary | run` (Databricks Asset Bundles);
the work is in `cli/bundle_commands.py`, imported when a command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from headrace.cli.boundary import run_exit_code
from headrace.cli.options import (
    DbOption,
    JsonOption,
    ParamOption,
    QuietOption,
    SlotsOption,
    parse_params,
)

bundle_app = typer.Typer(
    help="Databricks Asset Bundles (databricks.yml): validate, run, deploy, destroy, summary.",
    no_args_is_help=True,
)

TargetOption = Annotated[
    str | None, typer.Option("--target", "-t", help="Bundle target (default: the default one).")
]
VarOption = Annotated[
    list[str] | None,
    typer.Option("--var", help="Bundle variable NAME=VALUE (repeatable; env BUNDLE_VAR_<name>)."),
]
BundlePathOption = Annotated[
    Path | None,
    typer.Option("--path", help="databricks.yml or its folder (default: found from here up)."),
]


@bundle_app.command("validate")
def bundle_validate(
    target: TargetOption = None,
    var: VarOption = None,
    path: BundlePathOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the resolved bundle.")] = False,
) -> None:
    """Check the bundle for a target; print every error with its file and line (exit 2)."""
    from headrace.cli.bundle_commands import parse_vars, validate_bundle

    validate_bundle(path, target, parse_vars(var or []), as_json)


ServerOption = Annotated[
    str | None,
    typer.Option("--server", help="Server URL (env DATABRICKS_HOST).", show_default=False),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", help="API token (env DATABRICKS_TOKEN).", show_default=False),
]
ForceLockOption = Annotated[
    bool, typer.Option("--force-lock", help="Take the deployment lock even if it is held.")
]


@bundle_app.command("deploy")
def bundle_deploy(
    target: TargetOption = None,
    var: VarOption = None,
    path: BundlePathOption = None,
    server: ServerOption = None,
    token: TokenOption = None,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Delete jobs the bundle dropped, no question.")
    ] = False,
    force_lock: ForceLockOption = False,
) -> None:
    """Create or update the target's jobs on a server (idempotent), uploading the files."""
    from headrace.cli.bundle_commands import deploy, parse_vars

    deploy(
        path,
        target=target,
        variables=parse_vars(var or []),
        server=server,
        token=token,
        auto_approve=auto_approve,
        force_lock=force_lock,
    )


@bundle_app.command("destroy")
def bundle_destroy(
    target: TargetOption = None,
    var: VarOption = None,
    path: BundlePathOption = None,
    server: ServerOption = None,
    token: TokenOption = None,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Destroy without asking.")
    ] = False,
    force_lock: ForceLockOption = False,
) -> None:
    """Delete a deployed target's jobs and workspace folder from a server (asks first)."""
    from headrace.cli.bundle_commands import destroy, parse_vars

    destroy(
        path,
        target=target,
        variables=parse_vars(var or []),
        server=server,
        token=token,
        auto_approve=auto_approve,
        force_lock=force_lock,
    )


@bundle_app.command("summary")
def bundle_summary(
    target: TargetOption = None,
    var: VarOption = None,
    path: BundlePathOption = None,
    server: ServerOption = None,
    token: TokenOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
) -> None:
    """The target's resources; with --server, their deployed ids and URLs."""
    from headrace.cli.bundle_commands import parse_vars, summary

    summary(
        path,
        target=target,
        variables=parse_vars(var or []),
        server=server,
        token=token,
        as_json=as_json,
    )


@bundle_app.command("run")
def bundle_run(
    key: Annotated[str, typer.Argument(metavar="JOB_KEY", help="The job's key in resources.jobs.")],
    target: TargetOption = None,
    var: VarOption = None,
    path: BundlePathOption = None,
    param: ParamOption = None,
    server: Annotated[
        str | None,
        typer.Option("--server", help="Run the deployed job on this server instead of here."),
    ] = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    slots: SlotsOption = None,
    db: DbOption = None,
) -> None:
    """Run a bundle's job now (locally, or deployed on --server) and wait; exit code = result."""
    from headrace.cli.bundle_commands import parse_vars, run_bundle_job, run_on_server

    interrupted = False
    if server is not None:
        result = run_on_server(
            path,
            key,
            target=target,
            variables=parse_vars(var or []),
            params=parse_params(param or []),
            server=server,
            token=token,
            as_json=as_json,
        )
    else:
        result, interrupted = run_bundle_job(
            path,
            key,
            target=target,
            variables=parse_vars(var or []),
            params=parse_params(param or []),
            as_json=as_json,
            quiet=quiet,
            slots=slots,
            db=db,
        )
    raise typer.Exit(run_exit_code(result, interrupted))
