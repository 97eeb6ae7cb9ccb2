"""Where this example keeps its files: one folder per run under the system temp dir."""

import os
import tempfile
from pathlib import Path


def run_dir() -> Path:
    path = Path(tempfile.gettempdir()) / "headrace-etl" / os.environ.get("HEADRACE_RUN_ID", "dev")
    path.mkdir(parents=True, exist_ok=True)
    return path
