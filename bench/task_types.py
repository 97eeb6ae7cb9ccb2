"""Issue 13 figures: a spark_jar_task on the warm local cluster, a 3-table pipeline update, and
`dbt run` of 3 models on DuckDB, each end to end (`headrace ...` as a user types it).

    python bench/task_types.py [--repeat 3] [--only jar,pipeline,dbt]

One fresh data directory. Each kind runs once untimed first (it builds the dbt environment,
starts the warm Spark server and metastore), then `--repeat` timed runs:
- jar: `headrace run` of a one-task job (demo.Hello, built here with javac) on the warm cluster,
  in its running driver (the default) and, taking turns with it, in its own JVM
  (`HEADRACE_SPARK_JAR_DRIVER=submit`: spark-submit in local mode, what every JAR task did
  before the driver path);
- pipeline: `headrace pipelines update ID` of examples/pipelines' 3 tables (Python, SQL,
  `import dlt`) on the warm Spark Connect server;
- dbt: `headrace run` of a one-task `dbt run` job over examples/dbt/shop's 3 models on the
  embedded DuckDB warehouse (no JVM: the bench checks none of the data directory's is alive
  before and after it).
Everything of the data directory is stopped at the end. Quote the load (`/proc/loadavg`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADRACE = [sys.executable, "-m", "headrace"]
HELLO = """package demo;
import org.apache.spark.sql.SparkSession;
public class Hello {
  public static void main(String[] args) {
    SparkSession spark = SparkSession.builder().getOrCreate();
    System.out.println("hello " + spark.range(5).count());
    spark.stop();
  }
}
"""


def _run(args: list[str | Path], env: dict[str, str], cwd: Path) -> float:
    """Seconds `headrace ARGS` took; fails loudly if it failed."""
    start = time.perf_counter()
    proc = subprocess.run(
        [*HEADRACE, *map(str, args)], env=env, cwd=cwd, capture_output=True, text=True
    )
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"headrace {args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return took


def _jvms(home: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "java" in cmd.split(" ")[0] and str(home) in cmd:
            found.append(int(proc.name))
    return found


def _jar(work: Path) -> Path:
    from headrace.compute.server import spark_home

    src = work / "jar" / "demo" / "Hello.java"
    src.parent.mkdir(parents=True)
    src.write_text(HELLO)
    classes = work / "jar" / "classes"
    cp = f"{spark_home() / 'jars'}/*"
    subprocess.run(["javac", "-d", str(classes), "-cp", cp, str(src)], check=True)
    jar = work / "jar" / "hello.jar"
    subprocess.run(["jar", "cf", str(jar), "-C", str(classes), "."], check=True)
    return jar


def _timed(name: str, repeat: int, once: callable) -> dict[str, object]:  # type: ignore[valid-type]
    once()  # untimed: environments built, servers started
    times = [once() for _ in range(repeat)]
    ms = [round(t * 1000) for t in times]
    print(f"{name}: {ms} ms (median {round(statistics.median(times) * 1000)} ms)", flush=True)
    return {"ms": ms, "median_ms": round(statistics.median(times) * 1000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="jar,pipeline,dbt")
    args = parser.parse_args()
    kinds = args.only.split(",")
    out: dict[str, object] = {"loadavg_before": Path("/proc/loadavg").read_text().split()[:3]}
    with tempfile.TemporaryDirectory(prefix="headrace-bench-13-") as tmp:
        work = Path(tmp)
        home = work / "home"
        env = {**os.environ, "HEADRACE_HOME": str(home)}
        try:
            if "dbt" in kinds:
                job = work / "dbt.yml"
                project = ROOT / "examples" / "dbt" / "shop"
                job.write_text(
                    "name: dbt3\ntasks:\n  - task_key: t\n    dbt_task:\n"
                    f"      project_directory: {project}\n      schema: shop\n"
                    '      commands: ["dbt run"]\n'
                )
                assert not _jvms(home)
                out["dbt_run_3_models_duckdb"] = _timed(
                    "dbt run, 3 models, DuckDB", args.repeat, lambda: _run(["run", job], env, work)
                )
                assert not _jvms(home), "a dbt run on DuckDB started a JVM"
            if "pipeline" in kinds:
                settings = work / "pipeline.yml"
                sources = ROOT / "examples" / "pipelines" / "transformations"
                settings.write_text(
                    f"name: shop\ncatalog: main\nschema: shop\n"
                    f"libraries: [{{glob: {{include: {sources}/**}}}}]\n"
                )
                made = subprocess.run(
                    [*HEADRACE, "pipelines", "create", settings],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                pid = made.stdout.strip()
                out["pipeline_update_3_tables"] = _timed(
                    "pipeline update, 3 tables",
                    args.repeat,
                    lambda: _run(["pipelines", "update", pid], env, work),
                )
            if "jar" in kinds:
                jar = _jar(work)
                job = work / "jar.yml"
                job.write_text(
                    "name: jar\ntasks:\n  - task_key: t\n"
                    "    spark_jar_task: {main_class_name: demo.Hello}\n"
                    f"    libraries: [{{jar: {jar}}}]\n"
                )
                # In the warm driver (the default) and in its own JVM (spark-submit, what every
                # JAR task did before), taking turns so both see the same load.
                modes = {"driver": env, "submit": {**env, "HEADRACE_SPARK_JAR_DRIVER": "submit"}}
                for mode_env in modes.values():
                    _run(["run", job], mode_env, work)  # untimed: warm server up, jar cached
                times: dict[str, list[float]] = {mode: [] for mode in modes}
                for _ in range(args.repeat):
                    for mode, mode_env in modes.items():
                        times[mode].append(_run(["run", job], mode_env, work))
                for mode, taken in times.items():
                    ms = [round(t * 1000) for t in taken]
                    median = round(statistics.median(taken) * 1000)
                    print(f"spark_jar_task, warm cluster, {mode}: {ms} ms (median {median} ms)")
                    out[f"spark_jar_task_warm_cluster_{mode}"] = {"ms": ms, "median_ms": median}
        finally:
            from headrace.compute.catalog import stop_metastore
            from headrace.compute.warm import stop_warm

            stop_warm(home)
            stop_metastore(home)
    out["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
