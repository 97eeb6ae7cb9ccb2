"""Running the real `headrace` CLI on hostile input under resource limits (issue 11).

Memory and CPU time are bounded by the kernel (`RLIMIT_AS`, `RLIMIT_CPU`), not by timed asserts:
a command that reads forever or expands an alias bomb is killed by its limit and the test
fails on its exit status.
"""

from __future__ import annotations

import re
import resource
import subprocess
from collections.abc import Callable
from pathlib import Path

from support import HEADRACE, CliResult, Headrace

# Generous for one `headrace validate` (it needs ~100 MB); an alias bomb needs gigabytes.
MEMORY_LIMIT_BYTES = 1536 * 1024 * 1024
CPU_LIMIT_SECONDS = 30


def limits(memory: int = MEMORY_LIMIT_BYTES, cpu: int = CPU_LIMIT_SECONDS) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))

    return apply


def bounded(hr: Headrace, *args: str | Path, timeout: float = 120) -> CliResult:
    """`headrace ARGS` with memory and CPU limits (killed by the kernel past them)."""
    argv = [str(a) for a in args]
    proc = subprocess.run(
        [*HEADRACE, *argv],
        env=hr.env,
        cwd=hr.dir,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        preexec_fn=limits(),
    )
    return CliResult(argv, proc.returncode, proc.stdout, proc.stderr)


def assert_refused(result: CliResult, *needles: str, max_chars: int = 2000) -> None:
    """Exit 2 (bad input), each needle in the output, no traceback, and a short answer."""
    assert result.returncode == 2, str(result)
    assert "Traceback" not in result.output, str(result)
    assert not re.search(r"\b[A-Z]\w*Error\b", result.output), str(result)  # no exception names
    assert len(result.output) <= max_chars, f"{len(result.output)} chars:\n{result.output[:3000]}"
    for needle in needles:
        assert needle in result.output, str(result)
