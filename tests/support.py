"""Helpers shared by the test folders that drive real `headrace` processes.

- the `headrace` console script (`HEADRACE`), the CLI driver `Headrace` and its `hr` fixture;
- processes and waiting: `free_port`, `pid_alive`, `wait_for`, `wait_dead`, `read_pid`, and the
  `reap` fixture that SIGKILLs pids a failing test leaves behind;
- `Server`: one real `headrace server` over its own HEADRACE_HOME, with tokens made by the CLI
  and SDK clients; `User` and the session fixtures `alice`, `bob`, `carol`, `admin` (they need a
  `server` fixture from the folder's conftest);
- SDK jobs helpers: `ShellTask`, `shell`, `settle`.

A folder's conftest.py imports the fixtures it wants, e.g. `from support import hr, reap`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sdk.service import jobs

from headrace.store.records import Attempt


def _headrace_command() -> list[str]:
    """The installed console script next to this interpreter (no pyenv shim), else PATH."""
    beside = Path(sys.executable).parent / "headrace"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("headrace")
    if found:
        return [found]
    return [sys.executable, "-c", "from headrace.cli.main import main; main()"]


HEADRACE = _headrace_command()


# --- processes and waiting -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (tests run where nobody may reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_for(check: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def wait_dead(pid: int, timeout: float = 8) -> None:
    wait_for(lambda: not pid_alive(pid), timeout, f"process {pid} to die")


def read_pid(path: Path, timeout: float = 15) -> int:
    def ready() -> int | None:
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    return wait_for(ready, timeout, f"a pid in {path}")


@pytest.fixture
def reap() -> Iterator[list[int]]:
    """Pids a test leaves behind on failure get SIGKILLed at teardown."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# --- the CLI ---------------------------------------------------------------------------------


def store_bare_run(
    conn: Any,
    run_id: int,
    job_id: int | None,
    state: str = "RUNNING",
    *,
    start: int = 1,
    **more: Any,
) -> None:
    """Insert a run row by hand (no settings, no task runs), for store-level tests."""
    from headrace.store import runs

    runs.insert_run(
        conn,
        run_id=run_id,
        job_id=job_id,
        run_name="r",
        run_type="JOB_RUN",
        trigger_type="ONE_TIME",
        settings="{}",
        job_parameters="[]",
        life_cycle_state=state,
        created_time=start,
        start_time=start,
        **more,
    )


def listens_on(pid: int, port: int) -> bool:
    """Whether process `pid` holds a listening TCP socket on `port` (Linux /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    fds = Path(f"/proc/{pid}/fd")
    with contextlib.suppress(OSError):
        for fd in fds.iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) in inodes:
                    return True
    return False


@dataclass
class CliResult:
    """What one `headrace` invocation did."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except ValueError as exc:
            raise AssertionError(f"not JSON: {self}") from exc

    def __str__(self) -> str:
        return (
            f"headrace {' '.join(self.args)} -> exit {self.returncode}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


class Headrace:
    """Runs the CLI against a private HEADRACE_HOME; writes job files into the test's folder."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.home = tmp_path / "home"
        self.home.mkdir()
        scratch = tmp_path / "tmp"
        scratch.mkdir()
        self.env = dict(os.environ)
        for name in ("HEADRACE_DB", "HEADRACE_LEASE_SECONDS", "HEADRACE_HEARTBEAT_SECONDS"):
            self.env.pop(name, None)
        self.env["HEADRACE_HOME"] = str(self.home)
        # The ETL example keeps its files under the temp dir per run id: keep tests apart.
        self.env["TMPDIR"] = str(scratch)
        self.env["COLUMNS"] = "200"
        self._procs: list[subprocess.Popen[str]] = []

    def write(self, name: str, text: str) -> Path:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def __call__(self, *args: str | Path, timeout: float = 60) -> CliResult:
        argv = [str(a) for a in args]
        proc = subprocess.run(
            [*HEADRACE, *argv],
            env=self.env,
            cwd=self.dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return CliResult(argv, proc.returncode, proc.stdout, proc.stderr)

    def popen(self, *args: str | Path) -> subprocess.Popen[str]:
        """Start the CLI in the background, in its own session (signals reach only it)."""
        proc = subprocess.Popen(
            [*HEADRACE, *(str(a) for a in args)],
            env=self.env,
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self._procs.append(proc)
        return proc

    def run_json(self, job: Path, *extra: str, expect: int | None = None) -> tuple[CliResult, Any]:
        result = self("run", job, "--json", *extra)
        if expect is not None:
            assert result.returncode == expect, str(result)
        return result, result.json()

    def get(self, run_id: int) -> Any:
        result = self("runs", "get", str(run_id), "--json")
        assert result.returncode == 0, str(result)
        return result.json()

    def runs(self) -> list[dict[str, Any]]:
        result = self("runs", "list", "--json")
        assert result.returncode == 0, str(result)
        return result.json()["runs"]

    def close(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)


@pytest.fixture
def hr(tmp_path: Path) -> Iterator[Headrace]:
    """The CLI over a HEADRACE_HOME of the test's own (under tmp_path)."""
    cli = Headrace(tmp_path)
    try:
        yield cli
    finally:
        cli.close()


# --- the server ------------------------------------------------------------------------------


class Server:
    """One `headrace server` process over its own HEADRACE_HOME; restartable on the same port."""

    def __init__(self, root: Path, *, workers: int = 4, grace_seconds: float = 10) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.workers = workers
        self.grace_seconds = grace_seconds
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        for name in list(self.env):
            if name.startswith(("HEADRACE_", "DATABRICKS_")):
                del self.env[name]
        self.env["HEADRACE_HOME"] = str(self.home)
        self.env["NO_PROXY"] = "127.0.0.1,localhost"
        self.env["COLUMNS"] = "200"  # rich tables of the CLI: no wrapping in assertions
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.extra_args: list[str] = []  # more `headrace server` flags (e.g. TLS)
        self.verify: Any = True  # what httpx checks the server's certificate with

    @property
    def workspace_tree(self) -> Path:
        """Where `/Workspace/...` lives on disk (engine.workspace's mapping)."""
        return self.home / "workspace" / "Workspace"

    @property
    def log_path(self) -> Path:
        return self.root / f"server-{self.starts}.log"

    def log(self) -> str:
        return "\n".join(
            f"--- server-{i}.log ---\n{(self.root / f'server-{i}.log').read_text()}"
            for i in range(1, self.starts + 1)
            if (self.root / f"server-{i}.log").exists()
        )

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    *HEADRACE,
                    "server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                    "--grace-seconds",
                    str(self.grace_seconds),
                    *self.extra_args,
                ],
                env=self.env,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"headrace server exited with {self.proc.returncode}\n{self.log()}"
                )
            try:
                health = httpx.get(f"{self.url}/health", timeout=1, verify=self.verify)
                # The answer must be ours: after a kill -9 another process on this machine
                # may have taken the freed port (seen once in the soak test: a 401 next).
                if health.status_code == 200 and listens_on(self.proc.pid, self.port):
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"headrace server did not answer /health\n{self.log()}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send `sig` to the server and wait for it to exit; returns its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"headrace server ignored signal {sig}\n{self.log()}") from None

    def kill(self) -> None:
        """SIGKILL the server (its task processes live in their own sessions)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(AssertionError):
                self.stop(signal.SIGTERM, timeout=15)
        self.kill()

    # --- tokens and clients ---------------------------------------------------------------

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`headrace ARGS...` on this server's HEADRACE_HOME."""
        return subprocess.run(
            [*HEADRACE, *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    def token(self, user: str, *, admin: bool = False, lifetime: str | None = None) -> str:
        args = ["tokens", "create", "--user", user]
        if admin:
            args.append("--admin")
        if lifetime is not None:
            args += ["--lifetime", lifetime]
        done = self.cli(*args)
        assert done.returncode == 0, done.stderr
        token = done.stdout.strip()
        assert token and "\n" not in token, done.stdout
        return token

    def client(self, token: str) -> WorkspaceClient:
        # auth_type pins PAT auth: DATABRICKS_* variables of the caller cannot add a second one.
        config = Config(host=self.url, token=token, auth_type="pat", retry_timeout_seconds=15)
        return WorkspaceClient(config=config)

    def user(self, name: str, *, admin: bool = False) -> User:
        """A new token for `name` and an SDK client using it."""
        token = self.token(name, admin=admin)
        return User(name, token, self.client(token))


@dataclass
class User:
    """A token and an SDK client acting for one user."""

    name: str
    token: str
    w: WorkspaceClient


@pytest.fixture(scope="session")
def alice(server: Server) -> User:
    """A regular user who owns most test jobs."""
    return server.user("alice")


@pytest.fixture(scope="session")
def bob(server: Server) -> User:
    """A second regular user."""
    return server.user("bob")


@pytest.fixture(scope="session")
def carol(server: Server) -> User:
    """A third regular user."""
    return server.user("carol")


@pytest.fixture(scope="session")
def admin(server: Server) -> User:
    return server.user("root", admin=True)


# --- jobs and runs through the SDK -----------------------------------------------------------

DONE = (
    jobs.RunLifeCycleState.TERMINATED,
    jobs.RunLifeCycleState.SKIPPED,
    jobs.RunLifeCycleState.INTERNAL_ERROR,
)


@dataclass
class ShellTask(jobs.Task):
    """A job task with Headrace's `shell_command_task` (the SDK does not know that type)."""

    shell_command_task: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        if self.shell_command_task is not None:
            out["shell_command_task"] = self.shell_command_task
        return out


def shell(key: str, command: str, *, working_directory: str | None = None, **kw: Any) -> ShellTask:
    """A shell_command_task of `command` (dedented); `kw` are the Task's own fields."""
    settings: dict[str, Any] = {"command": textwrap.dedent(command)}
    if working_directory is not None:
        settings["working_directory"] = working_directory
    return ShellTask(task_key=key, shell_command_task=settings, **kw)


def settle(w: WorkspaceClient, run_id: int, timeout: float = 30) -> jobs.Run:
    """Poll runs/get quickly until the run is done (the SDK waiter sleeps 1 s, 2 s, ...)."""

    def done() -> jobs.Run | None:
        run = w.jobs.get_run(run_id)
        return run if run.state.life_cycle_state in DONE else None

    return wait_for(done, timeout, f"run {run_id} to end")


def running_attempt(payload: dict[str, Any], **fields: Any) -> Attempt:
    """A claimed (RUNNING) attempt of `payload`'s task run, as a worker's slot is handed it;
    `fields` override the record's other values."""
    values: dict[str, Any] = {
        "attempt_id": 1,
        "task_run_id": payload["task_run_id"],
        "run_id": payload["run_id"],
        "attempt_number": payload["attempt_number"],
        "state": "RUNNING",
        "result": None,
        "payload": payload,
        "worker_id": "w",
        "pid": None,
        "kill_reason": None,
        "exit_code": None,
        "error": None,
        "error_trace": None,
        "output": None,
        "log_path": None,
        "pool": None,
        "created_time": 0,
        "start_time": 0,
        "end_time": None,
    }
    return Attempt(**{**values, **fields})
