"""spark_jar_task in the running driver of its cluster (headrace.worker.jar_driver): each task
its own class loader (in the driver and on executors), main's output (its threads' too) in the task's log, a timeout interrupts
main in the driver, and the driver outlives `spark.stop()`."""

from __future__ import annotations

import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from support import Headrace, wait_for

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


LINGERING = """
package demo;

import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

public class Lingering {
  public static void main(String[] args) throws Exception {
    // A pool whose thread is created during the task and outlives it (never shut down).
    ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r);
      t.setDaemon(true);
      return t;
    });
    pool.submit(() -> System.out.println("pool thread during the task")).get();
    pool.submit(() -> {
      try {
        while (!Files.exists(Paths.get(args[0]))) {
          Thread.sleep(50);
        }
        System.out.println("late line of a finished task");
        System.out.flush();
        Files.writeString(Paths.get(args[1]), "written");
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    System.out.println("main returns");
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


def test_a_thread_outliving_its_jar_task_writes_to_the_driver_not_the_task(
    spark_hr: Headrace, tmp_path: Path
) -> None:
    """A pool thread first created during the task inherits its output; once the task ended,
    its writes go to the driver's own stdout (driver.log), never into the finished task's log."""
    jar = _jar(tmp_path / "lingering", "Lingering", LINGERING)
    go, done = tmp_path / "go", tmp_path / "done"
    job = spark_hr.write(
        "lingering.yml",
        f"""
        name: lingering
        tasks:
          - task_key: main
            spark_jar_task: {{main_class_name: demo.Lingering, parameters: ["{go}", "{done}"]}}
            libraries: [{{jar: {jar}}}]
        """,
    )
    run = run_job(spark_hr, job)
    assert result_of(task(run, "main")) == "SUCCESS", run
    go.write_text("go")  # the task is over: now the pool thread writes
    wait_for(done.exists, 60, "the pool thread's late line")
    log = log_of(spark_hr, run, "main")
    assert "pool thread during the task" in log and "main returns" in log, log
    assert "late line of a finished task" not in log, log
    driver_log = (spark_hr.home / "spark" / "warm" / "driver.log").read_text(errors="replace")
    assert "late line of a finished task" in driver_log
