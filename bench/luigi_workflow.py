"""The W1/W2/W3 workloads of bench/run.py as Luigi tasks, run by bench/luigi_compare.py.

Runs under Luigi's own virtualenv (not Headrace's):
`python luigi_workflow.py W1 WORKERS MARKER_DIR`. Each task runs `true` as a subprocess, like
Headrace's shell tasks, then touches its marker file (Luigi's usual output target; the
scheduler itself keeps no durable state: no run history, no results, no logs per task).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import luigi
from luigi.execution_summary import LuigiStatusCode

SHAPES = {"W1": ("fan", 100), "W2": ("chain", 50), "W3": ("fan", 500)}


class Node(luigi.Task):
    """One `true` task. Fan: index -1 is the start, 0..size-1 the middle, size the end."""

    shape = luigi.Parameter()
    size = luigi.IntParameter()
    index = luigi.IntParameter()
    markers = luigi.Parameter(significant=False)

    def requires(self) -> list[Node]:
        if self.shape == "chain":
            return [self.clone(index=self.index - 1)] if self.index > 0 else []
        if self.index == -1:
            return []
        if self.index == self.size:
            return [self.clone(index=i) for i in range(self.size)]
        return [self.clone(index=-1)]

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(Path(self.markers) / f"{self.shape}-{self.index}"))

    def run(self) -> None:
        subprocess.run(["true"], check=True)
        Path(self.output().path).touch()


def main() -> None:
    shape, size = SHAPES[sys.argv[1]]
    workers, markers = int(sys.argv[2]), sys.argv[3]
    last = size if shape == "fan" else size - 1
    result = luigi.build(
        [Node(shape=shape, size=size, index=last, markers=markers)],
        local_scheduler=True,
        workers=workers,
        log_level="WARNING",
        detailed_summary=True,
    )
    if result.status != LuigiStatusCode.SUCCESS:
        raise SystemExit(f"luigi: {result.status}: {result.summary_text}")
    print(len(list(Path(markers).iterdir())))  # tasks that ran


if __name__ == "__main__":
    main()
