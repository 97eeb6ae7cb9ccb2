"""spark_jar_task in the running driver of its cluster (headrace.worker.jar_driver): each task
its own class loader (in the driver and on executors), main's output (its threads' too) in the task's log, a timeout interrupts
main in the driver, and the driver outlives `spark.stop()`."""

from __future__ import annotations

import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from support import Headrace

from .test_jar_submit_cli import log_of, result_of, run_job, task

pytestmark = pytest.mark.spark

VERSION = """
package demo;

import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;

public class Version {
  static String label(long x) {
    return "v" + VERSION + "-" + x;
  }

  public static void main(String[] args) throws Exception {
    SparkSession spark = SparkSession.builder().getOrCreate();
    Thread child = new Thread(() -> System.out.println("child thread of VERSION"));
    child.start();
    child.join();
    System.err.println("stderr of VERSION rows=" + spark.range(VERSION).count());
    // Executor tasks load the jar's classes too (this task's version of them).
    MapFunction<Long, String> labels = x -> label(x);
    System.out.println("executors: " + spark.range(1).map(labels, Encoders.STRING()).collectAsList());
  }
}
"""

SLEEPY = """
package demo;

import java.nio.file.Files;
import java.nio.file.Paths;

public class Sleepy {
  public static void main(String[] args) throws Exception {
    System.out.println("sleeping");
    try {
      Thread.sleep(600_000);
    } catch (InterruptedException e) {
      Files.writeString(Paths.get(args[0]), "interrupted");
      throw e;
    }
  }
}
"""


def _jar(folder: Path, name: str, source: str) -> Path:
    """One class compiled against pyspark's jars and packed with `jar`."""
    from headrace.compute.server import spark_home

    java = folder / "src" / "demo" / f"{name}.java"
    java.parent.mkdir(parents=True)
    java.write_text(textwrap.dedent(source))
    classes = folder / "classes"
    cp = f"{spark_home() / 'jars'}/*"
    subprocess.run(["javac", "-d", str(classes), "-cp", cp, str(java)], check=True)
    jar = folder / f"{name.lower()}.jar"
    subprocess.run(["jar", "cf", str(jar), "-C", str(classes), "."], check=True)
    return jar


def test_each_jar_task_has_its_own_classes_and_output(spark_hr: Headrace, tmp_path: Path) -> None:
    """Two jars with the same class name, one after the other on the warm cluster: each task
    sees its own class (no leak through the driver's class loaders)."""
    one = _jar(tmp_path / "one", "Version", VERSION.replace("VERSION", "1"))
    two = _jar(tmp_path / "two", "Version", VERSION.replace("VERSION", "2"))
    job = spark_hr.write(
        "versions.yml",
        f"""
        name: versions
        tasks:
          - task_key: one
            spark_jar_task: {{main_class_name: demo.Version}}
            libraries: [{{jar: {one}}}]
          - task_key: two
            depends_on: [{{task_key: one}}]
            spark_jar_task: {{main_class_name: demo.Version}}
            libraries: [{{jar: {two}}}]
        """,
    )
    run = run_job(spark_hr, job)
    for key, version in (("one", "1"), ("two", "2")):
        assert result_of(task(run, key)) == "SUCCESS", run
        log = log_of(spark_hr, run, key)
        assert "in the driver of cluster warm" in log, log
        assert f"child thread of {version}" in log and f"stderr of {version} rows={version}" in log
        assert f"executors: [v{version}-0]" in log, log
        other = "2" if version == "1" else "1"
        assert f"of {other}" not in log


def test_a_timeout_interrupts_main_in_the_driver(spark_hr: Headrace, tmp_path: Path) -> None:
    """The task times out; the driver interrupts main's thread (main records it), and the
    warm cluster still runs the next JAR task."""
    sleepy = _jar(tmp_path / "sleepy", "Sleepy", SLEEPY)
    marker = tmp_path / "interrupted.txt"
    job = spark_hr.write(
        "sleepy.yml",
        f"""
        name: sleepy
        tasks:
          - task_key: sleepy
            timeout_seconds: 5
            spark_jar_task: {{main_class_name: demo.Sleepy, parameters: ["{marker}"]}}
            libraries: [{{jar: {sleepy}}}]
          - task_key: after
            depends_on: [{{task_key: sleepy}}]
            run_if: ALL_DONE
            spark_jar_task: {{main_class_name: demo.Sleepy, parameters: ["{marker}.2"]}}
            libraries: [{{jar: {sleepy}}}]
            timeout_seconds: 5
        """,
    )
    run = run_job(spark_hr, job)
    assert task(run, "sleepy")["state"]["result_state"] == "TIMEDOUT", run
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert marker.read_text() == "interrupted"
    assert "sleeping" in log_of(spark_hr, run, "sleepy")
    # The driver took the next task after the interrupted one.
    assert "sleeping" in log_of(spark_hr, run, "after")
