"""Fixtures of the spark_jar_task / spark_submit_task tests: a jar built here with javac."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Headrace, Server

HELLO = """
package demo;

import org.apache.spark.sql.SparkSession;

public class Hello {
  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("fail")) {
      throw new IllegalStateException("the jar says no");
    }
    SparkSession spark = SparkSession.builder().getOrCreate();
    long n = spark.range(5).count();
    System.out.println("hello from the jar " + String.join(",", args) + " count=" + n);
    spark.stop();
  }
}
"""


def build_jar(folder: Path) -> Path:
    """demo.Hello compiled against pyspark's Spark jars, packed with `jar`."""
    from headrace.compute.server import spark_home

    source = folder / "src" / "demo" / "Hello.java"
    source.parent.mkdir(parents=True)
    source.write_text(textwrap.dedent(HELLO))
    classes = folder / "classes"
    jars = f"{spark_home() / 'jars'}/*"
    subprocess.run(["javac", "-d", str(classes), "-cp", jars, str(source)], check=True)
    jar = folder / "hello.jar"
    subprocess.run(["jar", "cf", str(jar), "-C", str(classes), "."], check=True)
    return jar


@pytest.fixture(scope="module")
def hello_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_jar(tmp_path_factory.mktemp("jar"))


@pytest.fixture(scope="module")
def spark_hr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Headrace]:
    """The CLI over one data directory for the module (one metastore start); stopped after."""
    from spark.compute_support import DRIVER_MEMORY, stop_everything

    cli = Headrace(tmp_path_factory.mktemp("spark-cli"))
    cli.env["HEADRACE_SPARK_DRIVER_MEMORY"] = DRIVER_MEMORY
    try:
        yield cli
    finally:
        cli.close()
        stop_everything(cli.home)


@pytest.fixture(scope="module")
def spark_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from spark.compute_support import serve

    yield from serve(tmp_path_factory.mktemp("spark-server"), workers=2)


__all__ = ["hello_jar", "spark_hr", "spark_server"]
