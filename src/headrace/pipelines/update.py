"""One pipeline update: its sources gathered, Spark Declarative Pipelines run on Spark Connect.

- `python -m headrace.pipelines.update --update-file PATH`: an update the API or the CLI
  started (headrace.pipelines.owner) runs in this process;
- `python -m headrace.pipelines.update --task SETTINGS_JSON`: a `pipeline_task`'s process; its
  worker recorded the update and names its file in HEADRACE_PIPELINE_UPDATE, so the task
  succeeds or fails with it (its output is the task's log).

This process runs the pipeline's code and never opens the store: it reads its update from the
file its owner wrote and appends each state it reaches to `pipeline_states.jsonl` beside it;
the owner records them (headrace.pipelines.owner).

Sources (`libraries`: `glob.include` folders or files, `file.path`, `notebook.path`; `.py` and
`.sql`) are copied under the update's folder and handed to `pyspark.pipelines.cli.run` with a
pipeline spec (`catalog`, `schema`/`target` as the default database, `configuration` as SQL conf,
a storage folder per pipeline for checkpoints). The Spark session is the task's cluster
(`SPARK_REMOTE`) or the data directory's warm Spark Connect server, so datasets land in the
shared catalog. `import dlt` finds Headrace's mapping of DLT names (`dlt_path/dlt`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from headrace.engine import pipelines as store
from headrace.pipelines.owner import STATES_FILE, UPDATE_ENV

_DLT_PATH = Path(__file__).resolve().parent / "dlt_path"
_SUFFIXES = (".py", ".sql")


class UpdateFailed(Exception):
    """The update cannot run as set up (a missing source, a bad library)."""


class StateFile:
    """Where this process reports the states it reaches (its owner records them)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def report(self, state: str, message: str | None = None) -> None:
        record: dict[str, Any] = {"state": state, "pid": os.getpid()}
        if message is not None:
            record["state_message"] = message
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:  # one write of a whole line: the owner never reads half a state
            os.write(fd, (json.dumps(record) + "\n").encode())
        finally:
            os.close(fd)


def main(argv: list[str]) -> int:
    home = Path(os.environ.get("HEADRACE_HOME") or Path.home() / ".headrace")
    if argv[:1] == ["--update-file"] and len(argv) == 2:
        update_file = Path(argv[1])
    elif argv[:1] == ["--task"] and os.environ.get(UPDATE_ENV):
        update_file = Path(os.environ[UPDATE_ENV])
    else:
        print("pipeline_task: no update to run (started without its worker)", flush=True)
        return 2
    update = json.loads(update_file.read_text())
    if argv[:1] == ["--task"]:
        print(f"[headrace] pipeline {update['pipeline_id']}: update {update['update_id']}")
    return run_update(StateFile(update_file.parent / STATES_FILE), home, update)


def run_update(states: StateFile, home: Path, update: dict[str, Any]) -> int:
    """Run the update to its end, reporting its states; 0 when COMPLETED."""

    def canceled(_signum: int, _frame: Any) -> None:
        states.report("CANCELED", "canceled")
        os._exit(143)

    signal.signal(signal.SIGTERM, canceled)
    states.report("INITIALIZING")
    folder = store.update_folder(home, update["pipeline_id"], update["update_id"])
    events = _ErrorLines(sys.stdout)
    try:
        spec_path = _prepare(home, update, folder)
        remote = _remote(home)
        os.environ["SPARK_REMOTE"] = remote
        sys.path.insert(0, str(_DLT_PATH))
        states.report("RUNNING")
        with contextlib.redirect_stdout(events):
            _run(spec_path, update)
    except BaseException as exc:  # the tool's own message is the update's (and task's) error
        if isinstance(exc, KeyboardInterrupt | SystemExit) and not str(exc):
            raise
        message = _with_cause(_first_line(exc), events.found)
        traceback.print_exc()
        states.report("FAILED", message)
        print(f"pipeline update failed: {message}", flush=True)
        return 1
    states.report("COMPLETED")
    print("[headrace] pipeline update completed", flush=True)
    return 0


class _ErrorLines:
    """SDP's event log as printed (passed on to the log), its `Error: ...` lines kept: a
    "Failed to resolve flows" exception names the flows, the events say why."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.found: list[str] = []
        self._partial = ""

    def write(self, text: str) -> int:
        self.out.write(text)
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            at = line.find("Error: ")
            if at >= 0 and len(self.found) < 20:
                self.found.append(line[at + len("Error: ") :].strip())
        return len(text)

    def flush(self) -> None:
        self.out.flush()


def _with_cause(message: str, errors: list[str]) -> str:
    """The update's error with SDP's root cause, and what a missing sample table is."""
    if errors and "Failed to resolve flows" in message:
        roots = [e for e in errors if not e.startswith("Failed to read dataset")]
        message = f"{message} {(roots or errors)[0]}"
    from headrace.samples.hint import samples_hint

    sample = samples_hint(message)
    if sample:
        message += f" ({sample})"
    return message[:4000]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else text
    if type(exc).__name__ not in first and not first.startswith("["):
        first = f"{type(exc).__name__}: {first}"
    return first[:2000]


def _prepare(home: Path, update: dict[str, Any], folder: Path) -> Path:
    """The update's folder: its sources copied under `src/`, and the SDP spec file."""
    config = update["config"]
    src = folder / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    count = 0
    for i, library in enumerate(config.get("libraries") or []):
        for path in _library_files(library, config.get("root_path")):
            target = src / f"{i:03d}" / path.name
            if path.suffix not in _SUFFIXES:
                path = _with_suffix(path)
            target = target.with_suffix(path.suffix)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            count += 1
    if count == 0:
        raise UpdateFailed("the pipeline has no source files (.py or .sql) in its libraries")
    storage = store.storage_dir(home, update["pipeline_id"])
    if update.get("full_refresh"):
        shutil.rmtree(storage, ignore_errors=True)
    storage.mkdir(parents=True, exist_ok=True)
    spec: dict[str, Any] = {
        "name": config.get("name") or update["pipeline_id"],
        "storage": storage.as_uri(),
        "configuration": {
            **_catalog_conf(config),
            **{str(k): str(v) for k, v in (config.get("configuration") or {}).items()},
        },
        "libraries": [{"glob": {"include": "src/**"}}],
    }
    if config.get("catalog"):
        spec["catalog"] = config["catalog"]
    schema = config.get("schema") or config.get("target")
    if schema:
        spec["database"] = schema
    import yaml

    path = folder / "pipeline.yml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _library_files(library: dict[str, Any], root: str | None) -> list[Path]:
    from headrace.engine.workspace import task_local_path

    ((kind, value),) = library.items()
    raw = value["include"] if kind == "glob" else value["path"]
    if root and not os.path.isabs(raw):
        raw = os.path.join(root, raw)
    recursive = raw.endswith("/**")
    base = Path(task_local_path(raw.removesuffix("/**")))
    if base.is_dir():
        pattern = "**/*" if recursive or kind == "glob" else "*"
        return sorted(p for p in base.glob(pattern) if p.is_file() and p.suffix in _SUFFIXES)
    if kind == "notebook" and not base.exists():
        base = _with_suffix(base)
    if not base.is_file():
        raise UpdateFailed(f"libraries: {kind} {raw!r}: no such file or folder")
    return [base]


def _with_suffix(path: Path) -> Path:
    """A notebook named without its extension: its `.py` or `.sql` file."""
    for suffix in _SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    raise UpdateFailed(f"libraries: {str(path)!r} is not a .py or .sql source")


def _remote(home: Path) -> str:
    """The Spark Connect address: the task's cluster, else the warm server (started if need be)."""
    remote = os.environ.get("SPARK_REMOTE")
    if remote:
        return remote
    from headrace.compute.warm import ensure_warm, take_lease

    take_lease(home)
    return ensure_warm(home).remote


def _run(spec_path: Path, update: dict[str, Any]) -> None:
    from pyspark.pipelines import cli

    from headrace.pipelines import databricks_table

    databricks_table.install()  # `@dp.table` of a batch query: a materialized view
    config = update["config"]
    with _schema_exists(config):
        pass
    with contextlib.chdir(spec_path.parent):
        cli.run(
            spec_path=spec_path,
            full_refresh=[],
            full_refresh_all=bool(update.get("full_refresh")),
            refresh=[],
            dry=False,
        )


@contextlib.contextmanager
def _schema_exists(config: dict[str, Any]) -> Any:
    """Create the pipeline's target schema first (Databricks creates it with the pipeline)."""
    schema = config.get("schema") or config.get("target")
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()
    for key, value in _catalog_conf(config).items():
        spark.conf.set(key, value)
    if schema:
        name = f"`{config['catalog']}`.`{schema}`" if config.get("catalog") else f"`{schema}`"
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {name}")
    yield


def _catalog_conf(config: dict[str, Any]) -> dict[str, str]:
    """A catalog the pipeline names that the shared catalog does not know yet (e.g. the
    template's literal `catalog`) is made on demand: one more name of the one session catalog,
    as `main` is (docs/catalog.md), for this update's session."""
    from headrace.compute.catalog import ALIAS_CLASS, default_catalog

    # `samples` too: Databricks' sample tables are not here, but `samples.nyctaxi.trips` then
    # reads a `nyctaxi.trips` of the shared catalog if someone made one (and else says so).
    names = {str(config.get("catalog") or ""), "samples"}
    known = {"", default_catalog(), "hive_metastore", "spark_catalog"}
    return {f"spark.sql.catalog.{name}": ALIAS_CLASS for name in sorted(names - known)}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
