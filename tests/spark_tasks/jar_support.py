"""A tiny Spark application jar, compiled here with javac and packed with jar."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

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
