"""`headrace samples install | list`: SYNTHETIC stand-ins for Databricks' sample data."""

from __future__ import annotations

from typing import Annotated

import typer

samples_app = typer.Typer(
    help="SYNTHETIC stand-ins for Databricks' sample datasets (samples.nyctaxi.trips, ...).",
    no_args_is_help=True,
)


@samples_app.command("install")
def install(
    only: Annotated[
        str | None, typer.Option("--only", help="comma-separated: nyctaxi,retail-org")
    ] = None,
    no_spark: Annotated[
        bool, typer.Option("--no-spark", help="skip the shared Spark catalog (no JVM)")
    ] = False,
) -> None:
    """Write SYNTHETIC datasets with the real schemas into the data directory."""
    from headrace.config import default_home
    from headrace.samples.install import chosen
    from headrace.samples.install import install as write

    write(default_home(), chosen(only), spark=not no_spark)


@samples_app.command("list")
def list_all() -> None:
    """The datasets `install` writes."""
    from headrace.samples.datasets import DATASETS

    for dataset in DATASETS.values():
        print(f"{dataset.name}\t{dataset.rows} rows\t{dataset.what}")
