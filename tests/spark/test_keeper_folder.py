"""A Spark server whose folder is deleted (its data directory removed) stops its JVM at once,
instead of holding memory until an idle timeout that may never come."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import wait_for

from .catalog_support import our_jvms
from .compute_support import DRIVER_MEMORY, stop_everything

pytestmark = pytest.mark.spark

START = "import sys, pathlib; from headrace.compute.warm import ensure_warm; ensure_warm(pathlib.Path(sys.argv[1]))"


def test_a_removed_server_folder_stops_its_jvm(tmp_path: Path) -> None:
    from headrace.compute.warm import warm_folder

    home = tmp_path / "home"
    env = {
        **os.environ,
        "HEADRACE_SPARK_DRIVER_MEMORY": DRIVER_MEMORY,
        "HEADRACE_SPARK_IDLE_SECONDS": "3600",  # never the reason here
    }
    try:
        subprocess.run([sys.executable, "-c", START, str(home)], env=env, check=True, timeout=300)
        with_warm = len(our_jvms(home))  # the warm server and the catalog's metastore
        assert with_warm == 2, our_jvms(home)
        shutil.rmtree(warm_folder(home))
        wait_for(
            lambda: len(our_jvms(home)) == with_warm - 1,
            60,
            "the warm server's JVM stopped after its folder was removed",
        )
    finally:
        stop_everything(home)
